"""graphdgm: probabilistic graphical models with deep extensions, declared as graphs, run on torch."""
from graphdgm.errors import (
    CapabilityError, EvidenceError, FormatError, GraphdgmError, InferenceError, SpecError, UnknownVariableError,
)
from graphdgm.spec import (
    GAN, MADE, NADE, BayesianNetwork, Binary, Categorical, DBN, PixelCNN, PixelRNN, Domain, FactorGraph, GaussianMarkovNetwork, MarkovChain, MarkovNetwork, HiddenMarkovModel, CategoricalEmission, GaussianEmission, RBM, Real, Spin, grid_edges,
)

__version__ = "0.1.0"
from graphdgm.compiler import compile
from graphdgm import data, infer, io, learn, viz
from graphdgm.learn import fit
from graphdgm.viz import draw
from graphdgm.infer import log_likelihood, log_partition, map_query, query, sample
