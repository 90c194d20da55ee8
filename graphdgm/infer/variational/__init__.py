"""Variational inference: loopy belief propagation and mean field (Pyro SVI lives in ``infer.svi``)."""
from graphdgm.infer.variational.backends import BeliefPropagation, MeanField
from graphdgm.infer.variational.bp import BPResult, belief_propagation, bethe_log_z
from graphdgm.infer.variational.factors import FactorTables
from graphdgm.infer.variational.mean_field import MeanFieldResult, elbo, mean_field

__all__ = [
    "BPResult", "BeliefPropagation", "FactorTables", "MeanField", "MeanFieldResult", "belief_propagation",
    "bethe_log_z", "elbo", "mean_field",
]
