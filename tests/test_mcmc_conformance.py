"""One conformance test for every sampler: its empirical distribution over joint states matches
exact enumeration (total variation below a stated bound, fixed seed and sample count)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.mcmc import (
    BlockGibbs, MetropolisHastings, ParallelTempering, SwendsenWangKernel, annealed_importance_sampling, sample_chains,
)

from conftest import enumerate_states, random_network, randomise_biases

# Total-variation bound. With ~10^5 draws over at most a few hundred states, a correct sampler's
# TV from Monte-Carlo noise is about 0.01-0.03 (checked by the negative control below, where the
# same run scored against a 30% weaker coupling lands far above it).
TV_BOUND = 0.05


def ising_model() -> torch.nn.Module:
    rng = np.random.default_rng(0)
    mn = gd.MarkovNetwork.ising_grid(3, 3, coupling=rng.normal(0.3, 0.3, size=12), field=rng.normal(0, 0.3, size=(3, 3)))
    return gd.compile(mn)


def binary_higher_order_model() -> torch.nn.Module:
    """Binary variables with a three-variable factor: the binary path plus gathered tables."""
    rng = np.random.default_rng(1)
    mn = gd.MarkovNetwork.ising_grid(2, 3, coupling=0.4, field=0.1)
    mn.add_block("b", (2,), gd.Binary())
    mn.add_factor(["x[0,0]", "b[0]", "b[1]"], rng.gamma(1.0, 1.0, size=(2, 2, 2)))
    mn.add_factor(["x[1,2]", "b[1]"], [[1.0, 2.0], [3.0, 0.5]])
    return gd.compile(mn)


def categorical_model() -> torch.nn.Module:
    return gd.compile(random_network(3, n_vars=6, n_factors=8, max_card=3, zeros=False))


def potts_model() -> torch.nn.Module:
    return gd.compile(gd.MarkovNetwork.potts_grid(2, 3, 3, coupling=0.5))


def rbm_like_model() -> torch.nn.Module:
    """A 6x4 bipartite Boltzmann machine: two colour blocks, one dense operator each."""
    rng = np.random.default_rng(4)
    mn = gd.MarkovNetwork(name="rbm_like")
    mn.add_block("v", (6,), gd.Binary())
    mn.add_block("h", (4,), gd.Binary())
    pairs = [(f"v[{i}]", f"h[{j}]") for i in range(6) for j in range(4)]
    mn.add_coupling(pairs, rng.normal(0, 0.8, size=len(pairs)))
    mn.add_field("v", rng.normal(0, 0.5, size=6))
    mn.add_field("h", rng.normal(0, 0.5, size=4))
    model = gd.compile(mn)
    assert len(model.blocks) == 2
    return model


def rbm_model() -> torch.nn.Module:
    """A compiled 6x4 RBM: the samplers run on its own dense conditionals (RBMConditionals)."""
    rng = np.random.default_rng(5)
    return gd.compile(gd.RBM(6, 4, weights=rng.normal(0, 0.8, (6, 4)), visible_bias=rng.normal(0, 0.5, 6),
                             hidden_bias=rng.normal(0, 0.5, 4)))


_randomise = randomise_biases  # non-trivial biases for a compiled graph (its constructors start them at zero)


def dbm_model() -> torch.nn.Module:
    """A three-layer DBM graph [4, 3, 2]: blocks v and h2 share a colour, h1 the other."""
    return _randomise(gd.compile(gd.DBM([4, 3, 2], init_std=0.8, seed=6)), 6)


def srbm_model() -> torch.nn.Module:
    """A semi-restricted BM graph: lateral visible couplings split v into single-unit blocks."""
    return _randomise(gd.compile(gd.SRBM(4, 3, init_std=0.6, seed=7)), 7)


def crbm_model() -> torch.nn.Module:
    """A conditional RBM graph: its input block u is clamped in every query (see evidence_for)."""
    return _randomise(gd.compile(gd.CRBM(2, 3, 2, init_std=0.8, seed=8)), 8)


def softmax_graph_model() -> torch.nn.Module:
    """Softmax(3) visible units and Bernoulli hidden units joined by a dense edge."""
    g = gd.Graph("softmax_rbm")
    g.connect(g.block("v", 3, gd.Softmax(3)), g.block("h", 2, gd.Bernoulli(), role="latent"), gd.Dense(init_std=0.8, seed=9))
    return _randomise(gd.compile(g), 9)


def spin_graph_model() -> torch.nn.Module:
    """Spin units (±1) on both sides of a dense edge."""
    g = gd.Graph("spin_rbm")
    g.connect(g.block("s", 4, gd.graph.Spin()), g.block("t", 3, gd.graph.Spin(), role="latent"), gd.Dense(init_std=0.4, seed=10))
    return _randomise(gd.compile(g), 10, 0.3)


MODELS = {"ising": ising_model, "rbm-like": rbm_like_model, "rbm": rbm_model, "binary+3way": binary_higher_order_model,
          "categorical": categorical_model, "potts": potts_model, "dbm-graph": dbm_model, "srbm-graph": srbm_model,
          "crbm-graph": crbm_model, "softmax-graph": softmax_graph_model, "spin-graph": spin_graph_model}


# the models Swendsen-Wang takes (pairwise, Potts form); the others must be refused with a reason
CLUSTER_MODELS = {"ising", "rbm-like", "rbm", "potts", "dbm-graph", "srbm-graph", "crbm-graph", "spin-graph"}


def exact_joint(model: torch.nn.Module, evidence: dict[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    states, logp = enumerate_states(model)
    mask = torch.ones(len(states), dtype=torch.bool)
    for v, s in evidence.items():
        mask &= states[:, v] == s
    return states, torch.softmax(torch.where(mask, logp, torch.full_like(logp, -torch.inf)), 0)


def empirical(model: torch.nn.Module, samples: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Histogram over joint states, in ``enumerate_states`` (row-major) order."""
    cards = model.cards.tolist()
    strides = torch.tensor([int(np.prod(cards[i + 1:])) for i in range(len(cards))])
    flat = (samples.reshape(-1, len(cards)) * strides).sum(1)
    w = torch.ones(len(flat), dtype=torch.float64) if weights is None else weights.reshape(-1).to(torch.float64)
    h = torch.zeros(int(np.prod(cards)), dtype=torch.float64).index_add_(0, flat, w)
    return h / h.sum()


def mcmc_samples(kernel, model, evidence, chains=256, sweeps=400):
    r = sample_chains(model, kernel, chains=chains, sweeps=sweeps, burn_in=100, evidence=evidence, seed=0, keep="all")
    return r.samples, None


def ais_samples(model, evidence):
    r = annealed_importance_sampling(model, chains=80_000, steps=50, evidence=evidence, seed=0)
    return r.samples, torch.softmax(r.log_weights, 0)


SAMPLERS = {
    "gibbs": lambda m, ev: mcmc_samples(BlockGibbs(), m, ev),
    "mh-flip": lambda m, ev: mcmc_samples(MetropolisHastings("flip"), m, ev),
    "mh-block": lambda m, ev: mcmc_samples(MetropolisHastings("block", block_size=2), m, ev, sweeps=800),
    "tempering": lambda m, ev: mcmc_samples(ParallelTempering(num_temps=4, beta_min=0.3), m, ev, chains=128),
    "tempering-adaptive": lambda m, ev: mcmc_samples(ParallelTempering(num_temps=4, beta_min=0.3, adapt_sweeps=100), m, ev,
                                                     chains=128),
    "swendsen-wang": lambda m, ev: mcmc_samples(SwendsenWangKernel(), m, ev),
    "ais": ais_samples,
}


def input_evidence(model: torch.nn.Module) -> dict[int, int]:
    """Values for a conditional graph's input blocks (every query must give them): alternating 1, 0."""
    out: dict[int, int] = {}
    for b in getattr(model, "blocks_with_role", lambda role: [])("input"):
        a, e = model.ranges[b]
        out.update({i: (i - a + 1) % 2 for i in range(a, e)})
    return out


def evidence_for(model: torch.nn.Module, with_evidence: bool) -> dict[int, int]:
    inputs = input_evidence(model)
    if not with_evidence:
        return inputs
    return {**inputs, 0: 1, model.num_variables - 1: int(model.cards[-1]) - 1}


@pytest.mark.statistical
@pytest.mark.parametrize("with_evidence", [False, True], ids=["free", "evidence"])
@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampler_matches_exact_distribution(sampler: str, model_name: str, with_evidence: bool) -> None:
    model = MODELS[model_name]()
    ev = evidence_for(model, with_evidence)
    if sampler == "swendsen-wang" and model_name not in CLUSTER_MODELS:
        with pytest.raises(gd.CapabilityError, match="Swendsen-Wang needs"):  # it says why, and samples nothing
            SAMPLERS[sampler](model, ev)
        return
    samples, weights = SAMPLERS[sampler](model, ev)
    for v, s in ev.items():
        assert bool((samples[..., v] == s).all()), "evidence must stay clamped"
    _, exact = exact_joint(model, ev)
    tv = 0.5 * float((empirical(model, samples, weights) - exact).abs().sum())
    assert tv < TV_BOUND, f"{sampler} on {model_name}: total variation {tv:.4f} >= {TV_BOUND}"


@pytest.mark.statistical
def test_negative_control_wrong_model_exceeds_bound() -> None:
    """The same check rejects a sampler of the wrong distribution (coupling 0.7x)."""
    mn = gd.MarkovNetwork.ising_grid(3, 3, coupling=0.5, field=0.1)
    wrong = gd.MarkovNetwork.ising_grid(3, 3, coupling=0.35, field=0.1)
    samples, _ = mcmc_samples(BlockGibbs(), gd.compile(wrong), {})
    model = gd.compile(mn)
    _, exact = exact_joint(model, {})
    tv = 0.5 * float((empirical(model, samples) - exact).abs().sum())
    assert tv > 2 * TV_BOUND
