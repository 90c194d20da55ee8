"""Conditional RBM: an input block, always given, with dense edges to the visible and hidden
layers (Taylor, Hinton and Roweis, 2007): p(v | u) = Σ_h exp(-E(v, h; u)) / Z(u)."""
from __future__ import annotations

from typing import Any

from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Bernoulli, Unit
from graphdgm.models.layers import layer_shape, layer_unit


def CRBM(inputs: Any, visible: Any, hidden: Any, *, input_unit: Unit | None = None, unit: Unit | None = None,
         init_std: float = 0.01, seed: int = 0, name: str = "crbm") -> Graph:
    """Input block ``u`` (role ``"input"``, no bias), visible ``v`` and latent ``h``, with dense
    edges ``A`` (u-v), ``B`` (u-h) and ``W`` (v-h).

    >>> import graphdgm as gd
    >>> gd.CRBM(4, 5, 3)
    Graph('crbm': blocks u (4,) bernoulli input, v (5,) bernoulli observed, h (3,) bernoulli latent; edges u-v dense, u-h dense, v-h dense)
    """
    g = Graph(name)
    g.block("u", layer_shape(inputs, "CRBM inputs"), layer_unit(input_unit), role="input", bias=False)
    g.block("v", layer_shape(visible, "CRBM visible"), layer_unit(unit))
    g.block("h", layer_shape(hidden, "CRBM hidden"), Bernoulli(), role="latent")
    g.connect("u", "v", Dense(init_std=init_std, seed=seed), name="A")
    g.connect("u", "h", Dense(init_std=init_std, seed=seed + 1), name="B")
    g.connect("v", "h", Dense(init_std=init_std, seed=seed + 2), name="W")
    return g


__all__ = ["CRBM"]
