"""Sample grids as PNG images, written with the standard library (zlib) alone."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from graphdgm.runtime import atomic_write_bytes


def image_grid(images, shape: tuple[int, int] = (28, 28), ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile ``images`` (N, h*w) or (N, h, w), values in [0, 1], into one uint8 array with ``pad`` pixel gaps.

    >>> image_grid(torch.ones(6, 4), shape=(2, 2), ncols=3).shape
    (7, 10)
    """
    x = torch.as_tensor(images).detach().to("cpu", torch.float64).reshape(-1, *shape).clamp(0, 1).numpy()
    n, (h, w) = len(x), shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 0.5)
    for k in range(n):  # a loop over tiles, for writing a picture
        r, c = divmod(k, ncols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = x[k]
    return (out * 255).round().astype(np.uint8)


def save_png(array: np.ndarray, path: str | os.PathLike, scale: int = 1) -> Path:
    """Write a 2-D uint8 array as an 8-bit greyscale PNG (pixels repeated ``scale`` times)."""
    a = np.asarray(array, dtype=np.uint8)
    if scale > 1:
        a = a.repeat(scale, 0).repeat(scale, 1)
    h, w = a.shape
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))  # filter type 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return atomic_write_bytes(path, png)  # a killed save leaves any previous picture intact


def save_image_grid(images, path: str | os.PathLike, shape: tuple[int, int] = (28, 28), ncols: int | None = None,
                    scale: int = 2) -> Path:
    """Save samples (N, h*w) in [0, 1] as a PNG grid.

    >>> import tempfile, os
    >>> p = save_image_grid(torch.rand(4, 784), os.path.join(tempfile.mkdtemp(), "g.png"))
    >>> p.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    return save_png(image_grid(images, shape, ncols), path, scale)


def scatter_image(points, extent: float | None = None, size: int = 256) -> np.ndarray:
    """A density picture of points in the plane (N, 2): a ``size`` x ``size`` uint8 array, dark where
    points fall (log-scaled counts), over [-extent, extent]² (default: the points' range).

    >>> scatter_image(torch.zeros(10, 2), extent=1.0, size=8).shape
    (8, 8)
    """
    p = torch.as_tensor(points).detach().to("cpu", torch.float64).reshape(-1, 2).numpy()
    p = p[np.isfinite(p).all(1)]
    if extent is None:
        extent = float(np.abs(p).max()) * 1.05 if len(p) else 1.0
    edges = np.linspace(-extent, extent, size + 1)
    counts, _, _ = np.histogram2d(-p[:, 1], p[:, 0], bins=[edges, edges])  # rows top to bottom: y descending
    shade = np.log1p(counts) / max(np.log1p(counts).max(), 1e-12)
    return ((1 - shade) * 255).round().astype(np.uint8)
