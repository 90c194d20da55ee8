"""Draw any declaration as a ``graphviz`` graph (DOT), chosen by its blocks and edges.

A :class:`~graphdgm.Graph` (every family is one) is drawn by what its edges are: ``"graph"``, its
blocks as plates (size in the corner, observed / latent / input styled) and one edge per declared
edge, directed or undirected, labelled with its pattern, works for every graph; an autoregressive
edge also has ``"layers"``, ``"dag"`` and ``"masks"`` (see :mod:`graphdgm.viz.dag`), CPT edges
``"dag"``, a Transition edge ``"states"`` (the state diagram) and ``"trellis"`` (unrolled through
time), a NeuralMap edge ``"networks"`` (generator and discriminator), and dense edges between
layers ``"layers"``. ``"auto"`` is the family's own drawing for a graph its constructor built, the
``"graph"`` view for a declared graph with edges, else a Markov-network view.

Markov-network views (any table-based declaration):

``"variables"``: the Markov graph, one node per variable (2-D blocks pinned as grids, neato);
``"factors"``: the factor graph, variable circles joined to small black factor squares (neato);
``"blocks"``: one node per block (plate) and per factor group (dot). ``"auto"`` picks
``"variables"`` up to ``max_variables`` variables, else ``"blocks"``.
Save with ``gd.viz.save(g, "model.svg")``; ``g.render()`` works too when Graphviz's ``dot`` is installed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import graphviz

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.spec import Domain, MarkovNetwork
from graphdgm.spec.names import parse_name
from graphdgm.viz.labels import dot_text, html_text
from graphdgm.viz.styles import COLOURS, FONT, describe_domain
from graphdgm.viz.dag import draw_autoregressive, draw_bayesian_network
from graphdgm.viz.gan import draw_gan
from graphdgm.viz.graph_view import draw_graph
from graphdgm.viz.layers import draw_layers
from graphdgm.viz.state_diagram import draw_hmm, draw_markov_chain, draw_trellis

VIEWS = ("auto", "variables", "factors", "blocks")


def draw(spec: Any, view: str = "auto", *, max_variables: int = 400, threshold: float = 0.0,
         steps: int = 4) -> graphviz.Graph:
    """Draw ``spec`` (a graph, a family, a Markov network, or a compiled model: its declaration) in
    ``view`` (see the module docstring); ``threshold`` hides state-diagram arrows of smaller
    probability, ``steps`` is the length of a trellis.

    Per-variable views refuse networks of more than ``max_variables`` variables (a SpecError).

    >>> import graphdgm as gd
    >>> g = draw(gd.MarkovNetwork.ising_grid(3, 3))
    >>> g.name, g.source.count(" -- ")
    ('ising_3x3', 12)
    >>> "x: 3x3 spin" in draw(gd.MarkovNetwork.ising_grid(3, 3), "blocks").source
    True
    >>> "tied through time" in draw(gd.MarkovChain(2, [[0.9, 0.1], [0.5, 0.5]]), "graph").source
    True
    """
    if hasattr(spec, "spec") and not isinstance(spec, MarkovNetwork):  # a compiled model: draw its declaration
        return draw(spec.spec, view, max_variables=max_variables, threshold=threshold, steps=steps)
    if isinstance(spec, Graph):
        picture = _graph_drawing(spec, view, max_variables, threshold, steps)
        if picture is not None:
            return picture
        if view in ("auto", "family"):
            view = "auto"
    if not isinstance(spec, MarkovNetwork):
        raise SpecError(f"draw() takes a graph (gd.Graph or any family: RBM, DBN, BayesianNetwork, MADE, NADE, PixelCNN, "
                        f"PixelRNN, MarkovChain, HiddenMarkovModel, GAN), a MarkovNetwork or a compiled model, got "
                        f"{type(spec).__name__}")
    if view not in VIEWS:
        raise SpecError(f"unknown view {view!r}; use one of {', '.join(repr(v) for v in VIEWS)}")
    n = spec.num_variables
    if view == "auto":
        view = "variables" if n <= max_variables else "blocks"
    if view != "blocks" and n > max_variables:
        raise SpecError(
            f"network {spec.name!r} has {n} variables, more than max_variables={max_variables} for the "
            f"{view!r} view; use view='blocks', or pass max_variables={n} to draw every variable"
        )
    views: dict[str, Callable[[MarkovNetwork], graphviz.Graph]] = {
        "variables": _variables_view, "factors": _factors_view, "blocks": _blocks_view,
    }
    return views[view](spec)


def _graph_drawing(spec: Graph, view: str, max_variables: int, threshold: float, steps: int) -> graphviz.Graph | None:
    """The drawing of ``view`` chosen by the graph's edges; None for a Markov-network view."""
    if view == "auto":
        view = spec.default_view or ("graph" if spec.edges or len(set(spec.roles.values())) > 1 else "auto")
    if view == "graph":
        return draw_graph(spec)
    if spec.autoregressive_edge() is not None:  # conditionals within one block: layers, the DAG, masks
        return draw_autoregressive(spec.family_model(), "auto" if view == "family" else view)
    if spec.cpt_edges():  # directed tables: parent -> child
        return draw_bayesian_network(spec.family_model()) if view in ("family", "dag") else None
    if spec.transition_edge() is not None:  # tied through time
        family = spec.family_model()
        if view == "trellis":
            return draw_trellis(family, steps=steps)
        if view in ("family", "states"):
            if spec.emission_edge() is not None:
                return draw_hmm(family, threshold=threshold)
            return draw_markov_chain(family, threshold=threshold, max_states=max_variables)
        raise SpecError(f"{spec.name!r} is a chain through time: draw it with view='auto', 'states' (its state "
                        f"diagram), 'trellis' (unrolled over steps={steps}) or 'graph', not {view!r}")
    if spec.generator_edge() is not None:  # the generator and discriminator networks, meeting at x
        if view in ("family", "networks"):
            return draw_gan(spec.family_model())
        raise SpecError(f"{spec.name!r} is a generator: draw it with view='auto', 'networks' or 'graph', not {view!r}")
    if view in ("family", "layers") and spec.edges and all(
            isinstance(e.pattern, Dense) and not e.lateral for e in spec.edges.values()):
        return draw_layers(spec)  # layers as plates with their sizes, one edge per weight matrix
    return None


# ---------------------------------------------------------------- helpers
def _new_graph(spec: MarkovNetwork, engine: str, title: str) -> graphviz.Graph:
    kinds = dict.fromkeys(b.domain.describe() for b in spec.blocks.values())
    swatches = "".join(
        f'<td bgcolor="{COLOURS.get(k.split("(")[0], "#dddddd")}" border="1">{html_text(k)}</td>' for k in kinds
    )
    span = f'colspan="{max(len(kinds), 1)}"'
    label = (
        f'<<table border="0" cellspacing="2" cellpadding="4"><tr><td {span}><b>{html_text(spec.name)}</b></td></tr>'
        f"<tr><td {span}>{html_text(title)}</td></tr><tr>{swatches}</tr></table>>"
    )
    return graphviz.Graph(
        dot_text(spec.name), engine=engine,
        graph_attr=dict(layout=engine, label=label, labelloc="b", fontname=FONT, fontsize="12", outputorder="edgesfirst"),
        node_attr=dict(fontname=FONT, fontsize="10", style="filled"),
        edge_attr=dict(color="#555555"),
    )


def _grid_cells(spec: MarkovNetwork) -> dict[int, tuple[str, int, int, int]]:
    """Packed index -> (block, row, col, column offset) for the variables of 2-D blocks."""
    cells, i, xoff = {}, 0, 0
    for b in spec.blocks.values():
        if len(b.shape) == 2:
            for r in range(b.shape[0]):
                for c in range(b.shape[1]):
                    cells[i + r * b.shape[1] + c] = (b.name, r, c, xoff)
            xoff += b.shape[1] + 1
        i += b.size
    return cells


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _pin(x: float, y: float, fixed: bool = True) -> str:
    return f"{x:.2f},{y:.2f}" + ("!" if fixed else "")


def _variable_nodes(g: graphviz.Graph, spec: MarkovNetwork, spacing: float) -> dict[int, tuple[float, float]]:
    """Add the variable nodes; returns the pinned grid positions (empty unless every block is 2-D).

    A pure grid model is pinned as grids; otherwise grid positions are only neato's starting point.
    """
    cells, pos = _grid_cells(spec), {}
    pinned = len(cells) == spec.num_variables
    if not pinned:
        g.attr(overlap="false")
    for i, (name, d) in enumerate(zip(spec.variables, spec.domains())):
        attrs = dict(label=dot_text(name), tooltip=dot_text(f"{name}: {describe_domain(d)}"), fillcolor=COLOURS.get(d.kind, "#dddddd"))
        if i in cells:
            _, r, c, xoff = cells[i]
            xy = ((xoff + c) * spacing, -r * spacing)
            attrs["pos"] = _pin(*xy, pinned)
            if pinned:
                pos[i] = xy
        g.node(f"v{i}", shape="circle", **attrs)
    return pos


def _neighbours(cells: dict[int, tuple[str, int, int, int]], a: int, b: int) -> bool:
    (ba, ra, ca, _), (bb, rb, cb, _) = cells[a], cells[b]
    return ba == bb and abs(ra - rb) + abs(ca - cb) == 1


def _pair_spot(spec: MarkovNetwork, cells: dict, pos: dict, s: float, a: int, b: int) -> tuple[float, float] | None:
    """Where a pairwise factor goes on a pinned grid: mid-edge for neighbours, outside the grid for a
    wrap-around pair (right of its row, below its column), None (let neato place it) otherwise."""
    (ba, ra, ca, xoff), (bb, rb, cb, _) = cells[a], cells[b]
    if ba == bb and abs(ra - rb) + abs(ca - cb) == 1:
        return ((pos[a][0] + pos[b][0]) / 2, (pos[a][1] + pos[b][1]) / 2)
    rows, cols = spec.blocks[ba].shape
    if ba == bb and ra == rb:
        return ((xoff + cols - 0.4) * s, pos[a][1])
    if ba == bb and ca == cb:
        return (pos[a][0], -(rows - 0.4) * s)
    return None


# ------------------------------------------------------------------ views
def _variables_view(spec: MarkovNetwork) -> graphviz.Graph:
    mg = spec.variable_graph()
    g = _new_graph(spec, "neato", f"{spec.num_variables} variables, {mg.number_of_edges()} edges (Markov graph)")
    pos, cells = _variable_nodes(g, spec, 1.3), _grid_cells(spec)
    index = {n: i for i, n in enumerate(spec.variables)}
    for a, b in mg.edges():
        ia, ib = index[a], index[b]
        if pos and not _neighbours(cells, ia, ib):  # a long edge across a pinned grid: curve it
            g.attr(splines="curved")
        g.edge(f"v{ia}", f"v{ib}")
    return g


def _factors_view(spec: MarkovNetwork) -> graphviz.Graph:
    factors = spec.table_factors()
    g = _new_graph(spec, "neato", f"{spec.num_variables} variables, {len(factors)} factors (factor graph)")
    s = 1.6
    pos, cells = _variable_nodes(g, spec, s), _grid_cells(spec)
    index = {n: i for i, n in enumerate(spec.variables)}
    used: set[str] = set()
    for j, f in enumerate(factors):
        ids = [index[v] for v in f.scope]
        attrs = dict(shape="square", label="", width="0.16", height="0.16", fixedsize="true",
                     fillcolor="#222222", color="#222222", tooltip=dot_text(f"{f.name}({', '.join(f.scope)})"))
        xy = None
        if pos and len(ids) == 1:  # unary factor: up and right of its variable
            xy = (pos[ids[0]][0] + 0.3 * s, pos[ids[0]][1] + 0.3 * s)
        elif pos and len(ids) == 2:
            xy = _pair_spot(spec, cells, pos, s, *ids)
            if xy is None or not _neighbours(cells, *ids):
                g.attr(splines="curved")
        while xy is not None and _pin(*xy) in used:  # a second factor on the same spot: nudge it
            xy = (xy[0] + 0.12 * s, xy[1] - 0.12 * s)
        if xy is not None:
            used.add(_pin(*xy))
            attrs["pos"] = _pin(*xy)
        g.node(f"f{j}", **attrs)
        for i in ids:
            g.edge(f"v{i}", f"f{j}")
    return g


def _blocks_view(spec: MarkovNetwork) -> graphviz.Graph:
    bid = {name: f"b{k}" for k, name in enumerate(spec.blocks)}
    groups: list[tuple[str, list[str]]] = []  # (label, blocks touched)
    for c in spec.couplings:
        groups.append((f"{c.name}: {c.kind} {c.pattern} ({len(c.pairs)})", list(c.blocks)))
    for fg in spec.fields:
        touched = list(spec.blocks_of(fg.variables))
        groups.append((f"{fg.name}: {fg.kind} field ({len(fg.variables)})", touched))
    tables: dict[tuple, list[str]] = {}  # table factors grouped by arity and blocks touched
    for f in spec.factors:
        touched = tuple(dict.fromkeys(parse_name(v)[0] for v in f.scope))
        tables.setdefault((len(f.scope), touched), []).append(f.name)
    for (arity, touched), names in tables.items():
        head = names[0] if len(names) == 1 else f"{names[0]}, ..."
        groups.append((f"{head}: {arity}-ary table ({len(names)})", list(touched)))
    n_factors = len(spec.factors) + sum(len(c.pairs) for c in spec.couplings) + sum(len(f.variables) for f in spec.fields)
    g = _new_graph(spec, "dot", f"{_plural(spec.num_variables, 'variable')} in {_plural(len(spec.blocks), 'block')}, {_plural(n_factors, 'factor')}")
    g.attr(rankdir="LR", nodesep="0.3", ranksep="0.6")
    for name, b in spec.blocks.items():
        shape = "x".join(str(s) for s in b.shape)
        g.node(bid[name], label=dot_text(f"{name}: {shape + ' ' if shape else ''}{b.domain.describe()}"), shape="box",
               style="filled,rounded", peripheries="2" if b.shape else "1",
               fillcolor=COLOURS.get(b.domain.kind, "#dddddd"), tooltip=dot_text(f"{name}: {b.size} x {describe_domain(b.domain)}"))
    for k, (label, touched) in enumerate(groups):
        g.node(f"g{k}", label=dot_text(label), shape="box", fillcolor="#333333", fontcolor="white", fontsize="9")
        for b in touched:
            g.edge(f"g{k}", bid[b])
    return g
