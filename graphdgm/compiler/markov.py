"""The compiled Markov network: packed variables, stacked factor groups, energy and conditionals."""
from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.methods import CompiledModel
from graphdgm.compiler.colouring import colour_blocks
from graphdgm.compiler.names import NamedVariables
from graphdgm.compiler.factor_groups import (
    FactorGroup, IsingCouplingGroup, IsingFieldGroup, PottsCouplingGroup, TableFieldGroup, TableGroup,
)
from graphdgm.errors import SpecError
from graphdgm.runtime import PlanCache
from graphdgm.spec.domains import Domain
from graphdgm.spec.markov_network import MarkovNetwork


_COLOURINGS: PlanCache = PlanCache(max_per_model=1)  # per model: blocks and their factor entries


class CompiledMarkovNetwork(NamedVariables, CompiledModel):
    """A Markov network lowered to torch: p(x) ∝ exp(-energy(x)), x packed as state indices (B, n).

    Names live at the edges (``variables``, ``index``); inside, variables are positions in a flat
    tensor and factors of one kind are stacked in a :class:`FactorGroup`.

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.5))
    >>> model.energy(torch.zeros(1, 4, dtype=torch.long))  # all spins -1: 4 aligned bonds
    tensor([-2.], dtype=torch.float64, grad_fn=<NegBackward0>)
    """

    capabilities = frozenset({"discrete", "energy", "factor_tables", "blocks", "conditionals"})

    def __init__(self, spec: MarkovNetwork, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if spec.num_variables == 0:
            raise SpecError("cannot compile an empty network; declare variables with add_variable/add_block first")
        self.spec = copy.deepcopy(spec)  # the declaration this model was compiled from, frozen
        self.variables: tuple[str, ...] = tuple(spec.variables)
        self.index = MappingProxyType({n: i for i, n in enumerate(self.variables)})
        self.domains: tuple[Domain, ...] = tuple(spec.domains())
        blocks = list(spec.blocks.values())  # contiguous in packed order; loops below are over blocks
        if any(not b.domain.is_discrete for b in blocks):
            raise SpecError("CompiledMarkovNetwork handles discrete variables; real-valued ones need a Gaussian spec")
        sizes = [b.size for b in blocks]
        cards = np.repeat([b.domain.cardinality for b in blocks], sizes)  # (n,)
        self.register_buffer("cards", torch.from_numpy(cards.astype(np.int64)))  # (n,)
        self.max_card = int(cards.max())
        vals = np.zeros((len(cards), self.max_card))  # (n, kmax): numeric value of each state
        offsets = np.cumsum([0] + sizes)
        for b, a, e in zip(blocks, offsets[:-1], offsets[1:]):
            vals[a:e, : b.domain.cardinality] = b.domain.values
        self.register_buffer("values", torch.tensor(vals, dtype=dtype))
        self.groups = nn.ModuleList(lower_groups(spec, cards, vals, dtype))

    @property
    def blocks(self) -> tuple[torch.Tensor, ...]:
        """Blocks of conditionally independent variables (graph colouring; two for a bipartite
        graph), as packed-index tensors. Computed on first use: backends that do not sample never pay."""
        return self._colouring()[0]

    def _colouring(self) -> tuple[tuple[torch.Tensor, ...], tuple[list[tuple[torch.Tensor, ...]], ...]]:
        """The blocks and, per block, each group's entries touching it: derived from the compiled
        structure on first use and kept in a runtime.PlanCache (not in the model's ``__dict__``), so
        threads see all of it or none of it."""
        def build() -> tuple:
            cols = colour_blocks(self.num_variables, self.markov_edges())
            blocks = tuple(torch.from_numpy(b).to(self.cards.device) for b in cols)
            return blocks, tuple(self._entries_for_block(b) for b in blocks)

        return _COLOURINGS.get(self, "colouring", build)

    # ------------------------------------------------------------------ names
    def state_labels(self, i: int) -> tuple[Any, ...]:
        """The state labels of packed variable ``i``, from its domain."""
        return self.domains[i].labels

    # ----------------------------------------------------------------- energy
    def factor_tables(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(scope (F, a), log_tables (F, k_1..k_a)), ...]``, one entry per factor group."""
        return [(g.scope, g.log_tables()) for g in self.groups]

    def factor_tensors(self) -> list[torch.Tensor]:
        """The floating-point tensors :meth:`factor_tables` reads (parameters and value buffers,
        not the scopes): a cache of anything computed from the tables is valid while these hold
        the same bits.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.5, field=0.1))
        >>> sorted(tuple(t.shape) for t in model.factor_tensors())  # couplings, fields, domain values
        [(4,), (4,), (4, 2), (4, 2), (4, 2)]
        """
        return [t for name, t in (*self.groups.named_parameters(), *self.groups.named_buffers())
                if t.is_floating_point() and name.rsplit(".", 1)[-1] not in ("scope", "strides")]

    def log_potential(self, state: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-probability Σ log φ(x) of packed states (B, n) -> (B,)."""
        state = self._check_state(state)
        total = torch.zeros(state.shape[0], dtype=self.values.dtype, device=state.device)
        for g in self.groups:  # loop over factor kinds, not factors
            total = total + g.log_potential(state)
        return total

    def energy(self, state: torch.Tensor) -> torch.Tensor:
        """Energy E(x) = -Σ log φ(x) of packed states (B, n) of state indices -> (B,)."""
        return -self.log_potential(state)

    def _check_state(self, state: torch.Tensor) -> torch.Tensor:
        return self.state_batch(state).long()

    def state_batch(self, state: Any) -> torch.Tensor:
        """``state`` as a (B, n) tensor (a single state (n,) becomes one row), or a SpecError naming the shape."""
        if not torch.is_tensor(state):
            state = torch.as_tensor(state)
        if state.dim() == 1:
            state = state[None]
        if state.dim() != 2 or state.shape[1] != self.num_variables:
            raise SpecError(
                f"state must have shape (batch, {self.num_variables}) of state indices (one column per variable "
                f"in model.variables order); got {tuple(state.shape)}"
            )
        return state

    def markov_edges(self) -> np.ndarray:
        """Pairs of variables that share a factor, (E, 2) packed indices (unique, i < j)."""
        pairs = []
        for g in self.groups:
            s = g.scope.cpu().numpy()
            for p in range(s.shape[1]):
                for q in range(p + 1, s.shape[1]):
                    pairs.append(np.sort(s[:, [p, q]], axis=1))
        if not pairs:
            return np.zeros((0, 2), dtype=np.int64)
        return np.unique(np.concatenate(pairs), axis=0)

    # ----------------------------------------------------------- conditionals
    def _entries_for_block(self, block: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """For each group: the (factor, position, row-in-block) triples touching the block."""
        pos_in_block = torch.full((self.num_variables,), -1, dtype=torch.long)
        block = block.cpu()
        pos_in_block[block] = torch.arange(len(block))
        entries = []
        for g in self.groups:
            rows = pos_in_block[g.scope.cpu()]  # (F, a)
            f, p = torch.nonzero(rows >= 0, as_tuple=True)
            entries.append((f, p, rows[f, p]))
        return entries

    def conditional_logits(self, state: torch.Tensor, block: int) -> torch.Tensor:
        """Logits of p(x_v | rest) for every variable v of ``blocks[block]``: (B, |block|, kmax).

        States beyond a variable's cardinality get -inf. Batched over the factor groups.
        """
        state = self.state_batch(state).long()  # state indices, whatever a subclass keeps its states as
        members = self.blocks[block].to(state.device)
        B, m, K = state.shape[0], len(members), self.max_card
        out = torch.zeros(B, m, K, dtype=self.values.dtype, device=state.device)
        ks = torch.arange(K, device=state.device)
        for g, (f, p, row) in zip(self.groups, self._colouring()[1][block]):
            if len(f) == 0:
                continue
            f, p, row = f.to(state.device), p.to(state.device), row.to(state.device)
            scope, strides = g.scope, g.strides
            flat = (state[:, scope] * strides).sum(-1)  # (B, F)
            own = state[:, scope[f, p]] * strides[p]  # (B, M)
            base = flat[:, f] - own  # (B, M)
            kcap = torch.tensor(g.table_shape, device=state.device)[p]  # (M,)
            s = torch.minimum(ks[None, :], kcap[:, None] - 1)  # (M, K)
            idx = base[:, :, None] + s[None] * strides[p][None, :, None]  # (B, M, K)
            tab = g.log_tables().reshape(g.num_factors, -1)  # (F, Πk)
            vals = tab[f[None, :, None], idx]  # (B, M, K)
            vals = vals.masked_fill((ks[None, :] >= kcap[:, None])[None], 0.0)
            out.index_add_(1, row, vals)
        valid = ks[None, :] < self.cards[members][:, None]  # (m, K)
        return out.masked_fill(~valid[None], float("-inf"))

    def extra_repr(self) -> str:
        """Numbers of variables and blocks and each factor group's kind and size, for the module's repr."""
        kinds = ", ".join(f"{g.kind}×{g.num_factors}" for g in self.groups)
        return f"variables={self.num_variables}, blocks={len(self.blocks)}, factors=[{kinds}]"


def lower_groups(spec: MarkovNetwork, cards: np.ndarray, vals: np.ndarray, dtype: torch.dtype) -> list[FactorGroup]:
    """Stack the spec's factors into groups: tables by shape, couplings and fields by kind.

    ``cards`` (n,) and ``vals`` (n, kmax) are every variable's cardinality and state values."""
    groups: list[FactorGroup] = []
    by_shape: dict[tuple[int, ...], list] = {}
    for f in spec.factors:
        by_shape.setdefault(tuple(f.log_table.shape), []).append(f)
    for shape, fs in by_shape.items():
        scope = torch.tensor([[spec.index_of(v) for v in f.scope] for f in fs], dtype=torch.long)
        tables = torch.tensor(np.stack([f.log_table for f in fs]), dtype=dtype)
        name = "tables" + "x".join(map(str, shape))
        groups.append(TableGroup(name, scope, tables, tuple(f.name for f in fs)))
    for c in spec.couplings:
        sig = np.stack([cards[c.pairs[:, 0]], cards[c.pairs[:, 1]]], 1)
        kmax = int(cards.max()) + 1
        for key in np.unique(sig[:, 0] * kmax + sig[:, 1]):  # distinct (k_a, k_b), few
            ka, kb = divmod(int(key), kmax)
            sel = np.flatnonzero((sig[:, 0] == ka) & (sig[:, 1] == kb))
            pairs = torch.from_numpy(c.pairs[sel])
            w = torch.tensor(c.weights[sel], dtype=dtype)
            if c.kind == "ising":
                va = torch.tensor(vals[c.pairs[sel, 0], :ka], dtype=dtype)  # (E, k_a)
                vb = torch.tensor(vals[c.pairs[sel, 1], :kb], dtype=dtype)  # (E, k_b)
                groups.append(IsingCouplingGroup(c.name, pairs, w, va, vb))
            else:
                groups.append(PottsCouplingGroup(c.name, pairs, w, int(ka), int(kb)))
    for fg in spec.fields:
        var = torch.from_numpy(fg.variables)
        w = torch.tensor(fg.weights, dtype=dtype)
        if fg.kind == "ising":
            k = cards[fg.variables]
            if np.any(k != k[0]):
                raise SpecError(f"field {fg.name!r} spans variables of different cardinalities; split it by domain")
            v = torch.tensor(vals[fg.variables, : k[0]], dtype=dtype)  # (n, k)
            groups.append(IsingFieldGroup(fg.name, var, w, v))
        else:
            groups.append(TableFieldGroup(fg.name, var, w))
    return groups
