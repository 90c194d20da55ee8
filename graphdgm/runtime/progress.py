"""A progress bar for long loops (tqdm), off when asked or when not attached to a terminal."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_bar(it: Iterable[T], progress: bool | None, desc: str = "", total: int | None = None) -> Iterator[T]:
    """``it`` wrapped in tqdm: ``progress=True`` always shows, ``False`` never, ``None`` only on a terminal.

    >>> list(progress_bar(range(3), False))
    [0, 1, 2]
    """
    if progress is False:
        return iter(it)
    from tqdm.auto import tqdm

    return iter(tqdm(it, desc=desc, total=total, disable=None if progress is None else False, leave=False))
