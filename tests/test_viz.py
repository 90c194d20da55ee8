"""Drawings of specs (graphdgm.viz): DOT structure of each view, rendering, and the error paths."""
from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

import graphdgm as gd
from graphdgm import viz
from graphdgm.errors import GraphdgmError, SpecError


def _nodes(src: str, prefix: str) -> list[str]:
    return re.findall(rf"^\s*({prefix}\d+) \[", src, re.M)


def _edges(src: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -- (\w+)", src, re.M)


def _labels(src: str) -> list[str]:
    return re.findall(r'label="([^"]*)"', src)


@pytest.fixture
def ising3() -> gd.MarkovNetwork:
    return gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1)


@pytest.fixture
def mixed() -> gd.MarkovNetwork:
    mn = gd.MarkovNetwork("mixed")
    mn.add_variable("a", gd.Categorical(3, labels=("r", "g", "b")))
    mn.add_block("x", (2, 3), gd.Binary())
    mn.add_block("s", (3,), gd.Spin())
    mn.add_variable("y", gd.Real())
    mn.add_factor(["a", "x[0,0]", "s[1]"], np.ones((3, 2, 2)))
    mn.add_coupling([("s[0]", "s[1]"), ("s[1]", "s[2]")], 0.5, pattern="chain")
    mn.add_field("s", 0.1)
    return mn


def test_ising_variables_view(ising3: gd.MarkovNetwork) -> None:
    g = viz.draw(ising3, "variables")
    src = g.source
    assert g.name == "ising_3x3" and "layout=neato" in src
    assert len(_nodes(src, "v")) == 9 and len(_edges(src)) == 12
    assert {"x[0,0]", "x[2,2]"} <= set(_labels(src))
    assert src.count("!\"") == 9  # a pure grid model is pinned as a grid
    assert 'tooltip="x[1,1]: spin {-1, 1}"' in src and ">spin<" in src  # domain in tooltip and legend


def test_ising_factors_view(ising3: gd.MarkovNetwork) -> None:
    src = viz.draw(ising3, "factors").source
    assert len(_nodes(src, "v")) == 9
    assert len(_nodes(src, "f")) == 12 + 9  # one per table factor: couplings and unary fields
    assert len(_edges(src)) == 2 * 12 + 9
    assert src.count("shape=square") == 21


def test_ising_blocks_view(ising3: gd.MarkovNetwork) -> None:
    src = viz.draw(ising3, "blocks").source
    assert len(_nodes(src, "b")) == 1 and len(_nodes(src, "g")) == 2
    labels = _labels(src)
    assert "x: 3x3 spin" in labels
    assert "J: ising grid (12)" in labels and "h: ising field (9)" in labels


def test_mixed_network_views(mixed: gd.MarkovNetwork) -> None:
    src = viz.draw(mixed).source  # auto: 11 variables -> per-variable view
    assert len(_nodes(src, "v")) == 11
    assert len(_edges(src)) == len(mixed.variable_graph().edges) == 5  # triangle a-x[0,0]-s[1], chain s[0]-s[1]-s[2]
    assert "overlap=false" in src and "!\"" not in src  # not a pure grid: neato lays it out freely
    assert all(k in src for k in ("categorical(3)", "binary", "spin", "real"))
    fsrc = viz.draw(mixed, "factors").source
    assert len(_nodes(fsrc, "f")) == len(mixed.table_factors()) == 1 + 2 + 3
    assert len(_edges(fsrc)) == 3 + 2 * 2 + 3  # the 3-ary factor has three edges
    blabels = _labels(viz.draw(mixed, "blocks").source)
    assert {"a: categorical(3)", "x: 2x3 binary", "s: 3 spin", "y: real"} <= set(blabels)
    assert "f0: 3-ary table (1)" in blabels and "J0: ising chain (2)" in blabels


def test_auto_picks_blocks_for_large_grid() -> None:
    big = gd.MarkovNetwork.ising_grid(30, 30)
    src = viz.draw(big).source
    assert len(_nodes(src, "b")) == 1 and not _nodes(src, "v")
    assert "x: 30x30 spin" in _labels(src) and "J: ising grid (1740)" in _labels(src)
    assert "900 variables in 1 block, 1740 factors" in src
    assert _nodes(viz.draw(big, max_variables=900).source, "v")  # raising the limit draws every variable


def test_unknown_view(ising3: gd.MarkovNetwork) -> None:
    with pytest.raises(SpecError, match="unknown view 'plate'.*'variables', 'factors', 'blocks'"):
        viz.draw(ising3, "plate")


def test_too_many_variables() -> None:
    big = gd.MarkovNetwork.ising_grid(30, 30)
    with pytest.raises(SpecError, match=r"900 variables.*max_variables=400.*view='blocks'"):
        viz.draw(big, "factors")


def test_render_svg(ising3: gd.MarkovNetwork, tmp_path) -> None:
    if viz.find_renderer() is None:
        pytest.skip("no renderer: neither Graphviz's `dot` nor `graphviz-pure` is installed")
    for view in ("variables", "factors", "blocks"):
        out = viz.save(viz.draw(ising3, view), tmp_path / f"{view}.svg")
        head = out.read_text()[:100].lstrip()
        assert head.startswith(("<?xml", "<svg")), head
        assert "x[1,1]" in out.read_text() or view == "blocks"


def test_render_png_from_dot_text(tmp_path) -> None:
    if viz.find_renderer() is None:
        pytest.skip("no renderer: neither Graphviz's `dot` nor `graphviz-pure` is installed")
    out = viz.render("graph { a -- b }", tmp_path / "ab.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_missing_renderer(ising3: gd.MarkovNetwork, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the module, not the function `graphdgm.viz.render` that shadows it as a package attribute
    monkeypatch.setattr(importlib.import_module("graphdgm.viz.render"), "find_renderer", lambda: None)
    with pytest.raises(GraphdgmError, match=r"dot.*pip install graphviz-pure"):
        viz.save(viz.draw(ising3), tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


def test_renderer_failure_includes_stderr(tmp_path) -> None:
    if viz.find_renderer() is None:
        pytest.skip("no renderer: neither Graphviz's `dot` nor `graphviz-pure` is installed")
    with pytest.raises(GraphdgmError, match="could not render"):
        viz.render("graph { a -- ", tmp_path / "bad.svg")


# ------------------------------------------------------------- issue 14: hostile names are drawn literally
HOSTILE = ["<b>x</b>", 'a"b', "a\\b", "end\\", "{}", "ü∑", "a:b", "&amp;"]


def _hostile_specs() -> list:
    mn = gd.MarkovNetwork("<i>net</i>")
    for n in HOSTILE:
        mn.add_variable(n, gd.Spin())
    mn.add_coupling(list(zip(HOSTILE, HOSTILE[1:])), 0.3)
    mn.add_factor([HOSTILE[0]], [1.0, 2.0], name='f"<b>')
    bn = gd.BayesianNetwork('"bn"')
    for n in HOSTILE[:3]:
        bn.add_variable(n, gd.Binary())
    bn.add_cpd(HOSTILE[0], [], [0.5, 0.5])
    bn.add_cpd(HOSTILE[1], [HOSTILE[0]], [[0.9, 0.1], [0.2, 0.8]])
    bn.add_cpd(HOSTILE[2], [HOSTILE[1]], [[0.9, 0.1], [0.2, 0.8]])
    rbm = gd.RBM(3, 2, visible_name="<b>v</b>", hidden_name='h"\\', name="<rbm>")
    chain = gd.MarkovChain(["<b>a</b>", 'b"\\'], [[0.9, 0.1], [0.5, 0.5]])
    hmm = gd.HiddenMarkovModel(["<s>", "t\\"], [[0.9, 0.1], [0.2, 0.8]],
                               gd.CategoricalEmission([[0.7, 0.3], [0.5, 0.5]], ["<y>", 'z"']))
    return [(mn, "variables"), (mn, "factors"), (mn, "blocks"), (bn, "auto"), (rbm, "auto"), (chain, "auto"), (hmm, "auto")]


def test_hostile_names_never_become_markup_or_ports() -> None:
    for spec, view in _hostile_specs():
        src = viz.draw(spec, view).source
        assert not re.search(r"=<(?!<)", src), (view, src)  # no name became an HTML label (label=<b>x</b>)
        html_labels = re.findall(r"=<<.*?>>(?=[ \]\n])", src)
        assert not [h for h in html_labels if re.search(r"<(i|rbm|s|y)>|<b>(x|v|a)<", h)], html_labels  # escaped inside
        assert not re.search(r"\ba:b\s*(--|->)", src)  # a name is a label, never an edge end (':' is a port)


def test_hostile_names_render_and_show_literally(tmp_path) -> None:
    if viz.find_renderer() is None:
        pytest.skip("no renderer: neither Graphviz's `dot` nor `graphviz-pure` is installed")
    for k, (spec, view) in enumerate(_hostile_specs()):
        out = viz.save(viz.draw(spec, view), tmp_path / f"{k}.svg")
        svg = out.read_text()
        assert svg.lstrip().startswith(("<?xml", "<svg")), svg[:80]
        if spec is not None and view in ("variables", "factors"):
            assert "&lt;b&gt;x&lt;/b&gt;" in svg  # shown as text, not bold


def test_save_replaces_the_file_atomically(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    if viz.find_renderer() is None:
        pytest.skip("no renderer: neither Graphviz's `dot` nor `graphviz-pure` is installed")
    render_mod = importlib.import_module("graphdgm.viz.render")
    calls = []
    real = render_mod.atomic_write_bytes
    monkeypatch.setattr(render_mod, "atomic_write_bytes", lambda p, data: calls.append(p) or real(p, data))
    out = tmp_path / "g.svg"
    out.write_text("old drawing")
    with pytest.raises(GraphdgmError, match="could not render"):
        viz.save("graph { a -- ", out)
    assert out.read_text() == "old drawing" and calls == []  # a failed render leaves the old file
    viz.save("graph { a -- b }", out)
    assert calls == [out] and out.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]  # no temporary file left behind
