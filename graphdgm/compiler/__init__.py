"""Lowering of specs to torch modules."""
from graphdgm.compiler.compile import compile, register_lowering
from graphdgm.compiler.factor_groups import FactorGroup
from graphdgm.compiler.gaussian import CompiledGaussianMarkovNetwork
from graphdgm.compiler.markov import CompiledMarkovNetwork
from graphdgm.spec.gaussian import GaussianMarkovNetwork
from graphdgm.spec.markov_network import MarkovNetwork
from graphdgm.compiler.rbm import CompiledRBM
from graphdgm.spec.rbm import DBN, RBM
from graphdgm.compiler.dbn import CompiledDBN


@register_lowering(MarkovNetwork)
def _lower_markov_network(spec: MarkovNetwork, dtype) -> CompiledMarkovNetwork:
    return CompiledMarkovNetwork(spec, dtype=dtype)


@register_lowering(GaussianMarkovNetwork)
def _lower_gaussian_markov_network(spec: GaussianMarkovNetwork, dtype) -> CompiledGaussianMarkovNetwork:
    return CompiledGaussianMarkovNetwork(spec, dtype=dtype)


@register_lowering(RBM)
def _lower_rbm(spec: RBM, dtype) -> CompiledRBM:
    return CompiledRBM(spec, dtype=dtype)


@register_lowering(DBN)
def _lower_dbn(spec: DBN, dtype) -> CompiledDBN:
    return CompiledDBN(spec, dtype=dtype)


__all__ = ["CompiledDBN", "CompiledGaussianMarkovNetwork", "CompiledRBM", "CompiledMarkovNetwork", "FactorGroup", "compile", "register_lowering"]
