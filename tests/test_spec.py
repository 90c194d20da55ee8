"""Spec validation: every error names the variable, the shape and the fix."""
from __future__ import annotations

import math
import re

import networkx as nx
import numpy as np
import pytest

import graphdgm as gd


def test_block_names_and_indices() -> None:
    mn = gd.MarkovNetwork.ising_grid(3, 4)
    assert mn.variables[5] == "x[1,1]" and mn.index_of("x[2, 3]") == 11
    assert mn.num_variables == 12 and mn.blocks["x"].shape == (3, 4)


def test_unknown_variable_suggests_close_names() -> None:
    mn = gd.MarkovNetwork.ising_grid(2, 2)
    with pytest.raises(gd.UnknownVariableError, match=r"Did you mean 'x\[0,0\]'"):
        mn.add_factor(["y[0,0]"], [1.0, 2.0])
    with pytest.raises(gd.UnknownVariableError):
        mn.index_of("x[0]")


@pytest.mark.parametrize(
    "table,match",
    [
        ([[1, 2, 3], [4, 5, 6]], r"needs a table of shape \(2, 2\).*got shape \(2, 3\)"),
        ([[1, -2], [3, 4]], "negative potentials"),
        ([[1, np.nan], [3, 4]], "non-finite"),
        ([[1, np.inf], [3, 4]], "non-finite"),
        ([[0, 0], [0, 0]], "zero everywhere"),
    ],
)
def test_bad_tables(table, match) -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Binary())
    mn.add_variable("b", gd.Binary())
    with pytest.raises(gd.SpecError, match=match):
        mn.add_factor(["a", "b"], table)


def test_duplicates_and_bad_domains() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Binary())
    with pytest.raises(gd.SpecError, match="duplicate block name 'a'"):
        mn.add_variable("a", gd.Spin())
    with pytest.raises(gd.SpecError, match="repeats a variable"):
        mn.add_factor(["a", "a"], [[1, 1], [1, 1]])
    mn.add_factor(["a"], [1, 2], name="prior")
    with pytest.raises(gd.SpecError, match="duplicate factor name"):
        mn.add_factor(["a"], [1, 2], name="prior")
    with pytest.raises(gd.SpecError, match="positive integer"):
        gd.Categorical(0)
    mn.add_variable("r", gd.Real())
    with pytest.raises(gd.SpecError, match="real-valued"):
        mn.add_factor(["r"], [1.0])


def test_coupling_and_field_validation() -> None:
    mn = gd.MarkovNetwork()
    mn.add_block("x", 3, gd.Spin())
    with pytest.raises(gd.SpecError, match="itself"):
        mn.add_coupling([("x[0]", "x[0]")], 1.0)
    with pytest.raises(gd.SpecError, match=r"one value per pair, shape \(2,\)"):
        mn.add_coupling([("x[0]", "x[1]"), ("x[1]", "x[2]")], [1.0, 2.0, 3.0])
    with pytest.raises(gd.SpecError, match="finite"):
        mn.add_coupling([("x[0]", "x[1]")], np.nan)
    with pytest.raises(gd.SpecError, match=r"3 variables"):
        mn.add_field("x", [0.1, 0.2], kind="ising")
    with pytest.raises(gd.SpecError, match="grid coupling needs a scalar or 12 values"):
        gd.MarkovNetwork.ising_grid(3, 3, coupling=[0.1, 0.2])


def test_grid_coupling_pair_form_and_periodic() -> None:
    hz, vt = np.ones((2, 2)), 2 * np.ones((1, 3))
    mn = gd.MarkovNetwork.ising_grid(2, 3, coupling=(hz, vt))
    assert mn.couplings[0].weights.tolist() == [1, 1, 1, 1, 2, 2, 2]
    assert len(gd.MarkovNetwork.ising_grid(3, 3, periodic=True).couplings[0].pairs) == 18


def test_from_networkx_with_tables_weights_and_fields() -> None:
    g = nx.Graph()
    g.add_node("a", domain=gd.Categorical(3), table=[1, 2, 3])
    g.add_node("b", domain=gd.Categorical(3))
    g.add_node("c", field=0.5)
    g.add_edge("a", "b", table=np.ones((3, 3)))
    g.add_edge("b", "c", weight=0.2)
    with pytest.raises(gd.SpecError, match="no 'table' or 'weight'"):
        gd.MarkovNetwork.from_networkx(nx.path_graph(3))
    mn = gd.MarkovNetwork.from_networkx(g)
    assert mn.variables == ["a", "b", "c"] and len(mn.table_factors()) == 4
    assert set(mn.variable_graph().edges) == {("a", "b"), ("b", "c")}


def test_block_graph_has_blocks_and_factor_groups() -> None:
    g = gd.MarkovNetwork.ising_grid(16, 16, field=0.1).graph
    kinds = dict(g.nodes(data="kind"))
    assert kinds == {"x": "block", "J": "factor", "h": "factor"}
    assert g.nodes["J"]["count"] == 480 and g.nodes["x"]["shape"] == (16, 16)


# --------------------------------------------------------------- issue 14: precise errors at declaration
@pytest.mark.parametrize("make, argument", [
    (lambda: gd.MarkovNetwork().add_block("x", (2.7, 3), gd.Spin()), "block 'x' shape axis 0"),
    (lambda: gd.MarkovNetwork().add_block("x", True, gd.Spin()), "block 'x' shape"),
    (lambda: gd.MarkovNetwork().add_block("x", "3", gd.Spin()), "block 'x' shape"),
    (lambda: gd.Categorical(2.5), "number of states"),
    (lambda: gd.Categorical(True), "number of states"),
    (lambda: gd.MarkovNetwork.ising_grid(2.7, 3), "ising_grid rows"),
    (lambda: gd.MarkovNetwork.ising_grid(2, 3.0), "ising_grid cols"),
    (lambda: gd.MarkovNetwork.potts_grid(2, 2, k=2.5), "potts_grid k"),
    (lambda: gd.RBM(2.5, 3), "visible"),
    (lambda: gd.RBM(4, 3, visible_type="categorical", categories=2.5), "categories"),
    (lambda: gd.RBM(4, 3, seed=1.5), "seed"),
    (lambda: gd.DBN([3.5, 2]), "layer 0"),
])
def test_non_integer_sizes_are_rejected_not_truncated(make, argument) -> None:
    with pytest.raises(gd.SpecError, match=re.escape(argument)):
        make()


def test_integral_numpy_and_torch_sizes_are_accepted() -> None:
    import torch

    mn = gd.MarkovNetwork()
    mn.add_block("x", (np.int64(2), torch.tensor(3)), gd.Categorical(np.int32(3)))
    assert mn.num_variables == 6 and mn.domain_of("x[1,2]").cardinality == 3
    assert gd.MarkovNetwork.ising_grid(np.int64(1), 1).num_variables == 1  # a 1x1 grid has no couplings


def test_shared_validators_name_the_argument() -> None:
    from graphdgm.spec.validate import positive_float, positive_int

    assert positive_int(np.uint8(4), "n") == 4 and positive_int(0, "steps", minimum=0) == 0
    for bad in (2.7, 3.0, "3", True, None, -1, 0):
        with pytest.raises(gd.SpecError, match="my_count"):
            positive_int(bad, "my_count")
    assert positive_float(np.float32(0.5), "s") == 0.5 and positive_float(0, "s", allow_zero=True) == 0.0
    for bad in (float("nan"), float("inf"), -0.1, 0.0, True, "1", 1j):
        with pytest.raises(gd.SpecError, match="my_scale"):
            positive_float(bad, "my_scale")


@pytest.mark.parametrize("kwargs", [
    dict(table=np.array([1 + 1j, 2])), dict(log_table=np.array([0.5j, 0])), dict(table=[1, "a"]), dict(table=[[1], [2, 3]]),
])
def test_complex_and_non_numeric_tables_are_rejected(kwargs) -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Categorical(2))
    with pytest.raises(gd.SpecError, match="complex|numeric|real numbers"):
        mn.add_factor(["a"], **kwargs)
    mn.add_variable("b", gd.Spin())
    with pytest.raises(gd.SpecError, match="complex"):
        mn.add_coupling([("a", "b")], np.array([0.3 + 0.1j]))


@pytest.mark.parametrize("table, message", [
    ([np.nan, 1.0], "non-finite"), ([np.inf, 1.0], "non-finite"), ([-1.0, 1.0], "negative"),
    ([1.0, 2.0, 3.0], r"needs a table of shape \(2,\)"), ([0.0, 0.0], "zero everywhere"),
])
def test_bad_probability_tables_are_spec_errors(table, message) -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Categorical(2))
    with pytest.raises(gd.SpecError, match=message):
        mn.add_factor(["a"], table)


def test_huge_tables_are_rejected_before_allocating() -> None:
    with pytest.raises(gd.SpecError, match="1,048,576 states"):
        gd.Categorical(10**9)
    mn = gd.MarkovNetwork()
    mn.add_block("a", (40,), gd.Categorical(3))
    with pytest.raises(gd.SpecError, match=r"12,157,665,459,056,928,801 entries .* limit is 2,147,483,648"):
        mn.add_factor([f"a[{i}]" for i in range(40)], 1.0)
    with pytest.raises(gd.SpecError, match="weight matrix"):
        gd.RBM(10**5, 10**5)
    with pytest.raises(gd.SpecError, match="at most 16,777,216"):
        gd.MarkovNetwork().add_block("x", (10**6, 10**6), gd.Spin())


@pytest.mark.parametrize("name", ["a b", "a,b", "a\tb", "x[0]", "", " ", 3, None])
def test_names_that_cannot_be_read_back_are_rejected_at_declaration(name) -> None:
    with pytest.raises(gd.SpecError, match="name"):
        gd.MarkovNetwork().add_variable(name, gd.Spin())


@pytest.mark.parametrize("name", ["<b>x</b>", 'a"b', "a\\b", "{}", "ü∑", "a:b", "x.y-z"])
def test_unusual_but_readable_names_round_trip_through_queries(name) -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable(name, gd.Spin())
    mn.add_variable("o", gd.Spin())
    mn.add_coupling([(name, "o")], 0.5)
    model = gd.compile(mn)
    p = gd.query(model, [name], evidence={"o": 1})[name].probs
    assert float(p[1]) == pytest.approx(math.exp(0.5) / (math.exp(0.5) + math.exp(-0.5)), rel=1e-9)


def test_from_networkx_tuple_nodes_become_a_queryable_block() -> None:
    mn = gd.MarkovNetwork.from_networkx(nx.grid_2d_graph(2, 3), coupling=0.3)
    assert mn.variables == [f"v[{i},{j}]" for i in range(2) for j in range(3)]
    model = gd.compile(mn)
    for shown in mn.variables:  # the names the spec shows are the names queries take
        assert float(gd.query(model, [shown])[shown].probs.sum()) == pytest.approx(1.0)
    ising = gd.compile(gd.MarkovNetwork.ising_grid(2, 3, coupling=0.3))
    assert float(gd.log_partition(model)) == pytest.approx(float(gd.log_partition(ising)), rel=1e-12)


def test_from_networkx_other_unreadable_nodes_are_renamed_consistently() -> None:
    g = nx.Graph([((0, 0), (0, 1)), ((0, 1), "a b"), ("a b", "a_b")])  # not a full grid: per-node names
    mn = gd.MarkovNetwork.from_networkx(g, coupling=0.2)
    names, shape = gd.spec.markov_network.variable_names_of(g, None)
    assert shape is None and mn.variables == [names[n] for n in g.nodes]
    assert set(mn.variables) == {"0_0", "0_1", "a_b", "a_b_2"}
    model = gd.compile(mn)
    assert float(gd.query(model, [names["a b"]])[names["a b"]].probs.sum()) == pytest.approx(1.0)
