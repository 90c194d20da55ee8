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

from collections.abc import Callable, Mapping
from typing import Any

import graphviz

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.spec import Domain, MarkovNetwork
from graphdgm.spec.names import parse_name
from graphdgm.viz.canvas import house_graph
from graphdgm.viz.labels import dot_text
from graphdgm.viz.styles import COLOURS, EDGE_SIZE, OBSERVED, describe_domain, node_size
from graphdgm.viz.dag import draw_autoregressive, draw_bayesian_network
from graphdgm.viz.gan import draw_gan
from graphdgm.viz.graph_view import draw_graph, plate
from graphdgm.viz.layers import draw_layers
from graphdgm.viz.state_diagram import draw_hmm, draw_markov_chain, draw_trellis

VIEWS = ("auto", "variables", "factors", "blocks")


def draw(spec: Any, view: str = "auto", *, max_variables: int = 400, threshold: float = 0.0,
         steps: int = 4, evidence: Any = None) -> graphviz.Graph:
    """Draw ``spec`` (a graph, a family, a Markov network, or a compiled model: its declaration) in
    ``view`` (see the module docstring); ``threshold`` hides state-diagram arrows of smaller
    probability, ``steps`` is the length of a trellis, ``evidence`` (variable names, or a name ->
    value mapping) shades those variables grey in the DAG, variables and factors views.

    Per-variable views refuse networks of more than ``max_variables`` variables (a SpecError).

    >>> import graphdgm as gd
    >>> g = draw(gd.MarkovNetwork.ising_grid(3, 3))
    >>> g.name, g.source.count(" -- ")
    ('ising_3x3', 12)
    >>> "x: 3x3 spin" in draw(gd.MarkovNetwork.ising_grid(3, 3), "blocks").source
    True
    >>> "tied through time" in draw(gd.MarkovChain(2, [[0.9, 0.1], [0.5, 0.5]]), "graph").source
    True
    >>> 'rain = 1' in draw(gd.MarkovNetwork.ising_grid(1, 2), evidence={"x[0,1]": 1}).source.replace("x[0,1]", "rain")
    True
    """
    if hasattr(spec, "spec") and not isinstance(spec, MarkovNetwork):  # a compiled model: draw its declaration
        return draw(spec.spec, view, max_variables=max_variables, threshold=threshold, steps=steps, evidence=evidence)
    if evidence is not None and not isinstance(evidence, (Mapping, set, frozenset, list, tuple)):
        raise SpecError(f"evidence must be variable names or a mapping name -> value, got {type(evidence).__name__}")
    if isinstance(spec, Graph):
        picture = _graph_drawing(spec, view, max_variables, threshold, steps, evidence)
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
    views: dict[str, Callable[[MarkovNetwork, Any], graphviz.Graph]] = {"variables": _variables_view, "factors": _factors_view}
    if view == "blocks":
        return _blocks_view(spec)
    return views[view](spec, evidence)


def _graph_drawing(spec: Graph, view: str, max_variables: int, threshold: float, steps: int,
                   evidence: Any = None) -> graphviz.Graph | None:
    """The drawing of ``view`` chosen by the graph's edges; None for a Markov-network view."""
    if view == "auto":
        view = spec.default_view or ("graph" if spec.edges or len(set(spec.roles.values())) > 1 else "auto")
    if view == "graph":
        return draw_graph(spec)
    if spec.autoregressive_edge() is not None:  # conditionals within one block: layers, the DAG, masks
        return draw_autoregressive(spec.family_model(), "auto" if view == "family" else view)
    if spec.cpt_edges():  # directed tables: parent -> child
        return draw_bayesian_network(spec.family_model(), evidence=evidence) if view in ("family", "dag") else None
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
    swatches = {k: COLOURS.get(k.split("(")[0], "#dddddd") for k in kinds}  # the legend: domain -> colour
    g = house_graph(spec.name, (spec.name, [title]), directed=False, engine=engine, swatches=swatches)
    g.attr("node", style="filled")
    return g


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


def _variable_nodes(g: graphviz.Graph, spec: MarkovNetwork, spacing: float,
                    evidence: Any = None) -> dict[int, tuple[float, float]]:
    """Add the variable nodes (``evidence`` shaded); returns the pinned grid positions (empty
    unless every block is 2-D).

    A pure grid model is pinned as grids; otherwise grid positions are only neato's starting point.
    """
    cells, pos = _grid_cells(spec), {}
    pinned = len(cells) == spec.num_variables
    if not pinned:
        g.attr(overlap="false")
    for i, (name, d) in enumerate(zip(spec.variables, spec.domains())):
        seen = evidence is not None and name in evidence
        value = evidence.get(name) if seen and isinstance(evidence, Mapping) else None
        text = dot_text(name if value is None else f"{name} = {value}")
        attrs = dict(label=text, tooltip=dot_text(f"{name}: {describe_domain(d)}{' (observed)' if seen else ''}"),
                     fillcolor=OBSERVED if seen else COLOURS.get(d.kind, "#dddddd"), **node_size(text, round_shape=True))
        if seen:
            attrs["style"] = "filled,bold"
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
def _variables_view(spec: MarkovNetwork, evidence: Any = None) -> graphviz.Graph:
    mg = spec.variable_graph()
    g = _new_graph(spec, "neato", f"{spec.num_variables} variables, {mg.number_of_edges()} edges (Markov graph)")
    pos, cells = _variable_nodes(g, spec, 1.3, evidence), _grid_cells(spec)
    if not pos:
        g.attr("edge", len="0.9")  # neato's free layout: short edges keep a small network compact
    index = {n: i for i, n in enumerate(spec.variables)}
    for a, b in mg.edges():
        ia, ib = index[a], index[b]
        if pos and not _neighbours(cells, ia, ib):  # a long edge across a pinned grid: curve it
            g.attr(splines="curved")
        g.edge(f"v{ia}", f"v{ib}")
    return g


def _factors_view(spec: MarkovNetwork, evidence: Any = None) -> graphviz.Graph:
    factors = spec.table_factors()
    g = _new_graph(spec, "neato", f"{spec.num_variables} variables, {len(factors)} factors (factor graph)")
    s = 1.6
    pos, cells = _variable_nodes(g, spec, s, evidence), _grid_cells(spec)
    if not pos:  # a factor sits close to its variables, and overlaps are removed by scaling (graphviz-pure's
        g.attr("edge", len="0.45")  # overlap=false spreads a 4-variable factor graph over a page)
        g.attr(overlap="scale")
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
    for name, b in spec.blocks.items():  # a block of many variables: one node in a plate, its size in the corner
        shape = "x".join(str(s) for s in b.shape)
        label = dot_text(f"{name}: {shape + ' ' if shape else ''}{b.domain.describe()}")
        plate(g, bid[name], label, f"{b.size}" if b.shape else None, rankdir="LR", shape="box", style="filled,rounded",
              fillcolor=COLOURS.get(b.domain.kind, "#dddddd"), tooltip=dot_text(f"{name}: {b.size} x {describe_domain(b.domain)}"))
    for k, (label, touched) in enumerate(groups):
        text = dot_text(label)
        g.node(f"g{k}", label=text, shape="box", fillcolor="#333333", fontcolor="white", fontsize=str(EDGE_SIZE),
               **node_size(text, EDGE_SIZE))
        for b in touched:
            g.edge(f"g{k}", bid[b])
    return g
