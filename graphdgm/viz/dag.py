"""Drawings of directed specs: a Bayesian network's DAG, an autoregressive model's network (layers
as plates, or every x_<d -> x_d edge for a small model), and MADE's mask connectivity."""
from __future__ import annotations

from typing import Any

import graphviz
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.viz.canvas import house_graph
from graphdgm.viz.labels import dot_lines, dot_text, node_id
from graphdgm.viz.styles import COLOURS, NODE_SIZE, OBSERVED, describe_domain, node_size

AR_VIEWS = ("auto", "layers", "dag", "masks")


def titled_digraph(name: str, title: str | tuple[str, list[str]], rankdir: str = "TB") -> graphviz.Digraph:
    """An empty directed graphviz graph in the house style, with ``title`` (a heading, or a heading
    and lines) below it; nodes filled."""
    g = house_graph(name, title, rankdir=rankdir, nodesep="0.3", ranksep="0.5")
    g.attr("node", style="filled")
    return g


def _shaded(evidence: Any, v: str) -> bool:
    return evidence is not None and v in evidence


def variable_node(g: graphviz.Digraph | graphviz.Graph, node: str, name: str, domain: Any, *, evidence: Any = None,
                  shape: str = "ellipse", fontsize: float = NODE_SIZE) -> None:
    """A variable: ``name`` in an ellipse (or ``shape``) coloured by its domain, or shaded grey with
    ``name = value`` when ``evidence`` (a mapping or a set of names) holds it.

    >>> g = graphviz.Digraph("e"); variable_node(g, "rain", "rain", None, evidence={"rain": 1})
    >>> "rain = 1" in g.source and OBSERVED in g.source
    True
    """
    seen = _shaded(evidence, name)
    value = evidence.get(name) if seen and hasattr(evidence, "get") else None
    text = dot_text(f"{name} = {value}" if value is not None else name)
    kind = getattr(domain, "kind", None)
    g.node(node, label=text, shape=shape, style="filled,bold" if seen else "filled",
           fillcolor=OBSERVED if seen else COLOURS.get(kind, "#dddddd"),
           tooltip=dot_text(f"{name}: {describe_domain(domain) if domain is not None else ''}{' (observed)' if seen else ''}"),
           **node_size(text, fontsize, round_shape=shape in ("ellipse", "circle", "doublecircle")))


def draw_bayesian_network(spec: Any, *, evidence: Any = None) -> graphviz.Digraph:
    """Variables as ellipses coloured by domain (``evidence``, names or a name -> value mapping,
    shaded grey), parent -> child arrows, top to bottom.

    >>> import graphdgm as gd
    >>> bn = gd.BayesianNetwork("ab"); _ = bn.add_variable("a", gd.Binary()); _ = bn.add_variable("b", gd.Binary())
    >>> _ = bn.add_cpd("a", [], [0.5, 0.5]); _ = bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.1, 0.9]])
    >>> "a -> b" in draw_bayesian_network(bn).source
    True
    """
    g = titled_digraph(spec.name, (spec.name, [f"{spec.num_variables} variables, {len(spec.cpds)} CPDs"]))
    ids = {v: node_id(v, i) for i, v in enumerate(spec.variables)}  # escaped names, never ports or markup
    for v in spec.variables:
        variable_node(g, ids[v], v, spec.domain_of(v), evidence=evidence)
    for c, ps in spec.parents.items():
        for p in ps:
            g.edge(ids[p], ids[c])
    return g


def draw_autoregressive(spec: Any, view: str = "auto", *, mask: int = 0, max_units: int = 48) -> graphviz.Digraph:
    """``"layers"``: input, hidden layers and conditionals as plates; ``"dag"``: every variable and
    every x_<d -> x_d edge in the ordering (small models); ``"masks"`` (MADE): every unit, with an
    edge wherever mask ``mask`` lets one unit feed the next, so the autoregressive property can be
    read off. ``"auto"`` picks ``"masks"`` for a small MADE, ``"dag"`` for another small model,
    else ``"layers"``.

    >>> import graphdgm as gd
    >>> src = draw_autoregressive(gd.MADE(3, hidden=[4]), "masks").source
    >>> "x[0]" in src and "out[2]" in src
    True
    """
    from graphdgm.spec.autoregressive import MADE

    if view not in AR_VIEWS:
        raise SpecError(f"unknown view {view!r}; use one of {', '.join(repr(v) for v in AR_VIEWS)}")
    D = spec.num_variables
    small = D + sum(getattr(spec, "hidden", []) if isinstance(spec, MADE) else []) <= max_units
    if view == "auto":
        view = "masks" if isinstance(spec, MADE) and small else ("dag" if D <= 12 else "layers")
    if view == "masks":
        if not isinstance(spec, MADE):
            raise SpecError(f"view='masks' shows MADE's mask connectivity; a {type(spec).__name__} has no masks")
        return _masks_view(spec, mask, max_units)
    if view == "dag":
        return _dag_view(spec)
    g = titled_digraph(spec.name, (spec.name, [repr(spec)]), rankdir="BT")
    prev = None
    for i, (name, size) in enumerate(spec.layers):
        label = dot_lines(name, size)
        g.node(f"l{i}", label=label, shape="box", style="filled,rounded", peripheries="2" if i == 0 else "1",
               fillcolor=OBSERVED if i == 0 else "white", **node_size(label))  # the input x is observed
        if prev is not None:
            g.edge(prev, f"l{i}", label="masked" if "mask" in name or "LSTM" in name or "gated" in name else "")
        prev = f"l{i}"
    g.edge(f"l{len(spec.layers) - 1}", "l0", style="dashed", label="sample x_d, feed back", constraint="false")
    return g


def _dag_view(spec: Any) -> graphviz.Digraph:
    dag = spec.variable_dag()
    order = ", ".join(spec.variables[int(i)] for i in spec.ordering)
    g = titled_digraph(spec.name, (spec.name, ["p(x) = Π_d p(x_d | x_<d)", f"ordering {order}"]), rankdir="LR")
    for v in dag.nodes:  # the library names these x[i] itself (never ':' or markup), so they can be the ids
        g.node(v, label=dot_text(v), shape="circle", fillcolor=COLOURS["binary"], **node_size(dot_text(v), round_shape=True))
    for u, v in dag.edges:
        g.edge(u, v)
    return g


def _masks_view(spec: Any, k: int, max_units: int) -> graphviz.Digraph:
    order, mats = spec.masks(k)
    sizes = [spec.num_variables, *spec.hidden]
    if sum(sizes) > max_units:
        raise SpecError(f"this MADE has {sum(sizes)} units; the mask view draws at most max_units={max_units}. Draw a small "
                        f"MADE, or pass max_units={sum(sizes)}")
    D = spec.num_variables
    pos = np.empty(D, dtype=np.int64)
    pos[order] = np.arange(1, D + 1)
    g = titled_digraph(spec.name, (spec.name, [f"MADE mask {k}: ordering {order.tolist()}", "unit labels give their degree"]),
                       rankdir="BT")
    layers = [[f"x[{i}]" for i in range(D)]] + [[f"h{l + 1}[{j}]" for j in range(h)] for l, h in enumerate(spec.hidden)] + \
        [[f"out[{i}]" for i in range(D)]]
    degrees: list[np.ndarray] = [pos]
    for m in mats[:-1]:  # a hidden unit's degree is the smallest input position it may see... its largest
        degrees.append(np.array([int(degrees[-1][m[:, j] > 0].max()) if (m[:, j] > 0).any() else 0 for j in range(m.shape[1])]))
    degrees.append(pos)
    for li, names in enumerate(layers):
        with g.subgraph(name=f"rank{li}") as sub:
            sub.attr(rank="same")
            for j, n in enumerate(names):
                colour = OBSERVED if li == 0 else COLOURS["binary"] if li == len(layers) - 1 else "white"
                label = dot_lines(n, int(degrees[li][j]))
                round_ = li in (0, len(layers) - 1)
                sub.node(n, label=label, shape="circle" if round_ else "box", fillcolor=colour,
                         **node_size(label, round_shape=round_))
    for li, m in enumerate(mats):
        src, dst = layers[li], layers[li + 1]
        for a, b in zip(*np.nonzero(m)):
            g.edge(src[a], dst[b])
    return g
