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
    with pytest.raises(SpecError, match="only|one block|whole model"):
        g.connect(x, x, gd.Dense())
    assert "x->x masked dense" in repr(g)
    del h


def test_an_autoregressive_edge_is_drawn_as_an_arrow() -> None:
    src = gd.draw(declared((4, 4), gd.graph.MaskedDense(hidden=[12]))).source
    assert "dir=forward" in src and "masked dense (hidden [12], masks 1, direct False), x_d | x_<d" in src
