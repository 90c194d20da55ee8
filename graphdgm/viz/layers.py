"""Drawings of layered graphs (RBMs, DBNs, any graph of dense edges between blocks) in plate
notation: each layer one node in a plate with its size in the corner, the visible (observed)
layer shaded, hidden layers white, one edge per weight matrix labelled with its shape."""
from __future__ import annotations

import graphviz

from graphdgm.viz.canvas import house_graph
from graphdgm.viz.graph_view import plate
from graphdgm.viz.labels import dot_lines, dot_text
from graphdgm.viz.styles import ROLE_FILL, ROLE_STYLE


def draw_layers(spec) -> graphviz.Digraph:
    """Layers bottom to top in plates (name and unit type in the node, size in the corner); RBM
    edges undirected, a DBN's lower edges directed downward (generative), each labelled with its
    weight matrix shape.

    >>> import graphdgm as gd
    >>> src = draw_layers(gd.DBN([784, 500, 2000])).source
    >>> "h2" in src and "500 x 2000" in src and "dir=back" in src and "cluster_b2" in src
    True
    """
    g = house_graph(spec.name, (spec.name, [repr(spec)]), rankdir="BT", nodesep="0.4", ranksep="0.5")
    ids = {name: f"b{i}" for i, name in enumerate(spec.blocks)}  # generated ids: a name is only ever a label
    roles = getattr(spec, "roles", {})
    for name, b in spec.blocks.items():
        shape = " x ".join(str(s) for s in b.shape)
        size = f"{shape} ({b.size} units)" if len(b.shape) > 1 else f"{b.size} units"
        role = roles.get(name, "observed")
        plate(g, ids[name], dot_lines(name, b.domain.describe()), size, style=ROLE_STYLE[role], fillcolor=ROLE_FILL[role],
              tooltip=dot_text(f"{name}: {size}, {b.domain.describe()}, {role}"))
    order = list(spec.blocks)
    generative = getattr(spec, "generative_edges", frozenset())  # a DBN's lower layers: directed, pointing down
    for e in spec.edges.values():
        lo, hi = (e.a, e.b) if order.index(e.a) < order.index(e.b) else (e.b, e.a)
        shape = f"{e.name}: {spec.blocks[lo].size} x {spec.blocks[hi].size}"
        if e.name in generative:
            g.edge(ids[lo], ids[hi], label=dot_text(shape), dir="back", arrowtail="normal")  # generative arrow points down
        else:
            g.edge(ids[lo], ids[hi], label=dot_text(shape), dir="none", penwidth="1.5")
    return g
