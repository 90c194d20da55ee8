"""pgmpy interop: spec -> pgmpy -> spec keeps every table; Bayes nets, factor graphs and state names."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

pytest.importorskip("pgmpy")
from pgmpy.factors.discrete import DiscreteFactor, TabularCPD  # noqa: E402
from pgmpy.models import DiscreteBayesianNetwork, DiscreteMarkovNetwork, FactorGraph  # noqa: E402

import graphdgm as gd  # noqa: E402
from conftest import random_network  # noqa: E402
from graphdgm.io import from_pgmpy, pgmpy_factors, to_pgmpy  # noqa: E402

SEEDS = list(range(10))


def assert_same_tables(a: gd.MarkovNetwork, b: gd.MarkovNetwork) -> None:
    """The table factors of ``a`` equal the first ones of ``b``: same scope names in order, same log tables."""
    fa, fb = a.table_factors(), b.table_factors()
    assert len(fb) >= len(fa)
    for x, y in zip(fa, fb):
        assert x.scope == y.scope
        np.testing.assert_array_equal(np.isneginf(x.log_table), np.isneginf(y.log_table))
        np.testing.assert_allclose(x.log_table, y.log_table, rtol=1e-13, atol=1e-14)


def log_joint(mn: gd.MarkovNetwork, state: dict[str, int]) -> float:
    return float(sum(f.log_table[tuple(state[v] for v in f.scope)] for f in mn.table_factors()))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_round_trip(seed: int) -> None:
    mn = random_network(seed)
    pm = to_pgmpy(mn)
    assert pm.check_model()
    back = from_pgmpy(pm)
    assert back.variables == mn.variables and back.cardinalities() == mn.cardinalities()
    assert_same_tables(mn, back)
    covered = {v for f in mn.table_factors() for v in f.scope}
    extra = back.table_factors()[len(mn.table_factors()) :]
    assert [f.scope for f in extra] == [(v,) for v in mn.variables if v not in covered]
    for f in extra:  # variables that no factor touches get a uniform unary factor
        np.testing.assert_array_equal(f.log_table, 0.0)


def test_blocks_couplings_fields_and_labels_round_trip() -> None:
    rng = np.random.default_rng(3)
    mn = gd.MarkovNetwork.ising_grid(2, 3, coupling=rng.normal(size=7), field=rng.normal(size=(2, 3)))
    mn.add_block("c", (2,), gd.Categorical(3, labels=("r", "g", "b")))
    mn.add_variable("one", gd.Categorical(1))
    mn.add_factor(["c[1]", "x[0,2]", "one"], rng.gamma(1.0, size=(3, 2, 1)))
    mn.add_coupling([("c[0]", "c[1]")], 0.4, kind="potts")
    back = from_pgmpy(to_pgmpy(mn))
    assert back.variables == mn.variables
    assert {b.name: b.shape for b in back.blocks.values()} == {"x": (2, 3), "c": (2,), "one": ()}
    assert back.domain_of("x[1,1]").labels == (-1, 1)
    assert back.domain_of("c[0]").labels == ("r", "g", "b")
    assert back.domain_of("one") == gd.Categorical(1)
    assert_same_tables(mn, back)
    assert len(back.table_factors()) == len(mn.table_factors())


def test_state_names_and_scope_order_from_pgmpy() -> None:
    pm = DiscreteMarkovNetwork([("b", "a")])
    f = DiscreteFactor(["b", "a"], [3, 2], np.arange(1.0, 7.0), state_names={"b": ["lo", "mid", "hi"], "a": [10, 20]})
    pm.add_factors(f, DiscreteFactor(["a"], [2], [1.0, 0.0], state_names={"a": [10, 20]}))
    mn = from_pgmpy(pm)
    assert mn.domain_of("b").labels == ("lo", "mid", "hi") and mn.domain_of("a").labels == (10, 20)
    assert mn.factors[0].scope == ("b", "a")
    np.testing.assert_allclose(np.exp(mn.factors[0].log_table), np.arange(1.0, 7.0).reshape(3, 2), rtol=1e-15)
    np.testing.assert_array_equal(mn.factors[1].log_table, [0.0, -np.inf])
    assert to_pgmpy(mn).get_factors()[0].state_names == {"b": ["lo", "mid", "hi"], "a": [10, 20]}


def random_bayes_net(seed: int) -> DiscreteBayesianNetwork:
    """Nodes n0..n4 in a random DAG (parents among earlier nodes), cardinalities 1-3, random CPDs with zeros."""
    rng = np.random.default_rng(seed)
    cards = [2, 3, *[int(k) for k in rng.integers(1, 4, size=3)]]
    names = [f"n{i}" for i in range(5)]
    parents = {i: [int(p) for p in rng.choice(i, size=min(i, int(rng.integers(0, 3))), replace=False)] for i in range(5)}
    bn = DiscreteBayesianNetwork()
    bn.add_nodes_from(names)
    bn.add_edges_from((names[p], names[i]) for i in range(5) for p in parents[i])
    for i in range(5):
        cols = math.prod(cards[p] for p in parents[i])
        vals = rng.gamma(1.0, size=(cards[i], cols))
        vals[rng.random(vals.shape) < 0.2] = 0.0
        vals[0, vals.sum(0) == 0] = 1.0
        vals /= vals.sum(0, keepdims=True)
        ev = [names[p] for p in parents[i]]
        bn.add_cpds(TabularCPD(names[i], cards[i], vals, evidence=ev or None, evidence_card=[cards[p] for p in parents[i]] or None))
    assert bn.check_model()
    return bn


@pytest.mark.parametrize("seed", range(6))
def test_bayes_net_import_is_product_of_cpds(seed: int) -> None:
    bn = random_bayes_net(seed)
    mn = from_pgmpy(bn)
    names = list(bn.nodes())
    cards = [bn.get_cardinality(v) for v in names]
    assert sorted(mn.variables) == sorted(names)
    total = 0.0
    for states in itertools.product(*(range(k) for k in cards)):
        x = dict(zip(names, states))
        # cpd.values: the child is axis 0, the evidence variables follow in cpd.variables[1:] order
        expected = math.prod(float(c.values[tuple(x[v] for v in c.variables)]) for c in bn.get_cpds())
        got = math.exp(log_joint(mn, x))
        assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-300)
        total += got
    assert math.isclose(total, 1.0, rel_tol=1e-12)
    assert [f.scope for f in mn.factors] == [tuple(c.variables) for c in bn.get_cpds()]


def test_bayes_net_state_names_preserved() -> None:
    bn = DiscreteBayesianNetwork([("rain", "wet")])
    bn.add_cpds(
        TabularCPD("rain", 2, [[0.8], [0.2]], state_names={"rain": ["no", "yes"]}),
        TabularCPD("wet", 3, [[0.7, 0.1], [0.2, 0.3], [0.1, 0.6]], evidence=["rain"], evidence_card=[2],
                   state_names={"wet": ["dry", "damp", "soaked"], "rain": ["no", "yes"]}),
    )
    mn = from_pgmpy(bn)
    assert mn.domain_of("rain").labels == ("no", "yes")
    assert mn.domain_of("wet").labels == ("dry", "damp", "soaked")
    assert mn.factors[1].scope == ("wet", "rain")
    assert math.isclose(math.exp(mn.factors[1].log_table[2, 1]), 0.6, rel_tol=1e-15)


def test_factor_graph_import() -> None:
    fg = FactorGraph()
    phi1 = DiscreteFactor(["a", "b"], [2, 3], np.arange(6.0) + 1, state_names={"a": ["no", "yes"], "b": [0, 1, 2]})
    phi2 = DiscreteFactor(["c", "b"], [2, 3], np.arange(6.0), state_names={"c": [0, 1], "b": [0, 1, 2]})
    fg.add_nodes_from(["a", "b", "c", phi1, phi2])
    fg.add_edges_from([("a", phi1), ("b", phi1), ("b", phi2), ("c", phi2)])
    fg.add_factors(phi1, phi2)
    mn = from_pgmpy(fg)
    assert mn.variables == ["a", "b", "c"] and mn.cardinalities() == [2, 3, 2]
    assert [f.scope for f in mn.factors] == [("a", "b"), ("c", "b")]
    np.testing.assert_allclose(np.exp(mn.factors[1].log_table), np.arange(6.0).reshape(2, 3), rtol=1e-15)
    assert mn.domain_of("a").labels == ("no", "yes") and mn.domain_of("b") == gd.Categorical(3)
    assert len(pgmpy_factors(fg)) == 2


def test_awkward_names_are_sanitised() -> None:
    pm = DiscreteMarkovNetwork()
    keys = ["a b", 7, ("t", 1), "x[0]", "x[2]", "a_b"]
    pm.add_nodes_from(keys)
    for k in keys:
        pm.add_factors(DiscreteFactor([k], [2], [1.0, 2.0]))
    mn = from_pgmpy(pm)
    assert mn.variables == ["a_b", "7", "t_1", "x_0", "x_2", "a_b_2"]  # x[0], x[2] do not fill a block


def test_unsupported_models_raise() -> None:
    from pgmpy.models import LinearGaussianBayesianNetwork

    with pytest.raises(gd.SpecError, match="LinearGaussianBayesianNetwork"):
        from_pgmpy(LinearGaussianBayesianNetwork([("a", "b")]))
    with pytest.raises(gd.SpecError, match="cannot read a pgmpy dict"):
        from_pgmpy({})
    pm = DiscreteMarkovNetwork()
    pm.add_nodes_from(["a", "lonely"])
    pm.add_factors(DiscreteFactor(["a"], [2], [1.0, 1.0]))
    with pytest.raises(gd.SpecError, match="'lonely' is in no factor"):
        from_pgmpy(pm)
    mn = gd.MarkovNetwork()
    mn.add_variable("r", gd.Real())
    with pytest.raises(gd.SpecError, match="discrete variables only"):
        to_pgmpy(mn)


def test_disagreeing_state_names_raise() -> None:
    pm = DiscreteMarkovNetwork()
    pm.add_nodes_from(["a"])
    pm.add_factors(DiscreteFactor(["a"], [2], [1.0, 1.0], state_names={"a": ["p", "q"]}))
    pm.add_factors(DiscreteFactor(["a"], [2], [1.0, 1.0], state_names={"a": ["q", "p"]}))
    with pytest.raises(gd.SpecError, match="disagree on the states of 'a'"):
        from_pgmpy(pm)


@pytest.mark.parametrize("spec", [gd.RBM(3, 2), gd.DBN([3, 2, 2]), gd.GaussianMarkovNetwork.from_precision([[1.0]])])
def test_to_pgmpy_of_a_spec_pgmpy_cannot_hold_says_what_converts(spec) -> None:
    with pytest.raises(gd.CapabilityError, match="MarkovNetwork / FactorGraph .* BayesianNetwork"):
        to_pgmpy(spec)


def test_to_pgmpy_of_a_small_rbm_points_to_its_markov_network() -> None:
    rbm = gd.RBM(2, 2, weights=np.ones((2, 2)), visible_bias=np.zeros(2), hidden_bias=np.zeros(2))
    with pytest.raises(gd.CapabilityError, match="to_markov_network"):
        to_pgmpy(rbm)
    assert len(to_pgmpy(rbm.to_markov_network()).get_factors()) == 4 + 2 + 2
