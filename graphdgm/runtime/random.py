"""Seed to generator: every sampler in graphdgm takes a seed or a ``torch.Generator``, and turns it into one here."""
from __future__ import annotations

import torch


def make_generator(seed: int | torch.Generator | None = 0, device: torch.device | str | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` from a seed (or the generator itself, returned as is).

    An int seed gives exactly ``torch.Generator(device=device).manual_seed(seed)``; ``None`` means seed 0.

    >>> make_generator(3).initial_seed()
    3
    >>> g = torch.Generator().manual_seed(5)
    >>> make_generator(g) is g
    True
    """
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device or "cpu")
    g.manual_seed(0 if seed is None else int(seed))
    return g
