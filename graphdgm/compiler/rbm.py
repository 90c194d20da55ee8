"""The compiled RBM: the compiled graph of two blocks and one dense edge, with the conveniences
of a two-layer model (layer conditionals, Gibbs sampling, inpainting, reconstruction).

States here are batch-first: visible ``v`` (B, V) (0/1 floats, real values, or category indices
for softmax units) and hidden ``h`` (B, H) 0/1 floats. Packed states (B, V + H) hold both. Every
formula goes through the visible block's unit and the dense operator, so Bernoulli, Gaussian and
softmax visible units share one code path.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from graphdgm.compiler.graph import CompiledGraph
from graphdgm.errors import EvidenceError, SpecError
from graphdgm.spec.rbm import RBM


class CompiledRBM(CompiledGraph):
    """An :class:`~graphdgm.RBM` lowered to torch: the compiled graph of its two blocks and one
    dense edge, with the layer-wise conveniences of an RBM. ``weight`` (V, H) (or (V, K, H) for
    softmax visible units) is the dense edge's parameter, ``visible_bias`` (V,) or (V, K) and
    ``hidden_bias`` (H,) the blocks' biases; all the math is the graph's (units and the dense
    operator), so there is no branch on the visible type here.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> v = torch.bernoulli(torch.full((3, 6), 0.5, dtype=torch.float64))
    >>> rbm.free_energy(v).shape, rbm.hidden_probs(v).shape
    (torch.Size([3]), torch.Size([3, 4]))
    """

    def __init__(self, spec: RBM, dtype: torch.dtype = torch.float64) -> None:
        super().__init__(spec, dtype=dtype)
        self.visible_type = spec.visible_type
        self.V, self.H, self.K = spec.num_visible, spec.num_hidden, spec.categories or 1
        self._v, self._h = spec.visible_name, spec.hidden_name
        # two blocks and one dense edge with fused conditionals (sample_hidden, sample_visible, gibbs):
        # what the layered Gibbs sampler of infer/layered_gibbs.py needs
        self.capabilities = self.capabilities | {"visible_hidden", "sample"}

    # the parameters under their RBM names (the graph's own parameters, not copies)
    @property
    def weight(self) -> nn.Parameter:
        """The weight (V, H), or (V, K, H) for softmax visible units: the dense edge's parameter."""
        return self.dense[0].weight

    @property
    def visible_bias(self) -> nn.Parameter:
        """The visible bias (V,), or (V, K) for softmax visible units."""
        return self.bias[self._bias_index[self._v]]

    @property
    def hidden_bias(self) -> nn.Parameter:
        """The hidden bias (H,)."""
        return self.bias[self._bias_index[self._h]]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("weight", "visible_bias", "hidden_bias"):  # the properties, before nn.Module registers a parameter
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def _assign(self, param: nn.Parameter, value: Any) -> None:
        """``rbm.weight = ...`` (or ``+=``) writes into the graph's parameter, which stays the same object."""
        if value is not param:
            with torch.no_grad():
                param.copy_(torch.as_tensor(value, dtype=param.dtype, device=param.device).reshape(param.shape))

    @weight.setter
    def weight(self, value: Any) -> None:
        self._assign(self.dense[0].weight, value)

    @visible_bias.setter
    def visible_bias(self, value: Any) -> None:
        self._assign(self.bias[self._bias_index[self._v]], value)

    @hidden_bias.setter
    def hidden_bias(self, value: Any) -> None:
        self._assign(self.bias[self._bias_index[self._h]], value)

    @property
    def sigma(self) -> torch.Tensor:
        """σ of Gaussian visible units (ones for other types, which have none)."""
        s = self.scale_of(self._v)
        return s if s is not None else torch.ones(self.V, dtype=self.dtype, device=self.values.device)

    @property
    def parameter_labels(self) -> dict[str, str]:
        """Parameter name -> its RBM name (``weight``, ``visible_bias``, ``hidden_bias``), for messages."""
        return {"dense.0.weight": "weight", f"bias.{self._bias_index[self._v]}": "visible_bias",
                f"bias.{self._bias_index[self._h]}": "hidden_bias"}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # files saved before RBMs were graphs
        for old, new in (("weight", "dense.0.weight"), ("visible_bias", "bias.0"), ("hidden_bias", "bias.1"), ("sigma", "scale_0")):
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        if self.scale_of(self._v) is None:
            state_dict.pop(prefix + "sigma", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------ the layers
    @property
    def visible_indices(self) -> range:
        """Packed indices of the visible variables: the first V."""
        return range(self.V)

    def _flat_weight(self) -> torch.Tensor:
        return self.dense[0].matrix()  # (V K, H)

    def visible_input(self, v: torch.Tensor) -> torch.Tensor:
        """What the hidden layer sees of ``v``: its unit's features (v, v/σ or one-hot(v)) (B, V K)."""
        return self.features(self._v, v)

    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """c + (input of v) W: the hidden units' conditional logits (B, H)."""
        return self.dense[0].message(self.visible_input(v), self._h, bias=self.hidden_bias)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) (B, H): the RBM's features of ``v`` (see also :meth:`transform`)."""
        return torch.sigmoid(self.hidden_logits(v))

    transform = hidden_probs

    def _visible_field(self, h: torch.Tensor) -> torch.Tensor:
        return self.dense[0].message(h.to(self.dtype), self._v)  # (B, V K)

    def visible_params(self, h: torch.Tensor) -> torch.Tensor:
        """Conditional of v given h, in the unit's own terms: logits (B, V) (Bernoulli), means
        (B, V) (Gaussian) or logits (B, V, K) (softmax)."""
        return self.units[self._v].conditional_params(self._visible_field(h), self.natural_bias(self._v), self.scale_of(self._v))

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h] (B, V); for softmax units the expected category index."""
        return self.units[self._v].mean_state(self._visible_field(h), self.natural_bias(self._v), self.scale_of(self._v))

    def reconstruct(self, v: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction E[v | h = p(h | v)] (B, V)."""
        return self.visible_mean(self.hidden_probs(v))

    # -------------------------------------------------------------- sampling
    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None,
                      logits: torch.Tensor | None = None, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
        """h ~ p(h | v) (B, H) as 0/1 floats (``logits`` if already computed; ``beta`` tempers)."""
        z = self.hidden_logits(v) if logits is None else logits
        return self.units[self._h].sample(z, 0.0, None, generator, beta)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None,
                       beta: float | torch.Tensor = 1.0, base: torch.Tensor | None = None) -> torch.Tensor:
        """v ~ p(v | h) (B, V); ``base`` (the bias's shape) mixes in a base-rate bias as
        (1-β)·base (for AIS): the natural parameter is β(field + b) + (1-β)·base."""
        unit, bias = self.units[self._v], self.natural_bias(self._v)
        if not unit.discrete:
            if base is not None:
                raise SpecError("a base-rate mixture is defined for discrete visible units")
            return unit.sample(self._visible_field(h), bias, self.scale_of(self._v), generator, beta)
        z = self.dense[0].message(h.to(self.dtype), self._v, bias=bias)  # natural parameters, one fused product
        if base is not None:
            z = z * beta + (1 - beta) * base.reshape(-1)
            beta = 1.0
        return unit.sample(z, 0.0, None, generator, beta)

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

    def visible_clamp(self, evidence: dict[str, Any] | None, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
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

    # ---------------------------------------------------------------- energy
    def _visible_term(self, v: torch.Tensor) -> torch.Tensor:
        """The visible layer's own log-potential (B,)."""
        return self.own(self._v, v)

    def free_energy(self, v: Any) -> torch.Tensor:
        """F(v) = -log Σ_h exp(-E(v, h)) (B,): the hidden layer summed out analytically."""
        if isinstance(v, dict):
            v = v[self._v]
        return self.free_energy_and_logits(torch.as_tensor(v))[0]

    def free_energy_and_logits(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """F(v) (B,) and the hidden logits (B, H) from one product (CD reuses the logits)."""
        z = self.hidden_logits(v)  # (B, H)
        return -self._visible_term(v) - self.units[self._h].log_normaliser_terms(z, 0.0).sum(1), z

    @torch.no_grad()
    def accumulate_free_energy_grad(self, parts: list[tuple[Any, Any, float]]) -> None:
        """Add ∂/∂θ Σ_parts weight · Σ_rows F(v) to the parameters' ``.grad`` for parts
        ``(v (B, V), hidden logits of v or None, weight)``: the graph's closed form (see
        :meth:`CompiledGraph.accumulate_free_energy_grad`), given the logits CD already has."""
        super().accumulate_free_energy_grad([(v, None if z is None else {self._h: torch.sigmoid(z)}, w) for v, z, w in parts])

    def hidden_log_marginal(self, h: torch.Tensor, clamp: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """log Σ_v exp(-E(v, h)) (B,): the visible layer summed (integrated) out; with ``clamp =
        (mask (V,), values (V,))`` the masked visible units are fixed to their values instead."""
        h = h.to(self.dtype)
        unit, field, bias, s = self.units[self._v], self._visible_field(h), self.natural_bias(self._v), self.scale_of(self._v)
        terms = unit.log_normaliser_terms(field, bias, s)  # (B, V)
        if clamp is not None:
            fixed = unit.clamped_terms(clamp[1].to(self.dtype).expand(h.shape[0], -1), field, bias, s)
            terms = torch.where(clamp[0], fixed, terms)
        return terms.sum(1) + self.own(self._h, h)

    # ------------------------------------------------------------- utilities
    @torch.no_grad()
    def init_visible_bias(self, data: torch.Tensor, eps: float = 1e-3) -> "CompiledRBM":
        """Set the visible biases to the data's log-odds, log-frequencies or mean (Hinton's
        practical guide, section 8)."""
        data = torch.as_tensor(data, device=self.values.device).to(self.dtype).reshape(-1, self.V)
        self.visible_bias.copy_(self.units[self._v].init_bias(data, eps).reshape(self.visible_bias.shape))
        return self

    def to_markov_network(self):
        """The Bernoulli RBM with its current parameters as a pairwise :class:`~graphdgm.MarkovNetwork`."""
        return self.spec.to_markov_network(self.weight.detach().cpu().numpy(), self.visible_bias.detach().cpu().numpy(),
                                           self.hidden_bias.detach().cpu().numpy())

    def extra_repr(self) -> str:
        """Visible size and type and hidden size, for the module's repr."""
        return f"visible={self.V} ({self.visible_type}), hidden={self.H}"
