"""Lowering of specs to torch modules."""
import torch

from graphdgm.compiler.compile import compile, register_lowering
from graphdgm.compiler.factor_groups import FactorGroup
from graphdgm.compiler.gaussian import CompiledGaussianMarkovNetwork
from graphdgm.compiler.markov import CompiledMarkovNetwork
from graphdgm.compiler.graph import CompiledGraph
from graphdgm.graph.graph import Graph
from graphdgm.spec.gaussian import GaussianMarkovNetwork
from graphdgm.spec.markov_network import MarkovNetwork
from graphdgm.compiler.rbm import CompiledRBM
from graphdgm.spec.rbm import DBN, RBM
from graphdgm.compiler.dbn import CompiledDBN
from graphdgm.compiler.autoregressive import (
    CompiledAutoregressive, CompiledMADE, CompiledNADE, CompiledPixelCNN, CompiledPixelRNN,
)
from graphdgm.spec.autoregressive import MADE, NADE, PixelCNN, PixelRNN
from graphdgm.spec.bayesian_network import BayesianNetwork
from graphdgm.compiler.bayesian_network import CompiledBayesianNetwork
from graphdgm.spec.markov_chain import MarkovChain
from graphdgm.compiler.markov_chain import CompiledMarkovChain
from graphdgm.spec.hmm import HiddenMarkovModel
from graphdgm.compiler.hmm import CompiledHMM
from graphdgm.compiler.gan import CompiledGAN
from graphdgm.spec.gan import GAN


def _lower_graph(spec: Graph, dtype: torch.dtype) -> torch.nn.Module:
    """A graph compiles to one CompiledGraph; a graph whose directed edges make it a family (an
    autoregressive edge, CPT edges, a chain through time, a generator) lowers through that family's
    operator, so it compiles to exactly what the family's constructor compiles to."""
    family = spec.family_model()
    if family is not None:
        return compile(family, dtype=dtype)
    return CompiledGraph(spec, dtype=dtype)


# neural conditionals train in float32 by default, energies and tables in float64
register_lowering(Graph, default_dtype=lambda g: torch.float32 if g.autoregressive_edge() is not None or g.generator_edge() is not None
                  else torch.float64)(_lower_graph)

# each spec family compiles to its model class, called as cls(spec, dtype=dtype)
for _spec, _compiled in ((MarkovNetwork, CompiledMarkovNetwork), (GaussianMarkovNetwork, CompiledGaussianMarkovNetwork),
                         (RBM, CompiledRBM), (DBN, CompiledDBN), (BayesianNetwork, CompiledBayesianNetwork),
                         (MarkovChain, CompiledMarkovChain), (HiddenMarkovModel, CompiledHMM)):
    register_lowering(_spec)(_compiled)

# neural networks (and GANs) train in float32 by default (float64 suits exact inference on tables, not conv nets)
for _spec, _compiled in ((NADE, CompiledNADE), (MADE, CompiledMADE), (PixelCNN, CompiledPixelCNN), (PixelRNN, CompiledPixelRNN), (GAN, CompiledGAN)):
    register_lowering(_spec, default_dtype=torch.float32)(_compiled)


__all__ = ["CompiledGraph", "CompiledGAN", "CompiledAutoregressive", "CompiledBayesianNetwork", "CompiledDBN", "CompiledMADE", "CompiledNADE", "CompiledPixelCNN", "CompiledPixelRNN", "CompiledGaussianMarkovNetwork", "CompiledRBM", "CompiledMarkovNetwork", "CompiledMarkovChain", "CompiledHMM", "FactorGroup", "compile", "register_lowering"]
