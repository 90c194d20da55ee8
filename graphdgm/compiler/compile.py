"""``compile(spec)``: lower a spec to a frozen torch module, chosen by the spec's type."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from graphdgm.errors import SpecError

_LOWERINGS: dict[type, Callable[..., nn.Module]] = {}
_DEFAULT_DTYPES: dict[type, torch.dtype] = {}


def register_lowering(spec_type: type, default_dtype: torch.dtype = torch.float64) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register the function that compiles specs of ``spec_type`` (used by each spec family), and
    the dtype its models get when ``compile`` is not given one."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _LOWERINGS[spec_type] = fn
        _DEFAULT_DTYPES[spec_type] = default_dtype
        return fn

    return deco


def compile(spec: Any, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> nn.Module:
    """Compile a spec to a torch module on ``device`` with floating ``dtype`` (default float64;
    float32 for neural networks such as NADE, MADE, PixelCNN and PixelRNN).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3))
    >>> model.num_variables, len(model.blocks)
    (16, 2)
    """
    if dtype is not None and not dtype.is_floating_point:
        raise SpecError(f"dtype must be a floating dtype such as torch.float64, got {dtype}")
    for t in type(spec).__mro__:
        if t in _LOWERINGS:
            dtype = _DEFAULT_DTYPES[t] if dtype is None else dtype
            module = _LOWERINGS[t](spec, dtype=dtype)
            return module.to(device) if device is not None else module
    known = ", ".join(t.__name__ for t in _LOWERINGS) or "none"
    raise SpecError(f"cannot compile a {type(spec).__name__}; compilable specs are: {known}")
