"""Atomic writes (temporary file in the same folder, fsync, ``os.replace``) and safe torch loads.

A write killed half-way leaves the previous file untouched: readers see the old file or the new
one, never a torn one. A load never unpickles arbitrary objects (``weights_only=True``).
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch

from graphdgm.errors import FormatError, SpecError


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it: set and restore, once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it is flushed, fsynced
    and moved over ``path`` in one ``os.replace``; on an exception it is removed.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("hello")
    >>> p.read_text()
    'hello'
    """
    if mode not in ("w", "wb"):
        raise SpecError(f"atomic_write opens files for writing: mode 'w' (text) or 'wb' (bytes), not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file owner-only (0600); give it what a plain open() would: the mode of
        # the file it replaces, else 0666 less the umask
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def torch_save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` through :func:`atomic_write`; returns the path."""
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)
    return Path(path)


def safe_torch_load(path: str | os.PathLike, map_location: Any = "cpu", what: str = "graphdgm file") -> Any:
    """``torch.load`` with ``weights_only=True``: tensors, numbers, strings, lists and dicts only,
    never arbitrary pickled objects. A file that is not such a file is a :class:`FormatError`.

    >>> import tempfile, pathlib
    >>> p = torch_save_atomic({"w": torch.ones(2)}, pathlib.Path(tempfile.mkdtemp()) / "w.pt")
    >>> safe_torch_load(p)["w"].tolist()
    [1.0, 1.0]
    """
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, MemoryError):
        raise  # a missing file, a folder, no permission: not a question of the file's format
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a corrupt or unsafe file
        raise FormatError(f"{path}: not a {what}, or it holds objects other than tensors and plain data, which "
                          f"graphdgm never unpickles ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
