"""The general Boltzmann machine, a family added as one constructor file: exact log Z, free
energy and a Gibbs marginal against brute force, with laterals in both layers."""
from __future__ import annotations

import itertools

import torch

import graphdgm as gd
from graphdgm.infer.enumeration import exact_free_energy, exact_log_partition


def test_log_z_free_energy_and_gibbs_match_brute_force() -> None:
    model = gd.compile(gd.BoltzmannMachine(4, 3, init_std=0.6, seed=2))
    assert "free_energy" not in model.capabilities and len(model.blocks) > 2  # laterals: one unit class at a time
    states = torch.tensor(list(itertools.product([0, 1], repeat=7)), dtype=torch.float64)
    lp = model.log_potential(states).detach()
    torch.testing.assert_close(exact_log_partition(model).detach(), torch.logsumexp(lp, 0))
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    match = (states[:, :4] == v).all(1)
    torch.testing.assert_close(exact_free_energy(model, v).detach(), -torch.logsumexp(lp[match], 0)[None])
    exact = gd.query(model, ["h[1]"]).tensor()
    approx = gd.query(model, ["h[1]"], backend=gd.infer.Gibbs(chains=512, sweeps=600, seed=0)).tensor()
    assert float((exact - approx).abs().max()) < 0.03


def test_fully_visible_machine_has_no_hidden_block() -> None:
    g = gd.BoltzmannMachine(5)
    assert list(g.blocks) == ["v"] and list(g.edges) == ["L"]
