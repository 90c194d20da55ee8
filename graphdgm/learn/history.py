"""The training history: one record (a dict of figures) per epoch."""
from __future__ import annotations

import json
import os
from typing import Any


class History:
    """Per-epoch records, readable by column.

    >>> h = History(); h.append({"epoch": 1, "loss": 0.5}); h.append({"epoch": 2, "loss": 0.25})
    >>> h["loss"], len(h)
    ([0.5, 0.25], 2)
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])

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
        with open(path, "w") as f:
            json.dump(self.records, f, indent=1)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, last={self.last})"
