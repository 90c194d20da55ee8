"""Convergence diagnostics of approximate backends, under one name: :class:`Diagnostics`.

Every approximate backend (Gibbs, Metropolis, tempering, AIS, annealing, loopy BP, mean field,
SVI) sets ``backend.diagnostics`` after each run, and warns through :func:`warn_if_unconverged`
with a :class:`~graphdgm.errors.ConvergenceWarning` when its answer may be wrong.
"""
from __future__ import annotations

import math
import threading
import warnings
import weakref
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


class PerThread:
    """A backend attribute (``diagnostics``, ``last_result``) that each thread sees on its own: a
    thread reads what its own latest run set, so one backend instance shared between threads
    never hands one thread's diagnostics to another (None before the thread's first run).

    >>> import threading
    >>> class Backend:
    ...     diagnostics = PerThread()
    >>> b = Backend(); b.diagnostics = "main"
    >>> seen = []
    >>> t = threading.Thread(target=lambda: seen.append(b.diagnostics)); t.start(); t.join()
    >>> seen, b.diagnostics
    ([None], 'main')
    """

    _store: "weakref.WeakKeyDictionary[Any, threading.local]" = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _values(self, obj: Any) -> threading.local:
        """The object's per-thread values, held beside it (so it still copies and pickles)."""
        with self._lock:
            values = self._store.get(obj)
            if values is None:
                values = self._store[obj] = threading.local()
            return values

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(self._values(obj), self.name, None)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(self._values(obj), self.name, value)
