"""The ready generator and discriminator networks of a GAN: an MLP pair and a DCGAN pair.

Generators map z (B, latent) to (B, *data_shape) pre-activations (the compiled GAN applies the
sigmoid for binary data); discriminators map (B', pack, *data_shape) to (B',) logits.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class MLPGenerator(nn.Module):
    """z -> [Linear, (BatchNorm,) ReLU] x len(hidden) -> Linear to the data size, reshaped to the data
    shape. Batch norm helps the generator carve its latent space into sharp, separate modes.

    >>> MLPGenerator(8, [16], (2,))(torch.zeros(3, 8)).shape
    torch.Size([3, 2])
    """

    def __init__(self, latent: int, hidden: list[int], data_shape: tuple[int, ...], batch_norm: bool = False) -> None:
        super().__init__()
        sizes = [latent, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()] if batch_norm else [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], math.prod(data_shape)))
        self.net = nn.Sequential(*layers)
        self.data_shape = data_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent) -> (B, *data_shape) pre-activations."""
        return self.net(z).reshape(z.shape[0], *self.data_shape)  # (B, *data_shape)


class MLPDiscriminator(nn.Module):
    """(B', pack, *data_shape) flattened -> [Linear, LeakyReLU(0.2)] x len(hidden) -> one logit.
    No normalisation layers, so the gradient penalty of WGAN-GP is well defined per example.

    >>> MLPDiscriminator(2, [16], pack=2)(torch.zeros(3, 2, 2)).shape
    torch.Size([3])
    """

    def __init__(self, data_size: int, hidden: list[int], pack: int = 1) -> None:
        super().__init__()
        sizes = [data_size * pack, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B', pack, *data_shape) -> (B',) logits of "real"."""
        return self.net(x.reshape(x.shape[0], -1)).squeeze(-1)  # (B',)


class DCGANGenerator(nn.Module):
    """DCGAN (Radford et al. 2016): z -> Linear -> (2c, H/4, W/4) -> [ConvT 4x4 stride 2, BatchNorm,
    ReLU] -> (c, H/2, W/2) -> ConvT 4x4 stride 2 -> (C, H, W).

    >>> DCGANGenerator(8, (1, 28, 28), channels=4)(torch.zeros(2, 8)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, latent: int, image_shape: tuple[int, int, int], channels: int = 64) -> None:
        super().__init__()
        C, H, W = image_shape
        self.start = (2 * channels, H // 4, W // 4)
        self.project = nn.Sequential(nn.Linear(latent, math.prod(self.start)), nn.BatchNorm1d(math.prod(self.start)), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.ConvTranspose2d(channels, C, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent) -> (B, C, H, W) pre-activations, by a linear projection and two upsampling convolutions."""
        h = self.project(z).reshape(z.shape[0], *self.start)  # (B, 2c, H/4, W/4)
        return self.up(h)  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """(B', pack, C, H, W) as (B', pack*C, H, W) -> [Conv 4x4 stride 2, LeakyReLU(0.2)] x 2 -> Linear
    -> one logit. No batch normalisation (it would couple the examples of a batch and break the
    per-example gradient penalty).

    >>> DCGANDiscriminator((1, 28, 28), channels=4, pack=1)(torch.zeros(2, 1, 1, 28, 28)).shape
    torch.Size([2])
    """

    def __init__(self, image_shape: tuple[int, int, int], channels: int = 64, pack: int = 1) -> None:
        super().__init__()
        C, H, W = image_shape
        self.image_shape = image_shape
        self.pack = pack
        self.net = nn.Sequential(
            nn.Conv2d(pack * C, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(2 * channels * (H // 4) * (W // 4), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B', pack, C, H, W) -> (B',) logits of "real"; the packed samples are stacked as channels."""
        C, H, W = self.image_shape
        h = self.net(x.reshape(x.shape[0], self.pack * C, H, W))  # (B', 2c, H/4, W/4)
        return self.head(h.flatten(1)).squeeze(-1)  # (B',)
