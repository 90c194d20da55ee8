"""Discrete Bayesian networks: spec checks, pgmpy round trips, exact queries against pgmpy's
VariableElimination, ancestral sampling against exact marginals, and table fitting."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

pytest.importorskip("pgmpy")
from pgmpy.factors.discrete import TabularCPD  # noqa: E402
from pgmpy.inference import VariableElimination  # noqa: E402
from pgmpy.models import DiscreteBayesianNetwork  # noqa: E402

import graphdgm as gd  # noqa: E402
from graphdgm.errors import EvidenceError, SpecError, UnknownVariableError  # noqa: E402
from graphdgm.io import bayesian_network_from_pgmpy, to_pgmpy  # noqa: E402


def random_pgmpy_bn(seed: int, n: int = 7) -> DiscreteBayesianNetwork:
    rng = np.random.default_rng(seed)
    cards = [int(k) for k in rng.integers(2, 4, size=n)]
    names = [f"v{i}" for i in range(n)]
    bn = DiscreteBayesianNetwork()
    bn.add_nodes_from(names)
    parents = {i: sorted(int(p) for p in rng.choice(i, size=min(i, int(rng.integers(0, 3))), replace=False)) for i in range(n)}
    bn.add_edges_from((names[p], names[i]) for i in range(n) for p in parents[i])
    for i in range(n):
        cols = math.prod(cards[p] for p in parents[i])
        vals = rng.dirichlet(np.ones(cards[i]), size=cols).T  # (card, cols)
        bn.add_cpds(TabularCPD(names[i], cards[i], vals, evidence=[names[p] for p in parents[i]] or None,
                               evidence_card=[cards[p] for p in parents[i]] or None))
    assert bn.check_model()
    return bn


def sprinkler() -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("cloudy", "rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("cloudy", [], [0.5, 0.5])
    bn.add_cpd("rain", ["cloudy"], [[0.8, 0.2], [0.2, 0.8]])
    bn.add_cpd("sprinkler", ["cloudy"], [[0.5, 0.5], [0.9, 0.1]])
    bn.add_cpd("wet", ["rain", "sprinkler"], [[[1.0, 0.0], [0.1, 0.9]], [[0.1, 0.9], [0.01, 0.99]]])
    return bn


@pytest.mark.parametrize("seed", range(4))
def test_queries_equal_pgmpy_variable_elimination(seed: int) -> None:
    pm = random_pgmpy_bn(seed)
    bn = bayesian_network_from_pgmpy(pm)
    model = gd.compile(bn)
    ve = VariableElimination(pm)
    ev = {"v6": 1, "v2": 0}
    for var in ("v0", "v3", "v5"):
        want = ve.query([var], evidence=ev, show_progress=False).values
        got = gd.query(model, [var], evidence=ev)[var]
        np.testing.assert_allclose(got.probs.numpy(), want, atol=1e-10)
        bp = gd.query(model, [var], evidence=ev, backend="bp")[var]  # loopy BP: an approximation, checked loosely
        assert np.abs(bp.probs.numpy() - want).max() < 0.1
    want_map = ve.map_query(["v0", "v1", "v3"], evidence=ev, show_progress=False)
    got_map = gd.map_query(model, evidence=ev, variables=["v0", "v1", "v3"]).assignment
    assert {k: got_map[k] for k in want_map} == {k: int(v) for k, v in want_map.items()}
    assert abs(float(gd.log_partition(model))) < 1e-10  # normalised: Z = 1


def test_log_prob_is_the_product_of_cpts_and_sums_to_one() -> None:
    pm = random_pgmpy_bn(7, n=5)
    model = gd.compile(bayesian_network_from_pgmpy(pm))
    cards = model.cards.tolist()
    states = torch.tensor(list(itertools.product(*(range(k) for k in cards))))
    lp = model.log_prob(states)
    assert math.isclose(float(lp.exp().sum()), 1.0, rel_tol=1e-12)
    torch.testing.assert_close(lp, model.log_potential(states))  # the factors are the log CPTs
    cpds = {c.variable: c for c in pm.get_cpds()}
    for row in states[:20]:
        x = dict(zip(model.variables, row.tolist()))
        want = math.prod(float(c.values[tuple(x[v] for v in c.variables)]) for c in cpds.values())
        assert math.isclose(float(model.log_prob(row[None]).exp()), want, rel_tol=1e-10)


def test_pgmpy_round_trip_keeps_structure_and_tables() -> None:
    bn = sprinkler()
    pm = to_pgmpy(bn)
    assert isinstance(pm, DiscreteBayesianNetwork) and pm.check_model()
    assert set(pm.get_parents("wet")) == {"rain", "sprinkler"}
    back = gd.BayesianNetwork.from_pgmpy(pm)
    assert back.parents == bn.parents
    for v in bn.variables:
        np.testing.assert_allclose(back.cpds[v], bn.cpds[v])


def test_ancestral_sampling_matches_exact_marginals() -> None:
    bn = sprinkler()
    model = gd.compile(bn)
    x = model.sample(20000, seed=1)
    exact = gd.query(model)
    for i, v in enumerate(model.variables):
        p1 = float(exact[v].probs[1])
        se = math.sqrt(p1 * (1 - p1) / 20000)
        assert abs(float(x[:, i].double().mean()) - p1) < 5 * se + 1e-9
    # evidence on a root keeps sampling ancestral and exact
    x = model.sample(20000, evidence={"cloudy": 1}, seed=2)
    assert bool((x[:, 0] == 1).all())
    p = float(gd.query(model, ["wet"], evidence={"cloudy": 1})["wet"].probs[1])
    assert abs(float(x[:, 3].double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / 20000)


def test_evidence_on_an_effect_samples_the_posterior_by_gibbs() -> None:
    model = gd.compile(sprinkler())
    x = model.sample(4000, evidence={"wet": 1}, seed=3, steps=200)
    assert bool((x[:, 3] == 1).all())
    p = float(gd.query(model, ["rain"], evidence={"wet": 1})["rain"].probs[1])  # explaining away
    assert abs(float(x[:, 1].double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / 4000) + 0.01


def test_fit_tables_recovers_the_cpts() -> None:
    truth = gd.compile(sprinkler())
    data = truth.sample(50000, seed=4)
    bn = gd.BayesianNetwork.empty_like(sprinkler().parents, {v: gd.Binary() for v in sprinkler().variables})
    model = gd.compile(bn)
    gd.fit(model, data, method="mle")
    for v, i in model.index.items():
        est = model.spec.cpds[v]
        assert np.abs(est - truth.spec.cpds[v]).max() < 0.03, v
    # the factors moved with the tables: queries use the fitted network
    a = gd.query(model, ["rain"], evidence={"wet": 1})["rain"].probs.numpy()
    b = gd.query(truth, ["rain"], evidence={"wet": 1})["rain"].probs.numpy()
    assert np.abs(a - b).max() < 0.02
    # Dirichlet smoothing: an unseen parent configuration gets the prior, not NaN
    tiny = gd.compile(gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]}, {"a": gd.Binary(), "b": gd.Categorical(3)}))
    tiny.fit_tables(torch.tensor([[0, 2], [0, 2]]), pseudo_count=1.0)
    np.testing.assert_allclose(tiny.spec.cpds["b"], [[0.2, 0.2, 0.6], [1 / 3, 1 / 3, 1 / 3]])


def test_bad_input_is_named() -> None:
    bn = gd.BayesianNetwork()
    bn.add_variable("a", gd.Binary())
    bn.add_variable("b", gd.Categorical(3))
    with pytest.raises(SpecError, match="sums to"):
        bn.add_cpd("a", [], [0.5, 0.6])
    with pytest.raises(SpecError, match=r"shape \(2, 3\)"):
        bn.add_cpd("b", ["a"], [[0.2, 0.8], [0.5, 0.5]])
    with pytest.raises(UnknownVariableError):
        bn.add_cpd("b", ["c"], [[1, 0, 0]])
    bn.add_cpd("b", ["a"], [[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]])
    with pytest.raises(SpecError, match="cycle"):
        bn.add_cpd("a", ["b"], [[0.5, 0.5]] * 3)
    with pytest.raises(SpecError, match="no CPD"):
        gd.compile(bn)
    bn.add_cpd("a", [], [1.0, 0.0])
    model = gd.compile(bn)
    with pytest.raises(EvidenceError, match="probability zero"):
        model.sample(3, evidence={"a": 1})
    with pytest.raises(SpecError, match="outside"):
        model.fit_tables(torch.tensor([[0, 3]]))
    with pytest.raises(SpecError, match="empty"):
        model.fit_tables(torch.zeros(0, 2, dtype=torch.long))
    with pytest.raises(SpecError, match="NaN"):
        model.fit_tables(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(SpecError, match="non-finite"):
        bn.add_cpd("c", [], [float("nan"), 1.0]) if bn.add_variable("c", gd.Binary()) else None


def test_draw_is_directed() -> None:
    src = gd.draw(sprinkler()).source
    assert "digraph" in src and "rain -> wet" in src.replace('"', "")


def test_a_bayesian_network_refuses_non_cpt_factors_with_the_fix() -> None:
    bn = sprinkler()
    with pytest.raises(SpecError, match=r"add_factor.*add_cpd"):
        bn.add_factor(["rain", "wet"], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(SpecError, match=r"add_coupling.*add_cpd"):
        bn.add_coupling([("rain", "wet")], 0.5)
    with pytest.raises(SpecError, match=r"add_field.*add_cpd"):
        bn.add_field("rain", 0.3)
    assert len(bn.factors) == 4  # one per CPT, nothing added


def test_query_log_prob_and_sample_agree_after_fitting() -> None:
    model = gd.compile(gd.BayesianNetwork.empty_like(sprinkler().parents, {v: gd.Binary() for v in sprinkler().variables}))
    gd.query(model, ["rain"])  # a cached plan or sampler must not keep the old tables
    gd.fit(model, gd.compile(sprinkler()).sample(5000, seed=5))
    states = torch.tensor(list(itertools.product([0, 1], repeat=4)))  # (16, 4) every joint state
    p = model.log_prob(states).exp()  # (16,)
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-12)
    x = model.sample(40000, seed=6)
    for i, v in enumerate(model.variables):
        exact = float(gd.query(model, [v])[v].probs[1])
        assert exact == pytest.approx(float(p[states[:, i] == 1].sum()), abs=1e-9), v  # query == Σ exp(log_prob)
        freq = float(x[:, i].double().mean())
        assert abs(freq - exact) < 5 * math.sqrt(exact * (1 - exact) / 40000) + 1e-3, v  # sample within 5 sigma


def test_sample_sizes_are_checked_not_truncated() -> None:
    model = gd.compile(sprinkler())
    for bad in ({"n": 2.7}, {"n": 0}, {"n": 3, "steps": -5}, {"n": 3, "steps": 2.5}):
        with pytest.raises(SpecError, match="steps" if "steps" in bad else "n must"):
            model.sample(bad.pop("n"), **bad)


def test_a_network_with_zero_probabilities_and_mixed_cardinalities_saves_and_loads(tmp_path) -> None:
    """Log-CPTs hold -inf for impossible states and for the padding of smaller variables: a
    legitimate model, so saving must not refuse it as non-finite."""
    bn = gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]}, {"a": gd.Binary(), "b": gd.Categorical(3)})
    model = gd.compile(bn)
    gd.fit(model, torch.tensor([[0, 0], [0, 1], [1, 2]]), method="mle")
    assert bool(torch.isneginf(model.cpt_log).any())
    gd.io.save(model, tmp_path / "bn.pt")
    back = gd.io.load(tmp_path / "bn.pt")
    x = torch.tensor([[0, 0], [1, 2], [1, 0]])
    assert torch.equal(back.log_prob(x), model.log_prob(x))
    assert float(back.log_prob(x)[2]) == float("-inf")
