"""The fixed binarized MNIST (Larochelle and Murray 2011): 50,000 / 10,000 / 10,000 images of
28 x 28 binary pixels, the split the RBM, DBN, NADE, MADE and PixelCNN likelihoods are reported on.

The loader looks for ``binarized_mnist.npz`` (three uint8 arrays ``train``, ``valid``, ``test``
packed along axis 1 with ``numpy.packbits``) at the ``path`` argument (a file or a folder) when
given, else in the folder or file named by ``$GRAPHDGM_DATA`` and then the cache ``~/.cache/graphdgm``. With
``download=True`` it fetches the original ``.amat`` files instead and caches them as that npz.
"""
from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import numpy as np
import torch

FILENAME = "binarized_mnist.npz"
SPLITS = ("train", "valid", "test")
URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "graphdgm"


def find_binarized_mnist(path: str | os.PathLike | None = None) -> Path | None:
    """``binarized_mnist.npz`` at ``path`` if given, else the first of ``$GRAPHDGM_DATA`` and the cache; or None."""
    for cand in ((path,) if path is not None else (os.environ.get("GRAPHDGM_DATA"), CACHE)):
        if cand is None:
            continue
        p = Path(cand)
        p = p / FILENAME if p.is_dir() else p
        if p.is_file():
            return p
    return None


def download_binarized_mnist(target: str | os.PathLike = CACHE) -> Path:
    """Fetch the three ``.amat`` files (about 150 MB of text) and store them packed as one npz."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split in SPLITS:  # a loop over three files
        with urllib.request.urlopen(URL.format(split=split), timeout=60) as r:  # noqa: S310 - a fixed https/http URL
            rows = np.loadtxt(r, dtype=np.uint8)
        if rows.shape[1] != 784:
            raise OSError(f"{URL.format(split=split)} gave rows of {rows.shape[1]} values; expected 784")
        arrays[split] = np.packbits(rows, axis=1)
    out = target / FILENAME
    np.savez_compressed(out, **arrays)
    return out


def load_binarized_mnist(split: str = "train", path: str | os.PathLike | None = None, *, download: bool = False,
                         dtype: torch.dtype = torch.float32, limit: int | None = None) -> torch.Tensor:
    """One split as a (N, 784) tensor of 0/1 values (the first ``limit`` rows if given).

    >>> x = load_binarized_mnist("test", limit=5) if find_binarized_mnist() else torch.zeros(5, 784)
    >>> x.shape
    torch.Size([5, 784])
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    p = find_binarized_mnist(path)
    if p is None:
        if not download:
            raise FileNotFoundError(
                f"{FILENAME} not found (looked at path={path!r}, $GRAPHDGM_DATA={os.environ.get('GRAPHDGM_DATA')!r} and {CACHE}); "
                "pass path= to a folder holding it, set GRAPHDGM_DATA, or call with download=True"
            )
        p = download_binarized_mnist()
    with np.load(p) as f:
        packed = f[split] if limit is None else f[split][: int(limit)]
    return torch.from_numpy(np.unpackbits(packed, axis=1)[:, :784]).to(dtype)
