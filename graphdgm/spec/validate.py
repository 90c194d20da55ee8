"""Shared validators for the numbers a declaration is made of: sizes, counts and scales.

Every spec constructor checks its integer arguments with :func:`positive_int` and its real
arguments with :func:`positive_float`, so that ``2.7`` is never truncated to ``2``, ``True`` is
never read as ``1`` and ``"3"`` never reaches ``int()``. The limits on dense tables live here too:
a declaration whose tables could not be held in memory fails at once, with the size it would need.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdgm.errors import SpecError

MAX_TABLE_ENTRIES = 2**31  # a dense table of more entries (16 GiB in float64) is refused at declaration
MAX_CARDINALITY = 2**20  # states of one discrete variable; its labels are held as a tuple
MAX_VARIABLES = 2**24  # variables of one spec; every variable has a name held in memory


def _is_integer_scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Integral):  # int and numpy integers
        return True
    if hasattr(value, "dtype") and hasattr(value, "ndim") and getattr(value, "ndim", 1) == 0:
        import torch

        if isinstance(value, torch.Tensor):
            return not value.dtype.is_floating_point and not value.dtype.is_complex and value.dtype != torch.bool
        return np.issubdtype(value.dtype, np.integer)
    return False


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python int if it is an integer ``>= minimum``; else a SpecError naming ``name``.

    Accepts ints and integral numpy or torch scalars; rejects bools, floats (``2.7`` and ``3.0``
    alike: a size is never rounded), strings and everything else.

    >>> positive_int(3, "rows"), positive_int(np.int64(0), "steps", minimum=0)
    (3, 0)
    >>> positive_int(2.7, "rows")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: rows must be a positive integer, got 2.7 (float); sizes and counts are never rounded
    """
    want = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
    if not _is_integer_scalar(value):
        raise SpecError(f"{name} must be {want}, got {value!r} ({type(value).__name__}); "
                        "sizes and counts are never rounded")
    out = int(value)
    if out < minimum:
        raise SpecError(f"{name} must be {want}, got {out}")
    return out


def positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a finite Python float ``> 0`` (``>= 0`` with ``allow_zero``); else a SpecError naming ``name``.

    Accepts ints, floats and real numpy or torch scalars; rejects bools, strings, complex numbers,
    NaN and infinities.

    >>> positive_float(0.5, "sigma"), positive_float(0, "init_std", allow_zero=True)
    (0.5, 0.0)
    >>> positive_float(float("nan"), "sigma")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: sigma must be a finite number > 0, got nan
    """
    bound = ">= 0" if allow_zero else "> 0"
    ok_type = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if not ok_type and hasattr(value, "ndim") and getattr(value, "ndim", 1) == 0 and hasattr(value, "dtype"):
        import torch

        if isinstance(value, torch.Tensor):
            ok_type = value.dtype.is_floating_point or (not value.dtype.is_complex and value.dtype != torch.bool)
        else:
            ok_type = np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)
    if not ok_type:
        raise SpecError(f"{name} must be a finite number {bound}, got {value!r} ({type(value).__name__})")
    out = float(value)
    if not math.isfinite(out) or out < 0 or (out == 0 and not allow_zero):
        raise SpecError(f"{name} must be a finite number {bound}, got {out:g}")
    return out


def shape_tuple(shape: Any, name: str) -> tuple[int, ...]:
    """A block shape: an integer (one axis) or a sequence of integers, each ``>= 1``.

    >>> shape_tuple(3, "block 'x' shape"), shape_tuple((2, 3), "block 'x' shape"), shape_tuple((), "s")
    ((3,), (2, 3), ())
    """
    if _is_integer_scalar(shape):
        return (positive_int(shape, name),)
    if isinstance(shape, np.ndarray) and shape.ndim == 1:
        items = list(shape)
    elif isinstance(shape, (tuple, list)):
        items = list(shape)
    else:
        raise SpecError(f"{name} must be an integer or a tuple of integers such as (28, 28), got {shape!r}")
    out = tuple(positive_int(s, f"{name} axis {i}") for i, s in enumerate(items))
    check_variable_count(math.prod(out), name)
    return out


def real_array(x: Any, what: str) -> np.ndarray:
    """``x`` (a number, nested list, numpy array or tensor) as a float64 numpy array.

    Complex input is refused rather than losing its imaginary part; so is anything non-numeric.

    >>> real_array([[1, 2]], "table").dtype
    dtype('float64')
    >>> real_array([1 + 2j], "table")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: table has complex entries (dtype complex128); give real numbers (the imaginary part would be lost)
    """
    try:
        raw = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise SpecError(f"{what} must be numeric (a number, list, numpy array or tensor): {e}") from None
    if raw.dtype.kind == "c":
        raise SpecError(f"{what} has complex entries (dtype {raw.dtype}); give real numbers (the imaginary part would be lost)")
    if raw.dtype.kind not in "biuf":
        raise SpecError(f"{what} must hold real numbers in one rectangular shape, got dtype {raw.dtype} "
                        f"({type(x).__name__}); give a number, a nested list, a numpy array or a tensor")
    return raw.astype(np.float64, copy=False)


def check_variable_count(n: int, what: str) -> None:
    """Refuse a declaration of more than :data:`MAX_VARIABLES` variables."""
    if n > MAX_VARIABLES:
        raise SpecError(f"{what} declares {n:,} variables; a spec holds at most {MAX_VARIABLES:,} "
                        "(each variable is named and indexed in memory); use a smaller shape")


def check_table_entries(shape: Sequence[int], what: str) -> None:
    """Refuse a dense table with more than :data:`MAX_TABLE_ENTRIES` entries, before it is built.

    >>> check_table_entries((1000, 1000, 1000, 1000), "factor 'f0'")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: factor 'f0' needs a dense table of shape (1000, 1000, 1000, 1000), 1,000,000,000,000 entries (8,000 GB in float64); the limit is 2,147,483,648 entries: split the factor or use parametric couplings (add_coupling)
    """
    entries = math.prod(int(k) for k in shape)
    if entries > MAX_TABLE_ENTRIES:
        raise SpecError(
            f"{what} needs a dense table of shape {tuple(int(k) for k in shape)}, {entries:,} entries "
            f"({entries * 8 / 1e9:,.0f} GB in float64); the limit is {MAX_TABLE_ENTRIES:,} entries: "
            "split the factor or use parametric couplings (add_coupling)"
        )


__all__ = ["MAX_CARDINALITY", "MAX_TABLE_ENTRIES", "MAX_VARIABLES", "check_table_entries", "check_variable_count",
           "positive_float", "positive_int", "real_array", "shape_tuple"]


def check_cpt_table(child: str, parents: Sequence[str], cards: Sequence[int | None], table: Any,
                    tol: float = 1e-6) -> np.ndarray:
    """A CPT P(child | parents) with axes (*parents, child) checked and normalised: its shape from
    the variables' cardinalities, non-negative finite entries, rows summing to one (within ``tol``).

    >>> check_cpt_table("b", ["a"], [2, 2], [[0.9, 0.1], [0.5, 0.5]]).tolist()
    [[0.9, 0.1], [0.5, 0.5]]
    """
    if None in cards:
        raise SpecError(f"P({child}|...) : CPTs need discrete variables")
    arr = real_array(table, f"CPT of {child!r}")
    if arr.shape != tuple(cards):
        raise SpecError(f"CPT of {child!r} given {list(parents)} needs shape {tuple(cards)} (parents' states, then "
                        f"the child's), got {arr.shape}; transpose so the child's states are the last axis")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise SpecError(f"CPT of {child!r} has negative or non-finite probabilities")
    sums = arr.sum(-1)
    if np.abs(sums - 1).max() > tol:
        bad = np.unravel_index(np.abs(sums - 1).argmax(), sums.shape)
        raise SpecError(f"CPT of {child!r}: the row for parents {dict(zip(parents, bad))} sums to "
                        f"{sums[bad]:.6g}, not 1; every row over the child's states must sum to one")
    return arr / sums[..., None]
