"""Log-potentials of a compiled discrete model laid out for message passing and mean field.

Every variable gets K = max cardinality states. Unary factors, evidence and padding states fold
into one (n, K) table; factors over 2+ variables stay in their groups, tables padded to K per
axis. Impossible entries (log φ = −inf, states past a cardinality, states ruled out by
evidence) become a huge negative number, so that products with zero probabilities stay zero.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from graphdgm.errors import CapabilityError, EvidenceError


def huge_negative(dtype: torch.dtype) -> float:
    """The stand-in for log 0: exp() of it is 0, and 0 times it is 0 (−inf·0 would be NaN)."""
    return -(torch.finfo(dtype).max ** 0.5)


@dataclass
class FactorTables:
    """``unary`` (n, K); ``groups``: per factor kind over ``a`` >= 2 variables, ``(scope (F, a),
    log table (F, K, ..., K))``; ``degree`` (n,): how many such factors touch each variable."""

    unary: torch.Tensor
    groups: list[tuple[torch.Tensor, torch.Tensor]]
    degree: torch.Tensor
    cards: torch.Tensor

    @classmethod
    def from_model(cls, model: torch.nn.Module, evidence: dict[int, int] | None = None) -> "FactorTables":
        """Tables of ``model`` with ``evidence`` (packed index -> state index) folded into the unary part.

        >>> import graphdgm as gd
        >>> t = FactorTables.from_model(gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.5)), {0: 1})
        >>> t.unary.shape, len(t.groups), t.degree.tolist()
        (torch.Size([4, 2]), 1, [2, 2, 2, 2])
        """
        if "factor_tables" not in getattr(model, "capabilities", ()):
            raise CapabilityError(f"message passing needs factor tables (a compiled MarkovNetwork), not a {type(model).__name__}")
        n, K = model.num_variables, int(model.max_card)
        dtype, device = model.values.dtype, model.cards.device
        neg = huge_negative(dtype)
        ks = torch.arange(K, device=device)
        unary = torch.zeros(n, K, dtype=dtype, device=device).masked_fill(ks[None, :] >= model.cards[:, None], neg)
        groups, degree = [], torch.zeros(n, dtype=torch.long, device=device)
        with torch.no_grad():
            for scope, tab in model.factor_tables():  # loop over factor kinds
                tab = tab.detach().to(dtype).clamp_min(neg)
                pad = [p for k in reversed(tab.shape[1:]) for p in (0, K - k)]
                tab = torch.nn.functional.pad(tab, pad, value=neg)  # (F, K, ..., K)
                if scope.shape[1] == 1:
                    unary.index_add_(0, scope[:, 0], tab)
                else:
                    groups.append((scope, tab))
                    degree.index_add_(0, scope.reshape(-1), torch.ones(scope.numel(), dtype=torch.long, device=device))
        if evidence:
            vs = torch.tensor(list(evidence), dtype=torch.long, device=device)  # (E,)
            ss = torch.tensor([int(s) for s in evidence.values()], dtype=torch.long, device=device)  # (E,)
            bad = (ss < 0) | (ss >= model.cards[vs])
            if bool(bad.any()):
                v = int(vs[bad][0])
                raise EvidenceError(f"evidence for {model.variables[v]!r}: state index {evidence[v]} is outside 0..{int(model.cards[v]) - 1}")
            unary[vs] = unary[vs].masked_fill(ks[None, :] != ss[:, None], neg)  # clamp: other states impossible
        return cls(unary, groups, degree, model.cards)

    def incidence(self) -> list[torch.Tensor]:
        """Per group, the sparse (n, a·F) matrix summing messages (position-major) into variables."""
        if not hasattr(self, "_incidence"):
            n, out = self.unary.shape[0], []
            for scope, _ in self.groups:
                rows = scope.t().reshape(-1)  # (a F,): message j goes to variable rows[j]
                order = torch.argsort(rows, stable=True)
                crow = torch.zeros(n + 1, dtype=torch.long, device=rows.device)
                crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
                vals = torch.ones(len(rows), dtype=self.unary.dtype, device=rows.device)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                    out.append(torch.sparse_csr_tensor(crow, order, vals, (n, len(rows)), check_invariants=False))
            self._incidence = out
        return self._incidence


def expand_axis(t: torch.Tensor, axis: int, arity: int) -> torch.Tensor:
    """(F, K) -> a view broadcastable against a factor table (F, K, ..., K) along ``axis``."""
    shape = [t.shape[0]] + [1] * arity
    shape[1 + axis] = t.shape[1]
    return t.view(shape)


def reduce_except(t: torch.Tensor, axis: int, op: str) -> torch.Tensor:
    """logsumexp (``"sum"``) or max (``"max"``) of a table (F, K, ..., K) over every axis but ``axis``: (F, K)."""
    a = t.dim() - 1
    moved = t.movedim(1 + axis, 1).reshape(t.shape[0], t.shape[1 + axis], -1)  # (F, K, K^(a-1))
    return moved.logsumexp(-1) if op == "sum" else moved.amax(-1)
