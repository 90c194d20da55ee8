"""Compiled autoregressive models: exact ``log_prob`` in one pass, ancestral sampling, evidence.

Every model here gives ``logits(x)`` (B, D): the Bernoulli logit of p(x_d = 1 | x_<d) for every
variable d at once (in variable order, whatever the model's ordering), from one batched forward
pass. The shared base turns that into log-likelihoods, samples and conditional samples.
"""
from __future__ import annotations

import copy
import math
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graphdgm.compiler.methods import CompiledModel
from graphdgm.compiler.names import NamedVariables
from graphdgm.errors import EvidenceError, SpecError
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import make_generator, seeded_global_rng
from graphdgm.spec.autoregressive import MADE, NADE, AutoregressiveModel, PixelCNN, PixelRNN
from graphdgm.spec.validate import positive_int


class CompiledAutoregressive(NamedVariables, CompiledModel):
    """Base of the compiled autoregressive models over a binary block ``x`` (D variables).

    Subclasses implement ``logits(x)``; this class gives ``log_prob``, ``sample`` (ancestral,
    with evidence), ``inpaint``, and the hooks the exact and MCMC backends use.
    """

    capabilities = frozenset({"discrete", "log_prob", "ordering", "sample"})
    exact_backend = "ar_exact"

    def __init__(self, spec: AutoregressiveModel, dtype: torch.dtype) -> None:
        super().__init__()
        self.spec = copy.deepcopy(spec)
        self.variables = tuple(spec.variables)
        self.index = MappingProxyType({n: i for i, n in enumerate(self.variables)})
        self.domains = tuple(spec.domains())
        self.D = spec.num_variables
        self.shape = spec.shape
        self.dtype = dtype
        self.register_buffer("ordering", torch.as_tensor(spec.ordering, dtype=torch.long))  # (D,) variables in order
        self.register_buffer("cards", torch.full((self.D,), 2, dtype=torch.long))
        self.max_card = 2

    # ------------------------------------------------------------------ names
    @property
    def device(self) -> torch.device:
        """The device of the model's buffers and parameters."""
        return self.cards.device

    def state_labels(self, i: int) -> tuple[Any, ...]:
        """The state labels of variable ``i`` (its domain's labels, here the two binary states)."""
        return self.domains[i].labels

    def check_x(self, x: Any) -> torch.Tensor:
        """x as a (B, D) tensor on the model's device and dtype; accepts (B, *shape) images and one
        state (D,). Raises SpecError naming the shape the model needs.
        """
        x = torch.as_tensor(x.detach() if hasattr(x, "detach") else x)
        if x.dim() >= 2 and math.prod(x.shape[1:]) == self.D:
            x = x.reshape(x.shape[0], self.D)
        elif x.dim() == 1 and x.numel() == self.D:
            x = x[None]
        if x.dim() != 2 or x.shape[1] != self.D:
            raise SpecError(f"x has shape {tuple(x.shape)}; this model needs (batch, {self.D}) or (batch, *{self.shape}) "
                            f"binary values, one per variable of x")
        return x.to(self.device, self.dtype)

    # ------------------------------------------------------------------ density
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) logits of p(x_d = 1 | x_<d), in variable order."""
        raise NotImplementedError

    def log_prob(self, x: Any) -> torch.Tensor:
        """Exact log p(x) (B,) of binary states (B, D) or images (B, *shape), in nats.

        >>> import torch, graphdgm as gd
        >>> made = gd.compile(gd.MADE(4, hidden=[8]))
        >>> states = torch.tensor([[(s >> i) & 1 for i in range(4)] for s in range(16)])
        >>> round(float(made.log_prob(states).exp().sum()), 6)
        1.0
        """
        x = self.check_x(x)
        if bool(((x != 0) & (x != 1)).any()):
            raise SpecError("x must hold binary values 0/1; binarise the data first (e.g. (x > 0.5).float())")
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none").sum(1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """-log p(x) (B,): an autoregressive model is its own normaliser (log Z = 0)."""
        return -self.log_prob(x)

    def log_potential(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) (B,) of states x (B, D): the model is normalised, so the potential is the log-likelihood."""
        return self.log_prob(x)

    # ------------------------------------------------------------------ sampling
    def clamp_evidence(self, evidence: dict[str, Any] | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Evidence (one value, or one per sample) as (mask (D,), values (n, D))."""
        mask = torch.zeros(self.D, dtype=torch.bool, device=self.device)
        vals = torch.zeros(n, self.D, dtype=self.dtype, device=self.device)
        for i, value in self._evidence_items(evidence or {}, "value 0/1 (or one per sample)"):
            val = torch.as_tensor(value.detach() if hasattr(value, "detach") else value, dtype=self.dtype, device=self.device).reshape(-1)
            if val.numel() not in (1, n):
                raise EvidenceError(f"evidence for {self.variables[i]!r} has {val.numel()} values; give one, or one per sample ({n})")
            if bool(((val != 0) & (val != 1)).any()):
                raise EvidenceError(f"evidence for {self.variables[i]!r} must be 0 or 1, got {val.unique().tolist()}")
            mask[i] = True
            vals[:, i] = val
        return mask, vals

    # ------------------------------------------------------------------ mixture components
    # A model is a uniform mixture of ``num_components`` autoregressive components, each with its
    # own ordering (one for NADE, PixelCNN, PixelRNN; one per mask for a MADE mask ensemble).
    # ``log_prob`` is the mixture's density, and every sampler below samples that same density.
    @property
    def num_components(self) -> int:
        """Number of mixture components (orderings) the model averages over; 1 here."""
        return 1

    def component_ordering(self, k: int) -> torch.Tensor:
        """(D,) the variables of component ``k`` in its sampling order."""
        return self.ordering

    def component_logits(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """(B, D) logits of p_k(x_d = 1 | x_<d) under component ``k``, in variable order."""
        return self.logits(x)

    def next_logit(self, x: torch.Tensor, pos: int, var: int, cache: dict[str, Any], k: int = 0) -> torch.Tensor:
        """Logit of variable ``var`` (the ``pos``-th in component ``k``'s ordering) given x (B, D);
        subclasses with an incremental form (NADE) override this. ``cache`` lives for one sweep."""
        return self.component_logits(x, k)[:, var]

    def advance(self, x: torch.Tensor, pos: int, var: int, cache: dict[str, Any]) -> None:
        """Hook after variable ``var`` is set (NADE updates its running activation)."""

    def component_log_conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """(M, B, D) log p_k(x_d | x_<d) of every variable under every component."""
        return torch.stack([-F.binary_cross_entropy_with_logits(self.component_logits(x, k), x, reduction="none")
                            for k in range(self.num_components)])  # a loop over components, each batched


class CompiledNADE(CompiledAutoregressive):
    """A compiled :class:`~graphdgm.NADE`: W (H, D), c (H,), V (D, H), b (D,).

    >>> import torch, graphdgm as gd
    >>> nade = gd.compile(gd.NADE(5, hidden=3))
    >>> nade.logits(torch.zeros(2, 5)).shape
    torch.Size([2, 5])
    """

    def __init__(self, spec: NADE, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(spec, dtype)
        g = make_generator(spec.seed)
        D, H = self.D, spec.hidden
        self.H = H
        self.W = nn.Parameter(torch.randn(H, D, generator=g, dtype=dtype) / math.sqrt(D))
        self.hidden_bias = nn.Parameter(torch.zeros(H, dtype=dtype))
        self.V = nn.Parameter(torch.randn(D, H, generator=g, dtype=dtype) / math.sqrt(H))
        self.visible_bias = nn.Parameter(torch.zeros(D, dtype=dtype))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) logits of p(x_d = 1 | x_<d) for x (B, D), in variable order, by the plain NADE formula."""
        xo = x[:, self.ordering]  # (B, D) in order
        Wo = self.W[:, self.ordering]  # (H, D)
        contrib = xo[:, :, None] * Wo.t()[None]  # (B, D, H): x_d W_{:,d}
        a = self.hidden_bias + contrib.cumsum(1) - contrib  # (B, D, H): c + Σ_{j<d} x_j W_{:,j}
        h = torch.sigmoid(a)
        out = (h * self.V[self.ordering][None]).sum(-1) + self.visible_bias[self.ordering]  # (B, D) in order
        return torch.empty_like(out).index_copy_(1, self.ordering, out)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Exact log p(x) (B,) by the chunked NADE kernel (O(DH) per example, hand-written backward;
        equal to the plain formula in :meth:`logits`)."""
        from graphdgm.compiler.nade_kernel import nade_log_prob

        x = self.check_x(x)
        if bool(((x != 0) & (x != 1)).any()):
            raise SpecError("x must hold binary values 0/1; binarise the data first (e.g. (x > 0.5).float())")
        o = self.ordering
        return nade_log_prob(x[:, o], self.W[:, o], self.hidden_bias, self.V[o], self.visible_bias[o], chunk=8)

    def init_visible_bias(self, x: torch.Tensor) -> None:
        """Start the output biases at the data's log-odds (faster early training)."""
        p = x.to(self.dtype).mean(0).clamp(1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.visible_bias.copy_(torch.log(p) - torch.log1p(-p))

    def next_logit(self, x: torch.Tensor, pos: int, var: int, cache: dict[str, Any], k: int = 0) -> torch.Tensor:
        """(B,) logit of variable ``var`` (the ``pos``-th in the ordering) given x (B, D), from the hidden
        activation (B, H) kept in ``cache`` and updated by :meth:`advance`; ``k`` is always 0.
        """
        a = cache.get("a")  # NADE has one component: k is always 0
        if a is None or cache.get("pos") != pos:
            order = self.ordering[:pos]
            a = self.hidden_bias + x[:, order] @ self.W[:, order].t()  # (B, H)
            cache["a"], cache["pos"] = a, pos
        return torch.sigmoid(a) @ self.V[var] + self.visible_bias[var]

    def advance(self, x: torch.Tensor, pos: int, var: int, cache: dict[str, Any]) -> None:
        """Add variable ``var``'s new value in x (B, D) to the cached activation (an O(BH) step), when the
        cache is at position ``pos``.
        """
        a = cache.get("a")
        if a is not None and cache.get("pos") == pos:  # O(BH) update per variable: the NADE recurrence
            cache["a"] = a + x[:, var:var + 1] * self.W[:, var]
            cache["pos"] = pos + 1


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (out, in)."""

    def __init__(self, n_in: int, n_out: int, dtype: torch.dtype) -> None:
        super().__init__(n_in, n_out, dtype=dtype)
        self.register_buffer("mask", torch.ones(n_out, n_in, dtype=dtype), persistent=False)  # set by use_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in) -> (B, out) through the masked weight."""
        return F.linear(x, self.weight * self.mask, self.bias)


class CompiledMADE(CompiledAutoregressive):
    """A compiled :class:`~graphdgm.MADE`: masked linear layers with ReLU, one mask set active at a
    time (``use_mask(k)``); ``log_prob(x, ensemble=True)`` averages p over all masks.

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(6, hidden=[12, 12], masks=4))
    >>> made.log_prob(torch.ones(2, 6), ensemble=True).shape
    torch.Size([2])
    """

    def __init__(self, spec: MADE, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(spec, dtype)
        del self._buffers["ordering"]  # the active mask's ordering: derived state, not saved
        self.register_buffer("ordering", torch.as_tensor(spec.ordering, dtype=torch.long), persistent=False)
        g = make_generator(spec.seed)
        sizes = [self.D, *spec.hidden, self.D]
        self.net = nn.ModuleList([MaskedLinear(a, b, dtype) for a, b in zip(sizes[:-1], sizes[1:])])
        for layer in self.net:
            bound = 1.0 / math.sqrt(layer.in_features)
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=g)
                layer.bias.uniform_(-bound, bound, generator=g)
        self.direct = nn.Linear(self.D, self.D, bias=False, dtype=dtype) if spec.direct else None
        if self.direct is not None:
            nn.init.zeros_(self.direct.weight)
        K = spec.num_masks
        orders, masks = zip(*(spec.masks(k) for k in range(K)))
        self.register_buffer("all_orderings", torch.as_tensor(np.stack(orders), dtype=torch.long))  # (K, D)
        for li in range(len(self.net)):  # one stacked buffer per layer: (K, out, in)
            self.register_buffer(f"masks_{li}", torch.as_tensor(np.stack([m[li].T for m in masks]), dtype=dtype))
        self.num_masks = K
        self.active_mask = -1
        self.use_mask(0)

    def use_mask(self, k: int) -> None:
        """Make mask set ``k`` (its ordering and connectivity) the active one."""
        k = int(k) % self.num_masks
        for li, layer in enumerate(self.net):  # copies, so loading a state dict never writes into the stack
            layer.mask = getattr(self, f"masks_{li}")[k].clone()
        self.ordering = self.all_orderings[k].clone()
        self.active_mask = k
        if self.direct is not None:
            pos = torch.empty_like(self.ordering)
            pos[self.ordering] = torch.arange(self.D, device=pos.device)
            self._direct_mask = (pos[None, :] < pos[:, None]).to(self.dtype)  # (out, in)

    @property
    def num_components(self) -> int:
        """Number of mask sets (orderings and connectivities) the model averages over."""
        return self.num_masks

    def component_ordering(self, k: int) -> torch.Tensor:
        """(D,) the variables of mask set ``k`` in its sampling order."""
        return self.all_orderings[k]

    def component_logits(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """(B, D) logits under mask set ``k``, from the stacked masks (the active mask is untouched)."""
        h = x
        for li, layer in enumerate(self.net):
            h = F.linear(h, layer.weight * getattr(self, f"masks_{li}")[k], layer.bias)
            if li < len(self.net) - 1:
                h = F.relu(h)
        if self.direct is not None:
            order = self.all_orderings[k]
            pos = torch.empty_like(order)
            pos[order] = torch.arange(self.D, device=pos.device)
            h = h + F.linear(x, self.direct.weight * (pos[None, :] < pos[:, None]).to(self.dtype))  # (out, in)
        return h

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) logits under the active mask (the one training uses at this step)."""
        h = x
        for layer in self.net[:-1]:
            h = F.relu(layer(h))
        out = self.net[-1](h)
        if self.direct is not None:
            out = out + F.linear(x, self.direct.weight * self._direct_mask)
        return out

    def init_visible_bias(self, x: torch.Tensor) -> None:
        """Start the output biases at the log-odds of the data x (B, D) (faster early training)."""
        p = x.to(self.dtype).mean(0).clamp(1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.net[-1].bias.copy_(torch.log(p) - torch.log1p(-p))

    def log_prob(self, x: Any, ensemble: bool | None = None) -> torch.Tensor:
        """log p(x) (B,) under the active mask; with ``ensemble`` (default: when the model has
        several masks) log of the mean of p over all masks, the density every sampler samples."""
        ensemble = self.num_masks > 1 if ensemble is None else ensemble
        if not ensemble:
            return super().log_prob(x)
        x = self.check_x(x)
        if bool(((x != 0) & (x != 1)).any()):
            raise SpecError("x must hold binary values 0/1; binarise the data first (e.g. (x > 0.5).float())")
        lps = self.component_log_conditionals(x).sum(-1)  # (M, B)
        return torch.logsumexp(lps, 0) - math.log(self.num_masks)


# --------------------------------------------------------------------------------- image models
class _ImageModel(CompiledAutoregressive):
    """Shared by PixelCNN and PixelRNN: layers built under the spec's seed, one output bias."""

    def _build(self, spec: Any, make: Any) -> None:
        with seeded_global_rng(spec.seed):  # torch.nn layers draw from the global generator
            make()

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        return (x.reshape(-1, 1, *self.shape) * 2 - 1).to(self.dtype)  # centred input

    def init_visible_bias(self, x: torch.Tensor) -> None:
        """Start the output bias at the data's mean log-odds."""
        p = x.to(self.dtype).mean().clamp(1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.head[-1].bias.fill_(float(torch.log(p) - torch.log1p(-p)))


# --------------------------------------------------------------------------------- PixelCNN
def _shift_down(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def _shift_right(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    """One gated PixelCNN layer: a vertical stack (rows above, any column) and a horizontal stack
    (this row, columns to the left), combined without a blind spot; tanh·σ gates."""

    def __init__(self, channels: int, kernel: int, first: bool, dtype: torch.dtype) -> None:
        super().__init__()
        c, k = channels, kernel
        self.k, self.first = k, first
        n_in = 1 if first else c
        self.v_conv = nn.Conv2d(n_in, 2 * c, (k // 2 + 1, k), dtype=dtype)
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1, dtype=dtype)
        self.h_conv = nn.Conv2d(n_in, 2 * c, (1, k // 2 + 1), dtype=dtype)
        self.h_out = nn.Conv2d(c, c, 1, dtype=dtype)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Vertical and horizontal stack features v, h (B, C, R, W) -> the layer's new (v, h); after the first
        layer the horizontal stack is residual.
        """
        k = self.k
        v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # rows <= i, any column
        h_in = _shift_right(h) if self.first else h  # the first layer must not see its own pixel
        h_pre = self.h_conv(F.pad(h_in, (k // 2, 0, 0, 0))) + self.v_to_h(_shift_down(v_pre))
        v_a, v_b = v_pre.chunk(2, 1)
        h_a, h_b = h_pre.chunk(2, 1)
        v_new = torch.tanh(v_a) * torch.sigmoid(v_b)
        h_new = self.h_out(torch.tanh(h_a) * torch.sigmoid(h_b))
        return v_new, h_new if self.first else h + h_new


class CompiledPixelCNN(_ImageModel):
    """A compiled gated :class:`~graphdgm.PixelCNN` over a (rows, cols) binary image.

    >>> import torch, graphdgm as gd
    >>> cnn = gd.compile(gd.PixelCNN((6, 6), channels=8, layers=2))
    >>> cnn.logits(torch.zeros(2, 36)).shape
    torch.Size([2, 36])
    """

    def __init__(self, spec: PixelCNN, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(spec, dtype)
        c = spec.channels

        def make() -> None:
            self.first = GatedLayer(c, spec.first_kernel, True, dtype)
            self.stack = nn.ModuleList([GatedLayer(c, spec.kernel, False, dtype) for _ in range(spec.num_layers)])
            self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1, dtype=dtype), nn.ReLU(), nn.Conv2d(c, 1, 1, dtype=dtype))

        self._build(spec, make)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) logits of p(x_d = 1 | pixels before d in raster order) for x (B, D), in one forward pass."""
        img = self._image(x)
        v, h = self.first(img, img)
        for layer in self.stack:
            v, h = layer(v, h)
        return self.head(h).reshape(x.shape[0], self.D)

    # ------------------------------------------------------------------ cached sampling
    # In raster order the vertical stack at row r - 1 depends only on rows < r, which are final
    # once sampling reaches row r; the horizontal stack at (r, c) needs that and row r alone. So
    # the vertical stack runs once per row (over rows < r), and each pixel recomputes one row of
    # the horizontal stack: 2R + R*W row passes per image instead of 2 R^2 W.
    def row_terms(self, x: torch.Tensor, r: int) -> list[torch.Tensor]:
        """The vertical stack's input to the horizontal stack of row ``r``, one (B, 2c, W) tensor
        per layer, from rows < r of x (B, D)."""
        B, W = x.shape[0], self.shape[1]
        layers = [self.first, *self.stack]
        if r == 0:  # nothing above the first row: the link sees the vertical stack's zero padding
            return [layer.v_to_h(x.new_zeros(B, layer.v_to_h.in_channels, 1, W, dtype=self.dtype))[:, :, 0]
                    for layer in layers]
        v = self._image(x)[:, :, :r]  # (B, 1, r, W): rows < r
        terms = []
        for layer in layers:
            k = layer.k
            v_pre = layer.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # (B, 2c, r, W)
            terms.append(layer.v_to_h(v_pre[:, :, -1:])[:, :, 0])  # shift down: row r sees row r - 1
            v_a, v_b = v_pre.chunk(2, 1)
            v = torch.tanh(v_a) * torch.sigmoid(v_b)
        return terms

    def row_logits(self, x: torch.Tensor, r: int, terms: list[torch.Tensor]) -> torch.Tensor:
        """(B, W) logits of row ``r`` from that row of x and the cached :meth:`row_terms`."""
        h = self._image(x)[:, :, r : r + 1]  # (B, 1, 1, W)
        for layer, term in zip([self.first, *self.stack], terms):
            k = layer.k
            h_in = _shift_right(h) if layer.first else h
            h_a, h_b = (layer.h_conv(F.pad(h_in, (k // 2, 0, 0, 0))) + term[:, :, None, :]).chunk(2, 1)
            h_new = layer.h_out(torch.tanh(h_a) * torch.sigmoid(h_b))
            h = h_new if layer.first else h + h_new
        return self.head(h)[:, 0, 0, :]

    def next_logit(self, x: torch.Tensor, pos: int, var: int, cache: dict[str, Any], k: int = 0) -> torch.Tensor:
        """(B,) logit of pixel ``var`` given x (B, D), computing the row's vertical-stack terms once per row
        (kept in ``cache``); ``pos`` equals ``var`` in raster order, ``k`` is unused.
        """
        r, c = divmod(int(var), self.shape[1])  # raster order: position and variable agree
        if cache.get("row") != r:
            cache["row"], cache["terms"] = r, self.row_terms(x, r)
        return self.row_logits(x, r, cache["terms"])[:, c]


# --------------------------------------------------------------------------------- PixelRNN
class RowLSTMLayer(nn.Module):
    """A Row LSTM layer: the whole row i is computed at once from the input row (masked 1-D
    convolution: columns < j for the first layer, <= j after) and the previous row's state
    (1-D convolution of width ``kernel``)."""

    def __init__(self, n_in: int, hidden: int, kernel: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.hidden, self.k = hidden, kernel
        self.input_to_state = nn.Conv1d(n_in, 4 * hidden, kernel // 2 + 1, dtype=dtype)  # left half and centre
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, kernel, padding=kernel // 2, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, R, W) with x[:, :, i, j] depending only on pixels before (i, j) -> (B, hidden, R, W)."""
        B, C, R, W = x.shape
        k = self.k
        rows = x.permute(2, 0, 1, 3).reshape(R * B, C, W)  # every row's input-to-state at once
        pre = self.input_to_state(F.pad(rows, (k // 2, 0))).reshape(R, B, 4 * self.hidden, W)
        h = x.new_zeros(B, self.hidden, W)
        c = x.new_zeros(B, self.hidden, W)
        out = []
        for i in range(R):  # the recurrence runs down the rows (inherent to the Row LSTM)
            h, c = self.cell(pre[i], h, c)
            out.append(h)
        return torch.stack(out, 2)

    def cell(self, pre: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One row of the recurrence: input-to-state ``pre`` (B, 4h, W) and the previous row's
        state (h, c) (B, hidden, W) -> this row's (h, c)."""
        g_i, g_f, g_o, g_c = (pre + self.state_to_state(h)).chunk(4, 1)
        c = torch.sigmoid(g_f) * c + torch.sigmoid(g_i) * torch.tanh(g_c)
        return torch.sigmoid(g_o) * torch.tanh(c), c

    def step(self, rows: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One row from its input (B, C, W) and the previous row's state."""
        return self.cell(self.input_to_state(F.pad(rows, (self.k // 2, 0))), h, c)


class CompiledPixelRNN(_ImageModel):
    """A compiled :class:`~graphdgm.PixelRNN` (Row LSTM) over a (rows, cols) binary image.

    >>> import torch, graphdgm as gd
    >>> rnn = gd.compile(gd.PixelRNN((5, 5), hidden=8, layers=1))
    >>> rnn.logits(torch.zeros(2, 25)).shape
    torch.Size([2, 25])
    """

    def __init__(self, spec: PixelRNN, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(spec, dtype)
        hid = spec.hidden

        def make() -> None:
            self.input_conv = nn.Conv2d(1, 2 * hid, (7 // 2 + 1, 7), dtype=dtype)  # mask A: rows above, and left in this row
            self.input_row = nn.Conv2d(1, 2 * hid, (1, 7 // 2), dtype=dtype)
            self.lstms = nn.ModuleList([RowLSTMLayer(2 * hid if i == 0 else hid, hid, spec.kernel, dtype)
                                        for i in range(spec.num_layers)])
            self.skip = nn.Conv2d(2 * hid, hid, 1, dtype=dtype)
            self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(hid, hid, 1, dtype=dtype), nn.ReLU(), nn.Conv2d(hid, 1, 1, dtype=dtype))

        self._build(spec, make)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) logits of p(x_d = 1 | pixels before d in raster order) for x (B, D), in one forward pass."""
        img = self._image(x)
        above = self.input_conv(_shift_down(F.pad(img, (3, 3, 3, 0))))[:, :, :self.shape[0]]  # rows < i
        left = self.input_row(F.pad(_shift_right(img), (3 - 1, 0, 0, 0)))  # this row, columns < j
        f = above + left  # (B, 2h, R, W): features of pixels strictly before (i, j)
        h = self.lstms[0](f) + self.skip(f)
        for layer in self.lstms[1:]:
            h = h + layer(h)
        return self.head(h).reshape(x.shape[0], self.D)

    # ------------------------------------------------------------------ cached sampling
    # Row i of every layer depends on the input rows < i, row i left of each pixel, and the
    # previous row's LSTM states. Sampling keeps those states: each pixel recomputes one row of
    # every layer, and the states advance one row when sampling moves to the next.
    def row_step(self, x: torch.Tensor, i: int, states: list[tuple[torch.Tensor, torch.Tensor]]
                 ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(B, W) logits of row ``i`` of x (B, D) and every layer's state after that row, from the
        states after row i - 1."""
        img = self._image(x)
        window = F.pad(img, (3, 3, 4, 0))[:, :, i : i + 4]  # input rows i-4..i-1 (zeros above the image)
        row = img[:, :, i : i + 1]
        f = (self.input_conv(window) + self.input_row(F.pad(_shift_right(row), (3 - 1, 0, 0, 0))))[:, :, 0]  # (B, 2h, W)
        new, y = [], f
        for l, (layer, (h, c)) in enumerate(zip(self.lstms, states)):
            h, c = layer.step(y, h, c)
            y = h + self.skip(f[:, :, None])[:, :, 0] if l == 0 else y + h
            new.append((h, c))
        return self.head(y[:, :, None])[:, 0, 0], new

    def next_logit(self, x: torch.Tensor, pos: int, var: int, cache: dict[str, Any], k: int = 0) -> torch.Tensor:
        """(B,) logit of pixel ``var`` given x (B, D), advancing the Row LSTM states kept in ``cache`` through
        the rows above it; ``pos`` equals ``var`` in raster order, ``k`` is unused.
        """
        r, col = divmod(int(var), self.shape[1])  # raster order: position and variable agree
        if "states" not in cache:
            zero = x.new_zeros(x.shape[0], self.spec.hidden, self.shape[1], dtype=self.dtype)
            cache["states"], cache["done"] = [(zero, zero) for _ in self.lstms], 0
        while cache["done"] < r:  # rows above are final: advance the states through them
            cache["states"] = self.row_step(x, cache["done"], cache["states"])[1]
            cache["done"] += 1
        return self.row_step(x, r, cache["states"])[0][:, col]
