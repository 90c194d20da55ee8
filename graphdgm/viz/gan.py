"""The drawing of a GAN: the generator graph (z -> G -> x) and the discriminator graph (x, data -> D
-> score) as two clusters that meet at the generated data node."""
from __future__ import annotations

from typing import Any

import graphviz

from graphdgm.viz.canvas import house_graph
from graphdgm.viz.labels import dot_lines
from graphdgm.viz.styles import EDGE_SIZE, OBSERVED, node_size, wrap


def draw_gan(spec: Any) -> graphviz.Digraph:
    """Blocks as rounded plates with their sizes, networks as boxes with their layers; the
    generator's cluster left, the discriminator's right, joined by the generated samples x.

    >>> import graphdgm as gd
    >>> src = draw_gan(gd.GAN(2, latent=8)).source
    >>> "cluster_generator" in src and "z -> G" in src and "x -> D" in src and "data -> D" in src
    True
    """
    g = house_graph(spec.name, (spec.name, [repr(spec)]), rankdir="LR", nodesep="0.35", ranksep="0.45")
    g.attr("node", style="filled")
    nodes = spec.graph.nodes(data=True)

    def label(name: str, what: str, shape: str = "box") -> dict[str, str]:
        text = dot_lines(name, *wrap(what, 30))
        return dict(label=text, shape=shape, **node_size(text, round_shape=shape == "ellipse"))

    colour = {"block": "white", "data": OBSERVED, "network": "#eeeeee", "output": "white"}  # the data is observed
    shapes = {"block": "box", "data": "box", "network": "box3d", "output": "ellipse"}
    titles = {"z": f"z ~ {'N(0, I)' if spec.latent_distribution == 'normal' else 'U(-1, 1)'}", "x": "x = G(z)",
              "data": "x ~ data", "G": "G (generator)", "D": "D (discriminator)", "score": "score"}
    for role, cluster_label in (("generator", "generator graph"), ("discriminator", "discriminator graph")):
        with g.subgraph(name=f"cluster_{role}") as c:
            c.attr(label=cluster_label, style="rounded,dashed", color="#888888", fontsize=str(EDGE_SIZE), margin="10")
            for n, d in nodes:
                if d["role"] == role:
                    c.node(n, **label(titles[n], d["size"], shapes[d["kind"]]),
                           fillcolor=colour[d["kind"]], style="filled,rounded" if d["kind"] != "network" else "filled")
    x = dict(nodes)["x"]
    g.node("x", **label(titles["x"], x["size"]), style="filled,rounded", fillcolor=colour["block"], peripheries="2")
    for u, v in spec.graph.edges:
        g.edge(u, v, style="dashed" if u == "data" else "solid")
    return g
