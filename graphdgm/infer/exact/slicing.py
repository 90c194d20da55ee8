"""Slicing: condition on a few variables so that every table of the elimination fits a memory budget.

Fixing a variable to each of its states removes it from every table it is in; the answer is the
sum (for log Z and marginals) or the maximum (for MAP) of the answers of the slices. The total work
grows by the number of slices, so the variables are chosen greedily where they cut the largest
tables most: each pick is scored by the oversize of the cliques it is in, the best few candidates
are tried on the order, and the one leaving the smallest largest table (then the least total work,
slices included) is kept, until the largest table fits.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from graphdgm.infer.exact.order import EliminationOrder, set_bits, evaluate_order


@dataclass(frozen=True)
class Slicing:
    """The variables a plan is sliced on, their cardinalities, and the order before slicing.

    ``before`` is the order found for the whole problem (its width is the width before slicing);
    the plan's own ``order`` is the one every slice runs (the width after)."""

    variables: tuple[int, ...]
    cards: tuple[int, ...]
    before: EliminationOrder

    @property
    def num_slices(self) -> int:
        """Number of slices: the product of the sliced variables' cardinalities."""
        return math.prod(self.cards)

    def assignments(self) -> Iterator[dict[int, int]]:
        """Every joint state of the sliced variables, as ``{variable: state}``."""
        for states in itertools.product(*(range(k) for k in self.cards)):
            yield dict(zip(self.variables, states))


def _cliques(order: Sequence[int], adj: list[int], log2_card: Sequence[float]) -> list[tuple[int, float]]:
    """The clique (as a bitset, the eliminated variable included) and its log2 table size, per step."""
    adj = list(adj)
    alive = (1 << len(adj)) - 1
    out = []
    for v in order:
        nb = adj[v] & alive
        alive &= ~(1 << v)
        size = log2_card[v]
        for u in set_bits(nb):
            adj[u] |= nb & ~(1 << u)
            size += log2_card[u]
        out.append((nb | (1 << v), size))
    return out


def without(adj: list[int], removed: Sequence[int]) -> list[int]:
    """The bitset graph with ``removed`` taken out (conditioned on)."""
    mask = 0
    for v in removed:
        mask |= 1 << v
    return [0 if (mask >> i) & 1 else a & ~mask for i, a in enumerate(adj)]


def choose_slices(adj: list[int], log2_card: Sequence[float], order: EliminationOrder, candidates: Sequence[int],
                  max_table_log2: float, max_slices: int, tries: int = 6,
                  reorder: Callable[[list[int], list[int]], list[int]] | None = None) -> tuple[tuple[int, ...], EliminationOrder]:
    """Greedily pick variables among ``candidates`` to condition on until the largest table of
    ``order`` (re-simulated without them) is at most 2^``max_table_log2``, or until more slices
    would exceed ``max_slices``. Returns the variables and the order left for every slice (its
    ``log2_max_table`` tells whether the budget was met). With ``reorder(graph, eliminate)``, a
    fresh order is searched on the graph left after each pick and replaces the current one when
    it is better: conditioning changes which order is best.

    >>> import numpy as np
    >>> from graphdgm.infer.exact.order import adjacency, find_order
    >>> from graphdgm.spec import grid_edges
    >>> adj, card = adjacency(36, grid_edges(6, 6)), [1.0] * 36
    >>> order = find_order(36, grid_edges(6, 6), [2] * 36)
    >>> chosen, left = choose_slices(adj, card, order, range(36), order.log2_max_table - 2, 64)
    >>> len(chosen) >= 1 and left.log2_max_table <= order.log2_max_table - 2
    True
    """
    cand = set(candidates)
    chosen: list[int] = []
    current = order
    log2_slices = 0.0
    limit = math.log2(max(max_slices, 1))
    while current.log2_max_table > max_table_log2 + 1e-9:
        sub = without(adj, chosen)
        big = [(c, s) for c, s in _cliques(current.order, sub, log2_card) if s > max_table_log2 + 1e-9]
        score: dict[int, float] = {}
        for c, s in big:
            for v in set_bits(c):
                if v in cand:
                    score[v] = score.get(v, 0.0) + 2.0 ** (s - max_table_log2)
        picks = [v for v in sorted(score, key=lambda u: (-score[u], u)) if log2_slices + log2_card[v] <= limit + 1e-9][:tries]
        if not picks:
            break
        best = None
        for v in picks:
            rest = [u for u in current.order if u != v]
            o = evaluate_order(rest, without(sub, [v]), log2_card, order.heuristic)
            key = (round(o.log2_max_table, 6), round(o.log2_work + log2_card[v], 6))
            if best is None or key < best[0]:
                best = (key, v, o)
        _, v, current = best
        chosen.append(v)
        log2_slices += log2_card[v]
        if reorder is not None and current.log2_max_table > max_table_log2 + 1e-9:
            sub = without(adj, chosen)
            fresh = evaluate_order(reorder(sub, list(current.order)), sub, log2_card, order.heuristic)
            if fresh.key() < current.key():
                current = fresh
    return tuple(chosen), current
