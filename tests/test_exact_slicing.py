"""Slicing: when the best elimination order needs a table above the memory budget, the exact backend
conditions on a few variables and sums (or maximises) the slices. Every sliced answer equals the
unsliced one (and brute-force enumeration on small models); a problem that does not fit even
with the slices allowed gets the "too wide" error with the width found and how far slicing got."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import graphdgm as gd
from conftest import brute_marginal, enumerate_states
from test_exact_pruning import random_bn


def sliced(budget: float = 2.0, max_slices: int = 4096) -> gd.infer.Exact:
    return gd.infer.Exact(max_table_log2=budget, max_slices=max_slices)


@pytest.mark.parametrize("seed", range(3))
def test_sliced_grid_answers_equal_the_unsliced_ones(seed: int) -> None:
    model = gd.compile(gd.data.spin_glass_grid(4, coupling_std=1.0, field_std=0.3, seed=seed))
    full, cut = gd.infer.Exact(), sliced(3.0)
    plan = cut.plan(model, {})
    assert plan.slicing is not None and plan.order.log2_max_table <= 3.0 < plan.slicing.before.log2_max_table
    assert math.isclose(float(gd.log_partition(model, backend=cut)), float(gd.log_partition(model, backend=full)), rel_tol=1e-12)
    ev = {"x[0,0]": 1, "x[3,2]": -1}
    a, b = gd.query(model, evidence=ev, backend=full), gd.query(model, evidence=ev, backend=cut)
    for v in model.variables:
        torch.testing.assert_close(b[v].probs, a[v].probs, rtol=0, atol=1e-12)
    names = ["x[1,1]", "x[2,3]", "x[0,3]"]
    ja = gd.query(model, names, ev, joint=True, backend=full).probs
    jb = gd.query(model, names, ev, joint=True, backend=gd.infer.Exact(max_table_log2=3.0, max_slices=4096))
    torch.testing.assert_close(jb.probs, ja, rtol=0, atol=1e-12)
    ma, mb = gd.map_query(model, evidence=ev, backend=full), gd.map_query(model, evidence=ev, backend=cut)
    assert ma.assignment == mb.assignment and math.isclose(ma.log_score, mb.log_score, rel_tol=1e-12)
    mma = gd.map_query(model, evidence=ev, variables=names, backend=full)  # marginal MAP: only maximised ones are sliced
    mmb = gd.map_query(model, evidence=ev, variables=names, backend=cut)
    assert mma.assignment == mmb.assignment and math.isclose(mma.log_score, mmb.log_score, rel_tol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_sliced_bayesian_network_equals_enumeration(seed: int) -> None:
    model = gd.compile(random_bn(seed, n=9, zeros=seed == 1))
    states, logp = enumerate_states(model)
    rng = np.random.default_rng(seed)
    x = states[int(rng.choice(len(states), p=torch.softmax(logp, 0).numpy()))]
    ev = {v: int(x[v]) for v in rng.choice(model.num_variables, size=2, replace=False).tolist()}
    names = {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}
    cut = sliced(1.0)
    got = gd.query(model, evidence=names, backend=cut)
    for v in range(model.num_variables):
        want = brute_marginal(states, logp, v, int(model.cards[v]), ev)
        torch.testing.assert_close(got[model.variables[v]].probs, want, rtol=0, atol=1e-12)
    mask = torch.ones(len(states), dtype=torch.bool)
    for u, s in ev.items():
        mask &= states[:, u] == s
    want_lpe = float(torch.logsumexp(logp[mask], 0))
    assert math.isclose(float(gd.log_partition(model, names, backend=cut)), want_lpe, rel_tol=0, abs_tol=1e-12)


def test_sliced_log_partition_is_differentiable() -> None:
    model = gd.compile(gd.data.spin_glass_grid(4, seed=3))
    grads = []
    for backend in (gd.infer.Exact(), sliced(3.0)):
        model.zero_grad()
        gd.log_partition(model, backend=backend).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-10, atol=1e-12)


def test_too_wide_even_with_slices_says_how_far_slicing_got() -> None:
    model = gd.compile(gd.data.spin_glass_grid(6, seed=0))
    with pytest.raises(gd.InferenceError, match=r"too wide.*induced width 6.*slicing on \d+ variables \(\d+ slices, the most max_slices=4"):
        gd.log_partition(model, backend=sliced(2.0, max_slices=4))
    assert gd.infer.Exact(max_table_log2=2.0, max_slices=1).max_slices == 1
    with pytest.raises(gd.InferenceError, match="too wide"):
        gd.log_partition(model, backend=gd.infer.Exact(max_table_log2=2.0, max_slices=1))


def test_memory_budget_sets_the_table_limit_and_bad_options_are_named() -> None:
    assert gd.infer.Exact(memory_budget=2 ** 30).max_table_log2 == 25.0  # a quarter of 1 GiB, in float64 entries
    assert gd.infer.Exact(max_table_log2=12).max_table_log2 == 12.0
    assert 20.0 <= gd.infer.Exact().max_table_log2 <= 40.0  # a quarter of this machine's memory
    for kwargs, name in (({"memory_budget": 0}, "memory_budget"), ({"max_slices": 0}, "max_slices"),
                         ({"max_table_log2": float("nan")}, "max_table_log2")):
        with pytest.raises(gd.SpecError, match=name):
            gd.infer.Exact(**kwargs)


def test_pedigree_network_is_sliced_and_agrees_with_a_second_order() -> None:
    bn, evidence = gd.data.pedigree_network(individuals=12, loci=3, founders=4, seed=1)
    model = gd.compile(bn)
    plain = gd.infer.Exact()
    width = plain.plan(model, {model.variables.index(k): v for k, v in evidence.items()}).order
    budget = width.log2_max_table - 3
    cut = sliced(budget)
    plan = cut.plan(model, {model.variables.index(k): v for k, v in evidence.items()})
    assert plan.slicing is not None and plan.order.log2_max_table <= budget
    a, b = float(gd.log_partition(model, evidence, backend=plain)), float(gd.log_partition(model, evidence, backend=cut))
    assert math.isfinite(a) and math.isclose(a, b, rel_tol=1e-9)
    other = gd.infer.Exact(seed=7, max_table_log2=budget - 1, max_slices=4096)  # other slices, another order
    assert math.isclose(float(gd.log_partition(model, evidence, backend=other)), a, rel_tol=1e-9)


def test_a_sliced_plan_predicted_to_run_long_warns_once() -> None:
    from graphdgm.infer.exact import backend

    model = gd.compile(gd.data.spin_glass_grid(5, seed=4))
    old = backend.LONG_SLICED_SECONDS
    backend.LONG_SLICED_SECONDS = 0.0  # any sliced plan is "long"
    try:
        cut = sliced(3.0)
        with pytest.warns(UserWarning, match=r"slice this query into \d+ parts \(width 5 -> \d+"):
            first = float(gd.log_partition(model, backend=cut))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the cached plan does not warn again
            assert float(gd.log_partition(model, backend=cut)) == first
    finally:
        backend.LONG_SLICED_SECONDS = old
    plan = cut.plan(model, {})
    assert backend.predicted_seconds(plan) > 0


def test_generators_and_new_options_reject_bad_input_by_name() -> None:
    with pytest.raises(gd.SpecError, match="side=0"):
        gd.data.spin_glass_grid(0)
    with pytest.raises(gd.SpecError, match="individuals > founders"):
        gd.data.pedigree_network(individuals=4, founders=4)
    with pytest.raises(gd.SpecError, match=r"alleles=\(3, 2\)"):
        gd.data.pedigree_network(alleles=(3, 2))
    with pytest.raises(gd.SpecError, match="heuristic"):
        gd.infer.Exact(heuristic="simulated_annealing")
    with pytest.raises(gd.SpecError, match="max_slices"):
        gd.infer.Auto(max_slices=0)
    with pytest.raises(gd.SpecError, match="adapt_every"):
        gd.infer.mcmc.ParallelTempering(adapt_every=1)
    bn, evidence = gd.data.pedigree_network(individuals=8, loci=2, founders=4, alleles=(2, 4), seed=3)
    model = gd.compile(bn)
    assert set(model.cards.tolist()) <= {2, 3, 4} and math.isfinite(float(gd.log_partition(model, evidence)))
