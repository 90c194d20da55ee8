"""Save and load compiled models: the spec they came from plus their (possibly trained) parameters."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from graphdgm.errors import FormatError
from graphdgm.runtime import safe_torch_load, torch_save_atomic

FORMAT, VERSION = "graphdgm.model", 1


def save(model: torch.nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model`` (its spec and its current parameters) to ``path``; returns the path.

    >>> import tempfile, os, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    >>> p = gd.io.save(model, os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> float(gd.log_partition(gd.io.load(p))) == float(gd.log_partition(model))
    True
    """
    from graphdgm.io.serialize import spec_to_dict

    spec = getattr(model, "spec", None)
    if spec is None:
        raise FormatError(f"cannot save a {type(model).__name__}: it carries no spec; save a compiled graphdgm model")
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _check_finite(state, f"cannot save {type(model).__name__} to {path}")
    floats = [v for v in state.values() if v.is_floating_point()]
    dtype = str(floats[0].dtype).replace("torch.", "") if floats else "float64"
    blob = {"format": FORMAT, "version": VERSION, "spec": spec_to_dict(spec), "state_dict": state, "dtype": dtype}
    return torch_save_atomic(blob, path)  # a write killed half-way leaves the previous file intact


def _check_finite(state: dict[str, torch.Tensor], what: str) -> None:
    # -inf is a legitimate log of a zero probability (a CPT entry, a padded state); NaN and +inf are not
    bad = [k for k, v in state.items() if v.is_floating_point() and bool((v.isnan() | (v == float("inf"))).any())]
    if bad:
        raise FormatError(f"{what}: parameters {bad[:5]} hold NaN or inf; a model with non-finite parameters "
                          "answers nothing reliably (retrain it, or restore its last finite parameters)")


def load(path: str | os.PathLike, device: torch.device | str | None = None) -> torch.nn.Module:
    """Read a model written by :func:`save`, recompiling its spec and restoring its parameters."""
    from graphdgm.compiler import compile
    from graphdgm.io.serialize import spec_from_dict

    blob: Any = safe_torch_load(path, what="graphdgm model file")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise FormatError(f"{path}: not a graphdgm model file (expected format {FORMAT!r})")
    if blob.get("version") != VERSION:
        raise FormatError(f"{path}: model format version {blob.get('version')!r}; this graphdgm reads version {VERSION}")
    dtype = blob.get("dtype", "float64")
    if dtype not in ("float32", "float64", "float16", "bfloat16"):
        raise FormatError(f"{path}: unknown parameter dtype {dtype!r} (expected float32 or float64)")
    state = blob.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise FormatError(f"{path}: its state_dict is not a mapping of parameter names to tensors")
    _check_finite(state, f"{path}")
    model = compile(spec_from_dict(blob["spec"]), dtype=getattr(torch, dtype))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # missing, unexpected or mis-shaped parameters
        raise FormatError(f"{path}: its parameters do not fit its spec: {str(e).splitlines()[0]}") from None
    return model.to(device) if device is not None else model
