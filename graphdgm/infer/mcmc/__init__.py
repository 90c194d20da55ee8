"""MCMC: kernels (``init``/``sample``), one driver, diagnostics, and the sampling backends."""
from graphdgm.infer.mcmc.ais import AISResult, annealed_importance_sampling, schedule
from graphdgm.infer.mcmc.annealing import greedy_sweep, simulated_annealing
from graphdgm.infer.mcmc.backends import AIS, Gibbs, Metropolis, SimulatedAnnealing, SwendsenWang, Tempering
from graphdgm.infer.mcmc.diagnostics import effective_sample_size, split_rhat, split_rhat_from_counts
from graphdgm.infer.mcmc.driver import ChainResult, sample_chains
from graphdgm.infer.mcmc.gibbs import BlockGibbs, conditionals_for
from graphdgm.infer.mcmc.kernel import ChainState, MCMCKernel
from graphdgm.infer.mcmc.metropolis import MetropolisHastings
from graphdgm.infer.mcmc.cluster import SwendsenWangKernel, components, pairwise_couplings
from graphdgm.infer.mcmc.tempering import ParallelTempering, geometric_ladder
from graphdgm.infer.mcmc import pyro_hmc
from graphdgm.infer.mcmc.pyro_hmc import HMC, NUTS
from graphdgm.runtime.random import make_generator

__all__ = [
    "AIS", "AISResult", "BlockGibbs", "HMC", "NUTS", "ChainResult", "ChainState", "Gibbs", "MCMCKernel", "Metropolis",
    "MetropolisHastings", "ParallelTempering", "SimulatedAnnealing", "SwendsenWang", "SwendsenWangKernel", "Tempering", "annealed_importance_sampling",
    "conditionals_for", "effective_sample_size", "geometric_ladder", "greedy_sweep", "make_generator",
    "components", "pairwise_couplings", "sample_chains", "schedule", "simulated_annealing", "split_rhat", "split_rhat_from_counts",
]
