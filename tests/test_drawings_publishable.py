"""Every kind of drawing, rendered by every available renderer, is publishable: no text outside the
picture or outside its node's shape (text measured at 0.6 em a character, wider than the font
the drawings ask for), one font family, plate notation with observed blocks shaded, evidence
shaded, a compact small factor graph, and drawings that show themselves in a notebook."""
from __future__ import annotations

import importlib
import math
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphdgm as gd
from graphdgm import viz
from graphdgm.viz.dag import AR_VIEWS
from graphdgm.viz.draw import VIEWS
from graphdgm.viz.styles import OBSERVED

SVG = "{http://www.w3.org/2000/svg}"
EM = 0.6  # the average glyph width assumed, in em: wider than DejaVu Sans, Verdana, Helvetica or Arial text
RENDER = importlib.import_module("graphdgm.viz.render")


def _pure() -> str | None:
    found = shutil.which("graphviz-pure")
    if found:
        return found
    cand = Path(sys.executable).parent / "graphviz-pure"
    return str(cand) if cand.is_file() else None


RENDERERS = {"graphviz-pure": _pure, "dot": lambda: shutil.which("dot")}


@pytest.fixture(params=sorted(RENDERERS))
def renderer(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Force one renderer for the test (render picks system dot first when both exist)."""
    cmd = RENDERERS[request.param]()
    if cmd is None:
        why = ("Graphviz's `dot` is not installed (shutil.which('dot') is None)" if request.param == "dot"
               else "graphviz-pure is not installed (pip install graphviz-pure)")
        pytest.skip(why)
    monkeypatch.setattr(RENDER, "find_renderer", lambda: [cmd])
    return request.param


# ------------------------------------------------------------------------ the specs drawn
def _doctor() -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork("doctor")
    for v in ("flu", "fever", "cough"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("flu", [], [0.9, 0.1])
    bn.add_cpd("fever", ["flu"], [[0.9, 0.1], [0.2, 0.8]])
    bn.add_cpd("cough", ["flu"], [[0.8, 0.2], [0.3, 0.7]])
    return bn


def _four() -> gd.MarkovNetwork:
    """A 4-variable loop that is not a grid: neato lays it out freely."""
    mn = gd.MarkovNetwork("four")
    for v in "abcd":
        mn.add_variable(v, gd.Binary())
    for pair in ("ab", "bc", "cd", "da"):
        mn.add_factor(list(pair), np.ones((2, 2)))
    return mn


def _mixed() -> gd.MarkovNetwork:
    mn = gd.MarkovNetwork("mixed")
    mn.add_variable("a", gd.Categorical(3, labels=("r", "g", "b")))
    mn.add_block("x", (2, 3), gd.Binary())
    mn.add_block("s", (3,), gd.Spin())
    mn.add_factor(["a", "x[0,0]", "s[1]"], np.ones((3, 2, 2)))
    mn.add_coupling([("s[0]", "s[1]"), ("s[1]", "s[2]")], 0.5, pattern="chain")
    mn.add_field("s", 0.1)
    return mn


def _chain() -> gd.MarkovChain:
    return gd.MarkovChain(["sun", "rain", "snow"], [[0.8, 0.15, 0.05], [0.3, 0.6, 0.1], [0.2, 0.3, 0.5]])


# (id, spec factory, view): every kind of drawing that gd.draw / graphdgm.viz produces
KINDS = [
    ("markov-variables-grid", lambda: gd.MarkovNetwork.ising_grid(3, 3), "variables"),
    ("markov-variables-free", _four, "variables"),
    ("markov-variables-evidence", _mixed, "variables"),
    ("factor-graph-grid", lambda: gd.MarkovNetwork.ising_grid(3, 3), "factors"),
    ("factor-graph-free", _four, "factors"),
    ("markov-blocks", _mixed, "blocks"),
    ("markov-blocks-large", lambda: gd.MarkovNetwork.ising_grid(30, 30), "auto"),
    ("graph-rbm", lambda: gd.RBM((28, 28), 500), "graph"),
    ("graph-srbm-lateral", lambda: gd.SRBM(5, 3), "graph"),
    ("graph-bayesian-network", _doctor, "graph"),
    ("graph-plate-bayesian-network", lambda: gd.HiddenMarkovModel.random(2, symbols=3, seed=0).unroll(4), "graph"),
    ("graph-made", lambda: gd.MADE(4, hidden=[6]), "graph"),
    ("graph-pixelcnn", lambda: gd.PixelCNN((28, 28)), "graph"),
    ("graph-markov-chain", _chain, "graph"),
    ("graph-hmm", lambda: gd.HiddenMarkovModel.random(2, symbols=3, seed=0), "graph"),
    ("graph-gan", lambda: gd.GAN(2, latent=8), "graph"),
    ("layers-rbm", lambda: gd.RBM((28, 28), 500), "auto"),
    ("layers-dbn", lambda: gd.DBN([784, 500, 2000]), "auto"),
    ("bayesian-network-dag", _doctor, "auto"),
    ("autoregressive-masks", lambda: gd.MADE(3, hidden=[4]), "masks"),
    ("autoregressive-layers-made", lambda: gd.MADE(784, hidden=[500]), "layers"),
    ("autoregressive-dag-nade", lambda: gd.NADE(3), "dag"),
    ("autoregressive-layers-pixelcnn", lambda: gd.PixelCNN((28, 28)), "auto"),
    ("autoregressive-layers-pixelrnn", lambda: gd.PixelRNN((28, 28)), "auto"),
    ("markov-chain-states", _chain, "auto"),
    ("markov-chain-states-order-2", lambda: gd.MarkovChain(2, np.full((2, 2, 2), 0.5), order=2), "states"),
    ("markov-chain-trellis", _chain, "trellis"),
    ("hmm-states-categorical", lambda: gd.HiddenMarkovModel.random(2, symbols=3, seed=0), "auto"),
    ("hmm-states-gaussian", lambda: gd.HiddenMarkovModel.random(2, dim=2, seed=0), "auto"),
    ("hmm-trellis", lambda: gd.HiddenMarkovModel.random(2, symbols=3, seed=0), "trellis"),
    ("gan-networks", lambda: gd.GAN(2, latent=8), "auto"),
]
EVIDENCE = {"markov-variables-evidence": {"a": "g", "s[1]": 1}}


# ------------------------------------------------------------------------ the SVG checks
def _transform(root: ET.Element) -> tuple[float, float, float]:
    """The top group's scale and translation: text coordinates -> viewBox coordinates."""
    tr = root.find(f"{SVG}g").get("transform", "")
    s = re.search(r"scale\(([-\d.]+)", tr)
    t = re.search(r"translate\(([-\d.]+)[ ,]+([-\d.]+)\)", tr)
    return (float(s.group(1)) if s else 1.0, float(t.group(1)) if t else 0.0, float(t.group(2)) if t else 0.0)


def _extent(t: ET.Element) -> tuple[float, float, float, float]:
    """(x0, x1, top, bottom) of a <text>, its width estimated at EM per character."""
    text = "".join(t.itertext())
    fs = float(t.get("font-size", "14"))
    w = EM * fs * len(text)
    x, y = float(t.get("x", "0")), float(t.get("y", "0"))
    anchor = t.get("text-anchor", "start")
    x0 = x - (w / 2 if anchor == "middle" else w if anchor == "end" else 0.0)
    return x0, x0 + w, y - 0.8 * fs, y + 0.2 * fs


def _numbers(s: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", s)]


def _shape_box(g: ET.Element) -> tuple[float, float, float, float] | None:
    """The bounding box (x0, x1, y0, y1) of a node's drawn shapes (polygons, paths, ellipses)."""
    xs, ys = [], []
    for el in g.iter():
        tag = el.tag.replace(SVG, "")
        if tag in ("polygon", "polyline"):
            v = _numbers(el.get("points", ""))
            xs += v[0::2]
            ys += v[1::2]
        elif tag == "path":
            v = _numbers(el.get("d", ""))
            xs += v[0::2]
            ys += v[1::2]
        elif tag == "ellipse":
            cx, cy, rx, ry = (float(el.get(k)) for k in ("cx", "cy", "rx", "ry"))
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
    return (min(xs), max(xs), min(ys), max(ys)) if xs else None


def _ellipse(g: ET.Element) -> tuple[float, float, float, float] | None:
    el = g.find(f".//{SVG}ellipse")
    return None if el is None else tuple(float(el.get(k)) for k in ("cx", "cy", "rx", "ry"))


def check_publishable(svg: str, what: str) -> set[str]:
    """Assert every text lies inside the picture and inside its node's shape; returns the fonts."""
    root = ET.fromstring(svg)
    vb = _numbers(root.get("viewBox", ""))
    assert len(vb) == 4, (what, root.get("viewBox"))
    scale, tx, ty = _transform(root)
    fonts: set[str] = set()
    texts = list(root.iter(f"{SVG}text"))
    assert texts, what
    for t in texts:
        fonts.add(t.get("font-family", ""))
        x0, x1, top, bottom = _extent(t)
        X0, X1 = (x0 + tx) * scale, (x1 + tx) * scale
        Y0, Y1 = (top + ty) * scale, (bottom + ty) * scale
        text = "".join(t.itertext())
        assert vb[0] - 0.5 <= X0 and X1 <= vb[0] + vb[2] + 0.5, f"{what}: {text!r} spans x {X0:.1f}..{X1:.1f}, viewBox {vb}"
        assert vb[1] - 0.5 <= Y0 and Y1 <= vb[1] + vb[3] + 0.5, f"{what}: {text!r} spans y {Y0:.1f}..{Y1:.1f}, viewBox {vb}"
    for node in root.iter(f"{SVG}g"):
        if node.get("class") != "node":
            continue
        box, ell = _shape_box(node), _ellipse(node)
        if box is None:
            continue
        for t in node.iter(f"{SVG}text"):
            text = "".join(t.itertext())
            x0, x1, top, bottom = _extent(t)
            assert box[0] - 1 <= x0 and x1 <= box[1] + 1, f"{what}: {text!r} ({x0:.1f}..{x1:.1f}) overflows its node ({box[0]:.1f}..{box[1]:.1f})"
            if ell is not None and node.find(f".//{SVG}polygon") is None:  # inside the ellipse at the text's height
                cx, cy, rx, ry = ell
                dy = min(abs((top + bottom) / 2 - cy) / ry, 1.0)
                half = rx * math.sqrt(1 - dy * dy)
                assert x0 >= cx - half - 1 and x1 <= cx + half + 1, f"{what}: {text!r} leaves its ellipse"
    return fonts


@pytest.mark.parametrize("kind, make, view", KINDS, ids=[k for k, _, _ in KINDS])
def test_every_drawing_kind_fits_its_picture_in_one_font(kind: str, make, view: str, renderer: str) -> None:
    g = viz.draw(make(), view, evidence=EVIDENCE.get(kind))
    fonts = check_publishable(RENDER.svg(g), f"{kind} ({renderer})")
    assert len(fonts) == 1, (kind, fonts)
    assert "DejaVu Sans" in fonts.pop()


def test_the_kinds_cover_every_view_draw_accepts() -> None:
    views = {v for _, _, v in KINDS}
    assert set(VIEWS) <= views | {"auto"} and set(AR_VIEWS) <= views | {"auto"}
    assert {"graph", "states", "trellis", "dag", "layers", "masks"} <= views


def test_every_edge_label_and_node_names_the_font() -> None:
    src = viz.draw(gd.RBM((28, 28), 500)).source
    for kind in ("graph", "node", "edge"):
        assert re.search(rf"\b{kind} \[[^\]]*fontname=\"DejaVu Sans\"", src), kind
    assert "pad=" in src


# ------------------------------------------------------------------------ plate notation and shading
def _node_fills(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    fills = {}
    for node in root.iter(f"{SVG}g"):
        if node.get("class") == "node":
            shape = node.find(f".//{SVG}ellipse")
            if shape is not None:
                fills[node.find(f"{SVG}title").text] = shape.get("fill")
    return fills


def test_blocks_are_plates_with_their_size_in_the_corner_and_observed_blocks_shaded(renderer: str) -> None:
    svg = RENDER.svg(viz.draw(gd.RBM((28, 28), 500), "graph"))
    root = ET.fromstring(svg)
    clusters = [g for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"]
    assert len(clusters) == 2  # one plate per block
    sizes = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {"28 x 28 = 784", "500"} <= sizes
    fills = _node_fills(svg)
    assert fills["b0"].lower() == OBSERVED and fills["b1"].lower() == "white"  # v observed, h latent
    src = viz.draw(gd.RBM((28, 28), 500), "graph").source
    assert 'style="filled,dashed"' in src  # latent: dashed outline
    # the size sits in the plate's lower right corner: right of the node, level with its bottom
    size_node = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node" and g.find(f"{SVG}title").text == "b0_size")
    t = size_node.find(f".//{SVG}text")
    ell = _ellipse(next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node" and g.find(f"{SVG}title").text == "b0"))
    assert float(t.get("x")) > ell[0] + ell[2] and float(t.get("y")) > ell[1]


def test_edges_are_directed_or_undirected_and_labelled_with_their_pattern() -> None:
    assert "W: dense 784 x 500" in viz.draw(gd.RBM(784, 500), "graph").source.replace("\\n", " ")
    made = viz.draw(gd.MADE(4, hidden=[6]), "graph").source
    assert "dir=forward" in made and "masked dense" in made
    chain = viz.draw(_chain(), "graph").source
    assert "tied through time" in chain and "dir=forward" in chain
    rbm = viz.draw(gd.RBM(4, 3), "graph").source
    assert "dir=forward" not in rbm and " -- " in rbm  # undirected
    assert "masked conv" in viz.draw(gd.PixelCNN((8, 8)), "graph").source


def test_evidence_is_shaded(renderer: str) -> None:
    g = viz.draw(_doctor(), evidence={"fever": 1})
    assert "fever = 1" in g.source
    fills = _node_fills(RENDER.svg(g))
    assert fills["fever"].lower() == OBSERVED and fills["flu"].lower() != OBSERVED
    assert OBSERVED in viz.draw(_four(), "factors", evidence=["a"]).source
    with pytest.raises(gd.SpecError, match="evidence"):
        viz.draw(_doctor(), evidence=3)


def test_a_four_variable_factor_graph_is_compact(renderer: str) -> None:
    root = ET.fromstring(RENDER.svg(viz.draw(_four(), "factors")))
    w, h = _numbers(root.get("width"))[0], _numbers(root.get("height"))[0]
    assert w <= 400 and h <= 400, (w, h)  # points: a few hundred pixels, not 964 x 1524


# ------------------------------------------------------------------------ notebooks
def test_specs_families_models_and_drawings_show_themselves_in_a_notebook(renderer: str) -> None:
    rbm = gd.RBM(4, 3)
    for obj in (gd.MarkovNetwork.ising_grid(2, 2), rbm, gd.compile(rbm), viz.draw(rbm)):
        svg = obj._repr_svg_()
        assert svg is not None and "<svg" in svg, type(obj).__name__
        check_publishable(svg, type(obj).__name__)
    assert viz.draw(rbm)._repr_mimebundle_()["image/svg+xml"].lstrip().startswith(("<?xml", "<svg"))


def test_without_a_renderer_a_notebook_falls_back_to_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RENDER, "find_renderer", lambda: None)
    rbm = gd.RBM(4, 3)
    assert rbm._repr_svg_() is None and gd.compile(rbm)._repr_svg_() is None
    bundle = viz.draw(rbm)._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "graph" in bundle["text/plain"]
