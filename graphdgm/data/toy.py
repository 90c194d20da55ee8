"""Synthetic data sets for checking generative models: the 2-D Gaussian mixtures that test GANs
for mode collapse (a ring of 8 and a 5x5 grid of 25; Metz et al. 2017, Lin et al. 2018)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from graphdgm.runtime.random import make_generator


@dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-weight isotropic Gaussians in the plane: ``centers`` (K, 2) and one ``std``."""

    name: str
    centers: torch.Tensor
    std: float

    def sample(self, n: int, seed: int | torch.Generator = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` points (n, 2): a uniformly chosen mode plus N(0, std² I) noise.

        >>> ring_of_gaussians().sample(5).shape
        torch.Size([5, 2])
        """
        g = make_generator(seed)
        k = torch.randint(len(self.centers), (int(n),), generator=g)
        noise = torch.randn(int(n), 2, generator=g, dtype=torch.float64) * self.std
        return (self.centers.to(torch.float64)[k] + noise).to(dtype)


def ring_of_gaussians(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture2D:
    """``modes`` Gaussians evenly spaced on a circle (the standard ring: 8 modes, radius 2, std 0.02).

    >>> ring_of_gaussians().centers.shape
    torch.Size([8, 2])
    """
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return GaussianMixture2D(f"ring{modes}", radius * torch.stack([angles.cos(), angles.sin()], 1), float(std))


def grid_of_gaussians(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
    """A ``side`` x ``side`` grid of Gaussians centred on the origin (the standard grid: 25 modes at
    -4, -2, 0, 2, 4 on each axis, std 0.05).

    >>> grid_of_gaussians().centers[0].tolist()
    [-4.0, -4.0]
    """
    axis = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture2D(f"grid{side * side}", torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), float(std))
