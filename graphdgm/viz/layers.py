"""Drawings of layered graphs (RBMs, DBNs, any graph of dense edges between blocks): each layer a plate with
its size, one edge per weight matrix."""
from __future__ import annotations


import graphviz

from graphdgm.viz.styles import COLOURS, FONT
from graphdgm.viz.labels import dot_text, html_text


def _plate(g: graphviz.Digraph, node_id: str, name: str, size: str, kind: str, colour_key: str) -> None:
    g.node(node_id, label=f"<<b>{html_text(name)}</b><br/>{html_text(size)}<br/><font point-size='9'>{html_text(kind)}</font>>",
           shape="box", style="filled,rounded", peripheries="2", fillcolor=COLOURS.get(colour_key, "#dddddd"))


def draw_layers(spec) -> graphviz.Digraph:
    """Layers bottom to top as plates (name, shape, unit type); RBM edges undirected, a DBN's lower
    edges directed downward (generative), each labelled with its weight matrix shape.

    >>> import graphdgm as gd
    >>> src = draw_layers(gd.DBN([784, 500, 2000])).source
    >>> "h2" in src and "500 x 2000" in src and "dir=back" in src
    True
    """
    g = graphviz.Digraph(dot_text(spec.name), engine="dot", graph_attr=dict(rankdir="BT", fontname=FONT, fontsize="12", nodesep="0.4",
                                                                  ranksep="0.5", label=f"<<b>{html_text(repr(spec))}</b>>", labelloc="b"),
                         node_attr=dict(fontname=FONT, fontsize="10"), edge_attr=dict(fontname=FONT, fontsize="9", color="#555555"))
    ids = {name: f"b{i}" for i, name in enumerate(spec.blocks)}  # generated ids: a name is only ever a label
    for name, b in spec.blocks.items():
        shape = " x ".join(str(s) for s in b.shape)
        _plate(g, ids[name], name, f"{shape} ({b.size} units)" if len(b.shape) > 1 else f"{b.size} units", b.domain.describe(), b.domain.kind)
    order = list(spec.blocks)
    generative = getattr(spec, "generative_edges", frozenset())  # a DBN's lower layers: directed, pointing down
    for e in spec.edges.values():
        lo, hi = (e.a, e.b) if order.index(e.a) < order.index(e.b) else (e.b, e.a)
        shape = f"{e.name}: {spec.blocks[lo].size} x {spec.blocks[hi].size}"
        if e.name in generative:
            g.edge(ids[lo], ids[hi], label=dot_text(shape), dir="back", arrowtail="normal")  # generative arrow points down
        else:
            g.edge(ids[lo], ids[hi], label=dot_text(shape), dir="none", penwidth="2")
    return g
