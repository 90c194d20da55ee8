"""Loopy BP and mean field against exact inference."""
from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import ConvergenceWarning, EvidenceError, SpecError
from graphdgm.infer.variational import FactorTables, belief_propagation, elbo, mean_field

from conftest import random_network


def tree_network(seed: int, n: int = 12, max_card: int = 3, three_way: bool = False) -> gd.MarkovNetwork:
    """A random tree of categorical variables with pairwise and unary tables (and optionally a
    three-variable factor joining a leaf-free triple, still a tree as a factor graph)."""
    rng = np.random.default_rng(seed)
    tree = nx.random_labeled_tree(n, seed=seed)
    cards = rng.integers(2, max_card + 1, size=n)
    mn = gd.MarkovNetwork(name=f"tree{seed}")
    for i in range(n):
        mn.add_variable(f"v{i}", gd.Categorical(int(cards[i])))
    for a, b in tree.edges():
        mn.add_factor([f"v{a}", f"v{b}"], rng.gamma(1.0, 1.0, size=(cards[a], cards[b])))
    for i in range(n):
        mn.add_factor([f"v{i}"], rng.gamma(1.0, 1.0, size=cards[i]))
    if three_way:  # three new variables joined by one factor and hung from v0: still a tree
        for j in range(3):
            mn.add_variable(f"w{j}", gd.Categorical(2))
        mn.add_factor(["w0", "w1", "w2"], rng.gamma(1.0, 1.0, size=(2, 2, 2)))
        mn.add_factor(["v0", "w0"], rng.gamma(1.0, 1.0, size=(int(cards[0]), 2)))
    return mn


def ising_tree(seed: int) -> gd.MarkovNetwork:
    rng = np.random.default_rng(seed)
    tree = nx.random_labeled_tree(15, seed=seed)
    mn = gd.MarkovNetwork(name="ising_tree")
    mn.add_block("s", (15,), gd.Spin())
    mn.add_coupling([(f"s[{a}]", f"s[{b}]") for a, b in tree.edges()], rng.normal(0, 0.8, size=14))
    mn.add_field("s", rng.normal(0, 0.3, size=15))
    return mn


TREES = {
    "categorical-tree": lambda: tree_network(0),
    "tree+3-way": lambda: tree_network(1, three_way=True),
    "ising-tree": lambda: ising_tree(2),  # binary pairwise: the log-ratio message path
    "chain": lambda: gd.MarkovNetwork.ising_grid(1, 12, coupling=np.linspace(-1, 1, 11), field=0.2),
    "potts-chain": lambda: gd.MarkovNetwork.potts_grid(1, 8, 3, coupling=0.7),
}


@pytest.mark.parametrize("schedule", ["parallel", "sequential", "residual"])
@pytest.mark.parametrize("name", list(TREES))
def test_bp_is_exact_on_trees_and_chains(name: str, schedule: str) -> None:
    model = gd.compile(TREES[name]())
    first = model.variables[1]
    for evidence in ({}, {first: model.state_labels(1)[-1]}):
        bp = gd.infer.BeliefPropagation(tol=1e-10, schedule=schedule)
        got = gd.query(model, evidence=evidence, backend=bp).tensor()
        exact = gd.query(model, evidence=evidence).tensor()
        assert bp.last_result.converged
        assert float((got - exact).abs().max()) < 1e-5
        log_z = float(gd.log_partition(model, evidence, backend=bp))
        assert abs(log_z - float(gd.log_partition(model, evidence).detach())) < 1e-5


@pytest.mark.parametrize("name", list(TREES))
def test_max_product_map_equals_exact_map_on_trees(name: str) -> None:
    model = gd.compile(TREES[name]())
    for evidence in ({}, {model.variables[0]: model.state_labels(0)[0]}):
        got = gd.map_query(model, evidence=evidence, backend="bp")
        exact = gd.map_query(model, evidence=evidence)
        assert got.log_score == pytest.approx(exact.log_score, abs=1e-9)
        assert got.state.tolist() == exact.state.tolist()


def test_bp_on_loopy_grids_is_close_but_not_exact() -> None:
    """Measured error on a 6x6 grid (the benchmark reports larger grids): small, and non-zero."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(6, 6, coupling=0.3, field=0.1))
    bp = gd.infer.BeliefPropagation()
    err = (gd.query(model, backend=bp).tensor() - gd.query(model).tensor()).abs().max()
    dz = abs(float(gd.log_partition(model, backend=bp)) - float(gd.log_partition(model).detach()))
    assert 1e-6 < float(err) < 0.03 and 1e-6 < dz < 0.5


def test_bp_schedules_and_damping_reach_the_same_fixed_point() -> None:
    model = gd.compile(gd.MarkovNetwork.potts_grid(5, 5, 3, coupling=0.4))
    tables = FactorTables.from_model(model)
    ref = belief_propagation(tables, tol=1e-10)
    for kw in ({"schedule": "sequential"}, {"schedule": "residual"}, {"damping": 0.5}):
        r = belief_propagation(tables, tol=1e-10, blocks=model.blocks, **kw)
        torch.testing.assert_close(r.marginals, ref.marginals, atol=1e-7, rtol=0)
        assert abs(float(r.log_z - ref.log_z)) < 1e-7


def test_bp_warns_when_it_stops_before_converging() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(5, 5, coupling=0.3, field=0.1))  # no field: messages stay 0
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gd.query(model, backend=gd.infer.BeliefPropagation(max_iters=2))


def test_contradictory_evidence_is_an_error() -> None:
    mn = gd.MarkovNetwork()
    mn.add_block("a", (2,), gd.Binary())
    mn.add_factor(["a[0]", "a[1]"], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(EvidenceError):
        gd.query(gd.compile(mn), evidence={"a[0]": 0, "a[1]": 1}, backend="bp")
    with pytest.raises(EvidenceError):
        gd.query(gd.compile(mn), evidence={"a[0]": 0, "a[1]": 1}, backend="mean_field")


def test_bad_options_are_named() -> None:
    tables = FactorTables.from_model(gd.compile(gd.MarkovNetwork.ising_grid(2, 2)))
    with pytest.raises(SpecError, match="schedule"):
        belief_propagation(tables, schedule="random")
    with pytest.raises(SpecError, match="damping"):
        belief_propagation(tables, damping=1.0)
    with pytest.raises(SpecError, match="blocks"):
        mean_field(tables, schedule="sequential")


# ----------------------------------------------------------------- mean field
MF_MODELS = [random_network(s) for s in range(6)] + [
    gd.MarkovNetwork.ising_grid(4, 4, coupling=0.5, field=0.1),
    gd.MarkovNetwork.ising_grid(3, 3, coupling=-0.8),
    gd.MarkovNetwork.potts_grid(3, 3, 3, coupling=0.6),
    tree_network(3, three_way=True),
]


@pytest.mark.parametrize("schedule", ["sequential", "parallel"])
@pytest.mark.parametrize("spec", MF_MODELS, ids=lambda s: s.name)
def test_mean_field_bound_is_below_exact_log_z(spec, schedule: str) -> None:
    model = gd.compile(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the bound holds for any q, converged or not
        for evidence in ({}, {model.variables[0]: model.state_labels(0)[0]}):
            mf = gd.infer.MeanField(schedule=schedule, damping=0.5 if schedule == "parallel" else 0.0)
            bound = float(gd.log_partition(model, evidence, backend=mf))
            assert bound <= float(gd.log_partition(model, evidence).detach()) + 1e-9
            q = mf.last_result.q
            torch.testing.assert_close(q.sum(-1), torch.ones(len(q), dtype=q.dtype))
            assert float(elbo(FactorTables.from_model(model, model.encode_evidence(evidence)), q)) == pytest.approx(bound)


def test_mean_field_is_exact_without_interactions_and_close_when_weak() -> None:
    free = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.0, field=0.4))
    assert abs(float(gd.log_partition(free, backend="mean_field")) - float(gd.log_partition(free).detach())) < 1e-10
    weak = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.05, field=0.3))
    got = gd.query(weak, backend="mean_field").tensor()
    assert float((got - gd.query(weak).tensor()).abs().max()) < 0.01


def test_sequential_mean_field_never_lowers_the_elbo() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(5, 5, coupling=np.random.default_rng(0).normal(0, 1, size=40)))
    tables = FactorTables.from_model(model)
    bounds = [float(elbo(tables, mean_field(tables, schedule="sequential", blocks=model.blocks, max_iters=k).q))
              for k in (1, 2, 3, 5, 8, 13)]
    assert all(b2 >= b1 - 1e-12 for b1, b2 in zip(bounds, bounds[1:]))


def test_variational_backends_are_registered() -> None:
    assert {"bp", "mean_field"} <= set(gd.infer.available_backends())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_bp_matches_cpu() -> None:
    spec = gd.MarkovNetwork.potts_grid(6, 6, 3, coupling=0.4)
    cpu = gd.query(gd.compile(spec), backend="bp").tensor()
    gpu = gd.query(gd.compile(spec, device="cuda"), backend="bp").tensor()
    torch.testing.assert_close(gpu.cpu(), cpu)


def test_bp_map_keeps_the_best_decoded_state_over_restarts() -> None:
    """Perturbed restarts must not lower max-product's answer: on this grid the plain start decodes
    the exact MAP state, so the best over restarts must score as well as exact MAP."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(16, 16, coupling=0.4, field=0.1))
    bp = gd.infer.BeliefPropagation()
    got = gd.map_query(model, backend=bp)
    assert got.log_score == pytest.approx(gd.map_query(model).log_score, abs=1e-9)
    assert got.diagnostics is not None and got.diagnostics.restarts == bp.restarts
