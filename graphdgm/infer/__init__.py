"""Inference backends behind one protocol, and the query API."""
from graphdgm.infer.api import inpaint, log_partition, map_query, query, sample
from graphdgm.infer.diagnostics import Diagnostics
from graphdgm.infer.likelihood import log_likelihood
from graphdgm.infer.exact.backend import Exact
from graphdgm.infer import mcmc
from graphdgm.infer.mcmc import AIS, HMC, NUTS, Gibbs, Metropolis, SimulatedAnnealing, SwendsenWang, Tempering
from graphdgm.infer.gaussian_exact import GaussianExact
from graphdgm.infer import variational
from graphdgm.infer.variational import BeliefPropagation, MeanField
from graphdgm.infer.svi import SVI
from graphdgm.infer.enumeration import GraphEnumeration
from graphdgm.infer.auto import Auto
from graphdgm.infer import rbm_ais
from graphdgm.infer.ar_exact import AutoregressiveEnumeration
from graphdgm.infer.mcmc.autoregressive import AutoregressiveIndependence, AutoregressiveMH
from graphdgm.infer import ancestral, autoregressive_sampling, chain_algebra, forward_backward, layered_gibbs
from graphdgm.infer.forward_backward import viterbi
from graphdgm.infer.sample_quality import ModeCoverage, kernel_mmd, knn_precision_recall, mode_coverage
from graphdgm.infer.registry import (
    Backend, available_backends, check_capabilities, get_backend, register_backend, unregister_backend,
)
from graphdgm.infer.results import ContinuousMarginal, DiscreteMarginal, JointDistribution, MAPResult, Marginals, Samples

register_backend("exact", Exact)
for _b in (Auto, Gibbs, Metropolis, Tempering, SwendsenWang, AIS, SimulatedAnnealing, NUTS, HMC, GaussianExact, BeliefPropagation, MeanField, SVI, GraphEnumeration, AutoregressiveEnumeration, AutoregressiveMH):
    register_backend(_b.name, _b)
register_backend("rbm_exact", GraphEnumeration)  # the name exact RBM enumeration had before it covered every graph

__all__ = [
    "Auto", "AutoregressiveEnumeration", "AutoregressiveIndependence", "AutoregressiveMH", "AIS", "Backend", "GraphEnumeration", "BeliefPropagation", "MeanField", "SVI", "variational", "ContinuousMarginal", "DiscreteMarginal", "GaussianExact", "HMC", "NUTS", "Exact", "Gibbs", "Metropolis", "SimulatedAnnealing", "SwendsenWang", "Tempering", "mcmc", "JointDistribution", "MAPResult", "Marginals", "Samples", "available_backends",
    "ModeCoverage", "kernel_mmd", "knn_precision_recall", "mode_coverage", "check_capabilities", "get_backend", "log_likelihood", "log_partition", "inpaint", "map_query", "query", "sample", "register_backend", "unregister_backend",
    "ancestral", "chain_algebra", "forward_backward", "viterbi",
]
