"""The generic samplers' view of a compiled graph: block conditionals from the edge operators.

Same chains-last, block-contiguous layout as
:class:`~graphdgm.compiler.conditionals.BlockConditionals` (which still handles the graph's
pairs, grids and tables), plus, for each sampler block, the rows of every dense operator that
feed it and its bias. A sampler block lies inside one declared block, so one unit type draws
it: Gaussian blocks are drawn by their unit, discrete ones through the logits the base class
samples from.
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.compiler.conditionals import BlockConditionals


class GraphConditionals(BlockConditionals):
    """Block conditionals of a :class:`~graphdgm.compiler.graph.CompiledGraph`.

    >>> import torch, graphdgm as gd
    >>> g = gd.Graph(); v = g.block("v", 4, gd.Bernoulli()); h = g.block("h", 3, gd.Bernoulli(), role="latent")
    >>> _ = g.connect(v, h, gd.Dense(init_std=1.0))
    >>> cond = gd.compile(g).block_conditionals({0: 1})
    >>> x = cond.sweep(cond.initial_state(5, torch.Generator().manual_seed(0)), torch.Generator().manual_seed(1))
    >>> cond.packed(x).shape, bool((cond.packed(x)[:, 0] == 1).all())
    (torch.Size([5, 7]), True)
    """

    def _build_structure(self) -> None:
        super()._build_structure()
        model = self.model
        self.continuous = "continuous" in model.capabilities
        self._slice_block: list[tuple[str, torch.Tensor]] = []  # per sampler block: declared block, local rows
        for a, e in self.slices:
            first = int(self.perm[a])
            name = next(b for b, (lo, hi) in model.ranges.items() if lo <= first < hi)
            self._slice_block.append((name, (self.perm[a:e].cpu() - model.ranges[name][0])))
        self._block_pos = {b: self.pos[lo:hi].to(self.device) for b, (lo, hi) in model.ranges.items()}

    def refresh(self) -> None:
        """Re-read the model's parameters (after a learning step): the factor groups as in the base class, plus
        each sampler block's rows of every dense operator, its bias and its scale.
        """
        super().refresh()
        model = self.model
        with torch.no_grad():
            self._dense: list[list[tuple[torch.Tensor, str]]] = []
            self._own_bias: list[torch.Tensor] = []
            self._scale: list[torch.Tensor | None] = []
            for name, rows in self._slice_block:
                unit = model.units[name]
                w = unit.width
                rows_d = rows.to(self.device)
                feat_rows = (rows_d[:, None] * w + torch.arange(w, device=self.device)).reshape(-1)  # (m w,)
                ops = []
                for op in model.dense:
                    if name not in (op.a, op.b):
                        continue
                    if op.lateral:
                        m = op.matrix().detach().to(self.dtype)
                        ops.append(((m + m.t())[feat_rows].contiguous(), name))
                    elif op.a == name:
                        ops.append((op.matrix().detach().to(self.dtype)[feat_rows].contiguous(), op.b))
                    else:
                        ops.append((op.matrix().detach().to(self.dtype).t()[feat_rows].contiguous(), op.a))
                self._dense.append(ops)
                self._own_bias.append(model.natural_bias(name).detach().to(self.dtype)[feat_rows if unit.kind != "gaussian" else rows_d])
                s = model.scale_of(name)
                self._scale.append(None if s is None else s.detach().to(self.dtype)[rows_d])
            self._block_scale = {b: (None if model.scale_of(b) is None else model.scale_of(b).detach().to(self.dtype)) for b in model.block_names}

    # -------------------------------------------------------------- fields
    def _features(self, x: torch.Tensor, block: str) -> torch.Tensor:
        """Features of a declared block from layout states (n, C) -> (n_b w_b, C)."""
        xb = x[self._block_pos[block]]  # (n_b, C)
        return self.model.units[block].features(xb.t(), self._block_scale[block]).t()

    def dense_field(self, x: torch.Tensor, block: int) -> torch.Tensor:
        """The dense edges' input to sampler block ``block``, bias excluded: (m w, C)."""
        ops = self._dense[block]
        out = None
        for W, other in ops:  # loop over the edges touching this block
            f = self._features(x, other)
            out = W @ f if out is None else out.addmm_(W, f)
        if out is None:
            out = torch.zeros(self._own_bias[block].shape[0], x.shape[1], dtype=x.dtype, device=x.device)
        return out

    def binary_logit(self, x: torch.Tensor, block: int, beta: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_v=1 | rest) - log p(x_v=0 | rest) (m, C) for block ``block`` of an all-binary model: the
        base class's factor terms plus the dense edges' field, times ``beta`` (C,) when given.
        """
        d = super().binary_logit(x, block, None)
        name, _ = self._slice_block[block]
        unit = self.model.units[name]
        z = self.dense_field(x, block) + self._own_bias[block][:, None]  # (m w, C) feature-space natural parameter
        if unit.width > 1:  # Softmax(2): one feature per state, the logit is their difference
            zk = z.view(-1, unit.width, z.shape[1])  # (m, 2, C)
            d = d + zk[:, 1] - zk[:, 0]
        else:  # f(1) - f(0): 1 for Bernoulli units, 2 for spins
            f = unit.features(torch.tensor([[0.0, 1.0]], dtype=z.dtype, device=z.device))[0]
            d = d + (f[1] - f[0]) * z
        return d * beta if beta is not None else d

    def logits(self, x: torch.Tensor, block: int, beta: torch.Tensor | None = None) -> torch.Tensor:
        """Conditional logits of block ``block``'s free variables: (m, K, C), -inf past each cardinality;
        the factor groups' terms plus the dense edges' field on each state's features, times ``beta``.
        """
        if self.binary:
            return super().logits(x, block, beta)  # uses binary_logit
        out = super().logits(x, block, None)  # (m, K, C): factor groups, -inf past each cardinality
        name, _ = self._slice_block[block]
        unit = self.model.units[name]
        z = self.dense_field(x, block) + self._own_bias[block][:, None]  # (m w, C)
        m, K, C = out.shape
        if unit.width > 1:
            add = z.view(m, unit.width, C)
        else:
            states = torch.arange(unit.cardinality, dtype=x.dtype, device=x.device)[None]  # (1, k)
            vals = unit.features(states)[0]  # (k,): each state's feature (0/1, ±1)
            add = z.view(m, 1, C) * vals[None, :, None]
        out = out.clone()
        out[:, : add.shape[1]] += add
        if beta is not None:
            out = torch.where(torch.isinf(out), out, out * beta)
        return out

    def initial_state(self, chains: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """As the base class, with standard normal draws for continuous (Gaussian) variables: (n, C)."""
        x = super().initial_state(chains, generator)
        if self.continuous:
            real = (self.cards[: self.num_free] == 0).nonzero().reshape(-1)
            if real.numel():
                x[real] = torch.randn(real.numel(), chains, generator=generator, device=x.device, dtype=torch.float64).to(x.dtype)
        return x

    def sample_block(self, x: torch.Tensor, block: int, generator: torch.Generator | None = None,
                     beta: torch.Tensor | None = None) -> torch.Tensor:
        """Draw block ``block`` from its conditional in place and return ``x`` (n, C); Gaussian blocks are drawn
        by their unit from the dense field, discrete ones by the base class.
        """
        name, _ = self._slice_block[block]
        unit = self.model.units[name]
        if unit.discrete:
            return super().sample_block(x, block, generator, beta)
        a, e = self.slices[block]
        field = self.dense_field(x, block)  # (m, C)
        b = beta if beta is None else beta.reshape(1, -1)  # (1, C) per chain
        x[a:e] = unit.sample(field.t(), self._own_bias[block], self._scale[block], generator, b if b is None else b.t()).t()
        return x

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """Layout (n, C) -> packed states (C, n) in the model's variable order; long unless the model has
        continuous variables (then floats).
        """
        out = x[self.pos].t()
        return out if self.continuous else out.long()

    def log_potential(self, x: torch.Tensor) -> torch.Tensor:
        """The graph's log-potential of layout states (n, C) -> (C,)."""
        with torch.no_grad():
            return self.model.log_potential(x[self.pos].t())


__all__ = ["GraphConditionals"]
