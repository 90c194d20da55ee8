"""The packed state of a model for backends that run on all of it at once (HMC, NUTS, SVI): the
model's device and float dtype, evidence keyed by packed index, and free-variable values filled
back into full states with the clamped values."""
from __future__ import annotations

from typing import Any

import torch


def model_float_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of the model's first parameter when it is floating point, else float64.

    >>> model_float_dtype(torch.nn.Linear(1, 1).double())
    torch.float64
    """
    p = next(iter(model.parameters()), None)
    return p.dtype if p is not None and p.is_floating_point() else torch.float64


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters).

    >>> model_device(torch.nn.Linear(1, 1))
    device(type='cpu')
    """
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def packed_evidence(model: torch.nn.Module, evidence: dict[Any, Any] | None) -> dict[int, float]:
    """Evidence keyed by packed index passes through (values as floats); names go through
    ``model.encode_evidence``.

    >>> packed_evidence(None, {2: 1})
    {2: 1.0}
    """
    if not evidence:
        return {}
    if all(isinstance(k, int) and not isinstance(k, bool) for k in evidence):
        return {int(k): float(v) for k, v in evidence.items()}
    return model.encode_evidence(evidence)


def insert_evidence(free_values: torch.Tensor, ev: dict[int, float], n: int) -> torch.Tensor:
    """Free-variable draws (N, m) -> full states (N, n) with the clamped values filled in.

    >>> insert_evidence(torch.tensor([[5.0, 6.0]]), {1: 0.5}, 3).tolist()
    [[5.0, 0.5, 6.0]]
    """
    free = [i for i in range(n) if i not in ev]
    states = free_values.new_empty(free_values.shape[0], n)  # (N, n)
    states[:, free] = free_values
    if ev:
        states[:, list(ev)] = torch.tensor(list(ev.values()), dtype=states.dtype, device=states.device)
    return states


__all__ = ["insert_evidence", "model_device", "model_float_dtype", "packed_evidence"]
