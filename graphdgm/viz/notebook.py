"""What a notebook shows for a graph, a spec or a compiled model: its drawing as SVG (the
``_repr_svg_`` of :class:`~graphdgm.MarkovNetwork`, every family, and compiled models)."""
from __future__ import annotations

from typing import Any

import graphviz

from graphdgm.errors import GraphdgmError
from graphdgm.viz.draw import draw
from graphdgm.viz.render import svg


def notebook_svg(obj: Any) -> str | None:
    """What a notebook shows for ``obj`` (a drawing, a graph, a spec or a compiled model): its
    drawing as SVG, by system ``dot`` or else the bundled ``graphviz-pure``; ``None`` (the notebook
    then shows the text repr) when there is no renderer or ``obj`` cannot be drawn.

    >>> notebook_svg(object()) is None
    True
    """
    try:
        if not isinstance(obj, (graphviz.Graph, graphviz.Digraph)):
            obj = draw(obj)
        return svg(obj)
    except GraphdgmError:
        return None


__all__ = ["notebook_svg"]
