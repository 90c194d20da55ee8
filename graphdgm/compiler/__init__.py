"""Lowering of specs to torch modules."""
from graphdgm.compiler.compile import compile, register_lowering
from graphdgm.compiler.factor_groups import FactorGroup
from graphdgm.compiler.markov import CompiledMarkovNetwork
from graphdgm.spec.markov_network import MarkovNetwork


@register_lowering(MarkovNetwork)
def _lower_markov_network(spec: MarkovNetwork, dtype) -> CompiledMarkovNetwork:
    return CompiledMarkovNetwork(spec, dtype=dtype)


__all__ = ["CompiledMarkovNetwork", "FactorGroup", "compile", "register_lowering"]
