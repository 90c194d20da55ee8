"""Drawing of a :class:`~graphdgm.Graph` at the block level, in plate notation: a block of many units
is one node inside a plate (a box with the block's size in its corner), observed blocks shaded,
latent ones white and dashed, inputs bold; one edge per declared edge, directed or undirected,
labelled with its pattern ("W: dense 784 x 500", "masked conv ...", "tied through time")."""
from __future__ import annotations

import graphviz

from graphdgm.graph.patterns import Dense
from graphdgm.spec.names import parse_name
from graphdgm.viz.canvas import house_graph
from graphdgm.viz.labels import dot_lines, dot_text
from graphdgm.viz.styles import EDGE_SIZE, ROLE_FILL, ROLE_STYLE, inches, node_size, text_width, wrap


def plate(g: graphviz.Graph | graphviz.Digraph, node: str, label: str, size: str | None, *, rankdir: str = "BT",
          **attrs: str) -> None:
    """Add ``node`` (an ellipse with the plain ``label``, ``\\n`` between lines) to ``g``, inside a
    plate with ``size`` in its lower right corner; no plate when ``size`` is None (a single unit).

    >>> g = graphviz.Graph("p"); plate(g, "b0", "v", "784 units")
    >>> "subgraph cluster_b0" in g.source and 'b0_size [label="784 units"' in g.source
    True
    """
    shape = attrs.pop("shape", "ellipse")
    attrs = {"shape": shape, **node_size(label, round_shape=shape in ("ellipse", "circle")), **attrs}
    if size is None:
        g.node(node, label=label, **attrs)
        return
    with g.subgraph(name=f"cluster_{node}") as c:  # the plate: the node, and its size in the lower right corner
        c.attr(label="", style="rounded", color="#444444", penwidth="1", margin="6")
        c.node(node, label=label, **attrs)
        text = dot_text(size)
        c.node(f"{node}_size", label=text, shape="plaintext", fontsize=str(EDGE_SIZE), margin="0", labelloc="b",
               width=inches(text_width(text, EDGE_SIZE) + 4), height=attrs["height"], tooltip=text)
        if rankdir in ("BT", "TB"):  # the size beside the node (with LR it stacks below it)
            with c.subgraph() as row:
                row.attr(rank="same")
                row.node(node)
                row.node(f"{node}_size")
                row.edge(node, f"{node}_size", style="invis")  # a flat edge: dot keeps the size on the right


def block_size(shape: tuple[int, ...]) -> str | None:
    """The corner text of a block's plate: ``"784"``, ``"28 x 28 = 784"``; None for one unit.

    >>> block_size((28, 28)), block_size((5,)), block_size(())
    ('28 x 28 = 784', '5', None)
    """
    if not shape:
        return None
    n = 1
    for s in shape:
        n *= s
    return str(n) if len(shape) == 1 else " x ".join(str(s) for s in shape) + f" = {n}"


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at the ", " that lie outside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and text.startswith(", ", i):
            parts.append(text[start:i])
            start = i + 2
    return parts + [text[start:]]


def edge_label(text: str, width: int = 40) -> str:
    """An edge's plain label, broken at ", " outside brackets (then at spaces) into lines of about
    ``width`` characters.

    >>> edge_label("T_x: transition 3 x 3, tied through time", 30)
    'T_x: transition 3 x 3,\\\\ntied through time'
    """
    lines: list[str] = []
    for piece in _top_level_parts(text):
        if lines and len(lines[-1]) + 2 + len(piece) <= width:
            lines[-1] += ", " + piece
        else:
            if lines:
                lines[-1] += ","
            lines.extend(wrap(piece, width))
    return dot_lines(*lines)


def draw_graph(spec) -> graphviz.Graph:
    """Blocks in plates (observed shaded, latent dashed, inputs bold); one edge per dense edge
    ("W: dense 784 x 500"), per pairs or grid coupling (with its count) and per group of tables;
    directed patterns (CPTs, transitions, emissions, conditionals) as arrows.

    >>> import graphdgm as gd
    >>> src = draw_graph(gd.SRBM(5, 3)).source
    >>> "dense 5 x 3" in src and "lateral" in src and "dashed" in src and "cluster_b0" in src
    True
    """
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    g = house_graph(spec.name, (spec.name, [f"{plural(spec.num_variables, 'unit')} in {plural(len(spec.blocks), 'block')}, "
                                            f"{plural(len(spec.edges), 'edge')}"]), directed=False,
                    rankdir="BT", nodesep="0.5", ranksep="0.6")
    ids = {name: f"b{i}" for i, name in enumerate(spec.blocks)}  # generated ids: names are only labels
    for name, b in spec.blocks.items():
        unit, role = spec.units[name], spec.roles[name]
        plate(g, ids[name], dot_lines(name, repr(unit)), block_size(b.shape), style=ROLE_STYLE[role],
              fillcolor=ROLE_FILL[role], tooltip=dot_text(f"{name}: {b.size} units, {unit!r}, {role}"))
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
            g.edge(ids[e.a], ids[e.b], label=edge_label(label), dir="forward", arrowhead="normal", penwidth="1.5",
                   style="dashed" if e.pattern.kind == "emission" else "solid")
            continue
        if e.pattern.kind == "cpt":
            for parent in e.sources:  # a CPT: an arrow from each parent to the child
                g.edge(ids[parent], ids[e.b], dir="forward", arrowhead="normal")
            label = dot_text(e.pattern.describe())
            g.node(ids[e.b] + "_cpt", label=label, shape="plaintext", fontsize=str(EDGE_SIZE),
                   **node_size(label, EDGE_SIZE))
            g.edge(ids[e.b] + "_cpt", ids[e.b], style="dotted", arrowhead="none")
            continue
        if getattr(e.pattern, "directed", False):  # conditionals in the block's ordering: an arrow onto itself
            g.edge(ids[e.a], ids[e.b], label=edge_label(f"{e.name}: {e.pattern.describe()}, x_d | x_<d"),
                   dir="forward", arrowhead="normal", penwidth="1.5")
            continue
        if isinstance(e.pattern, Dense):
            label = f"{e.name}: dense {na} x {nb}" if not e.lateral else f"{e.name}: dense lateral {na} x {na}"
        else:
            count = next((len(c.pairs) for c in spec.couplings if c.name == e.name), 0)
            label = f"{e.name}: {e.pattern.describe()} ({count})"
        g.edge(ids[e.a], ids[e.b], label=edge_label(label), penwidth="1.5" if isinstance(e.pattern, Dense) else "1")
    for (a, b), n in plate_cpts.items():
        g.edge(ids[a], ids[b], label=dot_text(f"{n} CPT{'s' if n > 1 else ''}"), dir="forward", arrowhead="normal")
    for c in spec.couplings:  # couplings added directly (add_coupling), not through connect()
        if c.name not in from_edges:
            touched = list(dict.fromkeys(c.blocks))
            a, b = touched[0], touched[-1]
            g.edge(ids[a], ids[b], label=edge_label(f"{c.name}: {c.kind} {c.pattern} ({len(c.pairs)})"))
    if spec.factors and not spec.cpt_edges():  # a Bayesian network's factors are its CPT edges' logarithms
        label = dot_text(f"{len(spec.factors)} table factors")
        g.node("tables", label=label, shape="box", fillcolor="#333333", fontcolor="white", style="filled",
               fontsize=str(EDGE_SIZE), **node_size(label, EDGE_SIZE))
        for blk in dict.fromkeys(parse_name(v)[0] for f in spec.factors for v in f.scope):
            g.edge("tables", ids[blk])
    return g


__all__ = ["block_size", "draw_graph", "edge_label", "plate"]
