"""Generative adversarial networks declared as two graphs that meet at the data node.

The generator graph maps a latent noise block ``z`` to the data block ``x``; the discriminator
graph maps ``x`` (real data, or the generator's output) to one score per example. A spec names
each network: ``"mlp"`` or ``"dcgan"`` (built by :func:`graphdgm.compile`, weights from
``seed``), or a user's ``torch.nn.Module`` (or a factory returning one). Nothing here computes.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Edge, Graph, register_family
from graphdgm.graph.patterns import NeuralMap
from graphdgm.graph.units import Bernoulli, Gaussian
from graphdgm.spec.validate import positive_int, shape_tuple

NETWORKS = ("mlp", "dcgan")
LATENTS = ("normal", "uniform")


def _sizes(x: Any, what: str) -> list[int]:
    sizes = [x] if isinstance(x, (int, np.integer)) else list(x)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) < 1 for s in sizes):
        raise SpecError(f"{what} must be a list of positive layer sizes such as [256, 256], got {x!r}")
    return [int(s) for s in sizes]


def _network(net: Any, role: str) -> Any:
    if isinstance(net, str):
        if net not in NETWORKS:
            raise SpecError(f"{role} {net!r} is not a ready network; use 'mlp', 'dcgan', a torch.nn.Module or a "
                            f"callable returning one")
        return net
    if callable(net):  # an nn.Module instance is callable too
        return net
    raise SpecError(f"{role} must be 'mlp', 'dcgan', a torch.nn.Module or a callable returning one, got {type(net).__name__}")


class GAN(Graph):
    """A GAN: generator z -> x and discriminator x -> score. As a graph: an input block ``z`` of
    noise, a data block ``x``, and a :class:`~graphdgm.graph.NeuralMap` edge z -> x (the
    discriminator belongs to the adversarial objective).

    ``data_shape`` is one example's shape (2 for points in the plane, (28, 28) for MNIST);
    ``data="real"`` makes the generator's output linear, ``"binary"`` a probability in (0, 1)
    per unit (and the data must be 0/1). ``latent`` is the size of ``z`` ~ N(0, I) (or U(-1, 1)
    with ``latent_distribution="uniform"``). ``generator`` / ``discriminator`` are ``"mlp"``
    (``generator_hidden`` / ``discriminator_hidden`` layer sizes; ``batch_norm=True`` puts batch
    normalisation after each hidden layer of the MLP generator) or ``"dcgan"`` (strided
    (transposed) convolutions for images whose sides divide by 4, ``channels`` wide), or a
    ``torch.nn.Module`` / a callable returning one. A user's generator maps (B, latent) to
    (B, *data_shape); a user's discriminator maps (B // pack, pack, *data_shape) or, for the ready
    networks, what they expect, to (B // pack,) logits. ``pack`` > 1 shows the discriminator
    ``pack`` samples at once (PacGAN, Lin et al. 2018), which penalises mode collapse.

    >>> import graphdgm as gd
    >>> gd.GAN(2, latent=8, generator_hidden=[64, 64])
    GAN('gan': x (2,) real, z 8, generator mlp [64, 64], discriminator mlp [256, 256])
    >>> sorted(gd.GAN((28, 28), generator="dcgan", discriminator="dcgan", data="binary").graph.edges)[:2]
    [('D', 'score'), ('G', 'x')]
    """

    family_tag = "gan"
    default_view = "family"

    def __init__(self, data_shape: int | Sequence[int], latent: int = 64, *, generator: Any = "mlp",
                 discriminator: Any = "mlp", generator_hidden: Sequence[int] | int = (256, 256),
                 discriminator_hidden: Sequence[int] | int = (256, 256), channels: int = 64, data: str = "real",
                 latent_distribution: str = "normal", pack: int = 1, batch_norm: bool = False, seed: int = 0,
                 name: str = "gan") -> None:
        super().__init__(name)
        if isinstance(data_shape, (Sequence, np.ndarray)) and not isinstance(data_shape, str) and np.ndim(data_shape) != 0:
            shape = shape_tuple(tuple(data_shape), f"data_shape {tuple(data_shape)!r}")  # any sequence, as before
        else:
            shape = shape_tuple(data_shape, "data_shape")
        if not shape:
            raise SpecError(f"data_shape must be a positive size or shape such as 2 or (28, 28), got {data_shape!r}")
        if data not in ("real", "binary"):
            raise SpecError(f"data must be 'real' (linear generator output) or 'binary' (0/1 data), got {data!r}")
        if isinstance(latent, bool) or not isinstance(latent, (int, np.integer)) or int(latent) < 1:
            raise SpecError(f"latent must be a positive integer (the size of the noise z), got {latent!r}")
        if latent_distribution not in LATENTS:
            raise SpecError(f"latent_distribution must be 'normal' or 'uniform', got {latent_distribution!r}")
        if isinstance(pack, bool) or not isinstance(pack, (int, np.integer)) or int(pack) < 1:
            raise SpecError(f"pack must be a positive integer (samples the discriminator sees at once), got {pack!r}")
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or int(channels) < 1:
            raise SpecError(f"channels must be a positive integer, got {channels!r}")
        self.data_shape = shape
        self.latent = int(latent)
        self.data = data
        self.latent_distribution = latent_distribution
        self.pack = int(pack)
        self.batch_norm = bool(batch_norm)
        self.channels = int(channels)
        self.seed = int(seed)
        self.generator = _network(generator, "generator")
        self.discriminator = _network(discriminator, "discriminator")
        self.generator_hidden = _sizes(generator_hidden, "generator_hidden")
        self.discriminator_hidden = _sizes(discriminator_hidden, "discriminator_hidden")
        for role, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            if net == "dcgan" and (len(self.image_shape) != 3 or self.image_shape[1] % 4 or self.image_shape[2] % 4):
                raise SpecError(f"the 'dcgan' {role} needs images whose height and width divide by 4, such as "
                                f"(28, 28) or (3, 32, 32); data_shape is {shape}. Use {role}='mlp'")
        self.block("z", (self.latent,), Gaussian(), role="input", bias=False)
        self.block("x", shape, Bernoulli() if data == "binary" else Gaussian(), bias=False)
        self._seal()

    _OPTIONS = ("generator", "generator_hidden", "discriminator", "discriminator_hidden", "channels",
                "latent_distribution", "pack", "batch_norm")

    def _derived_edges(self) -> dict[str, Edge]:
        options = {k: getattr(self, k) for k in self._OPTIONS}
        return {"G_z_x": Edge("G_z_x", "z", "x", NeuralMap(seed=self.seed, **options))}

    @classmethod
    def from_graph(cls, g: Graph) -> GAN:
        """The GAN a graph's NeuralMap edge declares (validated here)."""
        e = g.generator_edge()
        if e is None:
            raise SpecError(f"graph {g.name!r} has no NeuralMap edge")
        data = "binary" if g.units[e.b].kind == "bernoulli" else "real"
        return cls(g.blocks[e.b].shape or 1, latent=g.blocks[e.a].size, data=data, seed=e.pattern.seed, name=g.name,
                   **e.pattern.options)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(channels, height, width) for image data ((28, 28) is (1, 28, 28)); the data shape otherwise."""
        s = self.data_shape
        return (1, *s) if len(s) == 2 else s

    @property
    def data_size(self) -> int:
        """Number of values in one data point (the product of ``data_shape``)."""
        return int(np.prod(self.data_shape))

    @property
    def custom(self) -> bool:
        """True when a network is a user's module (such a spec cannot be saved as JSON)."""
        return not (isinstance(self.generator, str) and isinstance(self.discriminator, str))

    def describe(self, role: str) -> str:
        """One line on a network: its kind and layer sizes."""
        net = self.generator if role == "generator" else self.discriminator
        if isinstance(net, str) and net == "mlp":
            bn = " + batch norm" if role == "generator" and self.batch_norm else ""
            return f"mlp {self.generator_hidden if role == 'generator' else self.discriminator_hidden}{bn}"
        if isinstance(net, str):
            return f"dcgan, {self.channels} channels"
        return f"user {type(net).__name__ if not isinstance(net, type) else net.__name__}"

    @property
    def graph(self) -> nx.DiGraph:
        """Blocks and networks: z -> G -> x (generator graph); x, data -> D -> score (discriminator)."""
        g = nx.DiGraph(name=self.name)
        g.add_node("z", kind="block", size=str(self.latent), role="generator")
        g.add_node("G", kind="network", size=self.describe("generator"), role="generator")
        g.add_node("x", kind="block", size=str(self.data_shape), role="both")
        g.add_node("data", kind="data", size=str(self.data_shape), role="discriminator")
        g.add_node("D", kind="network", size=self.describe("discriminator"), role="discriminator")
        g.add_node("score", kind="output", size="1 logit" + (f" per {self.pack} samples" if self.pack > 1 else ""),
                   role="discriminator")
        g.add_edges_from([("z", "G"), ("G", "x"), ("x", "D"), ("data", "D"), ("D", "score")])
        return g

    def __repr__(self) -> str:
        extra = f", pack {self.pack}" if self.pack > 1 else ""
        return (f"GAN({self.name!r}: x {self.data_shape} {self.data}, z {self.latent}, generator "
                f"{self.describe('generator')}, discriminator {self.describe('discriminator')}{extra})")


register_family(NeuralMap, GAN)
