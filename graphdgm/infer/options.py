"""One validator for the constructor options of every inference backend: each bad value is a
:class:`~graphdgm.errors.SpecError` naming the owner, the option, the allowed range and the value."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from graphdgm.errors import SpecError
from graphdgm.spec.validate import positive_int


def check_count(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` by the library's one rule for counts
    (:func:`graphdgm.spec.validate.positive_int`: ints and integral numpy/torch scalars; floats,
    bools and strings are refused), with the owner named in the error.

    >>> import numpy as np
    >>> check_count("Gibbs", "chains", np.int64(4))
    4
    >>> check_count("Gibbs", "chains", 2.7)
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: Gibbs(chains=2.7): chains must be a whole number >= 1
    """
    try:
        return positive_int(value, name, minimum=minimum)
    except SpecError:
        raise SpecError(f"{owner}({name}={value!r}): {name} must be a whole number >= {minimum}") from None


def check_integer(what: str, value: Any, low: int) -> None:
    """A SpecError unless ``value`` is a Python int (not a bool) >= ``low``, naming ``what``.

    >>> check_integer("samples", 0, 1)
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: samples=0 must be an integer >= 1
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{what}={value!r} must be an integer >= {low}")


def check_real(owner: str, name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float in the interval from ``low`` to ``high`` (ends open where asked).

    >>> check_real("BeliefPropagation", "damping", 1.0, 0.0, 1.0, high_open=True)
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: BeliefPropagation(damping=1.0): damping must lie in [0, 1)
    """
    interval = f"{'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"
    try:
        x = float(value) if not isinstance(value, (bool, str)) else math.nan
    except (TypeError, ValueError):
        x = math.nan
    inside = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)
    if math.isnan(x) or not inside:
        raise SpecError(f"{owner}({name}={value!r}): {name} must lie in {interval}")
    return x


def check_choice(owner: str, name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``.

    >>> check_choice("BeliefPropagation", "schedule", "random", ("parallel", "sequential"))
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: BeliefPropagation(schedule='random'): unknown schedule; use one of 'parallel', 'sequential'
    """
    if not isinstance(value, str) or value not in choices:
        raise SpecError(f"{owner}({name}={value!r}): unknown {name}; use one of {', '.join(repr(c) for c in choices)}")
    return value


def check_threshold(owner: str, name: str, value: Any, low: float, high: float = math.inf, *,
                    low_open: bool = True) -> float | None:
    """A warning threshold: None (warning off) or a float in the interval from ``low`` to ``high``."""
    return None if value is None else check_real(owner, name, value, low, high, low_open=low_open)


def _num(x: float) -> str:
    return "inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"
