"""A progress bar for long loops (``tqdm.auto``: a widget in Jupyter, text on a terminal), shown by
default where someone is watching (a notebook kernel or a terminal) and off in batch runs."""
from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session.

    >>> in_notebook()
    False
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # noqa: BLE001 - an odd IPython build: assume no notebook
        return False


def _interactive() -> bool:
    """A notebook, or a standard error attached to a terminal."""
    if in_notebook():
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


class QuietBar(Generic[T]):
    """What :func:`progress_bar` gives when it shows nothing: the iterable, with no-op
    ``set_postfix``/``close`` so callers need no branch.

    >>> bar = QuietBar(range(2)); bar.set_postfix(loss=0.5); list(bar)
    [0, 1]
    """

    def __init__(self, it: Iterable[T]) -> None:
        self.it = it

    def __iter__(self) -> Iterator[T]:
        return iter(self.it)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Ignored: there is no bar."""

    def close(self) -> None:
        """Ignored: there is no bar."""


def progress_bar(it: Iterable[T], progress: bool | None, desc: str = "", total: int | None = None) -> Any:
    """``it`` wrapped in a ``tqdm.auto`` bar that stays when done (``leave=True``): ``progress=True``
    always shows, ``False`` never, ``None`` in a notebook or on a terminal only (batch jobs and
    pipes stay quiet). The bar is the real tqdm object, so ``bar.set_postfix(loss=...)`` shows
    running figures; when off it is a :class:`QuietBar` whose ``set_postfix`` does nothing.

    >>> bar = progress_bar(range(3), False)
    >>> bar.set_postfix(loss=0.1); list(bar)
    [0, 1, 2]
    """
    if progress is False or (progress is None and not _interactive()):
        return QuietBar(it)
    with warnings.catch_warnings():  # tqdm warns when Jupyter lacks ipywidgets, then falls back to text
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm(it, desc=desc, total=total, disable=False, leave=True, dynamic_ncols=True)


def postfix(record: dict[str, Any], skip: Iterable[str] = ("epoch", "iteration", "seconds", "lr")) -> dict[str, str]:
    """The figures of a history record worth showing on a bar, formatted short (4 significant digits).

    >>> postfix({"epoch": 3, "loss": 0.123456, "seconds": 0.2, "lr": 0.01})
    {'loss': '0.1235'}
    """
    skip = set(skip)
    return {k: f"{v:.4g}" for k, v in record.items()
            if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)}
