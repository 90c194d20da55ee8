"""The compiled RBM: two blocks, conditionals as batched matrix products, the free energy with the
hidden layer summed out analytically.

States here are batch-first: visible ``v`` (B, V) (0/1 floats, real values, or category indices
for softmax units) and hidden ``h`` (B, H) 0/1 floats. Packed states (B, V + H) hold both.
"""
from __future__ import annotations

import copy
import math
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from graphdgm.compiler.names import NamedVariables
from graphdgm.errors import EvidenceError, SpecError
from graphdgm.runtime.random import make_generator
from graphdgm.spec.domains import Domain
from graphdgm.spec.rbm import RBM
from graphdgm.spec.validate import positive_int

# Structure, never the family: two layers joined only across ("bipartite"), the hidden one summed
# out analytically in the free energy ("marginalisable:h").
_STRUCTURE = frozenset({"energy", "free_energy", "bipartite", "marginalisable:h"})
_CAPABILITIES = {
    "bernoulli": _STRUCTURE | {"discrete", "blocks", "conditionals"},
    "categorical": _STRUCTURE | {"discrete"},
    "gaussian": _STRUCTURE,
}


def _param(x: Any, shape: tuple[int, ...], dtype: torch.dtype, init: torch.Tensor | None = None) -> nn.Parameter:
    t = torch.as_tensor(x, dtype=dtype) if x is not None else (init if init is not None else torch.zeros(shape, dtype=dtype))
    return nn.Parameter(t.reshape(shape).to(dtype).clone())


class CompiledRBM(NamedVariables, nn.Module):
    """An :class:`~graphdgm.RBM` lowered to torch: parameters ``weight`` (V, H) (or (V, K, H) for
    softmax visible units), ``visible_bias`` (V,) or (V, K), ``hidden_bias`` (H,).

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> v = torch.bernoulli(torch.full((3, 6), 0.5, dtype=torch.float64))
    >>> rbm.free_energy(v).shape, rbm.hidden_probs(v).shape
    (torch.Size([3]), torch.Size([3, 4]))
    """

    exact_backend = "rbm_exact"  # what ``backend="exact"`` means for this model

    def __init__(self, spec: RBM, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.spec = copy.deepcopy(spec)
        self.variables: tuple[str, ...] = tuple(spec.variables)
        self.index = MappingProxyType({n: i for i, n in enumerate(self.variables)})
        self.domains: tuple[Domain, ...] = tuple(spec.domains())
        self.visible_type = spec.visible_type
        self.capabilities = _CAPABILITIES[self.visible_type]
        self.V, self.H, self.K = spec.num_visible, spec.num_hidden, spec.categories or 1
        self.max_card = max(self.K, 2)
        V, H, K = self.V, self.H, self.K
        kshape = (K,) if spec.categories else ()
        cards = [d.cardinality or 0 for d in self.domains]
        self.register_buffer("cards", torch.tensor(cards, dtype=torch.long))  # (V + H,); 0 = real
        g = make_generator(spec.seed)
        w0 = spec.init_std * torch.randn((V, *kshape, H), generator=g, dtype=torch.float64)
        self.weight = _param(spec.weights, (V, *kshape, H), dtype, w0.to(dtype))
        self.visible_bias = _param(spec.visible_bias, (V, *kshape), dtype)
        self.hidden_bias = _param(spec.hidden_bias, (H,), dtype)
        sigma = spec.sigma if spec.sigma is not None else torch.ones(V, dtype=torch.float64)
        self.register_buffer("sigma", torch.as_tensor(sigma, dtype=dtype).reshape(V))  # (V,) Gaussian units only

    # --------------------------------------------------------------- names
    @property
    def visible_indices(self) -> range:
        return range(self.V)

    @property
    def blocks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The two blocks: visible (0..V-1) and hidden (V..V+H-1)."""
        return (torch.arange(self.V), torch.arange(self.V, self.V + self.H))

    def encode_evidence(self, evidence: dict[str, Any] | None) -> dict[int, Any]:
        """``{"v[3]": 1, "h[0]": 0}`` -> packed index -> state index (real value for Gaussian units)."""
        out: dict[int, Any] = {}
        for i, label in self._evidence_items(evidence or {}, "state label"):
            label = label.item() if hasattr(label, "item") else label
            if self.domains[i].is_discrete:
                try:
                    out[i] = self.domains[i].index(label)
                except SpecError as e:
                    raise EvidenceError(f"evidence for {self.variables[i]!r}: {e}") from None
            else:
                if not isinstance(label, (int, float)) or not math.isfinite(float(label)):
                    raise EvidenceError(f"evidence for {self.variables[i]!r} must be a finite number, got {label!r}")
                out[i] = float(label)
        return out

    def state_labels(self, i: int) -> tuple[Any, ...]:
        return self.domains[i].labels

    @property
    def dtype(self) -> torch.dtype:
        return self.weight.dtype

    # ------------------------------------------------------------ the layers
    def _flat_weight(self) -> torch.Tensor:
        return self.weight.reshape(self.V * self.K, self.H)  # (V K, H)

    def visible_input(self, v: torch.Tensor) -> torch.Tensor:
        """What the hidden layer sees of ``v``: v, v/σ (Gaussian) or one-hot(v) (B, V K)."""
        if self.visible_type == "categorical":
            return F.one_hot(v.long(), self.K).to(self.dtype).reshape(v.shape[0], self.V * self.K)
        v = v.to(self.dtype)
        return v / self.sigma if self.visible_type == "gaussian" else v

    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """c + (input of v) W: the hidden units' conditional logits (B, H)."""
        return torch.addmm(self.hidden_bias, self.visible_input(v), self._flat_weight())

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) (B, H): the RBM's features of ``v`` (see also :meth:`transform`)."""
        return torch.sigmoid(self.hidden_logits(v))

    transform = hidden_probs

    def visible_params(self, h: torch.Tensor) -> torch.Tensor:
        """Conditional of v given h: logits (B, V) (Bernoulli), means (B, V) (Gaussian) or
        logits (B, V, K) (softmax)."""
        h = h.to(self.dtype)
        if self.visible_type == "bernoulli":
            return torch.addmm(self.visible_bias, h, self.weight.t())  # (B, V)
        a = h @ self._flat_weight().t()  # (B, V K)
        if self.visible_type == "categorical":
            return a.view(-1, self.V, self.K) + self.visible_bias
        return self.visible_bias + self.sigma * a

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h] (B, V); for softmax units the expected category index."""
        p = self.visible_params(h)
        if self.visible_type == "bernoulli":
            return torch.sigmoid(p)
        if self.visible_type == "categorical":
            return (torch.softmax(p, -1) * torch.arange(self.K, dtype=p.dtype, device=p.device)).sum(-1)
        return p

    def reconstruct(self, v: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction E[v | h = p(h | v)] (B, V)."""
        return self.visible_mean(self.hidden_probs(v))

    # -------------------------------------------------------------- sampling
    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None,
                      logits: torch.Tensor | None = None, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
        """h ~ p(h | v) (B, H) as 0/1 floats (``logits`` if already computed; ``beta`` tempers)."""
        z = self.hidden_logits(v) if logits is None else logits
        z = z if isinstance(beta, (int, float)) and beta == 1.0 else z * beta
        u = torch.rand(z.shape, generator=generator, dtype=z.dtype, device=z.device)
        return (u < torch.sigmoid(z)).to(z.dtype)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None,
                       beta: float | torch.Tensor = 1.0, base: torch.Tensor | None = None) -> torch.Tensor:
        """v ~ p(v | h) (B, V); ``base`` (V,) mixes in a base-rate bias as (1-β)·base (for AIS)."""
        p = self.visible_params(h)
        if self.visible_type == "gaussian":
            if not (isinstance(beta, (int, float)) and beta == 1.0):
                raise SpecError("tempered sampling of Gaussian visible units is not supported")
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device)
            return p + self.sigma * noise
        if base is not None:
            z = p * beta + (1 - beta) * base
        else:
            z = p if isinstance(beta, (int, float)) and beta == 1.0 else p * beta
        if self.visible_type == "categorical":
            u = torch.rand((*z.shape[:2], 1), generator=generator, dtype=z.dtype, device=z.device)
            return (torch.softmax(z, -1).cumsum(-1) < u).sum(-1).clamp_max(self.K - 1).to(self.dtype)
        u = torch.rand(z.shape, generator=generator, dtype=z.dtype, device=z.device)
        return (u < torch.sigmoid(z)).to(z.dtype)

    def gibbs(self, v: torch.Tensor, steps: int = 1, generator: torch.Generator | None = None,
              clamp: tuple[torch.Tensor, torch.Tensor] | None = None, hidden_logits: torch.Tensor | None = None) -> torch.Tensor:
        """``steps`` block-Gibbs sweeps v -> h -> v from ``v`` (B, V); ``clamp = (mask (V,), values
        (B, V))`` keeps the masked visible units fixed (inpainting). ``hidden_logits`` of ``v``, when
        the caller already has them, save the first product."""
        for t in range(int(steps)):  # a loop over sweeps; each is two batched products
            h = self.sample_hidden(v, generator, logits=hidden_logits if t == 0 else None)
            v = self.sample_visible(h, generator)
            if clamp is not None:
                v = torch.where(clamp[0], clamp[1], v)
        return v

    def _visible_clamp(self, evidence: dict[str, Any] | None, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Evidence on visible units (one value, or one per sample) as (mask (V,), values (n, V))."""
        if not evidence:
            return None
        mask = torch.zeros(self.V, dtype=torch.bool, device=self.weight.device)
        vals = torch.zeros(n, self.V, dtype=self.dtype, device=self.weight.device)
        for i, value in self._evidence_items(evidence, "value (or one value per sample)"):
            if i >= self.V:
                raise EvidenceError(f"evidence on hidden unit {self.variables[i]!r}: sample() clamps visible units; "
                                    "for hidden evidence use gd.query(model, ..., backend='gibbs')")
            val = torch.as_tensor(value, dtype=self.dtype, device=self.weight.device).reshape(-1)
            if val.numel() not in (1, n):
                raise EvidenceError(f"evidence for {self.variables[i]!r} has {val.numel()} values; give one, or one per sample ({n})")
            if self.domains[i].is_discrete and bool(((val < 0) | (val >= self.domains[i].cardinality) | (val != val.round())).any()):
                raise EvidenceError(f"evidence for {self.variables[i]!r} must be a state index 0..{self.domains[i].cardinality - 1}")
            mask[i] = True
            vals[:, i] = val
        return mask, vals

    @torch.no_grad()
    def sample(self, n: int, steps: int = 1000, *, evidence: dict[str, Any] | None = None, seed: int | torch.Generator = 0,
               init: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` visible samples (n, V) after ``steps`` Gibbs sweeps from random states (or ``init``),
        with any visible units clamped by ``evidence`` (a value, or one value per sample).

        >>> import graphdgm as gd
        >>> rbm = gd.compile(gd.RBM(6, 4))
        >>> x = rbm.sample(5, steps=10, evidence={"v[0]": 1})
        >>> x.shape, bool((x[:, 0] == 1).all())
        (torch.Size([5, 6]), True)
        """
        n, steps = positive_int(n, "n (the number of samples)"), positive_int(steps, "steps (Gibbs sweeps)", minimum=0)
        g = make_generator(seed, self.weight.device)
        clamp = self._visible_clamp(evidence, n)
        if init is None:
            h = (torch.rand(n, self.H, generator=g, dtype=self.dtype, device=self.weight.device) < 0.5).to(self.dtype)
            v = self.sample_visible(h, g)
        else:
            v = torch.as_tensor(init, dtype=self.dtype, device=self.weight.device).reshape(n, self.V)
        if clamp is not None:
            v = torch.where(clamp[0], clamp[1], v)
        return self.gibbs(v, steps, g, clamp)

    @torch.no_grad()
    def inpaint(self, v: torch.Tensor, known: torch.Tensor, steps: int = 1000, seed: int | torch.Generator = 0) -> torch.Tensor:
        """Fill in the unknown visible units of ``v`` (B, V) by Gibbs sampling with the ``known``
        units (mask (V,) or (B, V)) clamped; returns (B, V)."""
        steps = positive_int(steps, "steps (Gibbs sweeps)", minimum=0)
        v = torch.as_tensor(v, dtype=self.dtype, device=self.weight.device).reshape(-1, self.V)
        known = torch.as_tensor(known, dtype=torch.bool, device=v.device)
        if known.shape not in ((self.V,), tuple(v.shape)):
            raise EvidenceError(f"known has shape {tuple(known.shape)}; give a mask of shape ({self.V},) or {tuple(v.shape)}")
        g = make_generator(seed, v.device)
        return self.gibbs(v, steps, g, (known, v))

    # ---------------------------------------------------------------- energy
    def _visible_term(self, v: torch.Tensor) -> torch.Tensor:
        """The visible layer's own log-potential (B,)."""
        if self.visible_type == "categorical":
            return self.visible_input(v) @ self.visible_bias.reshape(-1)  # one-hot(v) · b
        if self.visible_type == "gaussian":
            return -(((v.to(self.dtype) - self.visible_bias) / self.sigma) ** 2).sum(1) / 2
        return v.to(self.dtype) @ self.visible_bias

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log Σ_h exp(-E(v, h)) (B,): the hidden layer summed out analytically."""
        return self.free_energy_and_logits(v)[0]

    def free_energy_and_logits(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """F(v) (B,) and the hidden logits (B, H) from one product (CD reuses the logits)."""
        z = self.hidden_logits(v)  # (B, H)
        return -self._visible_term(v) - F.softplus(z).sum(1), z

    @torch.no_grad()
    def accumulate_free_energy_grad(self, parts: list[tuple[torch.Tensor, torch.Tensor | None, float]]) -> None:
        """Add ∂/∂θ Σ_parts weight · Σ_rows F(v) to the parameters' ``.grad``, for parts
        ``(v (B, V), hidden logits of v or None, weight)``: the closed form of autograd on
        :meth:`free_energy` (∂F/∂W = -input(v)ᵀσ(z), ∂F/∂c = -Σσ(z), ∂F/∂b = -Σv or -Σ(v-b)/σ²),
        which contrastive divergence uses to skip the autograd graph (tests check the two agree)."""
        gW = None
        gb = torch.zeros_like(self.visible_bias)
        gc = torch.zeros_like(self.hidden_bias)
        for v, z, w in parts:  # a loop over the (two) parts: data and negatives
            vin = self.visible_input(v)  # (B, V K)
            s = torch.sigmoid(self.hidden_logits(v) if z is None else z)  # (B, H)
            if gW is None:
                gW = torch.mm(vin.t(), s).mul_(-w)  # (V K, H)
            else:
                gW.addmm_(vin.t(), s, alpha=-w)
            gc.add_(s.sum(0), alpha=-w)
            if self.visible_type == "gaussian":
                gb.add_(((v.to(self.dtype) - self.visible_bias) / self.sigma**2).sum(0), alpha=-w)
            else:
                gb.add_(vin.sum(0).view_as(gb), alpha=-w)
        for p, g in ((self.weight, gW.view_as(self.weight)), (self.visible_bias, gb), (self.hidden_bias, gc)):
            if p.requires_grad:
                p.grad = g if p.grad is None else p.grad.add_(g)

    def energy(self, state: torch.Tensor) -> torch.Tensor:
        """E(v, h) of packed states (B, V + H) -> (B,)."""
        state = self._check_state(state)
        v, h = state[:, : self.V], state[:, self.V:].to(self.dtype)
        return -self._visible_term(v) - h @ self.hidden_bias - (self.visible_input(v) @ self._flat_weight() * h).sum(1)

    def log_potential(self, state: torch.Tensor) -> torch.Tensor:
        return -self.energy(state)

    def _check_state(self, state: torch.Tensor) -> torch.Tensor:
        if state.dim() != 2 or state.shape[1] != self.V + self.H:
            raise SpecError(f"states must have shape (batch, {self.V + self.H}) (visible then hidden units), got {tuple(state.shape)}")
        return state

    def hidden_log_marginal(self, h: torch.Tensor, clamp: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """log Σ_v exp(-E(v, h)) (B,): the visible layer summed (integrated) out; with ``clamp =
        (mask (V,), values (V,))`` the masked visible units are fixed to their values instead."""
        h = h.to(self.dtype)
        a = h @ self._flat_weight().t()  # (B, V K)
        b = self.visible_bias
        if self.visible_type == "categorical":
            z = a.view(-1, self.V, self.K) + b  # (B, V, K)
            free = torch.logsumexp(z, -1)  # (B, V)
            fixed = z.gather(2, clamp[1].long().view(1, -1, 1).expand(z.shape[0], -1, 1))[..., 0] if clamp is not None else None
        elif self.visible_type == "gaussian":
            s = self.sigma
            free = a * b / s + a**2 / 2 + 0.5 * math.log(2 * math.pi) + torch.log(s)  # ∫ dv_i, (B, V)
            fixed = -((clamp[1] - b) / s) ** 2 / 2 + clamp[1] / s * a if clamp is not None else None
        else:
            free = F.softplus(a + b)  # (B, V)
            fixed = clamp[1] * (a + b) if clamp is not None else None
        terms = free if clamp is None else torch.where(clamp[0], fixed, free)
        return terms.sum(1) + h @ self.hidden_bias

    # ------------------------------------------------------------- utilities
    @torch.no_grad()
    def init_visible_bias(self, data: torch.Tensor, eps: float = 1e-3) -> "CompiledRBM":
        """Set the visible biases to the data's log-odds (Hinton's practical guide, section 8)."""
        data = torch.as_tensor(data, device=self.weight.device)
        if self.visible_type == "bernoulli":
            p = data.to(self.dtype).mean(0).clamp(eps, 1 - eps)
            self.visible_bias.copy_(torch.log(p) - torch.log1p(-p))
        elif self.visible_type == "categorical":
            p = F.one_hot(data.long(), self.K).to(self.dtype).mean(0).clamp_min(eps)
            self.visible_bias.copy_(torch.log(p / p.sum(-1, keepdim=True)))
        else:
            self.visible_bias.copy_(data.to(self.dtype).mean(0))
        return self

    def to_markov_network(self):
        """The Bernoulli RBM with its current parameters as a pairwise :class:`~graphdgm.MarkovNetwork`."""
        return self.spec.to_markov_network(self.weight.detach().cpu().numpy(), self.visible_bias.detach().cpu().numpy(),
                                           self.hidden_bias.detach().cpu().numpy())

    def block_conditionals(self, evidence: dict[int, int] | None = None, dtype: torch.dtype | None = None):
        """The generic samplers' view (Gibbs, Metropolis, tempering, AIS): see :class:`RBMConditionals`."""
        from graphdgm.compiler.rbm_conditionals import RBMConditionals

        return RBMConditionals(self, evidence, dtype)

    def extra_repr(self) -> str:
        return f"visible={self.V} ({self.visible_type}), hidden={self.H}"
