"""The fixed binarized MNIST (Larochelle and Murray 2011): 50,000 / 10,000 / 10,000 images of
28 x 28 binary pixels, the split the RBM, DBN, NADE, MADE and PixelCNN likelihoods are reported on.

The loader looks for ``binarized_mnist.npz`` (three uint8 arrays ``train``, ``valid``, ``test``
packed along axis 1 with ``numpy.packbits``) at the ``path`` argument (a file or a folder) when
given, else in the folder or file named by ``$GRAPHDGM_DATA`` and then the cache ``~/.cache/graphdgm``.
With ``download=True`` (and only when none of those holds it) it fetches the original ``.amat``
files over HTTPS through pooch, which keeps them in the cache and resumes nothing twice, checks
each split's pixels against a SHA-256 of the published split, and stores the npz atomically.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

FILENAME = "binarized_mnist.npz"
SPLITS = ("train", "valid", "test")
URL = "https://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "graphdgm"
# SHA-256 of each split's (N, 784) uint8 pixels in row order: a check of the content, whatever
# the file's text layout (computed from the fixed split these likelihoods are reported on)
PIXEL_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}


def pixel_digest(pixels: np.ndarray) -> str:
    """SHA-256 of a split's pixels as (N, 784) uint8 in row order (see :data:`PIXEL_SHA256`).

    >>> pixel_digest(np.zeros((1, 784), dtype=np.uint8))[:12]
    '0c37ddc45244'
    """
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


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


def download_binarized_mnist(target: str | os.PathLike = CACHE, *, progress: bool | None = None) -> Path:
    """Fetch the three ``.amat`` files (about 150 MB of text) through pooch into ``target``
    (files already there are not fetched again), check each split's pixels against
    :data:`PIXEL_SHA256`, and store them packed as one npz (written atomically). Returns its path;
    an ``OSError`` names the split whose content differs."""
    import pooch

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split in SPLITS:  # a loop over three files
        url = URL.format(split=split)
        local = pooch.retrieve(url, known_hash=None, fname=Path(url).name, path=target / "amat",
                               progressbar=bool(progress) if progress is not None else False)
        rows = np.loadtxt(local, dtype=np.uint8)
        if rows.ndim != 2 or rows.shape[1] != 784:
            raise OSError(f"{url} gave rows of {rows.shape[-1]} values; expected 784 (delete {local} to fetch it again)")
        if pixel_digest(rows) != PIXEL_SHA256[split]:
            raise OSError(f"{url}: the {split} split's pixels do not match the published split (SHA-256 "
                          f"{pixel_digest(rows)[:16]}..., expected {PIXEL_SHA256[split][:16]}...); delete {local} and retry")
        arrays[split] = np.packbits(rows, axis=1)
    out = target / FILENAME
    fd, tmp = tempfile.mkstemp(dir=target, suffix=".npz.part")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
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
    with np.load(p, allow_pickle=False) as f:
        packed = f[split] if limit is None else f[split][: int(limit)]
    return torch.from_numpy(np.unpackbits(packed, axis=1)[:, :784]).to(dtype)
