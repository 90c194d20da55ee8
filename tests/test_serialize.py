"""JSON save/load of specs: exact round trips of blocks, factors (with -inf), couplings and fields."""
from __future__ import annotations

import json

import numpy as np
import pytest

import graphdgm as gd
from conftest import random_network
from graphdgm.io import load_spec, save_spec, spec_from_dict, spec_to_dict


def assert_same_spec(a: gd.MarkovNetwork, b: gd.MarkovNetwork) -> None:
    assert a.name == b.name
    assert [(x.name, x.shape, x.domain) for x in a.blocks.values()] == [(x.name, x.shape, x.domain) for x in b.blocks.values()]
    assert a.variables == b.variables
    assert len(a.factors) == len(b.factors)
    for x, y in zip(a.factors, b.factors):
        assert (x.name, x.scope) == (y.name, y.scope)
        np.testing.assert_array_equal(x.log_table, y.log_table)  # exact, -inf included
    assert len(a.couplings) == len(b.couplings)
    for x, y in zip(a.couplings, b.couplings):
        assert (x.name, x.kind, x.pattern, x.blocks) == (y.name, y.kind, y.pattern, y.blocks)
        np.testing.assert_array_equal(x.pairs, y.pairs)
        np.testing.assert_array_equal(x.weights, y.weights)
    assert len(a.fields) == len(b.fields)
    for x, y in zip(a.fields, b.fields):
        assert (x.name, x.kind, x.block, x.meta) == (y.name, y.kind, y.block, y.meta)
        np.testing.assert_array_equal(x.variables, y.variables)
        np.testing.assert_array_equal(x.weights, y.weights)


def rich_spec(seed: int) -> gd.MarkovNetwork:
    rng = np.random.default_rng(seed)
    mn = gd.MarkovNetwork.ising_grid(3, 3, coupling=rng.normal(size=12), field=rng.normal(size=(3, 3)))
    mn.add_block("c", (2, 2), gd.Categorical(3, labels=("r", "g", 2.5)))
    mn.add_variable("b", gd.Binary())
    mn.add_variable("one", gd.Categorical(1))
    mn.add_variable("r", gd.Real())
    table = rng.gamma(1.0, size=(3, 2, 1))
    table[0, 1, 0] = 0.0
    mn.add_factor(["c[1,0]", "b", "one"], table, name="tri")
    mn.add_coupling(np.array([[9, 10], [11, 12]]), rng.normal(size=2), kind="potts", name="P", pattern="custom")
    mn.add_coupling([("b", "x[0,0]")], 0.25)
    mn.add_field("c", rng.normal(size=(4, 3)), kind="table", name="hc")
    mn.add_field(["b", "x[2,2]"], [0.1, -0.3], kind="ising")
    mn.fields[-1].meta["note"] = "kept"
    return mn


@pytest.mark.parametrize("seed", range(8))
def test_random_network_round_trip(seed: int) -> None:
    mn = random_network(seed)
    d = spec_to_dict(mn)
    text = json.dumps(d, allow_nan=False)  # strictly JSON: no NaN/Infinity, no numpy
    assert_same_spec(mn, spec_from_dict(json.loads(text)))


def test_everything_round_trips_through_a_file(tmp_path) -> None:
    mn = rich_spec(1)
    path = tmp_path / "spec.json"
    save_spec(mn, path)
    back = load_spec(path)
    assert_same_spec(mn, back)
    assert back.domain_of("c[0,1]").labels == ("r", "g", 2.5)
    for x, y in zip(mn.table_factors(), back.table_factors()):
        np.testing.assert_array_equal(x.log_table, y.log_table)
    raw = json.loads(path.read_text())
    assert raw["format"] == "graphdgm.spec" and raw["version"] == 1
    assert "-inf" in raw["factors"][0]["log_table"]["data"]


def test_wrong_format_or_version() -> None:
    d = spec_to_dict(rich_spec(0))
    with pytest.raises(gd.FormatError, match="expected 'format': 'graphdgm.spec', got 'other'"):
        spec_from_dict({**d, "format": "other"})
    with pytest.raises(gd.FormatError, match="version 2"):
        spec_from_dict({**d, "version": 2})
    with pytest.raises(gd.FormatError, match="got 'list'"):
        spec_from_dict([])  # type: ignore[arg-type]
    with pytest.raises(gd.FormatError, match="malformed entry"):
        spec_from_dict({k: v for k, v in d.items() if k != "factors"})
    bad = json.loads(json.dumps(d))
    bad["factors"][0]["log_table"]["data"][0] = "oops"
    with pytest.raises(gd.FormatError, match="factor 'tri'"):
        spec_from_dict(bad)


def test_bad_json_file(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "graphdgm.spec",\n "version": 1,, }')
    with pytest.raises(gd.FormatError, match="not valid JSON: line 2"):
        load_spec(path)


def test_unsaveable_label() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Categorical(2, labels=((0, 1), (1, 0))))
    with pytest.raises(gd.SpecError, match="cannot be saved"):
        spec_to_dict(mn)
