"""Drawing of a :class:`~graphdgm.Graph` at the block level: each block a plate (name, shape,
unit, role), each edge a line labelled with its pattern and size, lateral edges as loops."""
from __future__ import annotations

import graphviz

from graphdgm.graph.patterns import Dense
from graphdgm.spec.names import parse_name
from graphdgm.viz.styles import COLOURS, FONT, ROLE_STYLE
from graphdgm.viz.labels import dot_text, html_text



def draw_graph(spec) -> graphviz.Graph:
    """Blocks as plates, observed solid, latent dashed, inputs bold; one edge per dense edge
    ("dense 784 x 500"), per pairs or grid coupling (with its count) and per group of tables.

    >>> import graphdgm as gd
    >>> src = draw_graph(gd.SRBM(5, 3)).source
    >>> "dense 5 x 3" in src and "lateral" in src and "dashed" in src
    True
    """
    g = graphviz.Graph(dot_text(spec.name), engine="dot",
                       graph_attr=dict(rankdir="BT", fontname=FONT, fontsize="12", nodesep="0.5", ranksep="0.6",
                                       label=f"<<b>{html_text(spec.name)}</b>: {html_text(str(spec.num_variables))} units in "
                                             f"{len(spec.blocks)} blocks, {len(spec.edges)} edges>", labelloc="b"),
                       node_attr=dict(fontname=FONT, fontsize="10"), edge_attr=dict(fontname=FONT, fontsize="9", color="#555555"))
    ids = {name: f"b{i}" for i, name in enumerate(spec.blocks)}  # generated ids: names are only labels
    for name, b in spec.blocks.items():
        shape = " x ".join(str(s) for s in b.shape) or "1"
        unit, role = spec.units[name], spec.roles[name]
        g.node(ids[name], label=f"<<b>{html_text(name)}</b><br/>{html_text(shape)}<br/><font point-size='9'>"
                                f"{html_text(repr(unit))}, {html_text(role)}</font>>",
               shape="box", style=ROLE_STYLE[role], peripheries="2" if b.shape else "1",
               fillcolor=COLOURS.get(b.domain.kind, "#dddddd"))
    from_edges = set()
    plate_cpts: dict[tuple[str, str], int] = {}  # CPTs between variables of plates, by (parent block, child block)
    for e in spec.edges.values():
        from_edges.add(e.name)
        if e.pattern.kind == "cpt" and e.b not in spec.blocks:  # a variable of a plate, such as z[3]
            child = parse_name(e.b)[0]
            for parent in e.sources:  # a root needs no arrow
                key = (parse_name(parent)[0], child)
                plate_cpts[key] = plate_cpts.get(key, 0) + 1
            continue
        na, nb = spec.blocks[e.a].size, spec.blocks[e.b].size
        if e.pattern.kind in ("transition", "emission", "neural map"):  # directed: arrows labelled by their pattern
            label = e.pattern.describe() if e.pattern.kind == "emission" else f"{e.name}: {e.pattern.describe()}"
            g.edge(ids[e.a], ids[e.b], label=dot_text(label), dir="forward", arrowhead="normal", penwidth="2",
                   style="dashed" if e.pattern.kind == "emission" else "solid")
            continue
        if e.pattern.kind == "cpt":
            for parent in e.sources:  # a CPT: an arrow from each parent to the child
                g.edge(ids[parent], ids[e.b], dir="forward", arrowhead="normal")
            g.node(ids[e.b] + "_cpt", label=dot_text(e.pattern.describe()), shape="plaintext", fontsize="9")
            g.edge(ids[e.b] + "_cpt", ids[e.b], style="dotted", arrowhead="none")
            continue
        if getattr(e.pattern, "directed", False):  # conditionals in the block's ordering: an arrow onto itself
            g.edge(ids[e.a], ids[e.b], label=dot_text(f"{e.name}: {e.pattern.describe()}, x_d | x_<d"), dir="forward",
                   arrowhead="normal", penwidth="2")
            continue
        if isinstance(e.pattern, Dense):
            label = f"{e.name}: dense {na} x {nb}" if not e.lateral else f"{e.name}: dense lateral {na} x {na}"
        else:
            count = next((len(c.pairs) for c in spec.couplings if c.name == e.name), 0)
            label = f"{e.name}: {e.pattern.describe()} ({count})"
        g.edge(ids[e.a], ids[e.b], label=dot_text(label), penwidth="2" if isinstance(e.pattern, Dense) else "1")
    for (a, b), n in plate_cpts.items():
        g.edge(ids[a], ids[b], label=dot_text(f"{n} CPT{'s' if n > 1 else ''}"), dir="forward", arrowhead="normal")
    for c in spec.couplings:  # couplings added directly (add_coupling), not through connect()
        if c.name not in from_edges:
            touched = list(dict.fromkeys(c.blocks))
            a, b = touched[0], touched[-1]
            g.edge(ids[a], ids[b], label=dot_text(f"{c.name}: {c.kind} {c.pattern} ({len(c.pairs)})"))
    if spec.factors and not spec.cpt_edges():  # a Bayesian network's factors are its CPT edges' logarithms
        g.node("tables", label=dot_text(f"{len(spec.factors)} table factors"), shape="box", fillcolor="#333333",
               fontcolor="white", style="filled", fontsize="9")
        for blk in dict.fromkeys(parse_name(v)[0] for f in spec.factors for v in f.scope):
            g.edge("tables", ids[blk])
    return g


__all__ = ["draw_graph"]
