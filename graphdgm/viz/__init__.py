"""Drawings of graphdgm specs: ``g = gd.viz.draw(spec)``, then ``gd.viz.save(g, "model.svg")``.

``save``/``render`` use Graphviz's ``dot`` when installed, else the bundled ``graphviz-pure``
(svg, png, jpg). ``g.render()`` (the graphviz package's own method) needs Graphviz's ``dot``.
"""
from graphdgm.viz.draw import VIEWS, draw
from graphdgm.viz.render import find_renderer, render, save
from graphdgm.viz.images import image_grid, save_image_grid, save_png, scatter_image
from graphdgm.viz.layers import draw_layers

__all__ = ["VIEWS", "draw", "draw_layers", "image_grid", "save_image_grid", "save_png", "scatter_image", "find_renderer", "render", "save"]
from graphdgm.viz.plots import plot_history, plot_inpainting, plot_marginals_grid, plot_samples  # noqa: E402

__all__ += ["plot_history", "plot_inpainting", "plot_marginals_grid", "plot_samples"]
from graphdgm.viz.render import svg  # noqa: E402  (a drawing as SVG text; notebooks show drawings with it)

__all__ += ["svg"]
