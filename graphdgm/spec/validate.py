"""Eager validation of sizes, counts and rates: a clear SpecError instead of a silent ``int(2.7)``."""
from __future__ import annotations

import math
import numbers
from typing import Any

from graphdgm.errors import SpecError


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``; bools, fractions (2.7), strings and NaN are errors.

    >>> positive_int(3, "chains"), positive_int(0, "burn_in", minimum=0)
    (3, 0)
    >>> positive_int(2.7, "chains")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: chains must be a whole number >= 1; got 2.7
    """
    if isinstance(value, bool) or not _is_integral(value):
        raise SpecError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    out = int(value)
    if out < minimum:
        raise SpecError(f"{name} must be a whole number >= {minimum}; got {out}")
    return out


def positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``).

    >>> positive_float(0.5, "lr")
    0.5
    >>> positive_float(float("nan"), "lr")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: lr must be a finite number > 0; got nan
    """
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) and not _is_real_scalar(value):
        raise SpecError(f"{name} must be a finite number {bound}; got {value!r}")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (out == 0 and not allow_zero):
        raise SpecError(f"{name} must be a finite number {bound}; got {out}")
    return out


def _scalar_dtype(value: Any) -> str | None:
    """The dtype name of a 0-d numpy array or torch tensor, else None."""
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is None or shape is None or tuple(shape) != ():
        return None
    return str(dtype).replace("torch.", "")


def _is_integral(value: Any) -> bool:
    return isinstance(value, numbers.Integral) or (_scalar_dtype(value) or "").startswith(("int", "uint"))


def _is_real_scalar(value: Any) -> bool:
    return (_scalar_dtype(value) or "").startswith(("float", "bfloat", "int", "uint"))
