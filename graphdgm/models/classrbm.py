"""Classification RBM: visible and label blocks both observed, one latent layer joined to each by
a dense edge (Larochelle and Bengio, 2008). p(y | v) is exact: the hidden layer sums out and
the label takes each of its k states, so the model is also a classifier."""
from __future__ import annotations

from typing import Any

from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Bernoulli, Softmax, Unit
from graphdgm.models.layers import layer_shape, layer_unit
from graphdgm.spec.validate import positive_int


def ClassRBM(visible: Any, hidden: Any, classes: int, *, unit: Unit | None = None, init_std: float = 0.01,
             seed: int = 0, name: str = "class_rbm") -> Graph:
    """Visible block ``v`` (``unit``, Bernoulli by default), a label block ``y`` of one
    ``Softmax(classes)`` unit, both observed, and a latent Bernoulli block ``h``; dense edges
    ``W`` (v-h) and ``U`` (y-h).

    >>> import graphdgm as gd
    >>> gd.ClassRBM(784, 500, 10)
    Graph('class_rbm': blocks v (784,) bernoulli observed, y (1,) softmax observed, h (500,) bernoulli latent; edges v-h dense, y-h dense)
    """
    g = Graph(name)
    g.block("v", layer_shape(visible, "ClassRBM visible"), layer_unit(unit))
    g.block("y", 1, Softmax(positive_int(classes, "ClassRBM classes", minimum=2)))
    g.block("h", layer_shape(hidden, "ClassRBM hidden"), Bernoulli(), role="latent")
    g.connect("v", "h", Dense(init_std=init_std, seed=seed), name="W")
    g.connect("y", "h", Dense(init_std=init_std, seed=seed + 1), name="U")
    return g


__all__ = ["ClassRBM"]
