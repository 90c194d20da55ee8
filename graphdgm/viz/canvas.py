"""The house drawing: an empty graph with one font on graph, nodes and edges, a pad, and the title
below, that a notebook shows with graphdgm's renderer. Every drawing starts from :func:`house_graph`."""
from __future__ import annotations

from typing import Any

import graphviz

from graphdgm.viz.labels import dot_text
from graphdgm.viz.render import DirectedDrawing, Drawing
from graphdgm.viz.styles import EDGE_SIZE, FONT, NODE_SIZE, PAD, TITLE_SIZE, title_label


def house_graph(name: str, title: str | tuple[str, list[str]], *, directed: bool = True, engine: str = "dot",
                swatches: dict[str, str] | None = None, **graph_attr: Any) -> graphviz.Graph | graphviz.Digraph:
    """An empty drawing in the house style: one font on graph, nodes and edges, a pad, the title
    (``heading`` or ``(heading, lines)``) below, edges drawn under nodes; shown in a notebook.

    >>> g = house_graph("m", ("m", ["2 units"]), rankdir="LR")
    >>> all(f'fontname="{FONT}"' in s for s in g.source.splitlines()[1:4])
    True
    """
    heading, lines = (title, []) if isinstance(title, str) else title
    attrs = dict(layout=engine, fontname=FONT, fontsize=str(TITLE_SIZE), label=title_label(heading, lines, swatches),
                 labelloc="b", labeljust="l", pad=PAD, outputorder="edgesfirst")
    attrs.update({k: str(v) for k, v in graph_attr.items()})
    cls = DirectedDrawing if directed else Drawing
    return cls(dot_text(name), engine=engine, graph_attr=attrs,
               node_attr=dict(fontname=FONT, fontsize=str(NODE_SIZE)),
               edge_attr=dict(fontname=FONT, fontsize=str(EDGE_SIZE), color="#444444", arrowsize="0.7"))


__all__ = ["house_graph"]
