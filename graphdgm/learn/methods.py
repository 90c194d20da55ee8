"""The built-in training methods, registered in :mod:`graphdgm.learn.registry`: for each, the
capabilities it requires, its runner, and its options as a frozen dataclass whose fields and
defaults are the runner's keyword arguments.

Registration order sets each model's default (the first that applies): counting for a Bayesian
network or a Markov chain, Baum-Welch for an HMM, gradient maximum likelihood for an
autoregressive model, adversarial training for a GAN, PCD for an energy model with a sampler for
its negative phase (an RBM, a Markov network). A model with a stack of layers (``"layerwise"``,
a DBN) has no single method: :data:`ADVICE` points it to ``fit_layerwise``.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphdgm.learn.adversarial import fit_adversarial
from graphdgm.learn.baum_welch import baum_welch
from graphdgm.learn.contrastive_training import fit_contrastive
from graphdgm.learn.generalised_em import fit_em_gradient
from graphdgm.learn.counting import fit_chain_by_counting, fit_tables_by_counting
from graphdgm.learn.maximum_likelihood import fit_mle
from graphdgm.learn.pseudo_likelihood import fit_pseudo_likelihood
from graphdgm.learn.registry import (ADVICE, Objective, check_options, methods_for, register_objective,
                                     registered_objectives, resolve)


@dataclass(frozen=True)
class CountingOptions:
    """CPTs from counts (:func:`~graphdgm.learn.fit_tables_by_counting`): Dirichlet ``pseudo_count``;
    neural CPDs by ``steps`` Adam steps at ``lr``."""

    pseudo_count: float = 0.0
    steps: int = 300
    lr: float = 0.05
    progress: bool | None = None


@dataclass(frozen=True)
class ChainCountingOptions:
    """Transitions from counts (:func:`~graphdgm.learn.fit_chain_by_counting`)."""

    lengths: Any = None
    pseudo_count: float = 0.0
    distributed: bool | None = None
    progress: bool | None = None


@dataclass(frozen=True)
class GradientEMOptions:
    """EM with a gradient M-step for density-model emissions (:func:`~graphdgm.learn.generalised_em.fit_em_gradient`)."""

    lengths: Any = None
    iterations: int = 20
    tol: float = 1e-6
    m_steps: int = 20
    lr: float = 1e-2
    pseudo_count: float = 0.0
    progress: bool | None = None


@dataclass(frozen=True)
class BaumWelchOptions:
    """EM for an HMM (:func:`~graphdgm.learn.baum_welch`)."""

    lengths: Any = None
    iterations: int = 100
    tol: float = 1e-8
    pseudo_count: float = 0.0
    variance_floor: float = 1e-6
    progress: bool | None = None
    distributed: bool | None = None


@dataclass(frozen=True)
class MLEOptions:
    """Gradient ascent on log p (:func:`~graphdgm.learn.maximum_likelihood.fit_mle`)."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str | Callable[[float], float] = "constant"
    validation: Any = None
    patience: int | None = None
    seed: int = 0
    progress: bool | None = None
    checkpoint: str | os.PathLike | None = None
    resume: bool = False
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = ()
    distributed: bool | None = None


@dataclass(frozen=True)
class AdversarialOptions:
    """GAN training (:func:`~graphdgm.learn.fit_adversarial`)."""

    loss: str = "non_saturating"
    epochs: int = 10
    batch_size: int = 64
    lr: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    d_steps: int | None = None
    gp_weight: float = 10.0
    r1: float = 0.0
    schedule: str | Callable[[float], float] = "constant"
    seed: int = 0
    progress: bool | None = None
    metrics: Callable[[Any], dict[str, float]] | None = None
    sample_every: int = 0
    sample_dir: str | os.PathLike | None = None
    sample_count: int = 64
    sample_extent: float | None = None
    checkpoint: str | os.PathLike | None = None
    resume: bool = False
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = ()
    distributed: bool | None = None


@dataclass(frozen=True)
class ContrastiveOptions:
    """CD-k (:func:`~graphdgm.learn.fit_contrastive` with ``persistent=False``): the negative
    chains restart at the data, so there is no ``chains`` option."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.05
    k: int = 1
    momentum: float = 0.9
    momentum_warmup: int = 5
    weight_decay: float = 2e-4
    schedule: str | Callable[[float], float] = "constant"
    optimizer: str = "sgd"
    seed: int = 0
    progress: bool | None = None
    validation: Any = None
    monitor_size: int = 1000
    ais_every: int = 0
    ais_options: dict[str, Any] | None = None
    init_visible_bias: bool = True
    checkpoint: str | os.PathLike | None = None
    resume: bool = False
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = ()
    distributed: bool | None = None
    positive: str = "mean_field"  # latent blocks that do not sum out: "mean_field", "gibbs" or "exact"
    mean_field_steps: int = 10


@dataclass(frozen=True)
class PersistentContrastiveOptions(ContrastiveOptions):
    """PCD-k: CD's options and ``chains``, the number of persistent fantasy particles (None: one
    per batch row)."""

    chains: int | None = None


def energy_model(caps: frozenset[str]) -> bool:
    """CD/PCD applies to an undirected energy model with a sampler for its negative phase (a free
    energy, or energy and block conditionals); not to a Bayesian network, whose factors are
    normalised CPTs that energy training would break."""
    return ("free_energy" in caps or {"energy", "conditionals"} <= caps) and "dag" not in caps


register_objective("mle", Objective(fit_tables_by_counting, CountingOptions, frozenset({"dag"}),
                                    "a Bayesian network (CPTs from counts)"))
register_objective("mle", Objective(fit_chain_by_counting, ChainCountingOptions, frozenset({"context_transitions"}),
                                    "a Markov chain (transitions from counts)"))
register_objective("baum_welch", Objective(baum_welch, BaumWelchOptions, frozenset({"emission", "emission_statistics"}),
                                           "a hidden Markov model (EM)"), aliases=("em",))
register_objective("baum_welch", Objective(fit_em_gradient, GradientEMOptions, frozenset({"emission", "emission_module"}),
                                           "a hidden Markov model with density-model emissions (EM, gradient M-step)"),
                   aliases=("em",))
register_objective("mle", Objective(fit_mle, MLEOptions, frozenset({"ordering"}),
                                    "an autoregressive model (NADE, MADE, PixelCNN, PixelRNN; gradient ascent on log p)"))
register_objective("adversarial", Objective(fit_adversarial, AdversarialOptions, frozenset({"implicit"}), "a GAN"),
                   aliases=("gan",))
def unconditional_energy_model(caps: frozenset[str]) -> bool:
    """PCD's persistent chains need one distribution to follow: not a conditional model (input
    blocks), whose Z(u) changes with every batch; those train by CD, their default."""
    return energy_model(caps) and "inputs" not in caps


register_objective("pcd", Objective(partial(fit_contrastive, persistent=True), PersistentContrastiveOptions,
                                    unconditional_energy_model,
                                    "an RBM, a Boltzmann machine graph or an undirected Markov network without input blocks "
                                    "(persistent contrastive divergence)"))
register_objective("cd", Objective(partial(fit_contrastive, persistent=False), ContrastiveOptions, energy_model,
                                   "an RBM, a Boltzmann machine graph or an undirected Markov network (contrastive divergence)"))

@dataclass(frozen=True)
class PseudoLikelihoodOptions:
    """Maximum pseudo-likelihood (:func:`~graphdgm.learn.pseudo_likelihood.fit_pseudo_likelihood`)."""

    epochs: int = 50
    batch_size: int = 100
    lr: float = 0.05
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str | Callable[[float], float] = "constant"
    seed: int = 0
    progress: bool | None = None
    checkpoint: str | os.PathLike | None = None
    resume: bool = False
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = ()
    distributed: bool | None = None


def fully_observed_discrete(caps: frozenset[str]) -> bool:
    """Pseudo-likelihood needs every unit observed and discrete, with block conditionals."""
    return {"discrete", "conditionals"} <= caps and "latent" not in caps and "dag" not in caps


register_objective("pseudo_likelihood", Objective(fit_pseudo_likelihood, PseudoLikelihoodOptions, fully_observed_discrete,
                                                  "a fully observed discrete Markov network or graph (maximum "
                                                  "pseudo-likelihood)"), aliases=("pl",))

ADVICE["layerwise"] = ("a stack of layers (a deep belief network) trains layer by layer: "
                       "gd.learn.fit_layerwise(dbn, data, method='pcd')")

__all__ = ["ADVICE", "AdversarialOptions", "BaumWelchOptions", "ChainCountingOptions", "ContrastiveOptions",
           "CountingOptions", "MLEOptions", "PersistentContrastiveOptions", "PseudoLikelihoodOptions", "check_options", "energy_model",
           "methods_for", "registered_objectives", "resolve"]
