"""Seed to generator: every sampler in graphdgm takes a seed or a ``torch.Generator``, and turns it
into one here; code that only draws from torch's global generator (Pyro, ``torch.nn`` layer
initialisers) runs inside :func:`seeded_global_rng`, which seeds a fork of it and restores the caller's."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def seeded_global_rng(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Run the block with torch's global generator (and, for a CUDA ``device``, that device's)
    seeded with ``seed``; the caller's global random state is restored on exit.

    >>> with seeded_global_rng(3):
    ...     a = torch.rand(2)
    >>> with seeded_global_rng(3):
    ...     b = torch.rand(2)
    >>> torch.equal(a, b)
    True
    """
    device = torch.device(device or "cpu")
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index]):
            torch.random.default_generator.manual_seed(int(seed))
            with torch.cuda.device(index):
                torch.cuda.manual_seed(int(seed))
            yield
    else:
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(int(seed))
            yield


def gumbel_max(logits: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One categorical draw per row of ``logits`` (..., K) by the Gumbel-max trick.

    >>> gumbel_max(torch.tensor([[0.0, -float("inf")], [-float("inf"), 0.0]]), torch.Generator().manual_seed(0)).tolist()
    [0, 1]
    """
    u = torch.rand(logits.shape, generator=g, device=logits.device, dtype=logits.dtype).clamp_min(1e-300)
    return (logits - torch.log(-torch.log(u))).argmax(-1)


__all__ = ["gumbel_max", "make_generator", "seeded_global_rng"]
