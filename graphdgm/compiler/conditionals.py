"""Block conditionals p(x_b | x_rest) of a compiled Markov network as batched linear operators.

Samplers (Gibbs, Metropolis-Hastings, tempering, AIS) spend their time here, so the layout is
chosen for speed rather than for names:

- **chains last**: a state is ``x`` of shape (n, C), so gathering a neighbour reads C contiguous
  numbers and one sparse-times-dense product serves every chain;
- **blocks contiguous**: variables are permuted so each block's free variables are one slice
  ``x[a:e]``, and variables clamped by evidence sit at the end, never updated.

Pairwise factors (any table over two variables: Ising, Potts, explicit 2-D tables) become one
sparse (or dense, when it is dense enough) matrix per block. For all-binary models the conditional
is a logit Δ_v = c_v + Σ_u B_vu x_u; for categorical models a logit per state from a one-hot code
of the neighbours. Factors over three or more variables are gathered from their tables. Parameter
values are read from the model on :meth:`BlockConditionals.refresh`, so learning can move them.
"""
from __future__ import annotations

import warnings

import torch

from graphdgm.errors import EvidenceError

_DENSE_ABOVE = 0.05  # use a dense operator when more than this fraction of entries is non-zero


def _finite(t: torch.Tensor) -> torch.Tensor:
    """Log-tables with -inf (hard zeros) replaced by a huge negative number, so that zeros in a
    one-hot product stay zeros (-inf · 0 is NaN) while the state keeps probability 0 in practice."""
    return t.clamp_min(-(torch.finfo(t.dtype).max ** 0.5))


class _Operator:
    """A fixed sparsity pattern (rows, cols) whose values are set from raw entries (duplicates add)."""

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, shape: tuple[int, int], device: torch.device) -> None:
        self.shape = shape
        key = rows * shape[1] + cols  # (nnz_raw,)
        uniq, self.inverse = torch.unique(key, sorted=True, return_inverse=True)
        self.rows, self.cols = uniq // shape[1], uniq % shape[1]  # row-major order, duplicates merged
        self.dense = uniq.numel() > _DENSE_ABOVE * max(shape[0] * shape[1], 1)
        self.crow = torch.zeros(shape[0] + 1, dtype=torch.long)
        self.crow[1:] = torch.cumsum(torch.bincount(self.rows, minlength=shape[0]), 0)
        self.rows, self.cols, self.crow, self.inverse = (
            t.to(device) for t in (self.rows, self.cols, self.crow, self.inverse)
        )

    def build(self, raw: torch.Tensor) -> torch.Tensor:
        """The operator with values ``raw`` (nnz_raw,), sparse CSR or dense (rows, cols)."""
        vals = torch.zeros(self.rows.numel(), dtype=raw.dtype, device=raw.device).index_add_(0, self.inverse, raw)
        if self.dense:
            m = torch.zeros(self.shape, dtype=raw.dtype, device=raw.device)
            m[self.rows, self.cols] = vals
            return m
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(self.crow, self.cols, vals, self.shape, check_invariants=False)


class BlockConditionals:
    """Every block's conditional of a :class:`~graphdgm.compiler.markov.CompiledMarkovNetwork`
    in a chains-last, block-contiguous layout, with evidence clamped.

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.5))
    >>> cond = BlockConditionals(model, evidence={0: 1})
    >>> x = cond.initial_state(4, torch.Generator().manual_seed(0))   # (n, C) in layout order
    >>> x = cond.sweep(x, torch.Generator().manual_seed(1))
    >>> cond.packed(x).shape, bool((cond.packed(x)[:, 0] == 1).all())  # (C, n) in model order
    (torch.Size([4, 9]), True)
    """

    def __init__(self, model: torch.nn.Module, evidence: dict[int, int] | None = None, dtype: torch.dtype | None = None) -> None:
        self.model = model
        self.dtype = dtype or (model.values.dtype if hasattr(model, "values") else model.dtype)
        self.device = model.cards.device
        n, cards = model.num_variables, model.cards.cpu()
        evidence = dict(evidence or {})
        for v, s in evidence.items():
            if int(cards[v]) and not 0 <= int(s) < int(cards[v]):  # cards 0: a real-valued unit
                raise EvidenceError(f"evidence for {model.variables[v]!r}: state index {s} is outside 0..{int(cards[v]) - 1}")
        clamped = torch.tensor(sorted(evidence), dtype=torch.long)
        is_clamped = torch.zeros(n, dtype=torch.bool)
        is_clamped[clamped] = True
        free_blocks = [b[~is_clamped[b]] for b in model.blocks]
        free_blocks = [b for b in free_blocks if b.numel()]
        self.perm = torch.cat([*free_blocks, clamped])  # (n,) layout position -> packed index
        self.pos = torch.empty(n, dtype=torch.long)
        self.pos[self.perm] = torch.arange(n)  # (n,) packed index -> layout position
        ends = torch.cumsum(torch.tensor([0] + [len(b) for b in free_blocks]), 0).tolist()
        self.slices: list[tuple[int, int]] = list(zip(ends[:-1], ends[1:]))
        self.num_free = ends[-1]
        self.clamp_values = torch.tensor([evidence[int(v)] for v in clamped], dtype=self.dtype)  # (n_clamped,)
        self.cards = cards[self.perm]  # (n,) in layout order
        self.K = int(model.max_card)
        self.binary = bool((self.cards == 2).all())
        free_cards = self.cards[: self.num_free].to(torch.float64)
        self.log_num_states = float(torch.log(free_cards[free_cards > 0]).sum())  # discrete units only
        self._build_structure()
        for t in ("perm", "pos", "clamp_values", "cards"):
            setattr(self, t, getattr(self, t).to(self.device))
        self.refresh()

    # --------------------------------------------------------------- structure
    def _build_structure(self) -> None:
        """Index patterns per block; values come later from :meth:`refresh`."""
        n = self.model.num_variables
        layout_of = self.pos
        self._pair, self._unary, self._high = [], [], []
        for gi, g in enumerate(self.model.groups):
            scope = layout_of[g.scope.cpu()]  # (F, a) layout positions
            if g.arity == 1:
                self._unary.append((gi, scope[:, 0]))
            elif g.arity == 2:
                self._pair.append((gi, scope))
            else:
                self._high.append((gi, scope))
        self._blocks = [self._pair_entry(a, e) for a, e in self.slices]
        # binary models: all variables as one pseudo-block, so the log-potential is
        # const + x·(lin + ½ Q x), one operator product for every chain
        self._full = self._pair_entry(0, n) if self.binary else {"src": [], "rows": [], "high": []}
        # factors whose log-potential is gathered from tables: 3+ variables, and pairs unless binary
        gathered = self._high if self.binary else [*self._pair, *self._high]
        self._high_scopes = [(gi, s.to(self.device)) for gi, s in gathered]

    def _pair_entry(self, a: int, e: int) -> dict:
        """Operator pattern of the pairwise factors seen from variables ``a..e`` (layout positions)."""
        n, K = self.model.num_variables, self.K
        rows_raw, cols_raw, src = [], [], []  # one raw operator entry per (factor, direction[, k, l])
        for gi, scope in self._pair:
            for d in (0, 1):
                own, other = scope[:, d], scope[:, 1 - d]
                f = torch.nonzero((own >= a) & (own < e), as_tuple=True)[0]
                if f.numel():
                    src.append((gi, d, f))
                    rows_raw.append(own[f] - a)
                    cols_raw.append(other[f])
        entry = {"src": src, "rows": [r_.to(self.device) for r_ in rows_raw]}
        if src:
            r, c = torch.cat(rows_raw), torch.cat(cols_raw)  # (P,)
            if self.binary:
                entry["op"] = _Operator(r, c, (e - a, n), self.device)
            else:
                ks = torch.arange(K)
                rk = (r[:, None, None] * K + ks[None, :, None]).expand(-1, K, K)  # (P, K, K): own state k
                cl = (c[:, None, None] * K + ks[None, None, :]).expand(-1, K, K)  # (P, K, K): other state l
                entry["op"] = _Operator(rk.reshape(-1), cl.reshape(-1), ((e - a) * K, n * K), self.device)
        high = []
        for gi, scope in self._high:
            f, p = torch.nonzero((scope >= a) & (scope < e), as_tuple=True)
            if f.numel():
                high.append((gi, f.to(self.device), p.to(self.device), (scope[f, p] - a).to(self.device)))
        entry["high"] = high
        return entry

    def refresh(self) -> None:
        """Re-read the model's parameters (after a learning step) into the operators."""
        K = self.K
        with torch.no_grad():
            tables = [_finite(g.log_tables().to(self.dtype)) for g in self.model.groups]
            unary = torch.zeros(self.model.num_variables, K, dtype=self.dtype, device=self.device)  # (n, K) layout order
            for gi, pos in self._unary:
                t = tables[gi]  # (F, k)
                t = torch.nn.functional.pad(t, (0, K - t.shape[1]))  # (F, K)
                unary.index_add_(0, pos.to(self.device), t)  # a variable may carry several unary factors
            self._unary_table = unary
            self._ops, self._bias = [], []
            for (a, e), entry in zip(self.slices, self._blocks):
                op, bias = self._entry_values(entry, tables, unary[a:e])
                self._ops.append(op)
                self._bias.append(bias)
            self._full_op, full_bias = self._entry_values(self._full, tables, unary)
            if self.binary:  # log φ = T00 + A x_own + ... ; each pair's T00 counted from both ends
                t00 = sum(0.5 * tables[gi][f.to(self.device)][:, 0, 0].sum() for gi, _, f in self._full["src"])
                self._lp_const = unary[:, 0].sum() + t00
                self._lp_lin = full_bias[:, 1] - full_bias[:, 0]  # (n,)
            self._high_params = [self._high_block_params(entry, tables) for entry in self._blocks]
            self._high_tables = [(gi, tables[gi].reshape(self.model.groups[gi].num_factors, -1)) for gi, _ in self._high_scopes]

    def _entry_values(self, entry: dict, tables: list[torch.Tensor], unary: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """An entry's operator (values from ``tables``) and its bias (m, K): unary terms, plus for
        binary models each pair's linear part A = M[1,0] - M[0,0] (M with the own variable first)."""
        K = self.K
        bias = unary.clone()  # (m, K)
        if not entry["src"]:
            return None, bias
        raw = []
        for i, (gi, d, f) in enumerate(entry["src"]):
            t = tables[gi][f.to(self.device)]  # (P_g, ka, kb)
            t = t if d == 0 else t.transpose(1, 2)  # own variable on axis 1
            if self.binary:
                A = t[:, 1, 0] - t[:, 0, 0]  # (P_g,)
                raw.append(t[:, 1, 1] - t[:, 0, 1] - A)
                bias[:, 1].index_add_(0, entry["rows"][i], A)
            else:
                raw.append(torch.nn.functional.pad(t, (0, K - t.shape[2], 0, K - t.shape[1])).reshape(-1))
        return entry["op"].build(torch.cat(raw)), bias

    def _high_block_params(self, entry: dict, tables: list[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
        """Per factor kind over 3+ variables touching a block: index tensors and table rows."""
        K, out = self.K, []
        ks = torch.arange(K, device=self.device)
        for gi, f, p, row in entry["high"]:
            g = self.model.groups[gi]
            scope = self.pos[g.scope[f]]  # (M, a) layout positions
            own_stride = g.strides[p]  # (M,)
            kcap = torch.tensor(g.table_shape, device=self.device)[p]  # (M,)
            offsets = torch.minimum(ks[None, :], kcap[:, None] - 1) * own_stride[:, None]  # (M, K)
            own = scope.gather(1, p[:, None])[:, 0]  # (M,) layout position of the block's variable
            tab = tables[gi].reshape(g.num_factors, -1)[f]  # (M, Πk)
            out.append((scope, g.strides, own, row, offsets, ks[None, :] >= kcap[:, None], tab, own_stride))
        return out

    # ------------------------------------------------------------------ states
    def initial_state(self, chains: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniformly random free variables and clamped evidence: (n, C) state indices as floats."""
        u = torch.rand(self.num_free, chains, generator=generator, device=self.device, dtype=torch.float64)
        free = torch.floor(u * self.cards[: self.num_free, None]).to(self.dtype)  # (n_free, C)
        clamp = self.clamp_values[:, None].expand(-1, chains)  # (n_clamped, C)
        return torch.cat([free, clamp]).contiguous()

    def to_layout(self, packed: torch.Tensor) -> torch.Tensor:
        """Packed states (C, n) of state indices -> layout (n, C)."""
        return packed.t()[self.perm].to(self.dtype).contiguous()

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """Layout (n, C) -> packed states (C, n) long, in the model's variable order."""
        return x[self.pos].t().long()

    # ------------------------------------------------------------ conditionals
    def logits(self, x: torch.Tensor, block: int, beta: torch.Tensor | None = None) -> torch.Tensor:
        """Conditional logits of block ``block``'s free variables: (m, K, C), -inf past each cardinality."""
        a, e = self.slices[block]
        if self.binary:
            d = self.binary_logit(x, block, beta)  # (m, C)
            return torch.stack([torch.zeros_like(d), d], 1)
        m, K, C = e - a, self.K, x.shape[1]
        op = self._ops[block]
        out = self._bias[block][:, :, None].expand(m, K, C).clone()  # (m, K, C)
        if op is not None:
            out += (op @ self._one_hot(x)).view(m, K, C)
        out += self._high_terms(x, block)
        if beta is not None:
            out = out * beta
        valid = torch.arange(K, device=x.device)[None, :] < self.cards[a:e, None]  # (m, K)
        return out.masked_fill(~valid[:, :, None], float("-inf"))

    def binary_logit(self, x: torch.Tensor, block: int, beta: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_v=1 | rest) - log p(x_v=0 | rest) for an all-binary model: (m, C)."""
        op, bias = self._ops[block], self._bias[block]
        d = bias[:, 1:2] - bias[:, 0:1]  # (m, 1)
        d = d + op @ x if op is not None else d.expand(-1, x.shape[1])  # (m, C)
        if self._blocks[block]["high"]:
            h = self._high_terms(x, block)  # (m, 2, C)
            d = d + h[:, 1] - h[:, 0]
        return d * beta if beta is not None else d

    def _one_hot(self, x: torch.Tensor) -> torch.Tensor:
        n, C = x.shape
        ks = torch.arange(self.K, device=x.device, dtype=x.dtype)
        return (x[:, None, :] == ks[None, :, None]).to(x.dtype).view(n * self.K, C)  # (n K, C)

    def _high_terms(self, x: torch.Tensor, block: int) -> torch.Tensor:
        """Contributions of factors over 3+ variables: (m, K, C) (zero when there are none)."""
        a, e = self.slices[block]
        m, K, C = e - a, self.K, x.shape[1]
        out = torch.zeros(m, K, C, dtype=x.dtype, device=x.device)
        xl = x.long()
        for scope, strides, own, row, offsets, invalid, tab, own_stride in self._high_params[block]:  # factor kinds
            flat = (xl[scope] * strides[None, :, None]).sum(1)  # (M, C): each factor's table entry
            base = flat - xl[own] * own_stride[:, None]  # (M, C): own variable's part removed
            idx = base[:, None, :] + offsets[:, :, None]  # (M, K, C): entry for each own state
            vals = tab.gather(1, idx.reshape(len(row), -1)).view(len(row), K, C)
            out.index_add_(0, row, vals.masked_fill(invalid[:, :, None], 0.0))
        return out

    # ---------------------------------------------------------------- sampling
    def sample_block(self, x: torch.Tensor, block: int, generator: torch.Generator | None = None,
                     beta: torch.Tensor | None = None) -> torch.Tensor:
        """Draw block ``block`` from its conditional in place; returns ``x``."""
        a, e = self.slices[block]
        if self.binary:
            p = torch.sigmoid(self.binary_logit(x, block, beta))  # (m, C)
            x[a:e] = (torch.rand(p.shape, generator=generator, device=x.device, dtype=p.dtype) < p).to(x.dtype)
            return x
        probs = torch.softmax(self.logits(x, block, beta), dim=1)  # (m, K, C)
        cdf = probs.cumsum(1)
        u = torch.rand(e - a, 1, x.shape[1], generator=generator, device=x.device, dtype=probs.dtype)
        new = (cdf < u).sum(1).clamp_max_(self.cards[a:e, None] - 1)  # (m, C): inverse-CDF draw
        x[a:e] = new.to(x.dtype)
        return x

    def sweep(self, x: torch.Tensor, generator: torch.Generator | None = None, beta: torch.Tensor | None = None) -> torch.Tensor:
        """One chromatic Gibbs sweep: every block once, in order."""
        for b in range(len(self.slices)):  # loop over colours (two for a grid or an RBM)
            self.sample_block(x, b, generator, beta)
        return x

    # ------------------------------------------------------------------ energy
    def log_potential(self, x: torch.Tensor) -> torch.Tensor:
        """Σ log φ(x) of layout states (n, C) -> (C,), evidence included; -inf for impossible states."""
        if self.binary:
            quad = self._full_op @ x if self._full_op is not None else torch.zeros_like(x)  # (n, C)
            total = self._lp_const + ((self._lp_lin[:, None] + 0.5 * quad) * x).sum(0)  # (C,)
            xl = x.long()
        else:  # categorical: gathering tables beats a one-hot product here
            xl = x.long()
            total = self._unary_table.gather(1, xl).sum(0)  # (C,)
        for (gi, scope), (_, tab) in zip(self._high_scopes, self._high_tables):  # gathered factor kinds
            flat = (xl[scope] * self.model.groups[gi].strides[None, :, None]).sum(1)  # (F, C)
            total = total + tab.gather(1, flat).sum(0)
        # hard zeros are huge negative numbers inside (see _finite); report them as -inf
        return total.masked_fill(total < -0.5 * torch.finfo(total.dtype).max ** 0.5, float("-inf"))
