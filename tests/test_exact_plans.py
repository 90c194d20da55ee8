"""Exact plans are cached by structure and applied to evidence values at run time; they are shared
safely between threads, and evidence far below a table's maximum is not mistaken for impossible."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

import graphdgm as gd
from conftest import random_network


def _possible_evidence(model: torch.nn.Module, rng: np.random.Generator) -> dict[str, object]:
    """Evidence on 1-3 variables drawn from a state of positive probability (by exact sampling)."""
    from conftest import enumerate_states

    states, logp = enumerate_states(model)
    p = torch.softmax(logp, 0).numpy()
    s = states[int(rng.choice(len(p), p=p / p.sum()))]
    vs = rng.choice(model.num_variables, size=int(rng.integers(1, 4)), replace=False)
    return {model.variables[v]: model.state_labels(int(v))[int(s[v])] for v in vs}


def _answers(model: torch.nn.Module, evidence: dict[str, object]) -> tuple:
    marg = gd.query(model, evidence=evidence).tensor()
    joint = gd.query(model, ["v0", "v1"], evidence=evidence, joint=True).probs
    mp = gd.map_query(model, evidence=evidence)
    log_z = float(gd.log_partition(model, evidence=evidence))
    return marg, joint, mp.state, mp.log_score, log_z


def test_exact_plan_reused_with_new_evidence_values() -> None:
    """One compiled model answers 200 random evidence sets exactly as a fresh compile of each does."""
    spec = random_network(3, n_vars=6, n_factors=9, max_card=3)
    shared = gd.compile(spec)
    rng = np.random.default_rng(0)
    for _ in range(200):
        ev = _possible_evidence(shared, rng)
        got = _answers(shared, ev)
        want = _answers(gd.compile(spec), ev)
        torch.testing.assert_close(got[0], want[0], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-14)
        assert math.isclose(got[3], want[3], rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(got[4], want[4], rel_tol=1e-12, abs_tol=1e-12)
        # MAP states may tie; the shared model's state must score as well as the fresh one's
        assert math.isclose(float(shared.log_potential(got[2][None])[0]), got[3], rel_tol=1e-12, abs_tol=1e-12)


def test_exact_plan_answers_ising_evidence_of_either_sign() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1))
    up = gd.query(model, ["x[1,1]"], evidence={"x[0,0]": 1})["x[1,1]"][1]
    down = gd.query(model, ["x[1,1]"], evidence={"x[0,0]": -1})["x[1,1]"][1]
    assert round(up, 4) == 0.7951
    assert round(down, 4) == 0.515
    assert round(gd.query(gd.compile(model.spec), ["x[1,1]"], evidence={"x[0,0]": -1})["x[1,1]"][1], 4) == 0.515


def test_possible_evidence_after_impossible_evidence_is_answered() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Binary())
    mn.add_variable("b", gd.Binary())
    mn.add_factor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])  # a == b
    mn.add_factor(["a"], [0.0, 1.0])  # a = 1
    model = gd.compile(mn)
    with pytest.raises(gd.EvidenceError, match="probability zero"):
        gd.query(model, ["b"], evidence={"a": 0})
    assert gd.query(model, ["b"], evidence={"a": 1})["b"][1] == pytest.approx(1.0)
    with pytest.raises(gd.EvidenceError):
        gd.map_query(model, evidence={"b": 0})
    assert gd.map_query(model, evidence={"b": 1}).assignment == {"a": 1, "b": 1}


def test_exact_queries_from_four_threads_equal_serial_answers() -> None:
    """4 threads x 200 queries on one model: the serial answers, and no exception."""
    spec = random_network(5, n_vars=7, n_factors=10, max_card=3)
    model = gd.compile(spec)
    rng = np.random.default_rng(1)
    evidences = [_possible_evidence(model, rng) for _ in range(40)]
    serial = [gd.query(model, evidence=ev).tensor() for ev in evidences]
    fresh = gd.compile(spec)  # threads start on a model with no plans at all
    errors: list[BaseException] = []
    mismatches: list[int] = []
    barrier = threading.Barrier(4)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(200):
                j = (i * 7 + t * 13) % len(evidences)
                got = gd.query(fresh, evidence=evidences[j]).tensor()
                if not torch.allclose(got, serial[j], rtol=1e-12, atol=1e-14):
                    mismatches.append(j)
                if i % 50 == 0:
                    float(gd.log_partition(fresh, evidence=evidences[j]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]
    assert not mismatches


def test_plans_live_outside_the_model() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4))
    before = set(model.__dict__)
    gd.query(model, ["x[1,1]"], evidence={"x[0,0]": 1})
    gd.map_query(model)
    assert set(model.__dict__) == before


def test_evidence_far_below_the_table_maximum_is_possible() -> None:
    """A row 1e-600 below the table's maximum is improbable, not impossible: P(b=1 | a=0) = 0.75."""
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Binary())
    mn.add_variable("b", gd.Binary())
    log_table = np.log(np.array([[0.25, 0.75], [0.5, 0.5]]))
    log_table[0] += 600 * math.log(1e-1) - math.log(1.0)  # the row a=0 sits 1e-600 below
    mn.add_factor(["a", "b"], log_table=log_table)
    model = gd.compile(mn)
    assert gd.query(model, ["b"], evidence={"a": 0})["b"][1] == pytest.approx(0.75, rel=1e-12)
    assert gd.map_query(model, evidence={"a": 0}).assignment["b"] == 1
    assert float(gd.log_partition(model, evidence={"a": 0})) == pytest.approx(600 * math.log(1e-1), rel=1e-12)
    joint = gd.query(model, ["a", "b"], evidence={"a": 0}, joint=True)
    assert joint["0", "1"] == pytest.approx(0.75, rel=1e-12)


def test_too_wide_exact_query_is_an_inference_error_with_the_width() -> None:
    """A complete graph on 60 binary variables has induced width 59: wider than the table budget,
    and wider than one einsum can index even when the budget is lifted."""
    mn = gd.MarkovNetwork()
    mn.add_block("x", 60, gd.Binary())
    pairs = np.array([(i, j) for i in range(60) for j in range(i + 1, 60)])
    mn.add_coupling(pairs, 0.1)
    model = gd.compile(mn)
    with pytest.raises(gd.InferenceError, match="induced width 59"):
        gd.query(model, ["x[3]"])
    with pytest.raises(gd.InferenceError, match="induced width 59"):
        gd.query(model, ["x[3]"], backend=gd.infer.Exact(max_table_log2=200))
