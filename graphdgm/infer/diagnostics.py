"""Convergence diagnostics of approximate backends, under one name: :class:`Diagnostics`.

Every approximate backend (Gibbs, Metropolis, tempering, AIS, annealing, loopy BP, mean field,
SVI) sets ``backend.diagnostics`` after each run, and warns through :func:`warn_if_unconverged`
with a :class:`~graphdgm.errors.ConvergenceWarning` when its answer may be wrong.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphdgm.errors import ConvergenceWarning


@dataclass(frozen=True)
class Diagnostics:
    """How far one run of an approximate backend can be trusted.

    - ``backend``: the backend's name; ``converged``: whether every check passed;
    - ``rhat_max`` (samplers): the largest split R-hat over free variables (1 = chains agree);
    - ``ess_min`` (samplers, AIS): the smallest effective sample size measured;
    - ``iterations`` (message passing, SVI): iterations of the chosen run; ``restarts``: runs made;
    - ``messages``: one sentence per failed check, saying what to try (also the warning's text);
    - ``details``: backend-specific figures (per-variable R-hat, per-restart log Z, ...).

    >>> Diagnostics("gibbs", False, rhat_max=float("inf"), ess_min=3.0, messages=("chains disagree",))
    Diagnostics(gibbs: NOT converged, rhat_max=inf, ess_min=3, 1 message)
    """

    backend: str
    converged: bool
    rhat_max: float | None = None
    ess_min: float | None = None
    iterations: int | None = None
    restarts: int | None = None
    messages: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        parts = [f"{self.backend}: {'converged' if self.converged else 'NOT converged'}"]
        for name in ("rhat_max", "ess_min"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={_short(value)}")
        for name in ("iterations", "restarts"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        if self.messages:
            parts.append(f"{len(self.messages)} message{'s' if len(self.messages) > 1 else ''}")
        return f"Diagnostics({', '.join(parts)})"


def _short(x: float) -> str:
    return "inf" if math.isinf(x) else "nan" if math.isnan(x) else f"{x:.4g}"


def warn_if_unconverged(diagnostics: Diagnostics, stacklevel: int = 3) -> Diagnostics:
    """Raise one :class:`~graphdgm.errors.ConvergenceWarning` with every message of ``diagnostics``
    when it did not converge; returns ``diagnostics`` unchanged.

    >>> import pytest
    >>> with pytest.warns(ConvergenceWarning, match="mean field"):
    ...     _ = warn_if_unconverged(Diagnostics("mean_field", False, messages=("mean field hit its cap",)))
    """
    if not diagnostics.converged and diagnostics.messages:
        warnings.warn(" ".join(diagnostics.messages), ConvergenceWarning, stacklevel=stacklevel)
    return diagnostics
