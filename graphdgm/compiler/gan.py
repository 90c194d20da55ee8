"""The compiled GAN: the generator and discriminator networks as one torch module, with latent
noise, sampling and the discriminator's view of packed batches."""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from graphdgm.compiler.methods import CompiledModel
from graphdgm.compiler.gan_networks import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from graphdgm.errors import SpecError
from graphdgm.runtime.random import seeded_global_rng
from graphdgm.spec.gan import GAN
from graphdgm.spec.validate import positive_int


def _user_network(net: Any, role: str) -> nn.Module:
    module = copy.deepcopy(net) if isinstance(net, nn.Module) else net()
    if not isinstance(module, nn.Module):
        raise SpecError(f"the {role} factory returned a {type(module).__name__}; it must return a torch.nn.Module")
    return module


class CompiledGAN(CompiledModel):
    """A :class:`~graphdgm.GAN` lowered to torch: ``generator`` and ``discriminator`` modules.

    ``generate(z)`` gives data (B, *data_shape) (probabilities for binary data), ``sample(n)``
    draws z and generates, flattened to (n, D) like the other generative models,
    ``discriminate(x)`` gives one logit per group of ``pack`` examples. A GAN has no likelihood,
    so it answers ``sample`` and nothing that needs ``log_prob``.

    >>> import graphdgm as gd
    >>> gan = gd.compile(gd.GAN(2, latent=4, generator_hidden=[16], discriminator_hidden=[16]))
    >>> gan.sample(5, seed=0).shape, gan.discriminate(torch.zeros(5, 2)).shape
    (torch.Size([5, 2]), torch.Size([5]))
    """

    capabilities = frozenset({"implicit", "sample", "continuous"})

    def __init__(self, spec: GAN, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.spec = copy.deepcopy(spec) if not spec.custom else spec
        self.data_shape = spec.data_shape
        self.D = spec.data_size
        self.latent = spec.latent
        self.pack = spec.pack
        self.binary = spec.data == "binary"
        self.dtype = dtype
        with seeded_global_rng(spec.seed):  # torch.nn layers draw from the global generator
            self.generator = self._build_generator(spec)
            self.discriminator = self._build_discriminator(spec)
        self.ready_generator = isinstance(spec.generator, str)
        self.register_buffer("_anchor", torch.zeros((), dtype=dtype))  # device and dtype of the model
        self.to(dtype)

    @staticmethod
    def _build_generator(spec: GAN) -> nn.Module:
        if spec.generator == "mlp":
            return MLPGenerator(spec.latent, spec.generator_hidden, spec.data_shape, spec.batch_norm)
        if spec.generator == "dcgan":
            return DCGANGenerator(spec.latent, spec.image_shape, spec.channels)
        return _user_network(spec.generator, "generator")

    @staticmethod
    def _build_discriminator(spec: GAN) -> nn.Module:
        if spec.discriminator == "mlp":
            return MLPDiscriminator(spec.data_size, spec.discriminator_hidden, spec.pack)
        if spec.discriminator == "dcgan":
            return DCGANDiscriminator(spec.image_shape, spec.channels, spec.pack)
        return _user_network(spec.discriminator, "discriminator")

    @property
    def device(self) -> torch.device:
        """The device of the generator's and discriminator's parameters."""
        return self._anchor.device

    @property
    def variables(self) -> list[str]:
        """Names of the data block's variables (the latent z is internal noise, not a variable)."""
        return self.spec.variables[self.latent:]  # the data block's names (z is internal noise)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latent noise z (n, latent): N(0, I) or U(-1, 1) as the spec says."""
        shape = (positive_int(n, "n (the number of noise vectors)"), self.latent)
        if self.spec.latent_distribution == "uniform":
            return torch.rand(shape, generator=generator, device=self.device, dtype=self.dtype) * 2 - 1
        return torch.randn(shape, generator=generator, device=self.device, dtype=self.dtype)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Data (B, *data_shape) from latent codes z (B, latent); in (0, 1) for binary data."""
        if z.dim() != 2 or z.shape[1] != self.latent:
            raise SpecError(f"z has shape {tuple(z.shape)}; the generator needs (batch, {self.latent})")
        out = self.generator(z.to(self.device, self.dtype))
        if out.numel() != z.shape[0] * self.D:
            raise SpecError(f"the generator returned shape {tuple(out.shape)} for {z.shape[0]} codes; it must return "
                            f"(batch, *{self.data_shape})")
        out = out.reshape(z.shape[0], *self.data_shape)  # (B, *data_shape)
        return torch.sigmoid(out) if self.binary and self.ready_generator else out

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B // pack,) for data x (B, *data_shape) or (B, D): groups of ``pack`` consecutive
        examples are scored together. B must divide by ``pack``."""
        B = x.shape[0]
        if B % self.pack:
            raise SpecError(f"a batch of {B} examples does not split into groups of pack={self.pack}; use a batch "
                            f"size that divides by {self.pack}")
        grouped = x.to(self.device, self.dtype).reshape(B // self.pack, self.pack, *self.data_shape)  # (B', pack, *data_shape)
        if self.pack == 1 and not isinstance(self.discriminator, (MLPDiscriminator, DCGANDiscriminator)):
            grouped = grouped[:, 0]  # a user's discriminator without packing sees (B, *data_shape)
        out = self.discriminator(grouped)
        return out.reshape(B // self.pack)

    def extra_repr(self) -> str:
        """Data shape and kind, latent size and pack size, for the module's repr."""
        return f"data {self.data_shape} ({self.spec.data}), latent {self.latent}, pack {self.pack}"
