"""Save and load compiled models: the spec they came from plus their (possibly trained) parameters."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from graphdgm.errors import FormatError

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
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    floats = [v for v in state.values() if v.is_floating_point()]
    dtype = str(floats[0].dtype).replace("torch.", "") if floats else "float64"
    torch.save({"format": FORMAT, "version": VERSION, "spec": spec_to_dict(spec), "state_dict": state, "dtype": dtype}, path)
    return path


def load(path: str | os.PathLike, device: torch.device | str | None = None) -> torch.nn.Module:
    """Read a model written by :func:`save`, recompiling its spec and restoring its parameters."""
    from graphdgm.compiler import compile
    from graphdgm.io.serialize import spec_from_dict

    try:
        blob: Any = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a corrupt file
        raise FormatError(f"{path}: not a graphdgm model file ({type(e).__name__}: {e})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise FormatError(f"{path}: not a graphdgm model file (expected format {FORMAT!r})")
    if blob.get("version") != VERSION:
        raise FormatError(f"{path}: model format version {blob.get('version')!r}; this graphdgm reads version {VERSION}")
    dtype = getattr(torch, blob.get("dtype", "float64"))
    model = compile(spec_from_dict(blob["spec"]), dtype=dtype)
    model.load_state_dict(blob["state_dict"])
    return model.to(device) if device is not None else model
