"""Eager checks of sizes and counts given to public entry points, with errors that name the argument.

One place for the chore, so ``n=2.7`` is never silently truncated to 2 and ``steps=-5`` never
silently means "no steps" anywhere in the library.
"""
from __future__ import annotations

import numbers
from typing import Any

from graphdgm.errors import SpecError


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python int if it is an integer >= ``minimum``, else a :class:`SpecError` naming ``name``.

    Accepts Python ints and integral numpy or torch scalars (``np.int64(3)``, ``torch.tensor(3)``);
    rejects bools, floats (even ``3.0``: a size written as a float is usually a computed value that
    was meant to be rounded on purpose), strings and anything else.

    >>> positive_int(3, "n")
    3
    >>> positive_int(0, "burn_in", minimum=0)
    0
    >>> positive_int(2.7, "n")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: n must be an integer >= 1, got 2.7 (float); give a whole number such as 3
    """
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "is_floating_point", False):
        value_ok = None
    elif isinstance(value, numbers.Integral):
        value_ok = int(value)
    elif hasattr(value, "dtype") and getattr(value, "ndim", None) == 0 and _is_integer_dtype(value.dtype):
        value_ok = int(value)  # a 0-d numpy or torch integer
    else:
        value_ok = None
    if value_ok is None:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__}); "
                        f"give a whole number such as {max(minimum, 3)}")
    if value_ok < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value_ok}")
    return value_ok


def _is_integer_dtype(dtype: Any) -> bool:
    if str(dtype) in ("torch.bool", "bool"):
        return False
    try:  # torch dtypes
        return not dtype.is_floating_point and not dtype.is_complex
    except AttributeError:
        pass
    import numpy as np

    return bool(np.issubdtype(dtype, np.integer))


def positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a Python float if it is a finite real number > 0 (>= 0 with ``allow_zero``),
    else a :class:`SpecError` naming ``name``. Rejects bools, NaN, infinities, strings.

    >>> positive_float(0.01, "lr")
    0.01
    >>> positive_float(float("nan"), "lr")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: lr must be a finite number > 0, got nan
    """
    import math

    bound = ">= 0" if allow_zero else "> 0"
    ok = not isinstance(value, bool) and (isinstance(value, numbers.Real) or
                                          (hasattr(value, "dtype") and getattr(value, "ndim", None) == 0
                                           and "bool" not in str(value.dtype) and "complex" not in str(value.dtype)))
    if not ok:
        raise SpecError(f"{name} must be a finite number {bound}, got {value!r} ({type(value).__name__})")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (out == 0 and not allow_zero):
        raise SpecError(f"{name} must be a finite number {bound}, got {out!r}")
    return out
