"""Maximum pseudo-likelihood: its objective equals the brute-force Σ_i log p(x_i | x_-i) on
graphs with dense, lateral and pairwise edges, and fitting recovers a known Ising model."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.learn.pseudo_likelihood import PseudoLikelihood


def brute_pseudo_log_likelihood(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    cards = model.cards.tolist()
    states = torch.tensor(list(itertools.product(*[range(k) for k in cards])), dtype=torch.float64)
    lp = model.log_potential(states).detach()
    total = 0.0
    for row in x.double():
        for i in range(len(cards)):
            others = [j for j in range(len(cards)) if j != i]
            mask = (states[:, others] == row[others]).all(1)
            total += float(lp[mask & (states[:, i] == row[i])][0] - torch.logsumexp(lp[mask], 0))
    return torch.tensor(total / len(x), dtype=torch.float64)


@pytest.mark.parametrize("make", [
    lambda: gd.compile(gd.BoltzmannMachine(4, init_std=0.8, seed=1)),
    lambda: gd.compile(gd.MarkovNetwork.potts_grid(2, 2, 3, coupling=0.7)),
], ids=["lateral-dense", "potts"])
def test_objective_equals_brute_force_pseudo_likelihood(make) -> None:
    model = make()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3), dtype=p.dtype))
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(6, model.num_variables, generator=g) * model.cards).floor()
    with torch.no_grad():
        loss = PseudoLikelihood(model).loss(x.to(model.values.dtype))
    torch.testing.assert_close(-loss, brute_pseudo_log_likelihood(model, x))


@pytest.mark.statistical
def test_pseudo_likelihood_recovers_an_ising_model() -> None:
    """20,000 exact samples of a 3x3 Ising model (seeded); every coupling and field within 0.08."""
    rng = np.random.default_rng(0)
    truth = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=rng.normal(0.4, 0.2, 12), field=rng.normal(0, 0.2, (3, 3))))
    states = torch.tensor(list(itertools.product([0, 1], repeat=9)))
    p = torch.softmax(truth.log_potential(states).detach(), 0)
    x = states[torch.multinomial(p, 20000, replacement=True, generator=torch.Generator().manual_seed(1))]
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.0, field=np.full((3, 3), 1e-3)))
    gd.fit(model, x, method="pl", epochs=30, batch_size=500, lr=0.05, schedule="linear", progress=False)
    got = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
    want = torch.cat([q.detach().reshape(-1) for q in truth.parameters()])
    assert float((got - want).abs().max()) < 0.08, (got - want).abs().max()


def test_pseudo_likelihood_refuses_latent_blocks() -> None:
    with pytest.raises(gd.CapabilityError, match="pcd"):
        gd.fit(gd.compile(gd.DBM([3, 2])), torch.zeros(4, 3), method="pseudo_likelihood", progress=False)


def test_objective_on_a_graph_with_pairs_and_a_dense_edge() -> None:
    """Factor groups (a grid) and a dense edge in one graph: the conditionals add both."""
    g = gd.Graph("mixed")
    g.block("x", (2, 2), gd.graph.Spin())
    g.connect("x", "x", gd.graph.Grid(0.4))
    g.block("y", 2, gd.Bernoulli())
    g.connect("x", "y", gd.Dense(init_std=0.7))
    model = gd.compile(g)
    x = (torch.rand(5, 6, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    with torch.no_grad():
        loss = PseudoLikelihood(model).loss(x)
    torch.testing.assert_close(-loss, brute_pseudo_log_likelihood(model, x))
