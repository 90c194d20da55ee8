"""The training history: one record (a dict of figures) per epoch."""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch

from graphdgm.runtime import atomic_write_text


def plain_data(value: Any) -> Any:
    """``value`` with numpy and 0-d torch scalars turned into Python numbers, tuples into lists, and
    containers walked, so a checkpoint holding it loads with ``weights_only=True``.

    >>> [type(v).__name__ for v in plain_data([np.float64(0.5), np.int64(2), (1,)])]
    ['float', 'int', 'list']
    """
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if torch.is_tensor(value) and value.dim() == 0 and not value.requires_grad:
        return value.item()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()  # numpy scalars (np.float64 too: it pickles as a numpy object) and arrays
    return value


class History:
    """Per-epoch records, readable by column. ``diverged`` is None, or, when training stopped
    because parameters went non-finite, ``{"epoch", "parameters", "restored_epoch"}``.

    >>> h = History(); h.append({"epoch": 1, "loss": 0.5}); h.append({"epoch": 2, "loss": 0.25})
    >>> h["loss"], len(h)
    ([0.5, 0.25], 2)
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])
        self.diverged: dict[str, Any] | None = None

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list[Any]:
        if not any(key in r for r in self.records):
            known = sorted({k for r in self.records for k in r})
            raise KeyError(f"no {key!r} in this history; it has {known}")
        return [r.get(key) for r in self.records]

    @property
    def last(self) -> dict[str, Any]:
        return dict(self.records[-1]) if self.records else {}

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.records)

    def save(self, path: str | os.PathLike) -> None:
        """Write the records as JSON, atomically (a kill mid-write leaves the previous file)."""
        atomic_write_text(path, json.dumps(plain_data(self.records), indent=1))

    def __repr__(self) -> str:
        tail = f", diverged in epoch {self.diverged['epoch']}" if self.diverged else ""
        return f"History({len(self)} epochs, last={self.last}{tail})"
