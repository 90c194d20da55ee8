"""Swendsen-Wang cluster moves and the adaptive tempering ladder.

The cluster kernel's pieces are checked on their own (components against networkx, the Potts
split of the factors against the model's log-potential), its refusals name the factor, and on an
ordered ferromagnet it mixes where single-site Gibbs does not. The adaptive ladder keeps its ends
and flattens the swap rates that a geometric ladder leaves uneven. (Its distribution is checked
with every other sampler's in test_mcmc_conformance.py.)"""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.mcmc import ParallelTempering, SwendsenWangKernel, components, pairwise_couplings, sample_chains
from graphdgm.spec import grid_edges


def test_components_equal_networkx_for_every_chain() -> None:
    rng = np.random.default_rng(0)
    n = 40
    edges = torch.tensor(sorted({tuple(sorted(rng.choice(n, 2, replace=False).tolist())) for _ in range(70)}))
    bonds = torch.from_numpy(rng.random((6, len(edges))) < 0.5)
    labels = components(bonds, edges, n)
    for c in range(6):
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges[bonds[c]].tolist())
        want = torch.empty(n, dtype=torch.long)
        for comp in nx.connected_components(g):
            want[list(comp)] = min(comp)
        assert torch.equal(labels[c], want)


@pytest.mark.parametrize("which", ["spin_glass", "potts", "random_pairwise_binary"])
def test_potts_split_reproduces_the_log_potential(which: str) -> None:
    rng = np.random.default_rng(1)
    if which == "spin_glass":
        model = gd.compile(gd.data.spin_glass_grid(4, coupling_std=1.5, field_std=0.5, seed=2))
    elif which == "potts":
        model = gd.compile(gd.MarkovNetwork.potts_grid(3, 3, 3, coupling=0.7))
    else:
        mn = gd.MarkovNetwork()
        mn.add_block("b", 5, gd.Binary())
        for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)]:
            mn.add_factor([f"b[{i}]", f"b[{j}]"], rng.gamma(1.0, 1.0, size=(2, 2)))
        model = gd.compile(mn)
    pc = pairwise_couplings(model)
    x = (torch.rand(64, model.num_variables, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
         * model.cards).long()
    split = pc.unary.gather(1, x.t()).t().sum(1) + (pc.coupling * (x[:, pc.edges[:, 0]] == x[:, pc.edges[:, 1]])).sum(1)
    diff = model.log_potential(x).detach() - split
    torch.testing.assert_close(diff, diff[:1].expand(64), rtol=0, atol=1e-10)  # equal up to a constant


def test_swendsen_wang_refuses_what_it_cannot_sample_and_says_why() -> None:
    mn = gd.MarkovNetwork()
    mn.add_block("b", 3, gd.Binary())
    mn.add_factor(["b[0]", "b[1]", "b[2]"], np.ones((2, 2, 2)) + np.eye(2)[:, :, None])
    with pytest.raises(gd.CapabilityError, match=r"pairwise factors; a factor joins 3 variables \(\['b\[0\]', 'b\[1\]', 'b\[2\]'\]\)"):
        gd.query(gd.compile(mn), backend=gd.infer.SwendsenWang(chains=4, sweeps=10))
    anti = gd.compile(gd.MarkovNetwork.potts_grid(2, 2, 3, coupling=-0.5))
    with pytest.raises(gd.CapabilityError, match="Potts form"):
        gd.query(anti, backend=gd.infer.SwendsenWang(chains=4, sweeps=10))


@pytest.mark.statistical
def test_swendsen_wang_mixes_an_ordered_ferromagnet_where_gibbs_sticks() -> None:
    """A 12x12 ferromagnet at coupling 0.6 (ordered: every chain magnetised) with no field: each
    marginal is exactly 1/2 by symmetry. Seed 0, 16 chains x 300 sweeps each: single-site Gibbs
    chains keep the sign they fell into, so the magnetisation's average over chains stays far
    from 0 and R-hat is large; cluster moves flip whole domains and reach 1/2 within 0.1."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(12, 12, coupling=0.6))
    sw = sample_chains(model, SwendsenWangKernel(), chains=16, sweeps=300, seed=0, rhat_threshold=None)
    gibbs = sample_chains(model, gd.infer.mcmc.BlockGibbs(), chains=16, sweeps=300, seed=0, rhat_threshold=None)
    err_sw = float((sw.marginals()[:, 1] - 0.5).abs().max())
    assert err_sw < 0.1, err_sw
    assert float(sw.rhat.max()) < 1.1
    assert float(gibbs.rhat.max()) > 1.5  # Gibbs has not mixed: the diagnostic says so


def test_adaptive_ladder_keeps_its_ends_and_flattens_the_swap_rates() -> None:
    """An 8x8 ferromagnet at coupling 0.5 with 10 temperatures down to 0.05 (seed 0): the geometric
    ladder's swap rates spread over more than 0.4 (near the critical temperature they collapse);
    after adapting for the burn-in they spread over less than half as much."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=0.5))
    spread = {}
    for adapt in (0, 1500):
        kernel = ParallelTempering(num_temps=10, beta_min=0.05, adapt_sweeps=adapt)
        r = sample_chains(model, kernel, chains=32, sweeps=2000, burn_in=1500, seed=0, rhat_threshold=None)
        rates = ParallelTempering.swap_rates(r.final_state)
        ladder = kernel.ladder(r.final_state)
        assert float(ladder[0]) == 1.0 and abs(float(ladder[-1]) - 0.05) < 1e-12
        assert bool((ladder[1:] < ladder[:-1]).all())
        spread[adapt] = float(rates.max() - rates.min())
    assert spread[0] > 0.4, spread
    assert spread[1500] < 0.5 * spread[0], spread
    with pytest.raises(gd.SpecError, match="adapt_sweeps"):
        ParallelTempering(adapt_sweeps=-1)


def test_tempering_backend_adapts_by_default_and_reports_its_ladder() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(6, 6, coupling=0.5))
    pt = gd.infer.Tempering(chains=16, sweeps=800, num_temps=8, beta_min=0.05, seed=0, rhat_threshold=None)
    gd.query(model, backend=pt)
    geometric = gd.infer.mcmc.geometric_ladder(8, 0.05)
    assert pt.adaptive and not torch.allclose(pt.ladder, geometric)
    fixed = gd.infer.Tempering(chains=16, sweeps=800, betas=geometric.tolist(), seed=0, rhat_threshold=None)
    gd.query(model, backend=fixed)
    assert not fixed.adaptive and torch.equal(fixed.ladder, geometric)
