"""Unit types of a block: what a variable's states are and how it responds to its neighbours.

A unit is a declaration (a few numbers, no tensors) that also owns the math every algorithm needs
for a block of independent units given a *field*: the input from the block's neighbours, in the
unit's feature space. For a block of ``n`` units of width ``w`` (1, or ``k`` for softmax units):

- ``features(x)``: the input transform, states (B, n) -> (B, n w): x, ±1, one-hot(x) or x/σ;
- ``own(x, bias)``: the block's own log-potential (B,): bias · features, or -(x-b)²/(2σ²);
- ``log_normaliser(field, bias)``: Σ_i log Σ_x exp(own_i(x) + field_i · f(x)) (B,), the analytic
  sum (or integral) that sums a latent block out of a free energy;
- ``mean_features(field, bias)``: E[f(x)] under that conditional (mean-field updates);
- ``sample(field, bias, generator, beta)``: a draw from it, tempered by ``beta``;
- ``entropy(field, bias)``: its entropy (variational bounds);
- ``log_table(bias)``: the own term as a unary log-table per state (discrete units).

States are floats: a state index for discrete units, the value for Gaussian ones.

>>> import torch
>>> u = Bernoulli()
>>> field = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
>>> u.log_normaliser(field, torch.zeros(2, dtype=torch.float64))  # log 2 + log(1 + e²)
tensor([2.8201], dtype=torch.float64)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from graphdgm.errors import SpecError
from graphdgm.spec.domains import Binary, Categorical, Domain, Real
from graphdgm.spec.domains import Spin as SpinDomain
from graphdgm.spec.validate import positive_float, positive_int


def _is_one(beta: Any) -> bool:
    return beta is None or (isinstance(beta, (int, float)) and beta == 1.0)


class Unit:
    """Base class of unit types. Subclasses set ``kind`` and ``width`` and implement the math."""

    kind: str = "unit"
    width: int = 1

    @property
    def domain(self) -> Domain:
        """The :class:`~graphdgm.Domain` of one unit's states."""
        raise NotImplementedError

    @property
    def discrete(self) -> bool:
        """Whether the units take finitely many states."""
        return self.domain.is_discrete

    @property
    def cardinality(self) -> int:
        """Number of states (0 for real-valued units)."""
        return self.domain.cardinality or 0

    def bias_shape(self, n: int) -> tuple[int, ...]:
        """Shape of the bias of a block of ``n`` units: (n w,) by default."""
        return (n * self.width,)

    def scale(self, n: int) -> np.ndarray | None:
        """Per-unit scale σ (Gaussian units), else None."""
        return None

    # --- the math (tensors in, tensors out; ``scale`` is the compiled σ buffer when there is one)
    def features(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """The input transform f(x): states (B, n) -> features (B, n w); ``scale`` is σ for Gaussian units."""
        raise NotImplementedError

    def own(self, x: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """The block's own log-potential bias · f(x) (B,) for states ``x`` (B, n) and a flat ``bias`` (n w,)."""
        return self.features(x, scale) @ bias

    def natural(self, field: torch.Tensor, bias: torch.Tensor | float, beta: Any = None) -> torch.Tensor:
        """Natural parameters (field + bias), times ``beta`` when tempered; ``bias`` 0.0 means ``field``
        already includes it. Shape of ``field``: (B, n w)."""
        z = field if isinstance(bias, float) and bias == 0.0 else field + bias  # 0.0: field is already natural
        return z if _is_one(beta) else z * beta

    def log_normaliser(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Σ_i log Σ_x exp(own_i(x) + field_i·f(x)) (B,): the block summed (or integrated) out
        given ``field`` (B, n w) and ``bias``."""
        return self.log_normaliser_terms(field, bias, scale).sum(-1)

    def log_normaliser_terms(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Per unit: log Σ_x exp(own_i(x) + field_i·f(x)) (B, n)."""
        raise NotImplementedError

    def clamped_terms(self, x: torch.Tensor, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Per unit at the given states: own_i(x_i) + field_i·f(x_i) (B, n) (the sum replaced by the value)."""
        f = self.features(x, scale)
        z = (f * (field + bias)).reshape(*x.shape, self.width).sum(-1)
        return z

    def own_bias_grad(self, x: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """∂/∂bias of Σ_rows own(x) (the bias's shape, flat)."""
        return self.features(x, scale).sum(0)

    def mean_features(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """E[f(x)] (B, n w) under the factorised conditional given ``field`` (B, n w) and ``bias``."""
        raise NotImplementedError

    def conditional_params(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """The conditional in the unit's own terms: logits (B, n) for two-state units, logits (B, n, k)
        for softmax units, means (B, n) for Gaussian ones."""
        return field + bias

    def mean_state(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """E[x] (B, n): the expected value (for softmax units the expected state index)."""
        return self.mean_features(field, bias, scale)

    def sample(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None,
               generator: torch.Generator | None = None, beta: Any = None) -> torch.Tensor:
        """A draw of states (B, n) from the conditional given ``field`` (B, n w) and ``bias``, using
        ``generator``; ``beta`` tempers the natural parameters (None or 1: untempered)."""
        raise NotImplementedError

    def entropy(self, field: torch.Tensor, bias: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Entropy of the factorised conditional given ``field`` (B,): A(θ) - θ·E[f] - E[own - θ_bias·f]."""
        z = field + bias
        return self.log_normaliser(field, bias, scale) - (self.mean_features(field, bias, scale) * z).sum(-1)

    def log_table(self, bias: torch.Tensor, n: int) -> torch.Tensor:
        """The own term as log-potentials per state (n, k)."""
        raise SpecError(f"{self!r} units are real-valued and have no state table")

    def state_values(self) -> tuple[float, ...]:
        """The value of each state (discrete units), indexed by state index."""
        return self.domain.values

    def init_bias(self, data: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        """A bias that matches the data's marginals (Hinton's practical guide, section 8)."""
        raise NotImplementedError

    def check_states(self, x: torch.Tensor, what: str) -> None:
        """A SpecError naming ``what`` when ``x`` holds a value these units cannot take."""
        if not bool(torch.isfinite(x).all()):
            raise SpecError(f"{what} has NaN or infinite entries")
        if self.discrete and bool(((x < 0) | (x >= self.cardinality) | (x != x.round())).any()):
            raise SpecError(f"{what} must hold state indices 0..{self.cardinality - 1} for {self!r} units")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (``{"kind": ...}`` plus parameters); :meth:`from_dict` inverts it."""
        return {"kind": self.kind}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Unit":
        """The unit described by ``d`` (a :meth:`to_dict` result), or a SpecError for an unknown kind."""
        kind = d.get("kind") if isinstance(d, dict) else None
        if kind == "bernoulli":
            return Bernoulli()
        if kind == "spin":
            return Spin()
        if kind == "softmax":
            return Softmax(d.get("k"))
        if kind == "gaussian":
            return Gaussian(d.get("sigma", 1.0))
        raise SpecError(f"unknown unit {d!r}; expected bernoulli, spin, softmax or gaussian")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Bernoulli(Unit):
    """Binary units with states {0, 1}: p(x = 1 | field) = σ(b + field).

    >>> import torch
    >>> Bernoulli().mean_features(torch.zeros(1, 3), torch.zeros(3))
    tensor([[0.5000, 0.5000, 0.5000]])
    """

    kind = "bernoulli"

    @property
    def domain(self) -> Domain:
        """Binary states {0, 1}."""
        return Binary()

    def features(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Identity: f(x) = x (B, n)."""
        return x

    def log_normaliser(self, field, bias, scale=None):
        """Σ_i softplus(b_i + field_i) (B,)."""
        return F.softplus(self.natural(field, bias)).sum(-1)

    def log_normaliser_terms(self, field, bias, scale=None):
        """softplus(b + field) per unit (B, n)."""
        return F.softplus(self.natural(field, bias))

    def mean_features(self, field, bias, scale=None):
        """p(x = 1) = σ(b + field) (B, n)."""
        return torch.sigmoid(self.natural(field, bias))

    def sample(self, field, bias, scale=None, generator=None, beta=None):
        """States {0, 1} (B, n) drawn with p = σ(β (b + field))."""
        p = torch.sigmoid(self.natural(field, bias, beta))
        return (torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    def entropy(self, field, bias, scale=None):
        """Σ_i of the Bernoulli entropy softplus(z) - σ(z) z, z = b + field (B,)."""
        z = field + bias
        return (F.softplus(z) - torch.sigmoid(z) * z).sum(-1)

    def log_table(self, bias, n):
        """Log-potentials per state (n, 2): [0, b_i]."""
        return torch.stack([torch.zeros_like(bias), bias], -1)

    def init_bias(self, data, eps=1e-3):
        """The logits of the data's per-unit means (clamped to [eps, 1 - eps]), ``data`` (N, n)."""
        p = data.mean(0).clamp(eps, 1 - eps)
        return torch.log(p) - torch.log1p(-p)


class Spin(Unit):
    """Spin units with states {-1, +1} (state indices 0, 1): p(s = +1 | field) = σ(2 (b + field)).

    >>> import torch
    >>> Spin().features(torch.tensor([[0.0, 1.0]]))
    tensor([[-1.,  1.]])
    """

    kind = "spin"

    @property
    def domain(self) -> Domain:
        """Spin states {-1, +1}."""
        return SpinDomain()

    def features(self, x, scale=None):
        """f(x) = 2x - 1: state indices 0, 1 (B, n) to spins ∓1."""
        return 2 * x - 1

    def log_normaliser_terms(self, field, bias, scale=None):
        """log(e^z + e^-z), z = b + field, per unit (B, n)."""
        z = field + bias
        return z.abs() + F.softplus(-2 * z.abs())  # log(e^z + e^-z), stable

    def mean_features(self, field, bias, scale=None):
        """E[s] = tanh(b + field) (B, n)."""
        return torch.tanh(field + bias)

    def sample(self, field, bias, scale=None, generator=None, beta=None):
        """State indices (B, n) drawn with p(s = +1) = σ(2β (b + field))."""
        p = torch.sigmoid(2 * self.natural(field, bias, beta))
        return (torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    def log_table(self, bias, n):
        """Log-potentials per state (n, 2): [-b_i, b_i]."""
        return torch.stack([-bias, bias], -1)

    def init_bias(self, data, eps=1e-3):
        """Half the logits of the data's per-unit frequency of +1 (clamped to [eps, 1 - eps]), ``data`` (N, n)."""
        p = data.mean(0).clamp(eps, 1 - eps)
        return 0.5 * (torch.log(p) - torch.log1p(-p))


class Softmax(Unit):
    """Categorical units with ``k`` states, one-hot coded: p(x = s | field) ∝ exp(b_s + field_s).

    >>> import torch
    >>> Softmax(3).features(torch.tensor([[2.0, 0.0]]))
    tensor([[0., 0., 1., 1., 0., 0.]])
    """

    kind = "softmax"

    def __init__(self, k: int) -> None:
        self.k = positive_int(k, "Softmax(k): the number of states k", minimum=2)
        self.width = self.k

    @property
    def domain(self) -> Domain:
        """Categorical states 0..k-1."""
        return Categorical(self.k)

    def features(self, x, scale=None):
        """One-hot coding: state indices (B, n) -> (B, n k)."""
        return F.one_hot(x.long(), self.k).to(x.dtype if x.is_floating_point() else torch.get_default_dtype()).reshape(*x.shape[:-1], -1)

    def _view(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(*t.shape[:-1], -1, self.k)

    def bias_shape(self, n: int) -> tuple[int, ...]:
        """A bias of shape (n, k) for ``n`` units."""
        return (n, self.k)

    def log_normaliser_terms(self, field, bias, scale=None):
        """logsumexp_s(b_is + field_is) per unit (B, n)."""
        return torch.logsumexp(self._view(field + bias), -1)

    def mean_features(self, field, bias, scale=None):
        """Softmax probabilities per state, flat (B, n k)."""
        return torch.softmax(self._view(field + bias), -1).reshape(field.shape)

    def conditional_params(self, field, bias, scale=None):
        """Logits per unit and state (B, n, k)."""
        return self._view(field + bias)

    def mean_state(self, field, bias, scale=None):
        """The expected state index Σ_s s p(x_i = s) (B, n)."""
        p = torch.softmax(self._view(field + bias), -1)
        return (p * torch.arange(self.k, dtype=p.dtype, device=p.device)).sum(-1)

    def sample(self, field, bias, scale=None, generator=None, beta=None):
        """State indices (B, n) drawn from softmax(β (b + field)) by inverse CDF."""
        z = self._view(self.natural(field, bias, beta))  # (B, n, k)
        u = torch.rand((*z.shape[:-1], 1), generator=generator, dtype=z.dtype, device=z.device)
        return (torch.softmax(z, -1).cumsum(-1) < u).sum(-1).clamp_max(self.k - 1).to(z.dtype)

    def log_table(self, bias, n):
        """The bias as log-potentials per state (n, k)."""
        return bias.reshape(n, self.k)

    def init_bias(self, data, eps=1e-3):
        """Log frequencies of each state in ``data`` (N, n) (floored at ``eps``), flat (n k,)."""
        p = F.one_hot(data.long(), self.k).to(data.dtype).mean(0).clamp_min(eps)
        return torch.log(p / p.sum(-1, keepdim=True)).reshape(-1)

    def to_dict(self):
        """``{"kind": "softmax", "k": k}``."""
        return {"kind": self.kind, "k": self.k}

    def __repr__(self):
        return f"Softmax({self.k})"


class Gaussian(Unit):
    """Real-valued units with standard deviation ``sigma`` (a number, or one per unit given as a
    list): own term -(x - b)²/(2σ²), input x/σ, so given a field a the conditional is
    N(b + σ a, σ²).

    >>> import torch
    >>> u = Gaussian(2.0)
    >>> s = torch.full((2,), 2.0)
    >>> u.mean_features(torch.ones(1, 2), torch.zeros(2), s) * s   # E[x] = b + σ a
    tensor([[2., 2.]])
    """

    kind = "gaussian"

    def __init__(self, sigma: Any = 1.0) -> None:
        if isinstance(sigma, (list, tuple, np.ndarray)):
            arr = np.asarray(sigma, dtype=np.float64).reshape(-1)
            if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise SpecError(f"Gaussian(sigma): every σ must be a positive finite number, got {sigma!r}")
            self.sigma: float | tuple[float, ...] = tuple(float(s) for s in arr)
        else:
            self.sigma = positive_float(sigma, "Gaussian(sigma): the standard deviation σ")

    @property
    def domain(self) -> Domain:
        """Real-valued states."""
        return Real()

    def bias_shape(self, n: int) -> tuple[int, ...]:
        """A bias (the means) of shape (n,) for ``n`` units."""
        return (n,)

    def scale(self, n: int) -> np.ndarray:
        """σ per unit (n,); a SpecError when ``sigma`` lists a number of values other than ``n``."""
        if isinstance(self.sigma, tuple):
            if len(self.sigma) != n:
                raise SpecError(f"Gaussian units were given {len(self.sigma)} σ values for a block of {n} units; give one or {n}")
            return np.asarray(self.sigma)
        return np.full(n, float(self.sigma))

    def features(self, x, scale=None):
        """f(x) = x / σ (B, n)."""
        return x / scale

    def own(self, x, bias, scale=None):
        """-Σ_i (x_i - b_i)² / (2σ_i²) (B,)."""
        return -(((x - bias) / scale) ** 2).sum(-1) / 2

    def log_normaliser_terms(self, field, bias, scale=None):
        # ∫ exp(-(x-b)²/(2σ²) + a x/σ) dx = √(2π) σ exp(a b/σ + a²/2)
        """log ∫ exp(-(x-b)²/(2σ²) + a x/σ) dx = a b/σ + a²/2 + log(√(2π) σ) per unit (B, n)."""
        return field * bias / scale + field**2 / 2 + 0.5 * math.log(2 * math.pi) + torch.log(scale)

    def clamped_terms(self, x, field, bias, scale=None):
        """-(x-b)²/(2σ²) + (x/σ)·field per unit at states ``x`` (B, n)."""
        return -((x - bias) / scale) ** 2 / 2 + x / scale * field

    def own_bias_grad(self, x, bias, scale=None):
        """Σ_rows (x - b)/σ² (n,): ∂/∂bias of Σ_rows own(x)."""
        return ((x - bias) / scale**2).sum(0)

    def mean_features(self, field, bias, scale=None):
        """E[x/σ] = b/σ + field (B, n)."""
        return bias / scale + field

    def conditional_params(self, field, bias, scale=None):
        """The conditional mean b + σ field (B, n)."""
        return bias + scale * field

    mean_state = conditional_params

    def sample(self, field, bias, scale=None, generator=None, beta=None):
        """Values (B, n) drawn from N(b + σ field, σ²/β)."""
        mean = bias + scale * field
        std = scale if _is_one(beta) else scale / torch.as_tensor(beta, dtype=mean.dtype, device=mean.device).sqrt()
        return mean + std * torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)

    def entropy(self, field, bias, scale=None):
        """Σ_i ½ log(2πe σ_i²) (B,) (independent of ``field``)."""
        return (0.5 * math.log(2 * math.pi * math.e) + torch.log(scale)).expand(field.shape).sum(-1)

    def init_bias(self, data, eps=1e-3):
        """The data's per-unit means (n,), ``data`` (N, n)."""
        return data.mean(0)

    def check_states(self, x, what):
        """A SpecError naming ``what`` when ``x`` has NaN or infinite entries."""
        if not bool(torch.isfinite(x).all()):
            raise SpecError(f"{what} has NaN or infinite entries")

    def to_dict(self):
        """``{"kind": "gaussian", "sigma": σ}`` (a list when σ is per unit)."""
        return {"kind": self.kind, "sigma": list(self.sigma) if isinstance(self.sigma, tuple) else self.sigma}

    def __repr__(self):
        return f"Gaussian(sigma={self.sigma})"


def unit_for_domain(domain: Domain) -> Unit:
    """The unit type of a :class:`~graphdgm.Domain` (binary, spin, categorical(k), real).

    >>> unit_for_domain(Categorical(4))
    Softmax(4)
    """
    if domain.kind == "binary":
        return Bernoulli()
    if domain.kind == "spin":
        return Spin()
    if domain.kind == "categorical":
        return Softmax(domain.cardinality) if domain.cardinality >= 2 else _Constant()
    return Gaussian()


class _Constant(Unit):
    """A categorical variable with one state (it may appear in a MarkovNetwork); features are empty."""

    kind = "constant"
    width = 1

    @property
    def domain(self):
        return Categorical(1)

    def features(self, x, scale=None):
        return torch.zeros_like(x)

    def log_normaliser_terms(self, field, bias, scale=None):
        return torch.zeros_like(field)

    def mean_features(self, field, bias, scale=None):
        return torch.zeros_like(field)

    def sample(self, field, bias, scale=None, generator=None, beta=None):
        return torch.zeros_like(field)

    def log_table(self, bias, n):
        return torch.zeros(n, 1, dtype=bias.dtype, device=bias.device)


__all__ = ["Bernoulli", "Gaussian", "Softmax", "Spin", "Unit", "unit_for_domain"]
