"""The drawing of a GAN: the generator graph (z -> G -> x) and the discriminator graph (x, data -> D
-> score) as two clusters that meet at the generated data node."""
from __future__ import annotations

from typing import Any

import graphviz

from graphdgm.viz.styles import COLOURS, FONT
from graphdgm.viz.labels import dot_text, html_text


def draw_gan(spec: Any) -> graphviz.Digraph:
    """Blocks as rounded plates with their sizes, networks as boxes with their layers; the
    generator's cluster left, the discriminator's right, joined by the generated samples x.

    >>> import graphdgm as gd
    >>> src = draw_gan(gd.GAN(2, latent=8)).source
    >>> "cluster_generator" in src and "z -> G" in src and "x -> D" in src and "data -> D" in src
    True
    """
    g = graphviz.Digraph(dot_text(spec.name), engine="dot", graph_attr=dict(
        rankdir="LR", fontname=FONT, fontsize="12", label=f"<<b>{html_text(repr(spec))}</b>>", labelloc="b",
        nodesep="0.35", ranksep="0.45"), node_attr=dict(fontname=FONT, fontsize="10", style="filled"),
        edge_attr=dict(color="#555555", arrowsize="0.7"))
    nodes = spec.graph.nodes(data=True)

    def label(name: str, what: str) -> str:
        return f"<<b>{html_text(name)}</b><br/><font point-size='9'>{html_text(what)}</font>>"

    colour = {"block": COLOURS["real"], "data": COLOURS["binary" if spec.data == "binary" else "real"],
              "network": "#cab2d6", "output": "#eeeeee"}
    shapes = {"block": "box", "data": "box", "network": "box3d", "output": "ellipse"}
    titles = {"z": f"z ~ {'N(0, I)' if spec.latent_distribution == 'normal' else 'U(-1, 1)'}", "x": "x = G(z)",
              "data": "x ~ data", "G": "G (generator)", "D": "D (discriminator)", "score": "score"}
    for role, cluster_label in (("generator", "generator graph"), ("discriminator", "discriminator graph")):
        with g.subgraph(name=f"cluster_{role}") as c:
            c.attr(label=cluster_label, style="rounded,dashed", color="#888888")
            for n, d in nodes:
                if d["role"] == role:
                    c.node(n, label=label(titles[n], d["size"]), shape=shapes[d["kind"]],
                           fillcolor=colour[d["kind"]], style="filled,rounded" if d["kind"] != "network" else "filled")
    x = dict(nodes)["x"]
    g.node("x", label=label(titles["x"], x["size"]), shape="box", style="filled,rounded", fillcolor=colour["block"], peripheries="2")
    for u, v in spec.graph.edges:
        g.edge(u, v, style="dashed" if u == "data" else "solid")
    return g
