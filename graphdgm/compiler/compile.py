"""``compile(spec)``: lower a spec to a frozen torch module, chosen by the spec's type."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from graphdgm.errors import SpecError

_LOWERINGS: dict[type, Callable[..., nn.Module]] = {}
_DEFAULT_DTYPES: dict[type, Any] = {}


def register_lowering(spec_type: type, default_dtype: torch.dtype | Callable[[Any], torch.dtype] = torch.float64
                      ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register the function that compiles specs of ``spec_type`` (used by each spec family), and
    the dtype its models get when ``compile`` is not given one (or a function of the spec giving it)."""

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _LOWERINGS[spec_type] = fn
        _DEFAULT_DTYPES[spec_type] = default_dtype
        return fn

    return deco


FLOAT_DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
}


def as_float_dtype(dtype: Any) -> torch.dtype | None:
    """``None``, a floating torch dtype or its name (``"float32"``, ``"torch.float64"``) -> the torch dtype.

    Anything else (integer, complex or bool dtypes, other strings, numbers) is a SpecError listing
    the allowed ones.

    >>> as_float_dtype("float32"), as_float_dtype(torch.float64), as_float_dtype(None)
    (torch.float32, torch.float64, None)
    """
    if dtype is None:
        return None
    allowed = ", ".join(f"{n!r}" for n in FLOAT_DTYPES) + " or torch.float32 / torch.float64"
    if isinstance(dtype, str):
        key = dtype.strip().removeprefix("torch.")
        if key in FLOAT_DTYPES:
            return FLOAT_DTYPES[key]
        raise SpecError(f"dtype {dtype!r} is not a floating dtype graphdgm computes in; use one of {allowed}")
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point and not dtype.is_complex:
        return dtype
    raise SpecError(f"dtype must be a floating dtype, got {dtype!r} ({type(dtype).__name__}); use one of {allowed}")


def as_device(device: Any) -> torch.device | None:
    """``None``, a ``torch.device`` or a device string (``"cpu"``, ``"cuda:0"``) that names a device
    this machine has -> the ``torch.device``; else a SpecError naming the device.

    >>> as_device("cpu"), as_device(None)
    (device(type='cpu'), None)
    """
    if device is None:
        return None
    if not isinstance(device, (str, torch.device)):
        raise SpecError(f"device must be a string such as 'cpu' or 'cuda:0', or a torch.device; got {device!r} ({type(device).__name__})")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise SpecError(f"device {device!r} is not a torch device ({str(e).splitlines()[0]}); use e.g. 'cpu' or 'cuda:0'") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise SpecError(f"device {device!r} is not available here ({count} CUDA devices visible); use 'cpu'"
                            + (f" or one of cuda:0..cuda:{count - 1}" if count else ""))
    elif dev.type not in ("cpu", "meta"):
        backend = getattr(torch, dev.type, None)
        if backend is None or not getattr(backend, "is_available", lambda: False)():
            raise SpecError(f"device {device!r} is not available here; use 'cpu'")
    return dev


def compile(spec: Any, device: torch.device | str | None = None, dtype: torch.dtype | str | None = None) -> nn.Module:
    """Compile a spec to a torch module on ``device`` with floating ``dtype`` (default float64;
    float32 for neural networks such as NADE, MADE, PixelCNN and PixelRNN). ``dtype`` may be a
    torch dtype or its name (``"float32"``); ``device`` a ``torch.device`` or a string.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3))
    >>> model.num_variables, len(model.blocks)
    (16, 2)
    >>> next(gd.compile(gd.MarkovNetwork.ising_grid(2, 2), dtype="float32").parameters()).dtype
    torch.float32
    """
    dtype = as_float_dtype(dtype)
    device = as_device(device)
    for t in type(spec).__mro__:
        if t in _LOWERINGS:
            default = _DEFAULT_DTYPES[t]
            dtype = (default(spec) if callable(default) else default) if dtype is None else dtype
            module = _LOWERINGS[t](spec, dtype=dtype)
            return module.to(device) if device is not None else module
    known = ", ".join(t.__name__ for t in _LOWERINGS) or "none"
    raise SpecError(f"cannot compile a {type(spec).__name__}; compilable specs are: {known}")
