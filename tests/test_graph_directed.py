"""Directed autoregressive edges on the graph: a MADE, NADE, PixelCNN or PixelRNN declared as one
block connected with itself compiles to the same model as its family constructor."""
from __future__ import annotations

import pytest
import torch

import graphdgm as gd
from graphdgm.errors import SpecError

CASES = [
    ("made", (4, 4), gd.graph.MaskedDense(hidden=[12], masks=2, direct=True, seed=3), gd.MADE((4, 4), hidden=[12], masks=2, direct=True, seed=3, name="g")),
    ("nade", 16, gd.graph.TiedDense(hidden=7, seed=1), gd.NADE(16, hidden=7, seed=1, name="g")),
    ("pixelcnn", (5, 5), gd.graph.MaskedConv(channels=4, layers=2, seed=2), gd.PixelCNN((5, 5), channels=4, layers=2, seed=2, name="g")),
    ("pixelrnn", (5, 5), gd.graph.RecurrentRows(hidden=4, layers=1, seed=2), gd.PixelRNN((5, 5), hidden=4, layers=1, seed=2, name="g")),
]


def declared(shape, pattern) -> gd.Graph:
    g = gd.Graph("g")
    x = g.block("x", shape, gd.Bernoulli())
    g.connect(x, x, pattern)
    return g


@pytest.mark.parametrize("name, shape, pattern, family", CASES, ids=[c[0] for c in CASES])
def test_a_graph_with_an_autoregressive_edge_compiles_to_its_family(name, shape, pattern, family) -> None:
    graph_model, family_model = gd.compile(declared(shape, pattern)), gd.compile(family)
    assert type(graph_model) is type(family_model) and "ordering" in graph_model.capabilities
    a, b = graph_model.state_dict(), family_model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert next(graph_model.parameters()).dtype == torch.float32  # neural conditionals default to float32
    x = gd.sample(graph_model, 5, seed=1)
    assert torch.equal(graph_model.log_prob(x), family_model.log_prob(x))


@pytest.mark.parametrize("name, shape, pattern, family", CASES, ids=[c[0] for c in CASES])
def test_the_declaration_saves_and_loads(tmp_path, name, shape, pattern, family) -> None:
    g = declared(shape, pattern)
    gd.io.save_spec(g, tmp_path / "g.json")
    back = gd.io.load_spec(tmp_path / "g.json")
    assert repr(back) == repr(g)
    a, b = gd.compile(back).state_dict(), gd.compile(g).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_autoregressive_edge_is_checked() -> None:
    g = gd.Graph("g")
    x = g.block("x", 6, gd.Bernoulli())
    h = g.block("h", 3, gd.Bernoulli(), role="latent")
    with pytest.raises(SpecError, match="one block"):
        g.connect(x, x, gd.graph.MaskedDense(hidden=[8]))
    g = gd.Graph("g")
    x = g.block("x", 6, gd.Softmax(3))
    with pytest.raises(SpecError, match="Bernoulli"):
        g.connect(x, x, gd.graph.MaskedDense(hidden=[8]))
    g = gd.Graph("g")
    x = g.block("x", 6, gd.Bernoulli())
    with pytest.raises(SpecError, match="2-D|image|shape"):
        g.connect(x, x, gd.graph.MaskedConv(channels=4))  # PixelCNN needs an image-shaped block
    g.connect(x, x, gd.graph.MaskedDense(hidden=[8]))
    with pytest.raises(SpecError, match="already has the autoregressive edge 'AR_x'"):
        g.connect(x, x, gd.Dense())
    with pytest.raises(SpecError, match="whole model over one block"):
        g.block("h", 3, gd.Bernoulli())  # would be silently dropped by the compiled model
    with pytest.raises(SpecError, match="add_factor would be ignored"):
        g.add_factor(["x[0]", "x[1]"], log_table=[[0.0, 0.0], [0.0, 0.0]])
    assert "x->x masked dense" in repr(g) and list(g.blocks) == ["x"]
    g = gd.Graph("g")
    x = g.block("x", 6, gd.Bernoulli(), bias=[0.5] * 6)
    with pytest.raises(SpecError, match="own output biases"):
        g.connect(x, x, gd.graph.MaskedDense(hidden=[8]))
    del h


def test_an_autoregressive_edge_is_drawn_as_an_arrow() -> None:
    src = gd.draw(declared((4, 4), gd.graph.MaskedDense(hidden=[12]))).source
    assert "dir=forward" in src and "masked dense (hidden [12], masks 1, direct False), x_d | x_<d" in src.replace("\\n", " ")


def sprinkler() -> gd.Graph:
    g = gd.Graph("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        g.block(v, (), gd.Bernoulli())
    g.connect([], "rain", gd.graph.CPT([0.8, 0.2]))
    g.connect("rain", "sprinkler", gd.graph.CPT([[0.6, 0.4], [0.99, 0.01]]))
    g.connect(["rain", "sprinkler"], "wet", gd.graph.CPT([[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]]))
    return g


def test_cpt_edges_declare_a_bayesian_network_and_answer_as_one(tmp_path) -> None:
    g = sprinkler()
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("rain", [], [0.8, 0.2])
    bn.add_cpd("sprinkler", ["rain"], [[0.6, 0.4], [0.99, 0.01]])
    bn.add_cpd("wet", ["rain", "sprinkler"], [[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]])
    model, ref = gd.compile(g), gd.compile(bn)
    assert type(model) is type(ref) and model.variables == ref.variables and "dag" in model.capabilities
    q, r = gd.query(model, ["rain"], evidence={"wet": 1}), gd.query(ref, ["rain"], evidence={"wet": 1})
    assert torch.allclose(torch.as_tensor(q["rain"].probs), torch.as_tensor(r["rain"].probs), atol=1e-12)
    # p(rain | wet): enumerate the joint by hand
    joint = {(r_, s, w): [0.8, 0.2][r_] * [[0.6, 0.4], [0.99, 0.01]][r_][s] * [[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]][r_][s][w]
             for r_ in (0, 1) for s in (0, 1) for w in (0, 1)}
    p_rain = sum(v for k, v in joint.items() if k[0] == 1 and k[2] == 1) / sum(v for k, v in joint.items() if k[2] == 1)
    assert abs(float(q["rain"].probs[1]) - p_rain) < 1e-12
    gd.io.save_spec(g, tmp_path / "g.json")
    back = gd.io.load_spec(tmp_path / "g.json")
    assert repr(back) == repr(g) and torch.equal(gd.compile(back).cpt_log, model.cpt_log)
    src = gd.draw(g).source
    assert src.count("dir=forward") == 3 and "cpt 2 x 2 x 2" in src


def test_cpt_edges_are_checked() -> None:
    g = gd.Graph("bad")
    g.block("a", (), gd.Bernoulli())
    g.block("b", (), gd.Softmax(3))
    g.block("v", 4, gd.Bernoulli())
    with pytest.raises(SpecError, match="needs shape"):
        g.connect("a", "b", gd.graph.CPT([[0.5, 0.5], [0.5, 0.5]]))  # b has 3 states
    with pytest.raises(SpecError, match="one discrete variable"):
        g.connect("a", "v", gd.graph.CPT([[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(SpecError, match="sums to"):
        g.connect([], "a", gd.graph.CPT([0.5, 0.6]))
    g.connect("a", "b", gd.graph.CPT([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
    with pytest.raises(SpecError, match="already has a CPT"):
        g.connect([], "b", gd.graph.CPT([0.2, 0.3, 0.5]))
    with pytest.raises(SpecError, match="cycle"):
        g.connect("b", "a", gd.graph.CPT([[0.5, 0.5]] * 3))
    with pytest.raises(SpecError, match="only CPT edges"):
        g.connect("a", "v", gd.Dense())


def weather(emission=None) -> gd.Graph:
    g = gd.Graph("weather")
    z = g.block("z", (), gd.Softmax(2), role="latent")
    y = g.block("y", (), gd.Softmax(3))
    g.connect(z, z, gd.graph.Transition([[0.7, 0.3], [0.4, 0.6]], initial=[0.6, 0.4]))
    g.connect(z, y, emission or gd.graph.Emission([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]]))
    return g


def test_transition_and_emission_edges_declare_a_hidden_markov_model(tmp_path) -> None:
    model = gd.compile(weather())
    ref = gd.compile(gd.HiddenMarkovModel(2, [[0.7, 0.3], [0.4, 0.6]], gd.CategoricalEmission([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]]),
                                          initial=[0.6, 0.4]))
    assert type(model) is type(ref) and {"time_tied", "emission"} <= model.capabilities
    path, score = model.viterbi([[0, 1, 2]])  # Wikipedia's walk, shop, clean: sunny, rainy, rainy, p = 0.01344
    assert path.tolist() == [[1, 0, 0]] and abs(float(score.exp()) - 0.01344) < 1e-12
    assert torch.allclose(model.log_prob([[0, 1, 2], [2]]), ref.log_prob([[0, 1, 2], [2]]), atol=1e-14)
    chain = gd.Graph("chain")
    s = chain.block("s", (), gd.Softmax(2))
    chain.connect(s, s, gd.graph.Transition([[0.9, 0.1], [0.5, 0.5]]))
    assert torch.allclose(gd.compile(chain).stationary(), torch.tensor([5 / 6, 1 / 6], dtype=torch.float64))
    dens = gd.Graph("dens")  # each state emits binary vectors from its own MADE
    z = dens.block("z", (), gd.Bernoulli(), role="latent")
    y = dens.block("y", 3, gd.Bernoulli())
    dens.connect(z, z, gd.graph.Transition([[0.9, 0.1], [0.2, 0.8]]))
    dens.connect(z, y, gd.graph.Emission(models=[gd.MADE(3, hidden=[4], seed=k) for k in range(2)]))
    assert "emission_module" in gd.compile(dens).capabilities
    for g in (weather(), chain, dens):
        gd.io.save_spec(g, tmp_path / "g.json")
        back = gd.io.load_spec(tmp_path / "g.json")
        assert repr(back) == repr(g)
    src = gd.draw(weather()).source
    assert "tied through time" in src and "emission table 2 x 3" in src and src.count("dir=forward") == 2


def test_sequence_edges_are_checked() -> None:
    g = gd.Graph("g")
    z = g.block("z", (), gd.Softmax(2), role="latent")
    y = g.block("y", (), gd.Softmax(3))
    with pytest.raises(SpecError, match="declare the Transition edge first"):
        g.connect(z, y, gd.graph.Emission([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]]))
    with pytest.raises(SpecError, match="itself through time"):
        g.connect(z, y, gd.graph.Transition([[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(SpecError, match="sum|stochastic|rows"):
        g.connect(z, z, gd.graph.Transition([[0.5, 0.6], [0.5, 0.5]]))
    assert g.edges == {}  # a refused edge leaves nothing behind
    g.connect(z, z, gd.graph.Transition([[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(SpecError, match="one Emission edge"):
        g.connect(z, y, gd.Dense())
    with pytest.raises(SpecError, match="rows|hidden state|columns"):
        g.connect(z, y, gd.graph.Emission([[0.5, 0.5], [0.2, 0.8]]))  # y has 3 symbols, the table 2
    with pytest.raises(SpecError, match="one of"):
        gd.graph.Emission()


def test_a_neural_map_from_an_input_block_declares_a_gan(tmp_path) -> None:
    g = gd.Graph("ring")
    z = g.block("z", 4, gd.Gaussian(1.0), role="input")
    x = g.block("x", 2, gd.Gaussian(1.0))
    g.connect(z, x, gd.graph.NeuralMap(generator_hidden=[16], discriminator_hidden=[16], seed=3))
    model = gd.compile(g)
    ref = gd.compile(gd.GAN(2, latent=4, generator_hidden=[16], discriminator_hidden=[16], seed=3, name="ring"))
    assert type(model) is type(ref) and "implicit" in model.capabilities
    a, b = model.state_dict(), ref.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(gd.sample(model, 5, seed=1), gd.sample(ref, 5, seed=1))
    gd.io.save_spec(g, tmp_path / "g.json")
    assert repr(gd.io.load_spec(tmp_path / "g.json")) == repr(g)
    bad = gd.Graph("bad")
    z = bad.block("z", 4, gd.Gaussian(1.0))  # observed, not an input
    x = bad.block("x", 2, gd.Gaussian(1.0))
    with pytest.raises(SpecError, match="role='input'"):
        bad.connect(z, x, gd.graph.NeuralMap())
    with pytest.raises(SpecError, match="unknown"):
        gd.graph.NeuralMap(hiden=[3])
