"""Learning: objectives (contrastive divergence, persistent CD, maximum likelihood, counting, EM,
adversarial, greedy layer-wise) in a registry that ``fit`` looks methods up in, apart from one
training loop (progress bar, history, callbacks, checkpoints, torch.distributed)."""
from graphdgm.learn.contrastive_divergence import ContrastiveDivergence, negative_phase
from graphdgm.learn.history import History
from graphdgm.learn.baum_welch import baum_welch
from graphdgm.learn.loop import train
from graphdgm.learn.metrics import pseudo_log_likelihood, reconstruction_error
from graphdgm.learn.api import as_training_data, fit
from graphdgm.learn.registry import (Objective, available_objectives, methods_for, register_objective,
                                     unregister_objective)
from graphdgm.learn.contrastive_training import fit_contrastive
from graphdgm.learn.counting import fit_chain_by_counting, fit_tables_by_counting
from graphdgm.learn.layerwise import fit_layerwise
from graphdgm.learn.adversarial import Adversarial, fit_adversarial
from graphdgm.learn.graph_contrastive import GraphChains, graph_training_data
from graphdgm.learn.dbm_pretraining import layer_chain, pretrain_dbm
from graphdgm.learn.pseudo_likelihood import PseudoLikelihood, fit_pseudo_likelihood

__all__ = [
    "Adversarial", "fit_adversarial", "ContrastiveDivergence", "History", "baum_welch", "as_training_data", "fit", "fit_layerwise", "negative_phase", "pseudo_log_likelihood",
    "fit_chain_by_counting", "fit_contrastive", "fit_tables_by_counting", "methods_for",
    "GraphChains", "PseudoLikelihood", "fit_pseudo_likelihood", "graph_training_data", "layer_chain", "pretrain_dbm",
    "reconstruction_error", "train", "Objective", "available_objectives", "register_objective", "unregister_objective",
]
