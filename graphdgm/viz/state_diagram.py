"""State diagrams: a Markov chain's states with arrows labelled by transition probabilities
(absorbing states drawn as double circles), and an HMM's hidden chain with its emissions."""
from __future__ import annotations

import itertools
from typing import Any

import graphviz
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.viz.dag import titled_digraph
from graphdgm.viz.styles import COLOURS
from graphdgm.viz.labels import dot_text, html_text


def _p(x: float) -> str:
    return f"{x:.3g}"


def _chain_edges(g: graphviz.Digraph, names: list[str], P: np.ndarray, threshold: float, prefix: str = "s") -> int:
    """Nodes ``prefix{i}`` labelled ``names``, one edge per P[i, j] > threshold; returns the edges hidden."""
    absorbing = np.isclose(np.diag(P), 1.0)
    for i, name in enumerate(names):
        g.node(f"{prefix}{i}", label=dot_text(name), shape="doublecircle" if absorbing[i] else "circle",
               fillcolor=COLOURS["categorical"], tooltip=dot_text(f"{name}{' (absorbing)' if absorbing[i] else ''}"))
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
    title = f"{spec.name}: {S} states" + (f", order {k} (lifted to {C} contexts)" if k > 1 else "")
    g = titled_digraph(spec.name, title, rankdir="LR")
    hidden = _chain_edges(g, names, P, threshold)
    if hidden:
        g.attr(label=f"<<b>{html_text(title)}</b><br/>{hidden} edges with p &lt;= {threshold:g} hidden>")
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
    title = f"{spec.name}: {S} hidden states, {spec.emission!r}"
    g = titled_digraph(spec.name, title, rankdir="LR")
    _chain_edges(g, [str(s) for s in spec.states], spec.transition, threshold)
    e = spec.emission
    if isinstance(e, CategoricalEmission):
        with g.subgraph(name="observations") as sub:
            sub.attr(rank="same")
            for m, sym in enumerate(e.symbols):
                sub.node(f"o{m}", label=dot_text(sym), shape="box", fillcolor=COLOURS["binary"])
        for i, m in zip(*np.nonzero(e.table > threshold)):
            g.edge(f"s{i}", f"o{m}", label=_p(e.table[i, m]), style="dashed", color="#999999", fontcolor="#666666")
    elif isinstance(e, DensityEmission):
        for i, m in enumerate(e.specs):
            g.node(f"e{i}", label=dot_text(f"p(y | {spec.states[i]}): {m!r}"), shape="note", fillcolor=COLOURS["binary"])
            g.edge(f"s{i}", f"e{i}", style="dashed", color="#999999")
    else:
        for i in range(S):
            mean = ", ".join(f"{v:.3g}" for v in e.means[i])
            std = ", ".join(f"{v:.3g}" for v in e.stds[i])
            g.node(f"e{i}", label=dot_text(f"N(μ=[{mean}], σ=[{std}])"), shape="note", fillcolor=COLOURS["real"])
            g.edge(f"s{i}", f"e{i}", style="dashed", color="#999999")
    return g


__all__ = ["draw_hmm", "draw_markov_chain"]
