"""Spec validation: every error names the variable, the shape and the fix."""
from __future__ import annotations

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
