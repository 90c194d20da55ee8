"""The exact backend against brute-force enumeration, pgmpy and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import graphdgm as gd
from conftest import brute_marginal, enumerate_states, random_network

SEEDS = list(range(12))


def random_evidence(model, seed: int, logp, states) -> dict[int, int]:
    """Evidence on 1-2 variables, drawn from a state of positive probability."""
    rng = np.random.default_rng(seed + 100)
    ok = torch.nonzero(torch.isfinite(logp)).flatten()
    s = states[ok[int(rng.integers(len(ok)))]]
    vs = rng.choice(model.num_variables, size=int(rng.integers(1, 3)), replace=False)
    return {int(v): int(s[v]) for v in vs}


@pytest.mark.parametrize("seed", SEEDS)
def test_marginals_equal_enumeration(seed: int) -> None:
    model = gd.compile(random_network(seed))
    states, logp = enumerate_states(model)
    for ev in ({}, random_evidence(model, seed, logp, states)):
        names = {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}
        result = gd.query(model, evidence=names)
        for v, name in enumerate(model.variables):
            expected = brute_marginal(states, logp, v, int(model.cards[v]), ev)
            torch.testing.assert_close(result[name].probs, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_log_partition_equals_enumeration(seed: int) -> None:
    model = gd.compile(random_network(seed))
    states, logp = enumerate_states(model)
    assert math.isclose(gd.log_partition(model).item(), float(torch.logsumexp(logp, 0)), rel_tol=1e-10, abs_tol=1e-10)
    ev = random_evidence(model, seed, logp, states)
    mask = torch.ones(len(states), dtype=torch.bool)
    for v, s in ev.items():
        mask &= states[:, v] == s
    names = {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}
    expected = torch.logsumexp(logp[mask], 0)
    assert math.isclose(gd.log_partition(model, names).item(), float(expected), rel_tol=1e-10, abs_tol=1e-10)


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_joint_marginal_equals_enumeration(seed: int) -> None:
    model = gd.compile(random_network(seed))
    states, logp = enumerate_states(model)
    p = torch.softmax(logp, 0)
    a, b, c = 2, 0, 3  # a non-sorted query order: axes must follow it
    joint = gd.query(model, [model.variables[a], model.variables[b], model.variables[c]], joint=True)
    shape = tuple(int(model.cards[v]) for v in (a, b, c))
    expected = torch.zeros(shape, dtype=p.dtype).index_put_((states[:, a], states[:, b], states[:, c]), p, accumulate=True)
    torch.testing.assert_close(joint.probs, expected, rtol=1e-9, atol=1e-12)
    df = joint.to_pandas()
    assert len(df) == math.prod(shape) and math.isclose(df["probability"].sum(), 1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_map_equals_enumeration(seed: int) -> None:
    model = gd.compile(random_network(seed))
    states, logp = enumerate_states(model)
    result = gd.map_query(model)
    assert math.isclose(result.log_score, float(logp.max()), rel_tol=1e-10)
    # the returned state itself scores the maximum (ties may pick a different maximiser)
    assert math.isclose(model.log_potential(result.state[None]).item(), float(logp.max()), rel_tol=1e-10)
    ev = random_evidence(model, seed, logp, states)
    mask = torch.ones(len(states), dtype=torch.bool)
    for v, s in ev.items():
        mask &= states[:, v] == s
    names = {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}
    result = gd.map_query(model, evidence=names)
    assert math.isclose(result.log_score, float(logp[mask].max()), rel_tol=1e-10)
    for v, s in ev.items():
        assert int(result.state[v]) == s


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_marginal_map_equals_enumeration(seed: int) -> None:
    model = gd.compile(random_network(seed))
    states, logp = enumerate_states(model)
    q = [1, 3]
    k1, k3 = int(model.cards[1]), int(model.cards[3])
    table = torch.full((k1, k3), -np.inf, dtype=logp.dtype)
    for i in range(k1):
        for j in range(k3):
            sel = (states[:, 1] == i) & (states[:, 3] == j)
            if sel.any():
                table[i, j] = torch.logsumexp(logp[sel], 0)
    result = gd.map_query(model, variables=[model.variables[v] for v in q])
    assert math.isclose(result.log_score, float(table.max()), rel_tol=1e-9)
    assert math.isclose(float(table[int(result.state[1]), int(result.state[3])]), float(table.max()), rel_tol=1e-9)
    assert set(result.assignment) == {model.variables[1], model.variables[3]}


def test_single_marginal_as_gradient_matches_per_variable_queries() -> None:
    mn = gd.MarkovNetwork.potts_grid(3, 3, k=3, coupling=0.7, field=np.random.default_rng(0).normal(size=(3, 3, 3)))
    model = gd.compile(mn)
    all_at_once = gd.query(model)
    for name in model.variables:
        one = gd.query(model, [name], joint=True)
        torch.testing.assert_close(all_at_once[name].probs, one.probs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n,J,h", [(12, 0.7, 0.0), (30, -0.4, 0.0), (25, 1.3, 0.0)])
def test_log_partition_of_ising_chain_equals_closed_form(n: int, J: float, h: float) -> None:
    """Open chain, zero field: Z = 2 (2 cosh J)^(n-1). Periodic ring: Z = (2 cosh J)^n + (2 sinh J)^n."""
    open_chain = gd.compile(gd.MarkovNetwork.ising_grid(1, n, coupling=J))
    assert math.isclose(float(gd.log_partition(open_chain)), math.log(2) + (n - 1) * math.log(2 * math.cosh(J)), rel_tol=1e-12)
    ring = gd.compile(gd.MarkovNetwork.ising_grid(1, n, coupling=J, periodic=True))
    expected = math.log((2 * math.cosh(J)) ** n + (2 * math.sinh(J)) ** n)
    assert math.isclose(float(gd.log_partition(ring)), expected, rel_tol=1e-12)


def test_ising_ring_with_field_equals_transfer_matrix() -> None:
    n, J, h = 20, 0.5, 0.3
    T = np.array([[math.exp(J * a * b + h * (a + b) / 2) for b in (-1, 1)] for a in (-1, 1)])
    expected = math.log(np.trace(np.linalg.matrix_power(T, n)))
    model = gd.compile(gd.MarkovNetwork.ising_grid(1, n, coupling=J, field=h, periodic=True))
    assert math.isclose(float(gd.log_partition(model)), expected, rel_tol=1e-12)


def test_log_partition_is_differentiable_in_parameters() -> None:
    """d log Z / d J_ij = E[x_i x_j]: check against enumeration."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 3, coupling=0.3, field=0.2))
    logz = gd.log_partition(model)
    (grad,) = torch.autograd.grad(logz, model.groups[0].weight)
    states, logp = enumerate_states(model)
    p = torch.softmax(logp, 0)
    spins = model.values[torch.arange(6), states]  # (S, 6) in {-1, +1}
    pairs = model.groups[0].scope
    expected = (p[:, None] * spins[:, pairs[:, 0]] * spins[:, pairs[:, 1]]).sum(0)
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)


def test_grid_orders_reach_width_near_side_length() -> None:
    from graphdgm.infer.exact.order import find_order
    from graphdgm.spec import grid_edges

    order = find_order(400, grid_edges(20, 20), [2] * 400, time_budget=0.0)
    assert order.width <= 21, order


def test_impossible_evidence_is_a_clear_error() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Binary())
    mn.add_variable("b", gd.Binary())
    mn.add_factor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])  # a == b
    model = gd.compile(mn)
    with pytest.raises(gd.EvidenceError, match="probability zero"):
        gd.query(model, ["a"], evidence={"a": 0, "b": 1})
    with pytest.raises(gd.EvidenceError, match="probability zero"):
        gd.map_query(model, evidence={"a": 1, "b": 0})
    assert float(gd.log_partition(model, {"a": 1, "b": 0})) == -math.inf


def test_bad_queries_name_the_problem() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2))
    with pytest.raises(gd.UnknownVariableError, match=r"'x\[5,5\]'"):
        gd.query(model, ["x[5,5]"])
    with pytest.raises(gd.EvidenceError, match="not a state"):
        gd.query(model, ["x[0,0]"], evidence={"x[1,1]": 0})  # spins are -1/+1
    with pytest.raises(gd.GraphdgmError, match="unknown backend"):
        gd.query(model, backend="nope")
    with pytest.raises(gd.SpecError, match="twice"):
        gd.query(model, ["x[0,0]", "x[0, 0]"], joint=True)


def test_too_wide_model_reports_width_and_alternatives() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(12, 12))
    with pytest.raises(gd.InferenceError, match=r"induced width 12.*approximate backend"):
        gd.query(model, backend=gd.infer.Exact(max_table_log2=8))


def test_evidence_marginal_is_point_mass_and_labels_are_kept() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("weather", gd.Categorical(3, labels=("sun", "rain", "snow")))
    mn.add_variable("umbrella", gd.Binary())
    mn.add_factor(["weather", "umbrella"], [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    m = gd.query(mn, evidence={"weather": "rain"})
    assert m["weather"].to_dict() == {"sun": 0.0, "rain": 1.0, "snow": 0.0}
    assert math.isclose(m["umbrella"][1], 0.8)
    df = m.to_pandas()
    assert list(df.columns) == ["variable", "state", "probability"] and len(df) == 5
    assert gd.map_query(mn).assignment == {"weather": "sun", "umbrella": 0}


def test_float32_and_device_argument() -> None:
    mn = gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1)
    m64 = gd.query(gd.compile(mn))
    m32 = gd.query(gd.compile(mn, device="cpu", dtype=torch.float32))
    assert m32["x[1,1]"].probs.dtype == torch.float32
    torch.testing.assert_close(m32["x[1,1]"].probs.double(), m64["x[1,1]"].probs, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu() -> None:
    mn = gd.MarkovNetwork.ising_grid(6, 6, coupling=0.4, field=0.1)
    cpu = gd.query(gd.compile(mn))
    gpu = gd.query(gd.compile(mn, device="cuda"))
    torch.testing.assert_close(gpu["x[2,3]"].probs.cpu(), cpu["x[2,3]"].probs)
    assert gd.map_query(gd.compile(mn, device="cuda")).assignment == gd.map_query(gd.compile(mn)).assignment
