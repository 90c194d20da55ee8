"""Discrete-time Markov chains over named states, of any order k.

An order-k chain is p(x_0..x_{k-1}) Π_t p(x_t | x_{t-k}..x_{t-1}): an initial distribution over
the first k states and one transition table. Inside, the compiler works on the *lifted* chain
over k-tuples of states (an order-1 chain on S^k contexts), so stationary distributions, n-step
matrices and structure checks are the order-1 linear algebra on that chain.

Sequences at the edges are lists of state labels; tensors and numpy integer arrays are taken as
state indices (padded with -1).
"""
from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Edge, Graph
from graphdgm.graph.patterns import Transition
from graphdgm.spec.domains import Categorical
from graphdgm.spec.validate import positive_int, real_array


def state_labels(states: Any, what: str = "states") -> tuple[Any, ...]:
    """``states`` as a tuple of distinct hashable labels (an int ``S`` means ``0..S-1``).

    >>> state_labels(3), state_labels(["sun", "rain"])
    ((0, 1, 2), ('sun', 'rain'))
    """
    if isinstance(states, (int, np.integer)) and not isinstance(states, bool):
        if states < 1:
            raise SpecError(f"{what}: need at least one state, got {states}")
        return tuple(range(int(states)))
    if isinstance(states, str) or not isinstance(states, Sequence | np.ndarray):
        raise SpecError(f"{what} must be a list of labels (or a number of states), got {type(states).__name__}")
    labels = tuple(s.item() if isinstance(s, np.generic) else s for s in states)
    if not labels:
        raise SpecError(f"{what}: need at least one state")
    try:
        seen: dict[Any, int] = {}
        for i, s in enumerate(labels):
            if s in seen:
                raise SpecError(f"{what}: label {s!r} appears twice (positions {seen[s]} and {i}); labels must be distinct")
            seen[s] = i
    except TypeError:
        raise SpecError(f"{what}: labels must be hashable (str, int, ...), got {labels!r}") from None
    return labels


def check_stochastic(table: Any, shape: tuple[int, ...], what: str, axes: str, tol: float = 1e-6) -> np.ndarray:
    """``table`` as a float64 array of ``shape`` whose last axis sums to one (renormalised exactly).

    ``axes`` names the leading axes in error messages (e.g. ``"previous state"``).

    >>> check_stochastic([[0.5, 0.5], [0.25, 0.75]], (2, 2), "transition", "previous state").tolist()
    [[0.5, 0.5], [0.25, 0.75]]
    """
    arr = real_array(table, what)
    if arr.shape != shape:
        raise SpecError(f"{what} needs shape {shape} ({axes}, then the next state's probabilities), got {arr.shape}")
    if np.isnan(arr).any():
        bad = tuple(int(i) for i in np.argwhere(np.isnan(arr))[0])
        raise SpecError(f"{what} holds NaN (first at index {bad}); every entry must be a probability")
    if (arr < 0).any() or np.isinf(arr).any():
        bad = tuple(int(i) for i in np.argwhere((arr < 0) | np.isinf(arr))[0])
        raise SpecError(f"{what} has entry {arr[bad]} at index {bad}; probabilities must be finite and >= 0")
    sums = arr.sum(-1)
    if sums.size and np.abs(sums - 1).max() > tol:
        bad = np.unravel_index(int(np.abs(sums - 1).argmax()), sums.shape)
        row = f"row {tuple(int(b) for b in bad)} ({axes})" if bad else "the table"
        raise SpecError(f"{what}: {row} sums to {float(sums[bad]):.6g}, not 1; every row must be a probability "
                        f"distribution over the next state (divide each row by its sum)")
    off = np.abs(sums - 1) > 1e-12  # renormalise only rows visibly off, so saved tables reload bit for bit
    return np.where(off[..., None], arr / np.where(off, sums, 1.0)[..., None], arr)


class MarkovChain(Graph):
    """A discrete-time Markov chain of order ``order`` over the labelled ``states``: a graph of one
    state block ``x`` and one :class:`~graphdgm.graph.Transition` edge on it, tied through time.

    ``transition`` has shape ``(S,) * order + (S,)``: entry ``[a, b, c]`` of an order-2 chain is
    p(x_t = c | x_{t-2} = a, x_{t-1} = b), and every row over the last axis sums to one.
    ``initial`` is the distribution of the first ``order`` states, shape ``(S,) * order``
    (default uniform; pass ``model.stationary()`` of a compiled chain for a stationary start).

    >>> import graphdgm as gd
    >>> mc = gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]])
    >>> mc
    MarkovChain('markov_chain': 2 states ['sun', 'rain'], order 1)
    >>> mc.index("rain"), mc.initial.tolist()
    (1, [0.5, 0.5])
    """

    family_tag = "markov_chain"
    default_view = "family"

    def __init__(self, states: Sequence[Any] | int, transition: Any, initial: Any = None, order: int = 1,
                 name: str = "markov_chain", *, tol: float = 1e-6) -> None:
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise SpecError(f"order must be a positive int (1 for p(x_t | x_(t-1))), got {order!r}")
        super().__init__(str(name))
        self.states = state_labels(states)
        self.order = int(order)
        self._index = {s: i for i, s in enumerate(self.states)}
        S, k = len(self.states), self.order
        ctx = "previous states" if k > 1 else "previous state"
        self.transition = check_stochastic(transition, (S,) * (k + 1), f"transition of {self.name!r}", ctx, tol)
        if initial is None or (isinstance(initial, str) and initial == "uniform"):
            self.initial = np.full((S,) * k, 1.0 / S**k)
        else:
            arr = real_array(initial, f"initial distribution of {self.name!r}")
            if arr.shape != (S,) * k:
                raise SpecError(f"initial distribution of {self.name!r} needs shape {(S,) * k} (one probability per "
                                f"{'tuple of the first ' + str(k) + ' states' if k > 1 else 'state'}), got {arr.shape}")
            self.initial = check_stochastic(arr.reshape(-1), (S**k,), f"initial distribution of {self.name!r}",
                                            "", tol).reshape((S,) * k)
        self.block("x", (), Categorical(S, labels=self.states), bias=False)
        self._seal()

    def _derived_edges(self) -> dict[str, Edge]:
        return {"T_x": Edge("T_x", "x", "x", Transition(self.transition, initial=self.initial, order=self.order))}

    @classmethod
    def from_graph(cls, g: Graph) -> MarkovChain:
        """The chain a graph's Transition edge declares (validated here); states are the block's labels."""
        t = g.transition_edge()
        if t is None:
            raise SpecError(f"graph {g.name!r} has no Transition edge")
        p = t.pattern
        return cls(block_states(g, t.a), p.table, p.initial, order=p.order, name=g.name)

    # ------------------------------------------------------------------ names
    @property
    def num_states(self) -> int:
        """Number of states S (the lifted chain of order k has S^k)."""
        return len(self.states)

    def index(self, label: Any) -> int:
        """The index of state ``label`` (a SpecError naming the known states and close matches)."""
        try:
            return self._index[label]
        except (KeyError, TypeError):
            raise SpecError(unknown_state_message(label, self.states, f"chain {self.name!r}")) from None

    def contexts(self) -> list[tuple[Any, ...]]:
        """The lifted states: every k-tuple of labels, in C order (flat index = Σ x_i S^(k-1-i))."""
        return list(itertools.product(self.states, repeat=self.order))

    def encode(self, sequences: Any) -> tuple[np.ndarray, np.ndarray]:
        """Label sequences -> (padded indices (B, T) with -1 padding, lengths (B,)).

        A flat list of labels is one sequence.

        >>> import graphdgm as gd
        >>> x, n = gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]]).encode([["a", "b"], ["b"]])
        >>> x.tolist(), n.tolist()
        ([[0, 1], [1, -1]], [2, 1])
        """
        return encode_labels(sequences, self._index, self.states, f"chain {self.name!r}")

    def decode(self, indices: Any, lengths: Any = None) -> list[list[Any]]:
        """Padded state indices (B, T) -> one list of labels per sequence (padding dropped).

        >>> import graphdgm as gd
        >>> gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]]).decode([[1, 0, -1]])
        [['b', 'a']]
        """
        arr = np.asarray(indices.detach().cpu() if hasattr(indices, "detach") else indices)
        arr = arr[None] if arr.ndim == 1 else arr
        out = []
        for b, row in enumerate(arr):
            n = int(lengths[b]) if lengths is not None else int((row >= 0).sum())
            out.append([self.states[int(i)] for i in row[:n]])
        return out

    # ---------------------------------------------------------- construction
    @classmethod
    def from_sequences(cls, sequences: Any, states: Sequence[Any] | int | None = None, order: int = 1,
                       pseudo_count: float = 0.0, name: str = "markov_chain") -> MarkovChain:
        """The maximum-likelihood chain of ``order`` for label ``sequences`` (variable lengths).

        With ``pseudo_count`` > 0 the tables are posterior means under a symmetric
        Dirichlet(``pseudo_count``) prior. A context never followed by a state (with
        ``pseudo_count=0``) gets a uniform row; the initial distribution is fitted from the first
        ``order`` states of every sequence; sequences shorter than ``order`` are ignored.
        ``states`` defaults to the sorted labels seen (first-seen order if they do not sort).

        >>> import graphdgm as gd
        >>> mc = gd.MarkovChain.from_sequences([["a", "a", "b"], ["b", "a"]])
        >>> mc.transition.tolist()
        [[0.5, 0.5], [1.0, 0.0]]
        """
        if states is None:
            if not isinstance(sequences, (list, tuple)):
                raise SpecError("from_sequences got index tensors/arrays; give states=... (their labels, in index order)")
            seqs = [sequences] if _is_flat(sequences) else list(sequences)
            seen = list(dict.fromkeys(x.item() if isinstance(x, np.generic) else x for s in seqs for x in s))
            if not seen:
                raise SpecError("from_sequences got no states at all; give non-empty sequences (or states=...)")
            try:
                seen = sorted(seen)
            except TypeError:
                pass
            states = seen
        labels = state_labels(states)
        S = len(labels)
        spec = cls(labels, np.full((S,) * (order + 1), 1.0 / S), order=order, name=name)
        a = float(pseudo_count)
        if not math.isfinite(a) or a < 0:
            raise SpecError(f"pseudo_count must be a finite number >= 0, got {pseudo_count}")
        x, n = spec.encode(sequences) if isinstance(sequences, (list, tuple)) else _index_array(sequences, S)
        k, C = spec.order, S**spec.order
        trans, init = np.zeros((C, S)), np.zeros(C)
        strides = S ** np.arange(k - 1, -1, -1)
        if x.shape[1] > k:  # one count per (context, next state) window
            win = np.lib.stride_tricks.sliding_window_view(x.clip(0), k + 1, axis=1)  # (B, T-k, k+1)
            ok = x[:, k:] >= 0
            np.add.at(trans, ((win[..., :k] @ strides)[ok], win[..., k][ok]), 1.0)
        if x.shape[1] >= k:
            np.add.at(init, (x[:, :k].clip(0) @ strides)[n >= k], 1.0)
        trans, init = trans + a, init + a
        tot = trans.sum(1, keepdims=True)
        spec.transition = np.where(tot > 0, trans / np.maximum(tot, 1e-300), 1.0 / S).reshape((S,) * (k + 1))
        spec.initial = (init / init.sum() if init.sum() > 0 else np.full(C, 1.0 / C)).reshape((S,) * k)
        return spec

    # ---------------------------------------------------------------- views
    def unroll(self, length: int, name: str | None = None) -> Any:
        """The first ``length`` steps as a :class:`~graphdgm.BayesianNetwork` over ``x[0..length-1]``
        (the initial distribution factored by the chain rule), for exact and pgmpy cross-checks.

        >>> import graphdgm as gd
        >>> bn = gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.2, 0.8]]).unroll(3)
        >>> bn.variables, bn.parents["x[2]"]
        (['x[0]', 'x[1]', 'x[2]'], ('x[1]',))
        """
        from graphdgm.spec.bayesian_network import BayesianNetwork
        from graphdgm.spec.domains import Categorical

        length = positive_int(length, "length (time steps to unroll)")
        bn = BayesianNetwork(name or f"{self.name}_unrolled")
        bn.add_block("x", (length,), Categorical(self.num_states, labels=self.states))
        add_chain_cpds(bn, "x", length, self.initial, self.transition)
        return bn

    def __repr__(self) -> str:
        shown = list(self.states[:6]) + (["..."] if self.num_states > 6 else [])
        return f"MarkovChain({self.name!r}: {self.num_states} states {shown}, order {self.order})"


# ------------------------------------------------------------------ helpers
def block_states(g: Graph, block: str) -> tuple[Any, ...]:
    """The state labels of a discrete block of ``g`` (0..S-1 unless its domain names them)."""
    d = g.blocks[block].domain
    if d.kind == "binary":
        return (0, 1)
    return tuple(d.labels) if d.labels else tuple(range(d.cardinality or 0))


def add_chain_cpds(bn: Any, block: str, length: int, initial: np.ndarray, transition: np.ndarray) -> None:
    """Add the CPDs of an order-k chain over ``block[0..length-1]`` to ``bn``: P(x_i | x_<i) from the
    initial distribution for i < k (chain rule; a context of probability zero gets a uniform row),
    then the transition table with the k previous states as parents.

    >>> import graphdgm as gd
    >>> bn = gd.BayesianNetwork(); _ = bn.add_block("x", (3,), gd.Binary())
    >>> add_chain_cpds(bn, "x", 3, np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    >>> bn.parents["x[2]"]
    ('x[1]',)
    """
    k, S = initial.ndim, initial.shape[0]
    for i in range(min(k, length)):
        joint = initial.reshape((S,) * (i + 1) + (-1,)).sum(-1)  # marginal of the first i+1 states
        tot = joint.sum(-1, keepdims=True)
        cond = np.where(tot > 0, joint / np.where(tot > 0, tot, 1), 1.0 / S)
        bn.add_cpd(f"{block}[{i}]", [f"{block}[{j}]" for j in range(i)], cond)
    for t in range(k, length):
        bn.add_cpd(f"{block}[{t}]", [f"{block}[{j}]" for j in range(t - k, t)], transition)


def unknown_state_message(label: Any, states: Sequence[Any], where: str, what: str = "state") -> str:
    """The error text for an unknown label: where, close matches, the known labels.

    >>> unknown_state_message("rian", ["sun", "rain"], "chain 'w'")
    "unknown state 'rian' in chain 'w'. Did you mean 'rain'? Its states are: 'sun', 'rain'."
    """
    close = difflib.get_close_matches(str(label), [str(s) for s in states], n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(repr(s) for s in states[:10]) + (", ..." if len(states) > 10 else "")
    return f"unknown {what} {label!r} in {where}.{hint} Its {what}s are: {shown}."


def _is_flat(sequences: Any) -> bool:
    """True for one sequence of labels: a non-empty list none of whose items is itself a sequence."""
    if not isinstance(sequences, (list, tuple)) or not sequences:
        return False
    return not any(isinstance(s, (list, tuple, np.ndarray)) or hasattr(s, "detach") for s in sequences)


def _index_array(x: Any, S: int) -> tuple[np.ndarray, np.ndarray]:
    """State indices (B, T) or (T,), padded with -1 -> (indices, lengths), checked against 0..S-1."""
    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2 or not (np.issubdtype(a.dtype, np.integer) or (np.isfinite(a).all() and (a == np.round(a)).all())):
        raise SpecError(f"state indices need an integer array of shape (sequences, time) padded with -1, got shape {a.shape}")
    a = a.astype(np.int64)
    if ((a < -1) | (a >= S)).any():
        raise SpecError(f"state indices must lie in 0..{S - 1} (or -1 for padding after a sequence's end)")
    return a, (a >= 0).sum(1)


def encode_labels(sequences: Any, index: dict[Any, int], labels: Sequence[Any], where: str,
                  what: str = "state") -> tuple[np.ndarray, np.ndarray]:
    """Label sequences (a list of lists, or one flat list) -> (indices (B, T) padded with -1, lengths (B,)).

    >>> encode_labels([["b"], ["a", "b"]], {"a": 0, "b": 1}, ["a", "b"], "here")[0].tolist()
    [[1, -1], [0, 1]]
    """
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, (list, tuple)):
        raise SpecError(f"{where}: sequences must be a list of label lists (or a padded tensor of {what} indices), "
                        f"got {type(sequences).__name__}")
    seqs = [list(sequences)] if _is_flat(sequences) else [list(s) for s in sequences]
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.full((len(seqs), int(lengths.max(initial=0))), -1, dtype=np.int64)
    for b, s in enumerate(seqs):
        for t, x in enumerate(s):  # labels are names at the edge: one dict look-up each
            try:
                out[b, t] = index[x.item() if isinstance(x, np.generic) else x]
            except (KeyError, TypeError):
                msg = unknown_state_message(x, labels, where, what)
                raise SpecError(f"sequence {b}, position {t}: {msg}") from None
    return out, lengths


__all__ = ["MarkovChain", "add_chain_cpds", "check_stochastic", "encode_labels", "state_labels"]
