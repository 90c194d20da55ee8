"""One check for training data given as a matrix of examples: conversion, emptiness, shape, NaN."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from graphdgm.errors import SpecError


def example_matrix(data: Any, n: int, what: str, kind: str, columns: str) -> torch.Tensor:
    """``data`` as an (examples, n) tensor (images and other trailing shapes are flattened), or a
    :class:`SpecError`: ``kind`` says what the values must be (for the conversion error), ``columns``
    what the n columns are (for the shape error).

    >>> example_matrix([[0, 1], [1, 1]], 2, "training data", "of 0/1 values", "one per unit").shape
    torch.Size([2, 2])
    >>> example_matrix([], 2, "training data", "of 0/1 values", "one per unit")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: training data is empty: give at least one example, shape (examples, 2)
    """
    try:
        x = torch.as_tensor(data.detach() if hasattr(data, "detach") else np.asarray(data))
    except (TypeError, ValueError, RuntimeError) as e:
        raise SpecError(f"{what} must be a numeric array or tensor {kind}; got {type(data).__name__} ({e})") from None
    if x.is_complex():
        raise SpecError(f"{what} must be real-valued, not {x.dtype}")
    if x.dim() >= 1 and x.shape[0] == 0:
        raise SpecError(f"{what} is empty: give at least one example, shape (examples, {n})")
    if x.dim() >= 2 and math.prod(x.shape[1:]) == n:
        x = x.reshape(x.shape[0], n)
    if x.dim() != 2 or x.shape[1] != n:
        raise SpecError(f"{what} has shape {tuple(x.shape)}; {columns}. Reshape it, e.g. data.reshape(len(data), {n})")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise SpecError(f"{what} holds NaN or inf; clean or drop those rows")
    return x
