"""General Boltzmann machine: visible and hidden layers with dense edges between them *and*
lateral couplings within each (Ackley, Hinton and Sejnowski, 1985). Neither layer sums out in
closed form, so exact answers enumerate and samplers update one unit class at a time."""
from __future__ import annotations

from typing import Any

from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Bernoulli, Unit
from graphdgm.models.layers import layer_shape, layer_unit


def BoltzmannMachine(visible: Any, hidden: Any = 0, *, unit: Unit | None = None, init_std: float = 0.01, seed: int = 0,
                     name: str = "boltzmann_machine") -> Graph:
    """Visible block ``v`` (``unit``, Bernoulli by default) with lateral edge ``L``; when
    ``hidden`` > 0, a latent Bernoulli block ``h`` with lateral edge ``J`` and the dense edge ``W``
    between the two. ``hidden=0`` is the fully visible Boltzmann machine.

    >>> import graphdgm as gd
    >>> gd.BoltzmannMachine(4, 3)
    Graph('boltzmann_machine': blocks v (4,) bernoulli observed, h (3,) bernoulli latent; edges v-v dense, v-h dense, h-h dense)
    """
    g = Graph(name)
    g.block("v", layer_shape(visible, "BoltzmannMachine visible"), layer_unit(unit))
    g.connect("v", "v", Dense(init_std=init_std, seed=seed), name="L")
    if hidden:
        g.block("h", layer_shape(hidden, "BoltzmannMachine hidden"), Bernoulli(), role="latent")
        g.connect("v", "h", Dense(init_std=init_std, seed=seed + 1), name="W")
        g.connect("h", "h", Dense(init_std=init_std, seed=seed + 2), name="J")
    return g


__all__ = ["BoltzmannMachine"]
