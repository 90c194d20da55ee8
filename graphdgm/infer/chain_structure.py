"""The structure of a finite Markov chain from its transition matrix P (C, C): communicating
classes, which of them are closed, their periods, absorbing states, and the linear algebra of
the fundamental matrix (stationary distributions, hitting and absorption times).

Graph questions (classes, reachability, periods) run on the support of P with scipy's compiled
graph routines; linear solves run in torch on P's device and dtype.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse import csgraph


def _support(P: torch.Tensor) -> sp.csr_matrix:
    return sp.csr_matrix((P > 0).cpu().numpy())


def communicating_classes(P: torch.Tensor) -> list[np.ndarray]:
    """The communicating classes (strongly connected components of P > 0), each a sorted index
    array, ordered by their smallest state.

    >>> [c.tolist() for c in communicating_classes(torch.tensor([[0.5, 0.5, 0], [0, 1.0, 0], [0, 0, 1.0]]))]
    [[0], [1], [2]]
    """
    n, lab = csgraph.connected_components(_support(P), directed=True, connection="strong")
    classes = [np.flatnonzero(lab == i) for i in range(n)]
    return sorted(classes, key=lambda c: int(c[0]))


def is_closed(P: torch.Tensor, cls: np.ndarray) -> bool:
    """True when no transition leaves ``cls`` (a recurrent class of a finite chain).

    >>> is_closed(torch.tensor([[0.5, 0.5], [0.0, 1.0]]), np.array([1])), is_closed(torch.tensor([[0.5, 0.5], [0.0, 1.0]]), np.array([0]))
    (True, False)
    """
    out = torch.ones(P.shape[0], dtype=torch.bool, device=P.device)
    out[torch.as_tensor(cls, device=P.device)] = False
    return not bool((P[torch.as_tensor(cls, device=P.device)][:, out] > 0).any())


def class_period(P: torch.Tensor, cls: np.ndarray) -> int | None:
    """The period of a communicating class: gcd over its edges u -> v of level(u) + 1 - level(v),
    levels being BFS distances from one state; None for a class without internal transitions.

    >>> class_period(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1]))
    2
    """
    sub = _support(P)[cls][:, cls]
    if sub.nnz == 0:
        return None
    level = csgraph.shortest_path(sub, unweighted=True, indices=0)  # (m,) finite: the class is strongly connected
    u, v = sub.nonzero()
    return int(np.gcd.reduce((level[u] + 1 - level[v]).astype(np.int64)))


def can_reach(P: torch.Tensor, targets: np.ndarray) -> np.ndarray:
    """Boolean (C,): states from which some state of ``targets`` is reachable (targets included).

    >>> can_reach(torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([1])).tolist()
    [True, True, False]
    """
    C = P.shape[0]
    rev = _support(P).T.tocsr()  # j -> i wherever i -> j
    hub = sp.csr_matrix((np.ones(len(targets)), (np.zeros(len(targets), dtype=np.int64), targets)), shape=(1, C))
    g = sp.vstack([sp.hstack([rev, sp.csr_matrix((C, 1))]), sp.hstack([hub, sp.csr_matrix((1, 1))])]).tocsr()
    order = csgraph.breadth_first_order(g, C, directed=True, return_predecessors=False)
    out = np.zeros(C + 1, dtype=bool)
    out[order] = True
    return out[:C]


def stationary_of_class(P: torch.Tensor, cls: np.ndarray) -> torch.Tensor:
    """The stationary distribution (C,) supported on the closed class ``cls``: solve
    π (P_cc - I) = 0 with Σ π = 1 (one balance equation replaced by the normalisation).

    >>> [round(p, 6) for p in stationary_of_class(torch.tensor([[0.5, 0.5], [0.25, 0.75]]), np.array([0, 1])).tolist()]
    [0.333333, 0.666667]
    """
    idx = torch.as_tensor(cls, device=P.device)
    m = len(cls)
    A = P[idx][:, idx].T - torch.eye(m, dtype=P.dtype, device=P.device)  # (m, m)
    A[-1] = 1.0
    b = torch.zeros(m, dtype=P.dtype, device=P.device)
    b[-1] = 1.0
    pi = torch.zeros(P.shape[0], dtype=P.dtype, device=P.device)
    pi[idx] = torch.linalg.solve(A, b).clamp_min(0)
    return pi / pi.sum()


def hitting_times(P: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Expected number of steps (C,) to first reach the states where ``target`` (C,) bool is True
    (0 on them, ``inf`` where the chain may never get there): h = 1 + Q h on the states that reach
    the targets with probability one (found on the graph: no path to a state that cannot reach
    them), Q being P restricted to those states.

    >>> hitting_times(torch.tensor([[0.5, 0.5], [0.0, 1.0]], dtype=torch.float64), torch.tensor([False, True])).tolist()
    [2.0, 0.0]
    """
    C = P.shape[0]
    A = target.nonzero().flatten().cpu().numpy()
    reach = can_reach(P, A)  # (C,) numpy: some path to the targets exists
    never = np.flatnonzero(~reach)  # states from which the targets are unreachable
    sure = reach & ~target.cpu().numpy() & ~(can_reach(P, never) if len(never) else np.zeros(C, dtype=bool))
    sure = torch.as_tensor(sure, device=P.device)  # reach the targets with probability one
    h = torch.full((C,), math.inf, dtype=P.dtype, device=P.device)
    h[target] = 0.0
    F = sure.nonzero().flatten()
    if len(F):
        Q = P[F][:, F]  # (f, f)
        h[F] = torch.linalg.solve(torch.eye(len(F), dtype=P.dtype, device=P.device) - Q,
                                  torch.ones(len(F), dtype=P.dtype, device=P.device))
    return h


def absorption(P: torch.Tensor, closed: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Absorption probabilities (C, K) into each closed class and expected absorption times (C,),
    by the fundamental matrix N = (I - Q)^-1 of the transient states: B = N R, t = N 1.

    >>> P = torch.tensor([[1.0, 0.0, 0.0], [0.25, 0.5, 0.25], [0.0, 0.0, 1.0]], dtype=torch.float64)
    >>> B, t = absorption(P, [np.array([0]), np.array([2])])
    >>> B[1].tolist(), t.tolist()
    ([0.5, 0.5], [0.0, 2.0, 0.0])
    """
    C, K = P.shape[0], len(closed)
    B = torch.zeros(C, K, dtype=P.dtype, device=P.device)
    recurrent = torch.zeros(C, dtype=torch.bool, device=P.device)
    for k, cls in enumerate(closed):  # a loop over classes, not states
        idx = torch.as_tensor(cls, device=P.device)
        B[idx, k] = 1.0
        recurrent[idx] = True
    t = torch.zeros(C, dtype=P.dtype, device=P.device)
    T = (~recurrent).nonzero().flatten()
    if len(T):
        Q = P[T][:, T]  # (m, m)
        R = torch.stack([P[T][:, torch.as_tensor(cls, device=P.device)].sum(1) for cls in closed], 1)  # (m, K)
        I = torch.eye(len(T), dtype=P.dtype, device=P.device)
        NR_N1 = torch.linalg.solve(I - Q, torch.cat([R, torch.ones(len(T), 1, dtype=P.dtype, device=P.device)], 1))
        B[T], t[T] = NR_N1[:, :K], NR_N1[:, K]
    return B, t


@dataclass
class ChainStructure:
    """What a chain's graph says: communicating classes (as state labels), which are closed
    (recurrent) and their periods, the absorbing and transient states, and the verdicts.
    ``str()`` gives a readable report.

    >>> import graphdgm as gd
    >>> s = gd.compile(gd.MarkovChain(["a", "b"], [[0, 1], [1, 0]])).structure()
    >>> s.irreducible, s.period
    (True, 2)
    """

    classes: list[list[Any]]
    closed: list[bool]
    periods: list[int | None]
    absorbing: list[Any]
    transient: list[Any] = field(default_factory=list)

    @property
    def irreducible(self) -> bool:
        """Every state reaches every other (one communicating class)."""
        return len(self.classes) == 1

    @property
    def period(self) -> int | None:
        """The chain's period when it is irreducible (else None: periods belong to classes)."""
        return self.periods[0] if self.irreducible else None

    @property
    def aperiodic(self) -> bool:
        """Every closed class has period 1 (so P^n converges)."""
        return all(p == 1 for p, c in zip(self.periods, self.closed) if c)

    @property
    def ergodic(self) -> bool:
        """Irreducible and aperiodic: a unique stationary distribution that P^n converges to."""
        return self.irreducible and self.aperiodic

    def __str__(self) -> str:
        lines = [f"{'irreducible' if self.irreducible else 'reducible'}, "
                 f"{'aperiodic' if self.aperiodic else 'periodic'}; {len(self.classes)} communicating "
                 f"class{'es' if len(self.classes) != 1 else ''}:"]
        for cls, c, p in zip(self.classes, self.closed, self.periods):
            kind = "closed (recurrent)" if c else "transient"
            per = "" if p is None else f", period {p}"
            lines.append(f"  {_short(cls)}: {kind}{per}")
        if self.absorbing:
            lines.append(f"absorbing states: {_short(self.absorbing)}")
        if not self.aperiodic:
            lines.append("periodic: P^n does not converge; the stationary distribution is the long-run average")
        if sum(self.closed) > 1:
            lines.append(f"{sum(self.closed)} closed classes: the stationary distribution is not unique")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ChainStructure(classes={len(self.classes)}, closed={sum(self.closed)}, irreducible={self.irreducible}, "
                f"aperiodic={self.aperiodic}, absorbing={_short(self.absorbing)})")


def _short(items: list[Any], n: int = 8) -> str:
    return "[" + ", ".join(repr(x) for x in items[:n]) + (", ..." if len(items) > n else "") + "]"


__all__ = ["ChainStructure", "absorption", "can_reach", "class_period", "communicating_classes", "hitting_times", "is_closed",
           "stationary_of_class"]
