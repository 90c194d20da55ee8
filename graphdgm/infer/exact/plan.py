"""Contraction plans for bucket elimination: built once per (evidence variables, query, mode), then replayed.

A plan is symbolic: slots hold factor scopes; each step takes every live slot that mentions the
eliminated variable and writes one new slot. Executing it is a short sequence of tensor ops. A plan
knows *which* variables are observed, never their values: the values are given when it runs, so
one plan serves every evidence assignment to the same variables.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from graphdgm.infer.exact.order import (
    EliminationOrder, adjacency, evaluate_order, find_order, greedy_order, predicted_seconds, residual_adjacency,
)
from graphdgm.infer.exact.slicing import Slicing, choose_slices

import numpy as np

from graphdgm.errors import InferenceError


@dataclass(frozen=True)
class Step:
    """Eliminate ``var`` from the product of ``inputs`` by sum or max, writing slot ``output``."""

    var: int
    mode: str  # "sum" or "max"
    inputs: tuple[int, ...]
    output: int
    out_scope: tuple[int, ...]
    pairs: tuple[tuple[int, int, tuple[int, ...], str], ...] = ()  # sum steps: pairwise program


def _bitsets(scopes: Sequence[Sequence[int]], cards: Sequence[int], out_scope: Sequence[int]) -> tuple:
    """``(variables, mask_of, size)`` for planning a product: the variables in play (sorted), a scope
    as a bitmask over them, and a bitmask's table size (memoised).

    >>> allv, mask_of, size = _bitsets([(3, 7)], [1, 1, 1, 2, 1, 1, 1, 5], ())
    >>> allv, mask_of((7,)), size(mask_of((3, 7)))
    ([3, 7], 2, 10)
    """
    allv = sorted({v for sc in scopes for v in sc} | set(out_scope))
    loc = {v: b for b, v in enumerate(allv)}
    card = [cards[v] for v in allv]
    sizes: dict[int, int] = {}

    def mask_of(sc: Sequence[int]) -> int:
        m = 0
        for v in sc:
            m |= 1 << loc[v]
        return m

    def size(m: int) -> int:
        got = sizes.get(m)
        if got is None:
            got, x = 1, m
            while x:
                low = x & -x
                got *= card[low.bit_length() - 1]
                x ^= low
            sizes[m] = got
        return got

    return allv, mask_of, size


def pairwise_program(scopes: list[tuple[int, ...]], cards: list[int], out_scope: tuple[int, ...],
                     exhaustive_up_to: int = 8) -> tuple:
    """Greedy pairwise contraction order for one product-then-sum: always join the two operands
    whose joint table is smallest; a variable is summed as soon as no other operand or the output
    needs it. Returns ``((i, j, scope, equation), ...)``; operand ``len(scopes) + t`` is the t-th
    result; ``j == -1`` marks a single-operand sum. Up to ``exhaustive_up_to`` operands every
    pair is compared; beyond, the smallest operand is joined with its best partner.

    >>> [p[:3] for p in pairwise_program([(0, 1), (1, 2), (2,)], [2, 2, 2], (0,))]
    [(1, 2, (1,)), (0, 3, (0,))]
    """
    if not scopes:
        return ()
    if len(scopes) == 1:  # one operand: sum out what the output does not keep
        return () if tuple(scopes[0]) == tuple(out_scope) else ((0, -1, tuple(out_scope), einsum_equation([scopes[0]], tuple(out_scope))),)
    if len(scopes) == 2:  # one product, summed straight into the output's axis order
        return ((0, 1, tuple(out_scope), einsum_equation(list(scopes), tuple(out_scope))),)
    # scopes as bitmasks over the variables in play; sizes memoised; counts kept as operands merge
    allv, mask_of, size = _bitsets(scopes, cards, out_scope)

    ops = {i: tuple(sc) for i, sc in enumerate(scopes)}
    masks = {i: mask_of(sc) for i, sc in enumerate(scopes)}
    out_mask = mask_of(out_scope)
    count = [0] * len(allv)
    for m in masks.values():
        x = m
        while x:
            low = x & -x
            count[low.bit_length() - 1] += 1
            x ^= low
    program = []
    nxt = len(scopes)
    while len(ops) > 1:
        keys = sorted(ops)
        if len(keys) <= exhaustive_up_to:  # every pair
            pairs = ((keys[a], keys[b]) for a in range(len(keys)) for b in range(a + 1, len(keys)))
        else:  # many operands: the smallest one with each other (quadratic, not cubic, in the count)
            first = min(keys, key=lambda i: (size(masks[i]), i))
            pairs = ((min(first, j), max(first, j)) for j in keys if j != first)
        best = None
        for i, j in pairs:
            cost = size(masks[i] | masks[j])
            if best is None or cost < best[0]:
                best = (cost, i, j)
        _, i, j = best
        mi, mj = masks[i], masks[j]
        union, keep_mask, x = mi | mj, 0, mi | mj
        while x:  # a variable stays when the output or another operand needs it
            low = x & -x
            b = low.bit_length() - 1
            if (out_mask & low) or count[b] - ((mi >> b) & 1) - ((mj >> b) & 1) > 0:
                keep_mask |= low
            count[b] -= ((mi >> b) & 1) + ((mj >> b) & 1)
            x ^= low
        sc = tuple(allv[b] for b in range(len(allv)) if (keep_mask >> b) & 1)
        x = keep_mask
        while x:
            low = x & -x
            count[low.bit_length() - 1] += 1
            x ^= low
        program.append((i, j, sc, einsum_equation([ops[i], ops[j]], sc)))
        del ops[i], ops[j], masks[i], masks[j]
        ops[nxt], masks[nxt] = sc, keep_mask
        nxt += 1
    (k, last), = ops.items()
    if last != tuple(out_scope):
        program.append((k, -1, tuple(out_scope), einsum_equation([last], tuple(out_scope))))
    return tuple(program)


def chain_program(scopes: list[tuple[int, ...]], out_scope: tuple[int, ...]) -> tuple:
    """Operands multiplied left to right, each variable summed once no later operand or the output
    needs it, in :func:`pairwise_program`'s format: for small problems (every table within the
    free space of a few thousand states), where choosing the pairs would cost more than it saves.

    >>> [p[:3] for p in chain_program([(0, 1), (1, 2), (2,)], (0,))]
    [(0, 1, (0, 2)), (3, 2, (0,))]
    """
    if len(scopes) < 2:
        return pairwise_program(list(scopes), [], out_scope) if scopes else ()
    last_use: dict[int, int] = {}
    for k, sc in enumerate(scopes):
        for v in sc:
            last_use[v] = k
    keep = set(out_scope)
    program, cur, cur_id = [], tuple(scopes[0]), 0
    for k in range(1, len(scopes)):
        nxt = scopes[k]
        union = list(dict.fromkeys(cur + tuple(nxt)))
        sc = tuple(v for v in union if v in keep or last_use[v] > k)
        if k == len(scopes) - 1:
            sc = tuple(out_scope)
        program.append((cur_id, k, sc, einsum_equation([cur, tuple(nxt)], sc)))
        cur, cur_id = sc, len(scopes) + len(program) - 1
    return tuple(program)


def tree_program(scopes: list[tuple[int, ...]], cards: list[int], out_scope: tuple[int, ...], *,
                 equations: bool = True) -> tuple:
    """A contraction tree over every operand at once, in :func:`pairwise_program`'s format.

    Variables held by one operand only (and not kept) are summed in it first; then, greedily, the
    two operands that share a variable and whose product, once summed, frees the most memory
    (the smallest size(result) - size(a) - size(b)) are joined, a variable being summed as soon
    as no other operand or the output needs it; parts that share nothing are joined last, smallest
    first. Unlike elimination, no table over a variable's whole neighbourhood is ever formed,
    which pays off where a variable has many large neighbours. With ``equations=False`` the
    einsum equations are left empty (for costing a tree before it is taken).

    >>> [p[:3] for p in tree_program([(0, 1), (1, 2), (2,)], [2, 2, 2], (0,))]
    [(0, 1, (0, 2)), (2, 3, (0,))]
    """
    if not scopes:
        return ()
    allv, mask_of, size = _bitsets(scopes, cards, out_scope)

    ops = {i: tuple(sc) for i, sc in enumerate(scopes)}
    masks = {i: mask_of(sc) for i, sc in enumerate(scopes)}
    out_mask = mask_of(out_scope)
    holders: list[set[int]] = [set() for _ in allv]  # the live operands holding each variable
    for i, m in masks.items():
        x = m
        while x:
            low = x & -x
            holders[low.bit_length() - 1].add(i)
            x ^= low
    two = three = 0  # variables held by at least two / three live operands

    def recount(m: int) -> None:
        nonlocal two, three
        x = m
        while x:
            low = x & -x
            c = len(holders[low.bit_length() - 1])
            two = two | low if c >= 2 else two & ~low
            three = three | low if c >= 3 else three & ~low
            x ^= low

    recount((1 << len(allv)) - 1)

    def result(mi: int, mj: int) -> int:
        """The scope mask of a product, summed where no other operand or the output needs a variable."""
        return ((mi | mj) & out_mask) | ((mi ^ mj) & two) | (mi & mj & three)

    program: list = []
    nxt = len(scopes)

    def merge(i: int, j: int, r: int) -> int:
        nonlocal nxt
        sc = tuple(allv[b] for b in range(len(allv)) if (r >> b) & 1)
        program.append((i, j, sc, einsum_equation([ops[i]] + ([ops[j]] if j >= 0 else []), sc) if equations else ""))
        touched = r
        for k in (i, j):
            if k >= 0:
                x = masks[k]
                touched |= x
                while x:
                    low = x & -x
                    holders[low.bit_length() - 1].discard(k)
                    x ^= low
                del ops[k], masks[k]
        k, nxt = nxt, nxt + 1
        ops[k], masks[k] = sc, r
        x = r
        while x:
            low = x & -x
            holders[low.bit_length() - 1].add(k)
            x ^= low
        recount(touched)
        return k

    heap: list[tuple[int, int, int]] = []

    def push_partners(i: int) -> None:
        partners: set[int] = set()
        mi = masks[i]
        x = mi & two
        while x:
            low = x & -x
            partners |= holders[low.bit_length() - 1]
            x ^= low
        partners.discard(i)
        si = size(mi)
        for j in partners:
            mj = masks[j]
            heapq.heappush(heap, (size(result(mi, mj)) - si - size(mj), min(i, j), max(i, j)))

    for i in list(ops):  # sums inside one operand first
        r = result(masks[i], 0)
        if r != masks[i]:
            merge(i, -1, r)
    for i in sorted(ops):
        push_partners(i)
    while heap:
        c, i, j = heapq.heappop(heap)
        if i not in ops or j not in ops:
            continue
        mi, mj = masks[i], masks[j]
        r = result(mi, mj)
        c_now = size(r) - size(mi) - size(mj)
        if c_now != c:  # another join changed what this one may sum: re-queue at its cost now
            heapq.heappush(heap, (c_now, i, j))
            continue
        push_partners(merge(i, j, r))
    while len(ops) > 1:  # parts that share no variable: outer products, smallest first
        a, b = sorted(sorted(ops, key=lambda k: (size(masks[k]), k))[:2])
        merge(a, b, result(masks[a], masks[b]))
    (k, last), = ops.items()
    if last != tuple(out_scope):
        program.append((k, -1, tuple(out_scope), einsum_equation([last], tuple(out_scope)) if equations else ""))
    return tuple(program)


_OUT_SECONDS = 3.3e-9  # per entry a pairwise product writes (measured on the bnlearn networks, one core)
_PRODUCT_SECONDS = 1e-10  # per entry of a product's joint index space (batched matmul speed)
_EINSUM_SECONDS = 5e-6  # the fixed cost of one einsum call


def program_seconds(scopes: Sequence[tuple[int, ...]], program: tuple, cards: Sequence[int]) -> float:
    """A rough time for running a pairwise program on one CPU core. What it writes dominates
    (about 3 ns an entry); the products themselves run at matmul speed.

    >>> program_seconds([(0, 1), (1, 2)], tree_program([(0, 1), (1, 2)], [2, 2, 2], (0, 2)), [2, 2, 2]) < 1e-4
    True
    """
    ops = list(scopes)
    t = 0.0
    for i, j, sc, _ in program:
        joint = set(ops[i]) | (set(ops[j]) if j >= 0 else set())
        t += _EINSUM_SECONDS + _OUT_SECONDS * math.prod(cards[v] for v in sc) + _PRODUCT_SECONDS * math.prod(cards[v] for v in joint)
        ops.append(sc)
    return t


def einsum_equation(scopes: list[tuple[int, ...]], out_scope: tuple[int, ...]) -> str:
    """``"ab,bc->ac"`` for the given variable scopes (at most 52 distinct variables).

    >>> einsum_equation([(3, 7), (7, 9)], (3, 9))
    'ab,bc->ac'
    """
    letters: dict[int, str] = {}
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for sc in list(scopes) + [out_scope]:
        for v in sc:
            if v not in letters:
                if len(letters) == len(alphabet):
                    raise InferenceError(
                        f"an elimination step joins more than {len(alphabet)} variables (its scopes span "
                        f"{len({u for sc in list(scopes) + [out_scope] for u in sc})}), more than one contraction "
                        "can index; that is too wide for exact inference")
                letters[v] = alphabet[len(letters)]
    ins = ",".join("".join(letters[v] for v in sc) for sc in scopes)
    return ins + "->" + "".join(letters[v] for v in out_scope)


@dataclass(frozen=True)
class FactorSource:
    """Where an initial slot comes from: factor ``index`` of group ``group``, sliced at evidence.

    ``observed`` names, per table axis, the evidence variable it is sliced at (``None`` for a free
    axis); the states come from the evidence given when the plan runs."""

    group: int
    index: int
    observed: tuple[int | None, ...]
    scope: tuple[int, ...]

    def take(self, evidence: dict[int, int]) -> tuple:
        """The index into this factor's table for ``evidence``: a state per observed axis."""
        return tuple(slice(None) if v is None else evidence[v] for v in self.observed)


def scope_edges(scopes: Sequence[tuple[int, ...]], evidence: Collection[int] = ()) -> np.ndarray:
    """The interaction graph of ``scopes`` without the ``evidence`` variables: unique pairs (E, 2), i < j.

    >>> scope_edges([(0, 1, 2), (2, 3)], {1}).tolist()
    [[0, 2], [2, 3]]
    """
    ev = set(evidence)
    pairs = set()
    for sc in scopes:
        free = sorted({v for v in sc if v not in ev})
        for a in range(len(free)):
            for b in range(a + 1, len(free)):
                pairs.add((free[a], free[b]))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.array(sorted(pairs), dtype=np.int64)


@dataclass(frozen=True)
class Plan:
    """A contraction plan for one set of evidence variables, query and mode: the initial slots
    (``sources`` and ``extra``), the elimination ``steps``, and the final product over ``keep``
    (``final_equation``); ``order`` is its cost, ``slicing`` the variables it is conditioned on, if any.
    """
    evidence_vars: frozenset[int]
    sources: tuple[FactorSource, ...]  # slots 0..len(sources)-1
    extra: tuple[tuple[int, ...], ...]  # following slots: unit unary factors (indicators) on these vars
    steps: tuple[Step, ...]
    final_inputs: tuple[int, ...]
    keep: tuple[int, ...]
    slot_scopes: tuple[tuple[int, ...], ...]
    order: EliminationOrder
    num_slots: int
    final_equation: str
    pruned: tuple[tuple[int, tuple[int, ...]], ...] | None = None  # (group, factor rows) used, when not every factor is
    final_pairs: tuple = ()  # the final product as a pairwise program (see pairwise_program)
    final_scalars: tuple[int, ...] = ()  # slots holding scalars (finished parts): their logs are summed
    slicing: Slicing | None = None  # variables conditioned on (in evidence_vars) so that every table fits
    num_indicators: int = 0  # the first slots of ``extra`` are indicators; the rest unit factors of kept variables


def build_plan(
    scopes: list[tuple[int, int, tuple[int, ...]]], n: int, cards: list[int], edges: np.ndarray,
    evidence: dict[int, int], keep: tuple[int, ...], max_vars: tuple[int, ...] = (), indicators: tuple[int, ...] = (),
    seed: int = 0, check_order: Callable[[EliminationOrder, tuple[int, ...]], None] | None = None,
    factors: Sequence[int] | None = None, max_table_log2: float = math.inf, max_slices: int = 1,
    candidate_order: Sequence[int] | None = None, heuristic: str | None = None,
) -> Plan:
    """Plan variable elimination.

    ``scopes`` lists (group, index, scope) for every factor. Variables in ``evidence`` are sliced
    away; ``keep`` survives to the output; ``max_vars`` are max-eliminated after every other
    variable is summed out (exact marginal MAP; all non-evidence variables for a plain MAP);
    ``indicators`` get a unit unary factor each, whose gradient is that variable's marginal.
    Only the evidence *variables* matter (a set or the keys of a dict): their states are given to
    :func:`run_plan`. ``check_order(order, keep)`` may refuse an order (too wide) before any step is built.
    ``factors`` (positions in ``scopes``) restricts the plan to a pruned problem: only those factors,
    and only the variables they or the query touch; ``max_table_log2`` is the table budget the
    order search must respect before it may stop early.

    When the best order's largest table is above 2^``max_table_log2`` and ``max_slices`` > 1, the
    plan is *sliced* (:mod:`graphdgm.infer.exact.slicing`): a few variables (summed, or maximised
    ones for a MAP plan; never kept ones) become evidence, chosen so that every table fits, and
    the plan's ``slicing`` names them; its caller runs the plan once per joint state of them.
    ``candidate_order`` is an order to compare with the search (the sliced one, say); ``heuristic``
    takes one named order instead of the search (see :func:`~graphdgm.infer.exact.order.find_order`).
    """
    whole = (scopes, n, cards, edges, evidence, keep, max_vars, indicators, seed, check_order, factors, max_table_log2,
             heuristic)
    if factors is not None:  # a pruned problem: only these factors, and the variables they and the query touch
        scopes = [scopes[f] for f in factors]
        present = {v for _, _, sc in scopes for v in sc} | set(keep) | set(max_vars) | set(indicators)
        free = sorted(v for v in present if v not in evidence)
        sub_edges = scope_edges([sc for _, _, sc in scopes], evidence)
    else:
        free = [v for v in range(n) if v not in evidence]
        mask = np.array([v not in evidence for v in range(n)])
        sub_edges = edges[mask[edges[:, 0]] & mask[edges[:, 1]]] if len(edges) else edges
    not_summed = set(keep) | set(max_vars)
    sum_vars = [v for v in free if v not in not_summed]
    covered = {v for _, _, sc in scopes for v in sc} | set(indicators) | set(keep)
    space_log2 = sum(math.log2(max(cards[v], 1)) for v in free)
    if not max_vars and space_log2 <= min(12.0, max_table_log2) and all(v in covered for v in sum_vars):
        # a small problem (at most 2^12 free states): no order to search, one pairwise contraction (below)
        order_sum = EliminationOrder((), max(len(free) - 1, 0), space_log2, space_log2, "one contraction")
    else:
        order_sum = find_order(n, sub_edges, cards, sum_vars, seed=seed, max_table_log2=max_table_log2, heuristic=heuristic)
    if candidate_order is not None:
        sv = set(sum_vars)
        given = evaluate_order([v for v in candidate_order if v in sv], adjacency(n, sub_edges),
                               [math.log2(max(c, 1)) for c in cards], order_sum.heuristic)
        if given.key() < order_sum.key():
            order_sum = given
    order = list(order_sum.order)
    if max_vars:
        log2_card = [math.log2(max(c, 1)) for c in cards]
        adj = adjacency(n, sub_edges)
        residual = residual_adjacency(adj, order)
        order += greedy_order(residual, log2_card, [v for v in max_vars if v not in evidence], "min_fill")
        full = evaluate_order(order, adj, log2_card, order_sum.heuristic + "+max")
    else:
        full = order_sum
    if full.log2_max_table > max_table_log2 and max_slices > 1:
        sliced = _sliced(whole, full, free, sub_edges, max_slices)
        if isinstance(sliced, Plan):
            return sliced
        full = sliced  # slicing could not fit the budget: the order says how far it got
    if check_order is not None:
        check_order(full, tuple(keep))
    max_set = set(max_vars)

    sources, slot_scopes = [], []
    for g, i, scope in scopes:
        observed = tuple(v if v in evidence else None for v in scope)
        sources.append(FactorSource(g, i, observed, tuple(v for v in scope if v not in evidence)))
        slot_scopes.append(sources[-1].scope)
    in_sources = {v for src in sources for v in src.scope}
    # unit factors: an indicator per variable asked; a kept variable no factor holds still appears
    extra = tuple((v,) for v in indicators) + tuple((v,) for v in keep if v not in in_sources)
    slot_scopes.extend(extra)
    live: dict[int, set[int]] = {}
    for s, scope in enumerate(slot_scopes):
        for v in scope:
            live.setdefault(v, set()).add(s)
    alive = set(range(len(slot_scopes)))
    steps = []
    deferred: set[int] = set()  # summed variables whose axis a slot keeps until its next product sums it
    for v in order:
        ins = tuple(sorted(live.get(v, ())))
        if len(ins) == 1 and not max_set:
            # one table holds v: rather than an einsum of its own, the table's next product sums v
            live.pop(v, None)
            deferred.add(v)
            continue
        out_scope = tuple(sorted({u for s in ins for u in slot_scopes[s]} - {v} - deferred))
        out = len(slot_scopes)
        slot_scopes.append(out_scope)
        for s in ins:
            alive.discard(s)
            for u in slot_scopes[s]:
                if u not in deferred:
                    live[u].discard(s)
        for u in out_scope:
            live.setdefault(u, set()).add(out)
        live.pop(v, None)
        alive.add(out)
        mode = "max" if v in max_set else "sum"
        try:
            if mode != "sum":
                prog = ()
            elif math.prod(cards[u] for u in {w for s in ins for w in slot_scopes[s]}) <= 4096:  # a small clique: any pairing is as good
                prog = chain_program([slot_scopes[s] for s in ins], out_scope)
            else:
                prog = pairwise_program([slot_scopes[s] for s in ins], cards, out_scope)
        except InferenceError as e:
            raise InferenceError(
                f"{e}: the elimination order found ({full.heuristic}) has induced width {full.width}. Use an "
                "approximate backend (backend='bp', 'mean_field' or gd.infer.Gibbs) or add evidence") from None
        steps.append(Step(v, mode, ins, out, out_scope, prog))
    finals = tuple(s for s in sorted(alive) if slot_scopes[s])  # scalar sources go to consts
    scalars = tuple(s for s in sorted(alive) if not slot_scopes[s] and s >= len(sources))  # multiplied in log space
    if len(finals) <= 1:
        final_pairs = ()
    elif not order:  # one contraction of small tables: left to right
        final_pairs = chain_program([slot_scopes[s] for s in finals], tuple(keep))
    else:
        final_pairs = pairwise_program([slot_scopes[s] for s in finals], cards, tuple(keep))
    if not max_vars and steps and heuristic is None and predicted_seconds(full) > 0.5 * _TREE_WORTH_SECONDS:
        tree = _tree_plan(steps, slot_scopes, finals, final_pairs, len(sources) + len(extra), cards, tuple(keep),
                          max_table_log2)
        if tree is not None:
            finals, final_pairs, scalars = tree
            steps, slot_scopes = [], slot_scopes[: len(sources) + len(extra)]
            full = replace(full, heuristic=full.heuristic + ", contraction tree")
    return Plan(
        frozenset(evidence), tuple(sources), extra, tuple(steps), finals, tuple(keep), tuple(slot_scopes), full, len(slot_scopes),
        einsum_equation([slot_scopes[s] for s in finals], tuple(keep)) if len(finals) == 1 else "",
        None if factors is None else _rows_by_group(sources), final_pairs, scalars, None, len(indicators),
    )


_TREE_WORTH_SECONDS = 2.5e-3  # an elimination predicted to run longer than this is compared with a contraction tree (which costs up to a millisecond to plan)


def _tree_plan(steps: list[Step], slot_scopes: list[tuple[int, ...]], finals: tuple[int, ...], final_pairs: tuple,
               num_initial: int, cards: list[int], keep: tuple[int, ...], max_table_log2: float) -> tuple | None:
    """(final inputs, final program, scalars) of a contraction tree over the initial slots when it
    is predicted to run faster than the elimination ``steps``, else None. Both are costed by
    :func:`program_seconds`: elimination orders minimise clique sizes, and a variable with many
    large neighbours makes a clique far larger than any table a tree needs. Every table the tree
    writes must fit ``max_table_log2`` too."""
    ve = sum(program_seconds([slot_scopes[i] for i in st.inputs], st.pairs, cards) for st in steps)
    ve += program_seconds([slot_scopes[i] for i in finals], final_pairs, cards)
    if ve < _TREE_WORTH_SECONDS:
        return None
    initial = tuple(i for i in range(num_initial) if slot_scopes[i])
    if not initial:
        return None
    scopes = [slot_scopes[i] for i in initial]
    program = tree_program(scopes, cards, keep, equations=False)
    if program_seconds(scopes, program, cards) >= 0.8 * ve:
        return None
    if any(sum(math.log2(cards[v]) for v in sc) > max_table_log2 for _, _, sc, _ in program):
        return None
    try:
        program = tree_program(scopes, cards, keep)  # the same tree, now with its equations
    except InferenceError:  # a product over more variables than one einsum can index
        return None
    if len(initial) == 1 and not program:
        return initial, (), ()
    if not program:
        return None
    return initial, program, ()


def _sliced(whole: tuple, full: EliminationOrder, free: Sequence[int], sub_edges: np.ndarray,
            max_slices: int) -> Plan | EliminationOrder:
    """The plan sliced on a few variables so that every table fits, or (when no ``max_slices``
    slices suffice) ``full`` with a note of how far slicing got."""
    scopes, n, cards, edges, evidence, keep, max_vars, indicators, seed, check_order, factors, budget, heuristic = whole
    log2_card = [math.log2(max(c, 1)) for c in cards]
    kept = set(keep)
    candidates = [v for v in (max_vars if max_vars else free) if v not in kept and v not in evidence]
    reorder = None if max_vars else (lambda graph, todo: greedy_order(graph, log2_card, todo, "min_fill"))
    chosen, left = choose_slices(adjacency(n, sub_edges), log2_card, full, candidates, budget, max_slices, reorder=reorder)
    slices = math.prod(cards[v] for v in chosen)
    if left.log2_max_table > budget:
        return replace(full, note=(f"; slicing on {len(chosen)} variables ({slices} slices, the most max_slices="
                                   f"{max_slices} allows) still leaves a table of 2^{left.log2_max_table:.1f}"))
    s = set(chosen)
    plan = build_plan(scopes, n, cards, edges, set(evidence) | s, keep, tuple(v for v in max_vars if v not in s),
                      tuple(v for v in indicators if v not in s), seed, check_order, factors, budget,
                      max_slices=1, candidate_order=left.order, heuristic=heuristic)
    return replace(plan, slicing=Slicing(tuple(chosen), tuple(cards[v] for v in chosen), full))


def _rows_by_group(sources: Sequence[FactorSource]) -> tuple[tuple[int, tuple[int, ...]], ...]:
    rows: dict[int, list[int]] = {}
    for src in sources:
        rows.setdefault(src.group, []).append(src.index)
    return tuple((g, tuple(r)) for g, r in sorted(rows.items()))
