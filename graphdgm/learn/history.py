"""The training history: one record (a dict of figures) per epoch."""
from __future__ import annotations

import json
import os
from html import escape
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
    >>> h
    History(2 epochs, last: epoch=2, loss=0.25)
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])
        self.diverged: dict[str, Any] | None = None

    def append(self, record: dict[str, Any]) -> None:
        """Add one record (a copy of ``record``: figure name -> value)."""
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
        """A copy of the latest record, or ``{}`` when there is none."""
        return dict(self.records[-1]) if self.records else {}

    def to_pandas(self):
        """The records as a pandas DataFrame, one row per record. Needs pandas."""
        import pandas as pd

        return pd.DataFrame(self.records)

    def save(self, path: str | os.PathLike) -> None:
        """Write the records as JSON, atomically (a kill mid-write leaves the previous file)."""
        atomic_write_text(path, json.dumps(plain_data(self.records), indent=1))

    def columns(self) -> list[str]:
        """The figures recorded, in first-seen order."""
        return list(dict.fromkeys(k for r in self.records for k in r))

    def __repr__(self) -> str:
        tail = f", diverged in epoch {self.diverged['epoch']}" if self.diverged else ""
        last = ", ".join(f"{k}={_short(v)}" for k, v in self.last.items())
        return f"History({len(self)} epochs, last: {last}{tail})" if self.records else f"History(0 epochs{tail})"

    def _repr_html_(self, rows: int = 5) -> str:
        """A small table: the last ``rows`` records, with a line of text when training diverged."""
        cols = self.columns()
        head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{escape(_short(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                       for r in self.records[-rows:])
        more = f" (last {rows} shown)" if len(self) > rows else ""
        note = (f"<p><b>diverged in epoch {self.diverged['epoch']}</b>: parameters "
                f"{escape(str(self.diverged.get('parameters')))} rolled back to epoch {self.diverged.get('restored_epoch')}</p>"
                if self.diverged else "")
        return (f"<div><b>History</b>: {len(self)} epochs{more}<table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>{note}</div>")


def _short(value: Any) -> str:
    """A figure as a short string: floats to 4 significant digits, long things cut."""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
