"""Samplers: compiled block conditionals, the driver, diagnostics, AIS, tempering, annealing, API."""
from __future__ import annotations

import io
import contextlib

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.compiler.conditionals import BlockConditionals
from graphdgm.errors import CapabilityError, ConvergenceWarning, InferenceError, SpecError
from graphdgm.infer.mcmc import (
    BlockGibbs, MetropolisHastings, ParallelTempering, annealed_importance_sampling, sample_chains,
    simulated_annealing, split_rhat_from_counts,
)

from conftest import random_network


def _mixed_binary_network() -> gd.MarkovNetwork:
    rng = np.random.default_rng(0)
    mn = gd.MarkovNetwork.ising_grid(3, 4, coupling=rng.normal(size=17), field=0.2)
    mn.add_block("b", (2,), gd.Binary())
    mn.add_factor(["x[0,0]", "b[0]", "b[1]"], rng.gamma(1, 1, size=(2, 2, 2)))
    mn.add_factor(["x[0,1]", "b[1]"], [[1, 2], [3, 0.5]])
    mn.add_factor(["b[0]"], [1.0, 3.0])
    mn.add_factor(["b[0]"], [2.0, 1.0])  # two unary factors on one variable add up
    return mn


@pytest.mark.parametrize("spec", [random_network(s) for s in range(5)] + [_mixed_binary_network()])
@pytest.mark.parametrize("evidence", [{}, {0: 1}])
def test_block_conditionals_match_the_models_conditional_logits(spec, evidence) -> None:
    model = gd.compile(spec)
    cond = BlockConditionals(model, evidence)
    x = cond.initial_state(5, torch.Generator().manual_seed(0))  # (n, C)
    packed = cond.packed(x)
    assert torch.equal(packed[:, 0], torch.full((5,), 1)) if evidence else True
    for b, (a, e) in enumerate(cond.slices):
        members = cond.perm[a:e].tolist()
        mb = next(i for i, blk in enumerate(model.blocks) if set(members) <= set(blk.tolist()))
        order = {v: i for i, v in enumerate(model.blocks[mb].tolist())}
        ref = model.conditional_logits(packed, mb).detach()[:, [order[v] for v in members]].permute(1, 2, 0)  # (m, K, C)
        got = cond.logits(x, b)
        got = got.masked_fill(got < -1e15, -torch.inf)  # hard zeros are huge negatives inside operators
        finite = torch.isfinite(ref)
        assert torch.equal(torch.isfinite(got), finite)
        d_got = (got - got.amax(1, keepdim=True))[finite]
        d_ref = (ref - ref.amax(1, keepdim=True))[finite]
        torch.testing.assert_close(d_got, d_ref)
    lp, ref_lp = cond.log_potential(x), model.log_potential(packed).detach()
    both = torch.isfinite(ref_lp)
    assert torch.equal(torch.isfinite(lp), both)
    torch.testing.assert_close(lp[both], ref_lp[both])


def test_refresh_reads_moved_parameters() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.2))
    cond = BlockConditionals(model)
    x = cond.initial_state(3, torch.Generator().manual_seed(0))
    before = cond.binary_logit(x, 0).clone()
    with torch.no_grad():
        model.groups[0].weight.mul_(3.0)
    cond.refresh()
    after = cond.binary_logit(x, 0)
    torch.testing.assert_close(after, 3 * before)


def test_dense_and_sparse_operators_agree() -> None:
    import graphdgm.compiler.conditionals as c

    model = gd.compile(gd.MarkovNetwork.ising_grid(20, 20, coupling=0.3))
    x = BlockConditionals(model).initial_state(4, torch.Generator().manual_seed(0))
    sparse_cond = BlockConditionals(model)
    assert sparse_cond._ops[0].layout == torch.sparse_csr
    sparse = sparse_cond.binary_logit(x, 0)
    old = c._DENSE_ABOVE
    try:
        c._DENSE_ABOVE = 0.0
        dense_cond = BlockConditionals(model)
        assert dense_cond._ops[0].layout == torch.strided
        torch.testing.assert_close(dense_cond.binary_logit(x, 0), sparse)
    finally:
        c._DENSE_ABOVE = old


# ------------------------------------------------------------------ driver
def test_driver_counts_burn_in_and_thinning() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    r = sample_chains(model, BlockGibbs(), chains=3, sweeps=20, burn_in=5, thin=4, seed=0, keep="all",
                      rhat_threshold=None)  # too short to judge mixing; this test counts draws
    assert r.draws == 5 and r.samples.shape == (5, 3, 4) and r.log_potential_trace.shape == (3, 5)
    assert torch.equal(r.counts.sum(1), torch.full((4,), 15.0, dtype=torch.float64))


def test_driver_is_reproducible_and_leaves_global_rng_alone() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    state = torch.random.get_rng_state()
    a = sample_chains(model, BlockGibbs(), chains=8, sweeps=30, seed=5, keep="all", rhat_threshold=None).samples
    b = sample_chains(model, BlockGibbs(), chains=8, sweeps=30, seed=5, keep="all", rhat_threshold=None).samples
    c = sample_chains(model, BlockGibbs(), chains=8, sweeps=30, seed=6, keep="all", rhat_threshold=None).samples
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_split_rhat_from_counts_matches_pyro_on_the_same_traces() -> None:
    from pyro.ops.stats import split_gelman_rubin

    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.9))
    r = sample_chains(model, BlockGibbs(), chains=6, sweeps=200, seed=0, keep="all", rhat_threshold=None)
    traces = r.samples.permute(1, 0, 2).double()  # (C, S, n); binary: the indicator of state 1
    ref = torch.stack([split_gelman_rubin(traces[:, :, v], chain_dim=0, sample_dim=1) for v in range(9)])
    torch.testing.assert_close(r.rhat, ref, rtol=2e-2, atol=0)


def test_diagnostics_are_reported() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    r = sample_chains(model, BlockGibbs(), chains=8, sweeps=100, seed=0, keep=[0, 4], rhat_threshold=None)
    assert r.log_potential_ess > 100 and abs(r.log_potential_rhat - 1) < 0.1
    assert r.ess().shape == (2,) and bool((r.ess() > 100).all())
    with pytest.raises(InferenceError, match="keep"):
        sample_chains(model, BlockGibbs(), chains=2, sweeps=10, seed=0, rhat_threshold=None).ess()


def test_progress_bar_can_be_forced() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        sample_chains(model, BlockGibbs(), chains=2, sweeps=10, seed=0, progress=True)
    assert "BlockGibbs" in err.getvalue()


def test_bad_arguments_are_named() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    with pytest.raises(SpecError, match="chains"):
        sample_chains(model, BlockGibbs(), chains=0)
    with pytest.raises(SpecError, match="proposal"):
        MetropolisHastings("gibbs")
    with pytest.raises(CapabilityError, match="random_walk"):
        MetropolisHastings("random_walk").init(model, 2)
    with pytest.raises(SpecError, match="betas"):
        ParallelTempering([0.5, 1.0])
    with pytest.raises(gd.EvidenceError, match="outside"):
        BlockConditionals(model, {0: 2})


def test_impossible_evidence_is_an_error() -> None:
    mn = gd.MarkovNetwork()
    mn.add_block("a", (2,), gd.Binary())
    mn.add_factor(["a[0]", "a[1]"], [[1.0, 0.0], [0.0, 1.0]])  # a[0] == a[1]
    model = gd.compile(mn)
    with pytest.raises(InferenceError, match="probability zero"):
        sample_chains(model, BlockGibbs(), chains=4, sweeps=10, evidence={0: 0, 1: 1}, seed=0)


# ------------------------------------------------------------- AIS, tempering
@pytest.mark.statistical
def test_ais_log_z_within_a_tenth_of_a_nat_on_a_10x10_ising_grid() -> None:
    rng = np.random.default_rng(0)
    mn = gd.MarkovNetwork.ising_grid(10, 10, coupling=rng.normal(0.3, 0.2, size=180), field=rng.normal(0, 0.1, size=(10, 10)))
    model = gd.compile(mn)
    exact = float(gd.log_partition(model).detach())
    r = annealed_importance_sampling(model, chains=256, steps=1000, seed=0)
    assert abs(float(r.log_z) - exact) < 0.1
    assert 0 < r.stderr < 0.1
    with_ev = annealed_importance_sampling(model, chains=256, steps=1000, evidence={0: 1, 55: 0}, seed=0)
    exact_ev = float(gd.log_partition(model, {"x[0,0]": 1, "x[5,5]": -1}).detach())
    assert abs(float(with_ev.log_z) - exact_ev) < 0.1


@pytest.mark.statistical
def test_tempering_mixes_where_gibbs_is_stuck() -> None:
    """8x8 grid at coupling 0.8 (ordered phase): Gibbs chains stay in their magnetised mode."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=0.8))
    with pytest.warns(ConvergenceWarning, match="have not mixed"):
        gibbs = sample_chains(model, BlockGibbs(), chains=16, sweeps=400, seed=0)
    pt = sample_chains(model, ParallelTempering(num_temps=16, beta_min=0.2), chains=16, sweeps=400, seed=0,
                       rhat_threshold=1.1)  # the bound this test asserts
    assert float(gibbs.rhat.max()) > 2.0
    assert float(pt.rhat.max()) < 1.1
    exact = gd.query(model, ["x[0,0]"])["x[0,0]"][1]  # 0.5 by symmetry
    assert abs(float(pt.marginals()[0, 1]) - exact) < 0.05


# ----------------------------------------------------------------- API
@pytest.mark.statistical
def test_query_through_the_api_with_evidence_names() -> None:
    model = gd.compile(gd.MarkovNetwork.potts_grid(3, 3, 3, coupling=0.4))
    ev = {"x[0,0]": 2}
    exact = gd.query(model, evidence=ev).tensor()
    for backend in ("gibbs", gd.infer.Metropolis(chains=256, sweeps=1000), gd.infer.Tempering(chains=64, sweeps=1000, num_temps=4, beta_min=0.3)):
        got = gd.query(model, evidence=ev, backend=backend).tensor()
        assert float((got - exact).abs().max()) < 0.02, backend
    joint = gd.query(model, ["x[0,1]", "x[1,1]"], evidence=ev, backend="gibbs", joint=True)
    exact_joint = gd.query(model, ["x[0,1]", "x[1,1]"], evidence=ev, joint=True)
    assert float((joint.probs - exact_joint.probs).abs().max()) < 0.02


@pytest.mark.parametrize("seed", range(4))
def test_annealing_finds_the_exact_map_state(seed: int) -> None:
    model = gd.compile(random_network(seed, n_vars=8, n_factors=10, max_card=3, zeros=False))
    exact = gd.map_query(model)
    got = gd.map_query(model, backend="annealing")
    assert got.log_score == pytest.approx(exact.log_score, abs=1e-9)
    ev = {"v0": 1}
    assert gd.map_query(model, evidence=ev, backend="gibbs").log_score == pytest.approx(gd.map_query(model, evidence=ev).log_score, abs=1e-9)


def test_log_partition_through_the_api() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3, field=0.1))
    ais = gd.infer.AIS(chains=256, steps=500)
    assert abs(float(gd.log_partition(model, backend=ais)) - float(gd.log_partition(model).detach())) < 0.05
    assert ais.last_result.stderr < 0.05
    with pytest.raises(CapabilityError, match="marginal MAP"):
        gd.map_query(model, variables=["x[0,0]"], backend="gibbs")


def test_sampling_backends_are_registered() -> None:
    assert {"gibbs", "metropolis", "tempering", "ais", "annealing"} <= set(gd.infer.available_backends())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_path_matches_exact() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3, field=0.1), device="cuda")
    r = sample_chains(model, BlockGibbs(), chains=1024, sweeps=200, seed=0)
    exact = gd.query(model.cpu()).tensor()
    assert float((r.marginals().cpu() - exact).abs().max()) < 0.02
    a = annealed_importance_sampling(model.cuda(), chains=256, steps=300, seed=0)
    assert abs(float(a.log_z.cpu()) - float(gd.log_partition(model.cpu()).detach())) < 0.05
