"""Every family constructor returns a graph, and one serializer writes and reads them all.

The legacy files in ``tests/data/legacy_specs`` were written by the per-family writers of
``ba28fa3`` (before families were graphs); they must keep loading to the same declarations.
"""
import json
import pathlib

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import SpecError
from graphdgm.io.serialize import load_spec, save_spec, spec_from_dict, spec_to_dict

LEGACY = pathlib.Path(__file__).parent / "data" / "legacy_specs"


def _sprinkler() -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Categorical(2, labels=("no", "yes")))
    bn.add_cpd("rain", [], [0.8, 0.2])
    bn.add_cpd("sprinkler", ["rain"], [[0.6, 0.4], [0.99, 0.01]])
    bn.add_neural_cpd("wet", ["rain", "sprinkler"], hidden=[4], seed=3)
    return bn


# the same declarations the legacy files hold, built in code now
FAMILIES = {
    "rbm": lambda: gd.RBM(6, 4, visible_type="gaussian", sigma=[1, 2, 1, 1, 1, 1], seed=2),
    "dbn": lambda: gd.DBN([6, 4, 3], seed=5),
    "bayesian_network": _sprinkler,
    "markov_chain": lambda: gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]], initial=[0.3, 0.7]),
    "hidden_markov_model": lambda: gd.HiddenMarkovModel.random(2, symbols=["walk", "shop", "clean"], seed=0),
    "hmm_gaussian": lambda: gd.HiddenMarkovModel.random(2, dim=3, seed=1),
    "hmm_density": lambda: gd.HiddenMarkovModel(2, [[0.9, 0.1], [0.2, 0.8]],
                                                gd.DensityEmission([gd.MADE(4, hidden=[4], seed=s) for s in range(2)])),
    "nade": lambda: gd.NADE(5, hidden=4, ordering="random", seed=1),
    "made": lambda: gd.MADE(6, hidden=[8, 8], masks=2, direct=True),
    "pixelcnn": lambda: gd.PixelCNN((4, 4), channels=4, layers=1),
    "pixelrnn": lambda: gd.PixelRNN((4, 4), hidden=4, layers=1),
    "gan": lambda: gd.GAN(2, latent=4, generator_hidden=[8], pack=2),
}


def _same_compiled(a, b) -> None:
    """Two declarations compile to the same parameters (same seeds, same layout)."""
    sa, sb = gd.compile(a).state_dict(), gd.compile(b).state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_each_family_is_a_graph_of_blocks_and_edges(key):
    spec = FAMILIES[key]()
    assert isinstance(spec, gd.Graph)
    assert spec.blocks and spec.edges  # declared blocks, and edges derived from the arguments
    for e in spec.edges.values():
        assert e.b in spec.blocks or spec.index_of(e.b) >= 0  # a block, or a variable of a plate (CPTs)


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_one_writer_round_trips_every_family(key, tmp_path):
    spec = FAMILIES[key]()
    d = spec_to_dict(spec)
    assert {"blocks", "units", "roles", "edges"} <= set(d)  # the graph layout, for every family
    assert d["family"] == type(spec).family_tag
    save_spec(spec, tmp_path / "s.json")
    back = load_spec(tmp_path / "s.json")
    assert type(back) is type(spec) and repr(back) == repr(spec)
    assert spec_to_dict(back) == d
    _same_compiled(spec, back)


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_files_written_before_families_were_graphs_still_load(key):
    d = json.loads((LEGACY / f"{key}.json").read_text())
    assert "units" not in d  # the old per-family layout
    back = spec_from_dict(d)
    spec = FAMILIES[key]()
    assert type(back) is type(spec) and repr(back) == repr(spec)
    assert spec_to_dict(back) == spec_to_dict(spec)  # the same declaration, written now as a graph
    _same_compiled(spec, back)


def test_a_loaded_bayesian_network_keeps_labels_tables_and_its_neural_cpd():
    back = spec_from_dict(json.loads(json.dumps(spec_to_dict(_sprinkler()))))
    assert back.domain_of("rain").labels == ("no", "yes")
    assert back.neural_cpds == {"wet": {"hidden": [4], "seed": 3}}
    np.testing.assert_array_equal(back.cpds["sprinkler"], [[0.6, 0.4], [0.99, 0.01]])
    assert [e.pattern.describe() for e in back.edges.values()][-1] == "cpt 2 x 2 x 2, neural [4]"


def test_a_plate_bayesian_network_declared_on_a_graph_equals_the_unrolled_chain():
    chain = gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.2, 0.8]], initial=[0.5, 0.5])
    bn = chain.unroll(3)
    g = gd.Graph("x3")
    g.block("x", 3, gd.Categorical(2, labels=("a", "b")))
    g.connect([], "x[0]", gd.graph.CPT([0.5, 0.5]))
    for t in (1, 2):
        g.connect(f"x[{t - 1}]", f"x[{t}]", gd.graph.CPT([[0.9, 0.1], [0.2, 0.8]]))
    fam = g.family_model()
    assert isinstance(fam, gd.BayesianNetwork) and fam.parents == bn.parents
    a = gd.query(gd.compile(g), ["x[2]"], evidence={"x[0]": "b"})
    b = gd.query(gd.compile(bn), ["x[2]"], evidence={"x[0]": "b"})
    np.testing.assert_allclose(a["x[2]"].probs, b["x[2]"].probs, atol=1e-12)


def test_a_family_is_a_complete_declaration():
    for spec in (gd.MADE(6, hidden=[8]), gd.MarkovChain(2, [[0.5, 0.5], [0.5, 0.5]]), gd.GAN(2, latent=3)):
        with pytest.raises(SpecError, match="complete declaration"):
            spec.block("extra", 2, gd.Bernoulli())
    chain = gd.MarkovChain(2, [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(SpecError, match="complete declaration"):  # an emission would make it an HMM: build one
        chain.connect("x", "x", gd.graph.Emission([[0.5, 0.5], [0.5, 0.5]]))


def test_edges_follow_parameters_a_compiled_model_writes_back():
    chain = gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]])
    model = gd.compile(chain)
    gd.fit(model, [["a", "a", "a", "b"]] * 20, method="mle", progress=False)
    np.testing.assert_allclose(chain.edges["T_x"].pattern.table, chain.transition)
    assert chain.transition[0, 0] > 0.6  # fitted, and the edge shows the fitted table


def _declared_sprinkler() -> gd.Graph:
    g = gd.Graph("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        g.block(v, (), gd.Categorical(2, labels=("no", "yes")))
    g.connect([], "rain", gd.graph.CPT([0.8, 0.2]))
    g.connect("rain", "sprinkler", gd.graph.CPT([[0.6, 0.4], [0.99, 0.01]]))
    g.connect(["rain", "sprinkler"], "wet", gd.graph.CPT([[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]]))
    return g


def test_draw_chooses_by_edges_not_by_class():
    """The same structure draws the same in each view, declared as a graph or built by the family."""
    g = _declared_sprinkler()
    bn = g.family_model()
    assert isinstance(bn, gd.BayesianNetwork)
    assert gd.draw(g, "dag").source == gd.draw(bn).source  # the family's default view is its DAG
    assert gd.draw(bn, "graph").source == gd.draw(g).source  # a declared graph's default is the graph view
    chain = gd.Graph("weather")
    chain.block("x", (), gd.Categorical(2, labels=("sun", "rain")))
    chain.connect("x", "x", gd.graph.Transition([[0.9, 0.1], [0.5, 0.5]]))
    fam = chain.family_model()
    assert gd.draw(chain, "states").source == gd.draw(fam).source and "0.9" in gd.draw(fam).source
    made = gd.MADE(4, hidden=[6])
    assert "dir=forward" in gd.draw(made, "graph").source and "masked dense" in gd.draw(made, "graph").source
    with pytest.raises(SpecError, match="trellis"):
        gd.draw(fam, "variables")


def test_a_chain_of_order_two_draws_as_a_trellis_with_two_arrows_into_each_later_step(tmp_path):
    chain = gd.MarkovChain(2, np.full((2, 2, 2), 0.5), order=2)
    src = gd.draw(chain, "trellis", steps=5).source
    assert src.count("->") == 1 + 2 * 3  # x1 <- x0; x2, x3, x4 <- their two predecessors
    assert "tied through time" in src and "2 x 2 x 2" in src
    hmm = gd.HiddenMarkovModel.random(2, symbols=["a", "b"], seed=0)
    src = gd.draw(gd.compile(hmm), "trellis", steps=3).source
    assert src.count("dashed") == 3 + 3  # latent states dashed, and each emission arrow
    if gd.viz.find_renderer() is None:
        pytest.skip("no renderer: neither Graphviz's `dot` nor `graphviz-pure` is installed")
    svg = gd.viz.save(gd.draw(hmm, "trellis"), tmp_path / "trellis.svg").read_text()
    assert "z[3]" in svg and "y[0]" in svg


def test_the_drawing_entry_point_names_no_family():
    """draw() dispatches on edges: it imports no family module."""
    src = (pathlib.Path(gd.__file__).parent / "viz" / "draw.py").read_text()
    for family in ("autoregressive", "bayesian_network", "gan", "hmm", "markov_chain", "rbm"):
        assert f"graphdgm.spec.{family}" not in src
    assert "isinstance(spec, (" not in src


def test_a_plate_bayesian_network_draws_one_arrow_per_pair_of_plates():
    bn = gd.HiddenMarkovModel.random(2, symbols=3, seed=0).unroll(4)
    src = gd.draw(bn, "graph").source
    assert '"3 CPTs"' in src and '"4 CPTs"' in src  # z[t-1] -> z[t] three times, z[t] -> y[t] four times
    assert "table factors" not in src  # its factors are the CPTs' logarithms, not extra tables
