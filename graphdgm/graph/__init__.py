"""The graph language: blocks of units with roles, and edges with connectivity patterns.

>>> import graphdgm as gd
>>> g = gd.Graph("rbm")
>>> g.connect(g.block("v", (28, 28), gd.Bernoulli()), g.block("h", 500, gd.Bernoulli(), role="latent"), gd.Dense())
'W_v_h'
"""
from graphdgm.graph.graph import ROLES, Edge, Graph
from graphdgm.graph.patterns import CPT, Autoregressive, Dense, Emission, NeuralMap, Transition, Grid, MaskedConv, MaskedDense, Pairs, Pattern, RecurrentRows, TiedDense
from graphdgm.graph.units import Bernoulli, Gaussian, Softmax, Spin, Unit, unit_for_domain

__all__ = ["CPT", "Autoregressive", "Bernoulli", "Emission", "NeuralMap", "Transition", "Dense", "Edge", "MaskedConv", "MaskedDense", "RecurrentRows", "TiedDense", "Gaussian", "Graph", "Grid", "Pairs", "Pattern", "ROLES", "Softmax", "Spin", "Unit",
           "unit_for_domain"]
