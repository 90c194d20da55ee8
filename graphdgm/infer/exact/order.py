"""Elimination orders for variable elimination: greedy heuristics, frontier orders and restarts.

The interaction graph is held as Python-int bitsets, so simulating an elimination costs a few
big-integer operations per neighbour. The search keeps the order with the smallest largest table
(the induced width, in log2 of entries) and then the smallest total work.
"""
from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class EliminationOrder:
    """An order over the eliminated variables with its cost.

    ``width`` is the induced width (largest clique size minus one); ``log2_max_table`` the log2
    number of entries of the largest intermediate table; ``log2_work`` log2 of Σ clique table sizes.
    """

    order: tuple[int, ...]
    width: int
    log2_max_table: float
    log2_work: float
    heuristic: str
    note: str = ""  # what was tried beyond the order (slicing), for error messages
    log2_written: float = 0.0  # log2 of Σ step output sizes (each clique without its eliminated variable)

    def key(self) -> tuple[float, float]:
        """Sort key, smaller is better: (log2 largest table, log2 work), rounded so ties compare equal."""
        return (round(self.log2_max_table, 6), round(self.log2_work, 6))


def set_bits(x: int):
    """Indices of the set bits of the bit mask ``x``, lowest first.

    >>> list(set_bits(0b1011))
    [0, 1, 3]
    """
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


def adjacency(n: int, edges: np.ndarray) -> list[int]:
    """The interaction graph as bitsets: bit ``b`` of entry ``a`` is set when ``(a, b)`` is an edge.

    >>> adjacency(3, np.array([[0, 1], [1, 2]]))
    [2, 5, 2]
    """
    adj = [0] * n
    for a, b in edges.tolist():
        adj[a] |= 1 << b
        adj[b] |= 1 << a
    return adj


def evaluate_order(order: Sequence[int], adj: list[int], log2_card: Sequence[float], heuristic: str = "given") -> EliminationOrder:
    """Simulate eliminating ``order`` on the bitset graph and return its cost."""
    adj = list(adj)
    alive = (1 << len(adj)) - 1
    width, max_t, work, written = 0, 0.0, 0.0, 0.0
    work_terms, out_terms = [], []
    for v in order:
        nb = adj[v] & alive
        alive &= ~(1 << v)
        size = log2_card[v]
        deg = 0
        for u in set_bits(nb):
            adj[u] |= nb & ~(1 << u)
            size += log2_card[u]
            deg += 1
        width = max(width, deg)
        max_t = max(max_t, size)
        work_terms.append(size)
        out_terms.append(size - log2_card[v])
    if work_terms:
        m = max(work_terms)
        work = m + math.log2(sum(2.0 ** (t - m) for t in work_terms))
        m = max(out_terms)
        written = m + math.log2(sum(2.0 ** (t - m) for t in out_terms))
    return EliminationOrder(tuple(order), width, max_t, work, heuristic, log2_written=written)


def residual_adjacency(adj: list[int], order: Sequence[int]) -> list[int]:
    """The bitset graph left after eliminating ``order`` (fill edges added, eliminated bits cleared)."""
    adj = list(adj)
    alive = (1 << len(adj)) - 1
    for v in order:
        nb = adj[v] & alive
        alive &= ~(1 << v)
        for u in set_bits(nb):
            adj[u] |= nb & ~(1 << u)
    return [a & alive for a in adj]


def greedy_order(
    adj: list[int], log2_card: Sequence[float], eliminate: Sequence[int], criterion: str = "min_fill",
    rng: random.Random | None = None, noise: float = 0.0,
) -> list[int]:
    """Greedy elimination: repeatedly remove the variable that is best under ``criterion``.

    ``criterion`` is "min_fill" (fewest added edges), "weighted_min_fill" (fill weighted by table
    sizes), "min_degree" or "min_weight" (smallest clique table). With ``rng``, ties and near-ties
    (within ``noise`` relative) are broken at random, for restarts. Only variables in
    ``eliminate`` are removed; the others stay in the graph (their edges still count).
    """
    adj = list(adj)
    nbrs = [set(set_bits(a)) for a in adj]  # sets to iterate, bitsets to intersect
    todo = set(eliminate)

    def score(v: int) -> float:
        nb = adj[v]
        if criterion == "min_degree":
            return float(len(nbrs[v]))
        if criterion == "min_weight":
            return log2_card[v] + sum(log2_card[u] for u in nbrs[v])
        if criterion == "weighted_min_fill":
            return sum(2.0 ** (log2_card[u] + log2_card[w]) for u in nbrs[v] for w in set_bits(nb & ~adj[u] & ~(1 << u))) / 2
        return sum((nb & ~adj[u]).bit_count() - 1 for u in nbrs[v]) / 2.0

    scores = {v: score(v) for v in todo}
    heap = [(sc, v) for v, sc in scores.items()]  # (score, variable): stale entries are skipped when popped
    heapq.heapify(heap)
    order: list[int] = []
    while todo:
        if rng is None:  # the smallest (score, variable), as min() over the scores would pick
            while True:
                sc, v = heapq.heappop(heap)
                if scores.get(v) == sc:
                    break
        else:
            best = min(scores.values())
            cut = best + noise * max(best, 1.0)
            v = rng.choice([u for u, sc in scores.items() if sc <= cut])
        nb, nbs = adj[v], nbrs[v]
        for u in nbs:  # connect v's neighbours, drop v
            adj[u] = (adj[u] | nb) & ~(1 << u) & ~(1 << v)
            nbrs[u] |= nbs
            nbrs[u].discard(u)
            nbrs[u].discard(v)
        order.append(v)
        todo.discard(v)
        del scores[v]
        touched = set(nbs)
        if criterion not in ("min_degree", "min_weight"):
            for u in nbs:
                touched |= nbrs[u]
        for u in touched:
            if u in scores:
                scores[u] = score(u)
                if rng is None:
                    heapq.heappush(heap, (scores[u], u))
    return order


def frontier_orders(n: int, edges: np.ndarray, eliminate: Sequence[int]) -> dict[str, list[int]]:
    """Breadth-first and Cuthill-McKee orders: a sweeping frontier, narrow on grids and lattices."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(map(tuple, edges.tolist()))
    keep = set(eliminate)
    out: dict[str, list[int]] = {}
    cm = list(nx.utils.cuthill_mckee_ordering(g))
    out["cuthill_mckee"] = [v for v in cm if v in keep]
    out["reverse_cuthill_mckee"] = [v for v in reversed(cm) if v in keep]
    starts = []
    for comp in nx.connected_components(g):
        sub = g.subgraph(comp)
        starts.append(min(comp, key=lambda v: (sub.degree(v), v)))
    bfs: list[int] = []
    for s in starts:
        bfs.extend(nx.bfs_tree(g, s).nodes)
    out["bfs"] = [v for v in bfs if v in keep]
    return out


GREEDY = ("min_fill", "min_degree", "min_weight", "weighted_min_fill")
HEURISTICS = GREEDY + ("cuthill_mckee", "reverse_cuthill_mckee", "bfs")  # find_order(heuristic=...)
_STEP_SECONDS = 2e-5  # the fixed cost of one elimination step (a few small einsums)
_WRITE_SECONDS = 6e-9  # per entry of a step's output, its pairwise intermediates included (about 3 ns each)
_PRODUCT_SECONDS = 1e-10  # per entry of a clique's table: the products run at batched-matmul speed


def predicted_seconds(order: EliminationOrder) -> float:
    """A rough time for contracting along ``order`` on one CPU core: a fixed cost per step, the
    tables it writes (which dominate) and its products. The order search spends a share of this.
    Measured on the bnlearn networks and grids, where the Σ clique sizes alone mispredicted by 20x
    between binary variables and variables of a hundred states."""
    return (len(order.order) * _STEP_SECONDS + 2.0 ** order.log2_written * _WRITE_SECONDS
            + 2.0 ** order.log2_work * _PRODUCT_SECONDS)


def find_order(
    n: int, edges: np.ndarray, cards: Sequence[int], eliminate: Sequence[int] | None = None, *,
    restarts: int | None = None, time_budget: float | None = None, seed: int = 0, max_table_log2: float = math.inf,
    heuristic: str | None = None,
) -> EliminationOrder:
    """Search heuristics (and randomized restarts) and keep the narrowest order.

    Planning cost follows the problem the order is for: the graph is first compacted to the
    variables that are eliminated or touch them. Without ``time_budget``, one min-fill pass is
    taken as it is when the contraction it predicts (:func:`predicted_seconds`) is cheap (within
    a few times the planning spent); otherwise the other heuristics, frontier orders and restarts
    follow, the restarts getting 10% of the predicted run (at most 2 s; up to 10 s when even the
    best order needs a table above ``max_table_log2``, so that the plan will be sliced and every
    slice repeats the work). Such an order is never taken without the full search.
    ``heuristic`` (one of :data:`HEURISTICS`) takes that one order instead of searching, to
    compare orders or to check an answer with a second one.

    >>> from graphdgm.spec import grid_edges
    >>> o = find_order(16, grid_edges(4, 4), [2] * 16)
    >>> o.width
    4
    """
    t_start = time.perf_counter()
    eliminate = list(range(n)) if eliminate is None else list(eliminate)
    if not eliminate:
        return EliminationOrder((), 0, 0.0, 0.0, "empty")
    nodes = sorted(set(eliminate) | set(np.unique(edges).tolist())) if len(edges) else sorted(set(eliminate))
    if len(nodes) < n:  # compact: bitsets and searches over the sub-problem only
        pos = {v: i for i, v in enumerate(nodes)}
        sub = np.vectorize(pos.__getitem__, otypes=[np.int64])(edges) if len(edges) else edges.reshape(0, 2)
        o = find_order(len(nodes), sub, [cards[v] for v in nodes], [pos[v] for v in eliminate],
                       restarts=restarts, time_budget=time_budget, seed=seed, max_table_log2=max_table_log2,
                       heuristic=heuristic)
        return EliminationOrder(tuple(nodes[i] for i in o.order), o.width, o.log2_max_table, o.log2_work, o.heuristic,
                                log2_written=o.log2_written)
    adj = adjacency(n, edges)
    log2_card = [math.log2(max(int(c), 1)) for c in cards]
    if heuristic is not None:
        if heuristic in GREEDY:
            return evaluate_order(greedy_order(adj, log2_card, eliminate, heuristic), adj, log2_card, heuristic)
        return evaluate_order(frontier_orders(n, edges, eliminate)[heuristic], adj, log2_card, heuristic)
    uniform = len(set(log2_card)) <= 1
    t0 = time.perf_counter()
    best = evaluate_order(greedy_order(adj, log2_card, eliminate, "min_fill"), adj, log2_card, "min_fill")
    if time_budget is None and restarts is None:
        spent = time.perf_counter() - t_start
        if best.log2_max_table <= max_table_log2 and predicted_seconds(best) < max(3.0 * spent, 5e-4):  # the contraction costs about what planning did
            return best
    # the other heuristics while the planning spent stays under half the predicted contraction
    # (all of them when a budget is given or the best order found is still too wide)
    t_greedy = time.perf_counter() - t0

    def worth_it(cost: float) -> bool:
        if time_budget is not None or restarts is not None or best.log2_max_table > max_table_log2:
            return True
        return time.perf_counter() - t_start + cost < 0.5 * min(2.0, predicted_seconds(best))

    tries = 1
    # frontier sweeps win on large lattices; on a few dozen variables the greedy ones are as good
    small = n < 64 and time_budget is None and restarts is None  # min-fill is as good as any greedy rule here
    extra = (["frontier"] if not small else []) + (
        ([] if small else ["min_degree"]) if uniform else (["min_weight"] if small else ["min_degree", "min_weight", "weighted_min_fill"]))
    for crit in extra:
        # weighted min-fill's score is quadratic in the degree: about six min-fill passes
        if not worth_it(6.0 * t_greedy if crit == "weighted_min_fill" else t_greedy):
            continue
        if crit == "frontier":
            cands = [evaluate_order(o, adj, log2_card, name) for name, o in frontier_orders(n, edges, eliminate).items()]
        else:
            cands = [evaluate_order(greedy_order(adj, log2_card, eliminate, crit), adj, log2_card, crit)]
            tries += 1
        best = min([best, *cands], key=EliminationOrder.key)
    one_try = (time.perf_counter() - t0) / tries
    if time_budget is None:  # about 10% of the predicted contraction; up to 10 s when it will be sliced
        time_budget = (min(10.0, 0.05 * 2.0 ** best.log2_work / 2e8) if best.log2_max_table > max_table_log2
                       else min(2.0, 0.1 * predicted_seconds(best)))
    rng = random.Random(seed)
    start, tries = time.perf_counter(), 0
    while (restarts is not None and tries < restarts) or (
        restarts is None and time.perf_counter() - start + one_try < time_budget
    ):
        crit = ("min_fill", "min_degree", "weighted_min_fill")[tries % 3]
        o = greedy_order(adj, log2_card, eliminate, crit, rng=rng, noise=0.1 * (tries % 4))
        cand = evaluate_order(o, adj, log2_card, f"randomized_{crit}")
        if cand.key() < best.key():
            best = cand
        tries += 1
    return best
