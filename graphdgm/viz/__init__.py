"""Drawings of graphdgm specs: ``g = gd.viz.draw(spec)``, then ``gd.viz.save(g, "model.svg")``.

``save``/``render`` use Graphviz's ``dot`` when installed, else the bundled ``graphviz-pure``
(svg, png, jpg). ``g.render()`` (the graphviz package's own method) needs Graphviz's ``dot``.
"""
from graphdgm.viz.draw import VIEWS, draw
from graphdgm.viz.render import find_renderer, render, save

__all__ = ["VIEWS", "draw", "find_renderer", "render", "save"]
