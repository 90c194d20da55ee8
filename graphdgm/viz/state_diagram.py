"""State diagrams: a Markov chain's states with arrows labelled by transition probabilities
(absorbing states drawn as double circles), and an HMM's hidden chain with its emissions."""
from __future__ import annotations

import itertools
from typing import Any

import graphviz
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.viz.dag import titled_digraph
from graphdgm.viz.labels import dot_text
from graphdgm.viz.styles import COLOURS, LATENT, OBSERVED, node_size, title_label


def _p(x: float) -> str:
    return f"{x:.3g}"


def _chain_edges(g: graphviz.Digraph, names: list[str], P: np.ndarray, threshold: float, prefix: str = "s") -> int:
    """Nodes ``prefix{i}`` labelled ``names``, one edge per P[i, j] > threshold; returns the edges hidden."""
    absorbing = np.isclose(np.diag(P), 1.0)
    for i, name in enumerate(names):
        g.node(f"{prefix}{i}", label=dot_text(name), shape="doublecircle" if absorbing[i] else "circle",
               fillcolor=COLOURS["categorical"], **node_size(dot_text(name), round_shape=True), tooltip=dot_text(f"{name}{' (absorbing)' if absorbing[i] else ''}"))
    hidden = 0
    for i, j in zip(*np.nonzero(P > 0)):
        if P[i, j] <= threshold:
            hidden += 1
            continue
        g.edge(f"{prefix}{i}", f"{prefix}{j}", label=_p(P[i, j]))
    return hidden


def draw_markov_chain(spec: Any, *, threshold: float = 0.0, max_states: int = 64) -> graphviz.Digraph:
    """The state diagram: one circle per state (double circle: absorbing), an arrow i -> j labelled
    p(j | i) wherever it exceeds ``threshold``. An order-k chain is drawn as its lifted chain over
    k-tuples when there are at most ``max_states`` of them (else a SpecError).

    >>> import graphdgm as gd
    >>> src = draw_markov_chain(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.0, 1.0]])).source
    >>> src.count(" -> "), 's0 -> s1 [label=0.1]' in src, "doublecircle" in src
    (3, True, True)
    """
    S, k = spec.num_states, spec.order
    C = S**k
    if C > max_states:
        raise SpecError(f"chain {spec.name!r} has {C} {'contexts (lifted states)' if k > 1 else 'states'}, more than "
                        f"max_states={max_states}; pass max_states={C} to draw them all")
    T = spec.transition.reshape(C, S)
    P = np.zeros((C, C))
    ctx = np.arange(C)
    P[ctx[:, None], (ctx[:, None] * S + np.arange(S)) % C] = T  # the lifted chain
    names = [str(s) for s in spec.states] if k == 1 else \
        ["(" + ", ".join(str(s) for s in c) + ")" for c in itertools.product(spec.states, repeat=k)]
    lines = [f"{S} states" + (f", order {k} (lifted to {C} contexts)" if k > 1 else "")]
    g = titled_digraph(spec.name, (spec.name, lines), rankdir="LR")
    hidden = _chain_edges(g, names, P, threshold)
    if hidden:
        g.attr(label=title_label(spec.name, [*lines, f"{hidden} edges with p <= {threshold:g} hidden"]))
    return g


def draw_hmm(spec: Any, *, threshold: float = 0.0) -> graphviz.Digraph:
    """The hidden chain's state diagram plus emissions: a box per observation symbol with dashed
    arrows labelled p(symbol | state) (above ``threshold``), or for Gaussian emissions one note
    per state with its mean and standard deviation.

    >>> import graphdgm as gd
    >>> hmm = gd.HiddenMarkovModel(["a", "b"], [[0.9, 0.1], [0.2, 0.8]], gd.CategoricalEmission([[1.0, 0.0], [0.5, 0.5]], ["x", "y"]))
    >>> src = draw_hmm(hmm).source
    >>> src.count("style=dashed"), "o1" in src
    (3, True)
    """
    from graphdgm.spec.hmm import CategoricalEmission, DensityEmission

    S = spec.num_states
    g = titled_digraph(spec.name, (spec.name, [f"{S} hidden states", repr(spec.emission)]), rankdir="LR")
    _chain_edges(g, [str(s) for s in spec.states], spec.transition, threshold)
    e = spec.emission
    if isinstance(e, CategoricalEmission):
        with g.subgraph(name="observations") as sub:
            sub.attr(rank="same")
            for m, sym in enumerate(e.symbols):
                sub.node(f"o{m}", label=dot_text(sym), shape="box", fillcolor=OBSERVED, **node_size(dot_text(sym)))
        for i, m in zip(*np.nonzero(e.table > threshold)):
            g.edge(f"s{i}", f"o{m}", label=_p(e.table[i, m]), style="dashed", color="#999999", fontcolor="#666666")
    elif isinstance(e, DensityEmission):
        for i, m in enumerate(e.specs):
            text = dot_text(f"p(y | {spec.states[i]}): {m!r}")
            g.node(f"e{i}", label=text, shape="note", fillcolor=OBSERVED, **node_size(text))
            g.edge(f"s{i}", f"e{i}", style="dashed", color="#999999")
    else:
        for i in range(S):
            mean = ", ".join(f"{v:.3g}" for v in e.means[i])
            std = ", ".join(f"{v:.3g}" for v in e.stds[i])
            text = dot_text(f"N(μ=[{mean}], σ=[{std}])")
            g.node(f"e{i}", label=text, shape="note", fillcolor=OBSERVED, **node_size(text))
            g.edge(f"s{i}", f"e{i}", style="dashed", color="#999999")
    return g


def draw_trellis(spec: Any, *, steps: int = 4) -> graphviz.Digraph:
    """A chain through time unrolled over ``steps`` steps: one node per step's state (latent states
    dashed, observed ones filled), an arrow from each of the ``order`` previous states, and for an
    HMM each hidden state's arrow to its shaded observation; every transition arrow is the same
    tied table, said once in the title.

    >>> import graphdgm as gd
    >>> src = draw_trellis(gd.HiddenMarkovModel.random(2, symbols=3, seed=0), steps=3).source
    >>> src.count("->"), "z[2]" in src and "y[2]" in src
    (5, True)
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SpecError(f"steps must be a positive int (the time steps drawn), got {steps!r}")
    t_edge, e_edge = spec.transition_edge(), spec.emission_edge()
    state, order = t_edge.a, t_edge.pattern.order
    S = spec.blocks[state].domain.cardinality
    lines = [f"p({state}_t | {state}_t-1{'..t-' + str(order) if order > 1 else ''}): one "
             f"{' x '.join(str(S) for _ in range(order + 1))} table", "tied through time", f"{steps} steps shown"]
    g = titled_digraph(spec.name, (spec.name, lines), rankdir="LR")
    hidden = e_edge is not None
    for t in range(steps):
        text = dot_text(f"{state}[{t}]")
        g.node(f"s{t}", label=text, shape="circle", style="filled,dashed" if hidden else "filled",
               fillcolor=LATENT if hidden else OBSERVED, **node_size(text, round_shape=True))
        for j in range(1, order + 1):
            if t - j >= 0:
                g.edge(f"s{t - j}", f"s{t}")
        if hidden:
            text = dot_text(f"{e_edge.b}[{t}]")
            g.node(f"o{t}", label=text, shape="circle", style="filled", fillcolor=OBSERVED,
                   **node_size(text, round_shape=True))
            g.edge(f"s{t}", f"o{t}", style="dashed")
            with g.subgraph() as step:  # a step's state above its observation: the chain runs left to right
                step.attr(rank="same")
                step.node(f"s{t}")
                step.node(f"o{t}")
    return g


__all__ = ["draw_hmm", "draw_markov_chain", "draw_trellis"]
