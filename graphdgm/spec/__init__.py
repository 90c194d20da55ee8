"""Declarations of models as graphs; no tensor compute lives here."""
from graphdgm.spec.blocks import Block
from graphdgm.spec.domains import Binary, Categorical, Domain, Real, Spin
from graphdgm.spec.factors import CouplingGroup, FieldGroup, TableFactor
from graphdgm.spec.gaussian import GaussianMarkovNetwork, LinearGroup, QuadraticGroup
from graphdgm.spec.markov_network import MarkovNetwork, grid_edges
from graphdgm.spec.rbm import DBN, RBM
from graphdgm.spec.bayesian_network import BayesianNetwork
from graphdgm.spec.markov_chain import MarkovChain
from graphdgm.spec.hmm import CategoricalEmission, DensityEmission, GaussianEmission, HiddenMarkovModel
from graphdgm.spec.autoregressive import MADE, NADE, AutoregressiveModel, PixelCNN, PixelRNN
from graphdgm.spec.gan import GAN
from graphdgm.spec.names import canonical, format_name, parse_name

FactorGraph = MarkovNetwork  # a factor graph and a Markov network share one spec

__all__ = [
    "AutoregressiveModel", "BayesianNetwork", "GAN", "Binary", "Block", "MADE", "NADE", "PixelCNN", "PixelRNN", "DBN", "RBM", "Categorical", "CouplingGroup", "Domain", "FactorGraph", "FieldGroup",
    "GaussianMarkovNetwork", "LinearGroup", "CategoricalEmission", "DensityEmission", "GaussianEmission", "HiddenMarkovModel", "MarkovChain", "MarkovNetwork", "QuadraticGroup", "Real", "Spin", "TableFactor",
    "canonical", "format_name", "grid_edges", "parse_name",
]
