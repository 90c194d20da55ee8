"""Lowering of specs to torch modules."""
from graphdgm.compiler.compile import compile, register_lowering
from graphdgm.compiler.factor_groups import FactorGroup
from graphdgm.compiler.gaussian import CompiledGaussianMarkovNetwork
from graphdgm.compiler.markov import CompiledMarkovNetwork
from graphdgm.spec.gaussian import GaussianMarkovNetwork
from graphdgm.spec.markov_network import MarkovNetwork


@register_lowering(MarkovNetwork)
def _lower_markov_network(spec: MarkovNetwork, dtype) -> CompiledMarkovNetwork:
    return CompiledMarkovNetwork(spec, dtype=dtype)


@register_lowering(GaussianMarkovNetwork)
def _lower_gaussian_markov_network(spec: GaussianMarkovNetwork, dtype) -> CompiledGaussianMarkovNetwork:
    return CompiledGaussianMarkovNetwork(spec, dtype=dtype)


__all__ = ["CompiledGaussianMarkovNetwork", "CompiledMarkovNetwork", "FactorGroup", "compile", "register_lowering"]
