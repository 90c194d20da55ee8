"""The compiled Gaussian Markov network: precision and potential as parameters, analytic moments."""
from __future__ import annotations

import copy
import math
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.methods import CompiledModel
from graphdgm.compiler.names import NamedVariables
from graphdgm.errors import EvidenceError, InferenceError, SpecError
from graphdgm.spec.domains import Domain
from graphdgm.spec.gaussian import GaussianMarkovNetwork
from graphdgm.spec.validate import check_table_entries


class CompiledGaussianMarkovNetwork(NamedVariables, CompiledModel):
    """A Gaussian Markov network lowered to torch: p(x) ∝ exp(-energy(x)), energy = ½ xᵀΛx − ηᵀx.

    ``precision`` Λ (n, n) and ``potential`` η (n,) are learnable parameters; the energy uses Λ as
    stored and the analytic moments use its symmetric part. With evidence, ``mean``,
    ``covariance`` and ``log_partition`` describe the Gaussian of the *free* variables (those not
    in the evidence) in packed order (``model.variables`` order with the clamped ones left out).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[2.0, 0.5], [0.5, 1.0]], [1.0, 0.0]))
    >>> model.energy(torch.tensor([1.0, 0.0]))  # ½·2 − 1
    tensor([0.], dtype=torch.float64, grad_fn=<SubBackward0>)
    >>> [round(v, 6) for v in model.mean().tolist()]  # Λ⁻¹η
    [0.571429, -0.285714]
    >>> round(float(model.mean({"x[1]": 1.0})), 6)  # E[x0 | x1 = 1] = (1 − 0.5) / 2
    0.25
    """

    capabilities = frozenset({"continuous", "energy", "gaussian"})
    exact_backend = "gaussian"  # what ``backend="exact"`` means for this model: the analytic answer

    def __init__(self, spec: GaussianMarkovNetwork, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if spec.num_variables == 0:
            raise SpecError("cannot compile an empty Gaussian network; declare variables with add_variable/add_block first")
        check_table_entries((spec.num_variables, spec.num_variables), f"the dense precision of {spec.name!r}")
        self.spec = copy.deepcopy(spec)  # the declaration this model was compiled from, frozen
        self.variables: tuple[str, ...] = tuple(spec.variables)
        self.index = MappingProxyType({n: i for i, n in enumerate(self.variables)})
        self.domains: tuple[Domain, ...] = tuple(spec.domains())
        lam = spec.precision_matrix()  # (n, n)
        _check_positive_definite(lam, self.variables)
        self.precision = nn.Parameter(torch.tensor(lam, dtype=dtype))  # (n, n) Λ
        self.potential = nn.Parameter(torch.tensor(spec.potential_vector(), dtype=dtype))  # (n,) η

    # ------------------------------------------------------------------ names
    def encode_evidence(self, evidence: dict[Any, Any] | None) -> dict[int, float]:
        """``{"x[1]": 0.3}`` -> ``{1: 0.3}`` (packed index -> value), validated.

        Keys are variable names, block names (with one value per variable) or packed indices.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0], [0, 1.0]]))
        >>> model.encode_evidence({"x": [0.5, -1]})
        {0: 0.5, 1: -1.0}
        >>> model.resolve("x")
        [0, 1]
        """
        return {i: self._real_value(i, v) for i, v in self._evidence_items(evidence or {}, "real value")}

    def _real_value(self, i: int, v: Any) -> float:
        try:
            x = float(v.item() if hasattr(v, "item") else v)
        except (TypeError, ValueError):
            raise EvidenceError(f"evidence for {self.variables[i]!r} must be a real number, got {v!r}") from None
        if not math.isfinite(x):
            raise EvidenceError(f"evidence for {self.variables[i]!r} is {x}; clamp a real variable to a finite value")
        return x

    # ----------------------------------------------------------------- energy
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Energy ½ xᵀΛx − ηᵀx of real states (B, n) -> (B,); a single state (n,) gives (1,)."""
        x = self._check_state(x)
        quad = 0.5 * ((x @ self.precision) * x).sum(-1)  # (B,)
        return quad - x @ self.potential  # (B,)

    def log_potential(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-density −energy(x) of real states (B, n) -> (B,)."""
        return -self.energy(x)

    def _check_state(self, x: Any) -> torch.Tensor:
        if not torch.is_tensor(x):
            x = torch.as_tensor(x)
        if x.dim() == 1:
            x = x[None]
        if x.dim() != 2 or x.shape[1] != self.num_variables:
            raise SpecError(
                f"state must have shape (batch, {self.num_variables}) of real values (one column per variable "
                f"in model.variables order); got {tuple(x.shape)}"
            )
        return x.to(self.precision.dtype)

    # ------------------------------------------------------ analytic moments
    def mean(self, evidence: dict[Any, Any] | None = None) -> torch.Tensor:
        """E[x_free | evidence] (m,), the free variables in packed order (all n without evidence)."""
        free, clamped, chol, h = self._conditional(self.encode_evidence(evidence))
        return torch.cholesky_solve(h[:, None], chol)[:, 0]  # (m,)

    def covariance(self, evidence: dict[Any, Any] | None = None) -> torch.Tensor:
        """Cov[x_free | evidence] (m, m) = Λ_ff⁻¹, the free variables in packed order.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[2.0, 1.0], [1.0, 2.0]]))
        >>> (model.covariance() * 3).round().tolist(), round(float(model.covariance({"x[0]": 5.0})), 6)
        ([[2.0, -1.0], [-1.0, 2.0]], 0.5)
        """
        free, clamped, chol, h = self._conditional(self.encode_evidence(evidence))
        return torch.cholesky_inverse(chol)  # (m, m)

    def free_variables(self, evidence: dict[Any, Any] | None = None) -> list[int]:
        """Packed indices of the variables not in ``evidence``: the order of mean/covariance.

        >>> import graphdgm as gd
        >>> gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0], [0, 1.0]])).free_variables({"x[0]": 1.0})
        [1]
        """
        ev = self.encode_evidence(evidence)
        return [i for i in range(self.num_variables) if i not in ev]

    def log_partition(self, evidence: dict[Any, Any] | None = None) -> torch.Tensor:
        """log ∫ exp(−energy(x)) dx over the free variables, the clamped ones fixed (0-d tensor).

        Without evidence: ½ n log 2π − ½ log det Λ + ½ ηᵀΛ⁻¹η. Differentiable in Λ and η.

        >>> import graphdgm as gd
        >>> round(float(gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0]])).log_partition()), 6)  # ½ log 2π
        0.918939
        """
        ev = self.encode_evidence(evidence)
        free, clamped, chol, h = self._conditional(ev)
        lam, eta = self._symmetric_precision(), self.potential
        xc = torch.tensor([ev[i] for i in clamped], dtype=lam.dtype, device=lam.device)  # (c,)
        c = torch.as_tensor(clamped, dtype=torch.long, device=lam.device)
        # the clamped variables' own terms: −½ x_cᵀΛ_cc x_c + η_cᵀx_c
        const = -0.5 * xc @ lam[c][:, c] @ xc + eta[c] @ xc  # ()
        m = len(free)
        if m == 0:
            return const
        half_logdet = torch.log(torch.diagonal(chol)).sum()  # ½ log det Λ_ff
        quad = 0.5 * h @ torch.cholesky_solve(h[:, None], chol)[:, 0]  # ½ hᵀΛ_ff⁻¹h
        return 0.5 * m * math.log(2 * math.pi) - half_logdet + quad + const

    def _symmetric_precision(self) -> torch.Tensor:
        return 0.5 * (self.precision + self.precision.T)  # (n, n)

    def _conditional(self, ev: dict[int, float]) -> tuple[list[int], list[int], torch.Tensor, torch.Tensor]:
        """(free, clamped, cholesky of Λ_ff (m, m), h = η_f − Λ_fc x_c (m,)) for encoded evidence."""
        lam = self._symmetric_precision()
        clamped = sorted(ev)
        free = [i for i in range(self.num_variables) if i not in ev]
        f = torch.as_tensor(free, dtype=torch.long, device=lam.device)
        c = torch.as_tensor(clamped, dtype=torch.long, device=lam.device)
        xc = torch.tensor([ev[i] for i in clamped], dtype=lam.dtype, device=lam.device)  # (c,)
        lam_ff = lam[f][:, f]  # (m, m)
        h = self.potential[f] - lam[f][:, c] @ xc  # (m,)
        chol, info = torch.linalg.cholesky_ex(lam_ff)
        if int(info) != 0:
            smallest = float(torch.linalg.eigvalsh(lam_ff.detach()).min()) if len(free) else 0.0
            raise InferenceError(
                f"the precision of {self.spec.name!r} over the free variables is not positive definite "
                f"(smallest eigenvalue {smallest:.4g}); training may have moved it out of the PD cone; "
                "strengthen the diagonal of model.precision"
            )
        return free, clamped, chol, h

    def extra_repr(self) -> str:
        """Number of variables and of off-diagonal couplings, for the module's repr."""
        pairs, _ = self.spec.quadratic_terms()
        return f"variables={self.num_variables}, couplings={int((pairs[:, 0] != pairs[:, 1]).sum())}"


def _check_positive_definite(lam: np.ndarray, names: tuple[str, ...]) -> None:
    """Raise SpecError unless Λ is positive definite (so that exp(−energy) is integrable)."""
    try:
        np.linalg.cholesky(lam)
        return
    except np.linalg.LinAlgError:
        pass
    vals, vecs = np.linalg.eigh(lam)
    worst = names[int(np.argmax(np.abs(vecs[:, 0])))]
    raise SpecError(
        f"the precision matrix is not positive definite (smallest eigenvalue {vals[0]:.4g}, mostly along {worst!r}), "
        "so exp(-energy) cannot be normalised; strengthen the diagonal, e.g. "
        f"add_quadratic(v, v, {max(-vals[0], 0.0) + 0.1:.3g}) for each variable v"
    )
