"""Deep Boltzmann machine: a visible layer and any number of latent layers, adjacent layers joined
by dense edges (Salakhutdinov and Hinton, 2009)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Bernoulli, Unit
from graphdgm.models.layers import layer_sizes, layer_unit


def DBM(layers: Sequence[Any], *, visible: Unit | None = None, init_std: float = 0.01, seed: int = 0,
        name: str = "dbm") -> Graph:
    """A DBM with layer sizes ``layers`` (visible first): blocks ``v``, ``h1``, ``h2``, ... with
    Bernoulli hidden units and ``visible`` units (Bernoulli by default), one dense edge per
    adjacent pair.

    >>> import graphdgm as gd
    >>> gd.DBM([6, 4, 3])
    Graph('dbm': blocks v (6,) bernoulli observed, h1 (4,) bernoulli latent, h2 (3,) bernoulli latent; edges v-h1 dense, h1-h2 dense)
    """
    shapes = layer_sizes(layers, "DBM")
    g = Graph(name)
    names = ["v"] + [f"h{i}" for i in range(1, len(shapes))]
    g.block(names[0], shapes[0], layer_unit(visible))
    for n, s in zip(names[1:], shapes[1:]):
        g.block(n, s, Bernoulli(), role="latent")
    for i, (a, b) in enumerate(zip(names[:-1], names[1:])):
        g.connect(a, b, Dense(init_std=init_std, seed=seed + i))
    return g


__all__ = ["DBM"]
