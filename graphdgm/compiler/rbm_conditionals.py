"""The generic samplers' view of a Bernoulli RBM: block conditionals as two dense products.

Same layout and interface as :class:`~graphdgm.compiler.conditionals.BlockConditionals` (chains
last, free visible units, free hidden units, clamped units at the end), so block Gibbs,
Metropolis-Hastings, tempering, AIS and annealing run on an RBM unchanged; the operators are slices
of W instead of a sparse matrix over all V + H units.
"""
from __future__ import annotations

import torch

from graphdgm.compiler.conditionals import BlockConditionals


class RBMConditionals(BlockConditionals):
    """Block conditionals of a compiled Bernoulli :class:`~graphdgm.compiler.rbm.CompiledRBM`.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(5, 3))
    >>> cond = rbm.block_conditionals({0: 1})
    >>> x = cond.sweep(cond.initial_state(4, torch.Generator().manual_seed(0)))
    >>> cond.packed(x).shape, bool((cond.packed(x)[:, 0] == 1).all())
    (torch.Size([4, 8]), True)
    """

    def _build_structure(self) -> None:
        V = self.model.V
        self._kinds = []  # per free block: (is_visible, rows in layer coordinates)
        for a, e in self.slices:
            rows = self.perm[a:e].cpu()
            self._kinds.append((bool(rows[0] < V), rows if rows[0] < V else rows - V))
        self._vpos = self.pos[:V].to(self.device)  # (V,) layout positions of the visible units
        self._hpos = self.pos[V:].to(self.device)  # (H,)

    def refresh(self) -> None:
        """Re-read W, b, c (after a learning step)."""
        with torch.no_grad():
            W = self.model.weight.detach().to(self.dtype)  # (V, H)
            b = self.model.visible_bias.detach().to(self.dtype)
            c = self.model.hidden_bias.detach().to(self.dtype)
            self._W, self._b, self._c = W, b, c
            self._ops = []
            for visible, rows in self._kinds:
                rows = rows.to(self.device)
                if visible:  # logit of v_i = b_i + W_i· h
                    self._ops.append((W[rows].contiguous(), b[rows][:, None]))
                else:  # logit of h_j = c_j + W_·jᵀ v
                    self._ops.append((W[:, rows].t().contiguous(), c[rows][:, None]))

    def _layer(self, x: torch.Tensor, visible: bool) -> torch.Tensor:
        return x[self._vpos] if visible else x[self._hpos]  # (V, C) or (H, C)

    def binary_logit(self, x: torch.Tensor, block: int, beta: torch.Tensor | None = None) -> torch.Tensor:
        visible, _ = self._kinds[block]
        op, bias = self._ops[block]
        d = torch.addmm(bias, op, self._layer(x, not visible))  # (m, C)
        return d * beta if beta is not None else d

    def log_potential(self, x: torch.Tensor) -> torch.Tensor:
        """bᵀv + cᵀh + vᵀWh of layout states (n, C) -> (C,)."""
        v, h = self._layer(x, True), self._layer(x, False)  # (V, C), (H, C)
        return self._b @ v + self._c @ h + (v * (self._W @ h)).sum(0)
