"""graphdgm: probabilistic graphical models with deep extensions, declared as graphs, run on torch."""
from graphdgm.errors import (
    CapabilityError, EvidenceError, FormatError, GraphdgmError, InferenceError, SpecError, UnknownVariableError,
)
from graphdgm.spec import (
    GAN, MADE, NADE, BayesianNetwork, Binary, Categorical, DBN, PixelCNN, PixelRNN, Domain, FactorGraph, GaussianMarkovNetwork, MarkovChain, MarkovNetwork, HiddenMarkovModel, CategoricalEmission, DensityEmission, GaussianEmission, RBM, Real, Spin, grid_edges,
)

__version__ = "0.1.0"
from graphdgm.graph import Bernoulli, Dense, Gaussian, Graph, Softmax
from graphdgm import models
from graphdgm.models import *  # noqa: F401,F403 - every family constructor as gd.<Name>
from graphdgm.compiler import compile
from graphdgm import data, graph, infer, io, learn, viz
from graphdgm.learn import fit
from graphdgm.viz import draw
from graphdgm.infer import inpaint, log_likelihood, log_partition, map_query, query, sample
