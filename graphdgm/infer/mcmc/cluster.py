"""Swendsen-Wang cluster moves for pairwise binary and Potts models.

Every pairwise factor is split into unary parts and a coupling K·[x_i = x_j]. Given the state, a
bond opens on each *satisfied* edge (equal states for K > 0; unequal for K < 0, binary only) with
probability 1 - exp(-|K|); the bonds' connected components are clusters, and each cluster takes a
new state from its unary parts alone: a binary cluster flips with probability σ(Δ), Δ the sum of
its units' gains from flipping; a Potts cluster (all equal) picks a state from the softmax of its
summed unary tables. A cluster holding an observed variable keeps its state. One sweep updates
every variable at once, so strongly coupled regions move together where single-site Gibbs would
need exponentially many sweeps.

Components are found for all chains at once by min-label propagation with pointer jumping over
the bond list (a few tensor passes, no loop over variables or edges).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.infer.mcmc.kernel import ChainState
from graphdgm.runtime.random import make_generator


@dataclass(frozen=True)
class PairwiseCouplings:
    """A pairwise model as Potts couplings: edges (E, 2), couplings K (E,), unary log tables (n, kmax)."""

    edges: torch.Tensor
    coupling: torch.Tensor
    unary: torch.Tensor


def pairwise_couplings(model: torch.nn.Module, tol: float = 1e-9) -> PairwiseCouplings:
    """Split ``model``'s factors into unary tables and Potts couplings, or raise a ``CapabilityError``
    naming the first factor that is not of that form (a factor over three variables, say, or an
    antiferromagnetic coupling between variables of more than two states)."""
    if "factor_tables" not in getattr(model, "capabilities", ()):
        raise CapabilityError(f"Swendsen-Wang needs the capability 'factor_tables' (pairwise factors); "
                              f"{type(model).__name__} does not offer it. Use Gibbs or tempering")
    n, kmax = model.num_variables, model.max_card
    cards = model.cards
    dtype = torch.float64
    unary = torch.zeros(n, kmax, dtype=dtype, device=cards.device)
    edges, couplings = [], []
    for scope, table in model.factor_tables():
        table = table.detach().to(dtype)
        arity = scope.shape[1]
        if arity == 1:
            k = table.shape[1]
            unary.index_add_(0, scope[:, 0], torch.nn.functional.pad(table, (0, kmax - k)))
            continue
        if arity != 2:
            raise CapabilityError(f"Swendsen-Wang needs pairwise factors; a factor joins {arity} variables "
                                  f"({[model.variables[int(v)] for v in scope[0]]}). Use Gibbs or tempering")
        F, ka, kb = table.shape
        if ka == kb:
            K = (table[:, 0, 0] + table[:, 1, 1] - table[:, 0, 1] - table[:, 1, 0]) / 2  # (F,)
            rest = table - K[:, None, None] * torch.eye(ka, dtype=dtype, device=table.device)
        else:
            K, rest = torch.zeros(F, dtype=dtype, device=table.device), table
        # the rest must be additive: u(a) + w(b) + c
        resid = rest - rest[:, :, :1] - rest[:, :1, :] + rest[:, :1, :1]
        bad = (resid.abs().amax((1, 2)) > tol) | ((K < -tol) & (ka > 2))
        if bool(bad.any()):
            f = int(bad.nonzero()[0])
            names = [model.variables[int(v)] for v in scope[f]]
            raise CapabilityError(
                f"Swendsen-Wang needs couplings of Potts form K·[a = b] (antiferromagnetic only between binary "
                f"variables); the factor on {names} is not. Use Gibbs or tempering")
        unary.index_add_(0, scope[:, 0], torch.nn.functional.pad(rest[:, :, 0] - rest[:, :1, 0], (0, kmax - ka)))
        unary.index_add_(0, scope[:, 1], torch.nn.functional.pad(rest[:, 0, :], (0, kmax - kb)))
        keep = K.abs() > tol
        edges.append(scope[keep])
        couplings.append(K[keep])
    states = torch.arange(kmax, device=cards.device)
    unary = unary.masked_fill(states[None, :] >= cards[:, None], float("-inf"))
    e = torch.cat(edges) if edges else torch.zeros(0, 2, dtype=torch.long, device=cards.device)
    k = torch.cat(couplings) if couplings else torch.zeros(0, dtype=dtype, device=cards.device)
    return PairwiseCouplings(e, k, unary)


def components(bonds: torch.Tensor, edges: torch.Tensor, n: int) -> torch.Tensor:
    """Connected-component labels (C, n) (each the smallest variable index in its component) of the
    graphs whose edges are ``edges[bonds[c]]`` for every chain c.

    >>> e = torch.tensor([[0, 1], [1, 2], [3, 4]])
    >>> components(torch.tensor([[True, True, False], [False, False, True]]), e, 5).tolist()
    [[0, 0, 0, 3, 4], [0, 1, 2, 3, 3]]
    """
    C = bonds.shape[0]
    labels = torch.arange(n, device=edges.device).expand(C, n).clone()
    if edges.shape[0] == 0:
        return labels
    i, j = edges[:, 0].expand(C, -1), edges[:, 1].expand(C, -1)
    big = torch.full_like(i, n)
    while True:
        li, lj = labels.gather(1, i), labels.gather(1, j)
        m = torch.where(bonds, torch.minimum(li, lj), big)  # (C, E): the smaller label across each bond
        new = labels.scatter_reduce(1, i, m, "amin").scatter_reduce(1, j, m, "amin")
        new = new.scatter_reduce(1, li, m, "amin").scatter_reduce(1, lj, m, "amin")  # the roots, too
        for _ in range(4):  # pointer jumping: follow labels to their roots
            new = new.gather(1, new)
        if torch.equal(new, labels):
            return labels
        labels = new


class SwendsenWangKernel:
    """The Swendsen-Wang kernel (see the module): pairwise binary models of any coupling signs, Potts
    models with non-negative couplings, fields of any kind; evidence is clamped.

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.8))
    >>> kernel = SwendsenWangKernel()
    >>> state = kernel.init(model, chains=8, generator=torch.Generator().manual_seed(0))
    >>> kernel.packed(kernel.sample(state)).shape
    torch.Size([8, 16])
    """

    def init(self, model: torch.nn.Module, chains: int, evidence: dict[int, Any] | None = None,
             generator: torch.Generator | int | None = None) -> ChainState:
        """A fresh state of ``chains`` chains: uniformly random states (C, n) long with ``evidence`` (packed
        index -> state) clamped, and the model's pairwise couplings and bond probabilities 1 - exp(-|J|).
        """
        pc = pairwise_couplings(model)
        device = pc.unary.device
        g = make_generator(generator, device)
        C, n = int(chains), model.num_variables
        cards = model.cards.to(device)
        x = (torch.rand(C, n, generator=g, device=device, dtype=torch.float64) * cards).long()
        clamped = torch.zeros(n, dtype=torch.bool, device=device)
        for v, s in (evidence or {}).items():
            x[:, int(v)] = int(s)
            clamped[int(v)] = True
        return ChainState(x, g, extra={"model": model, "pc": pc, "clamped": clamped, "binary": cards == 2,
                                       "prob": -torch.expm1(-pc.coupling.abs())})

    def sample(self, state: ChainState) -> ChainState:
        """One Swendsen-Wang step of every chain: open bonds on satisfied couplings, find the clusters, then
        flip each binary cluster (or redraw each Potts cluster) from its summed unary terms; clusters holding
        evidence stay.
        """
        pc, g, x = state.extra["pc"], state.generator, state.x
        C, n = x.shape
        e = pc.edges
        same = x[:, e[:, 0]] == x[:, e[:, 1]]  # (C, E)
        satisfied = torch.where(pc.coupling > 0, same, ~same)
        u = torch.rand(satisfied.shape, generator=g, device=x.device, dtype=torch.float64)
        labels = components(satisfied & (u < state.extra["prob"]), e, n)  # (C, n)
        frozen = torch.zeros(C, n, dtype=torch.bool, device=x.device).scatter_reduce(
            1, labels, state.extra["clamped"].expand(C, n), "amax")  # (C, n) by cluster root
        unary = pc.unary
        # binary clusters: flip with probability σ(Σ gains)
        cur = unary.gather(1, x.t().clamp_max(unary.shape[1] - 1)).t()  # (C, n) log unary of the current state
        flipped = unary.gather(1, (1 - x).clamp(0, unary.shape[1] - 1).t()).t()
        gain = torch.where(state.extra["binary"], flipped - cur, torch.zeros_like(cur))
        total = torch.zeros(C, n, dtype=torch.float64, device=x.device).scatter_add(1, labels, gain)
        flip = torch.rand(C, n, generator=g, device=x.device, dtype=torch.float64) < torch.sigmoid(total)
        flip &= ~frozen
        new = torch.where(state.extra["binary"] & flip.gather(1, labels), 1 - x, x)
        # Potts clusters (all equal): a state from the softmax of the summed unary tables
        potts = ~state.extra["binary"]
        if bool(potts.any()):
            K = unary.shape[1]
            tables = torch.where(potts[:, None], unary, torch.zeros_like(unary)).expand(C, n, K)
            summed = torch.zeros(C, n, K, dtype=torch.float64, device=x.device).scatter_add(
                1, labels[:, :, None].expand(C, n, K), tables)
            pick = torch.multinomial(torch.softmax(summed.reshape(C * n, K), -1).nan_to_num(1.0 / K), 1,
                                     generator=g).reshape(C, n)
            chosen = pick.gather(1, labels)
            keep = frozen.gather(1, labels)
            new = torch.where(potts & ~keep, chosen, new)
        state.x = new
        return state

    def packed(self, state: ChainState) -> torch.Tensor:
        """The chains' current states (C, n) long, in the model's variable order."""
        return state.x

    def log_potential(self, state: ChainState) -> torch.Tensor:
        """Unnormalised log-probability of each chain's state, (C,)."""
        return state.extra["model"].log_potential(state.x).detach()
