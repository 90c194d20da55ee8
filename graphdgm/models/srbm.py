"""Semi-restricted Boltzmann machine: an RBM plus lateral couplings within the visible layer
(Osindero and Hinton, 2008)."""
from __future__ import annotations

from typing import Any

from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Bernoulli, Unit
from graphdgm.models.layers import layer_shape, layer_unit


def SRBM(visible: Any, hidden: Any, *, unit: Unit | None = None, init_std: float = 0.01, seed: int = 0,
         name: str = "srbm") -> Graph:
    """Visible block ``v`` (``unit``, Bernoulli by default) with a dense lateral edge ``L``, a
    latent Bernoulli block ``h``, and the dense edge ``W`` between them.

    >>> import graphdgm as gd
    >>> gd.SRBM(5, 3)
    Graph('srbm': blocks v (5,) bernoulli observed, h (3,) bernoulli latent; edges v-h dense, v-v dense)
    """
    g = Graph(name)
    g.block("v", layer_shape(visible, "SRBM visible"), layer_unit(unit))
    g.block("h", layer_shape(hidden, "SRBM hidden"), Bernoulli(), role="latent")
    g.connect("v", "h", Dense(init_std=init_std, seed=seed), name="W")
    g.connect("v", "v", Dense(init_std=init_std, seed=seed + 1), name="L")
    return g


__all__ = ["SRBM"]
