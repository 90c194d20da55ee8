"""Pruning an exact query to the factors its answer depends on.

Two rules, each exact:

- **Barren variables** (factors that are conditional distributions of one child): a variable that
  is neither a target nor evidence and has no such descendant sums out to one with its whole
  subtree, so only the CPTs of the ancestors of the targets and the evidence are kept.
- **Separated components** (for normalised answers: marginals, joints): after slicing the
  evidence, a connected part of the interaction graph that holds no target multiplies the answer
  by a constant, which normalising removes. On the ancestral set of a Bayesian network this is
  d-separation (the moral graph of the ancestors, evidence removed).

A log-partition query may use the first rule only: every component's constant is part of log Z.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FactorIndex:
    """The query-independent part of pruning: each factor's scope, the factors on each variable,
    and, when every factor is one child's conditional distribution, the child of each factor."""

    scopes: tuple[tuple[int, ...], ...]
    var_factors: tuple[tuple[int, ...], ...]
    child_factor: tuple[int, ...] | None  # per variable: the position of its CPT (-1 if none)

    @classmethod
    def build(cls, scopes: Sequence[tuple[int, ...]], n: int, children: Sequence[int] | None = None) -> FactorIndex:
        """``children[f]`` is the child variable of factor ``f`` (its last scope axis), or None for
        factors that are not conditional distributions.

        >>> idx = FactorIndex.build([(0,), (0, 1), (1, 2)], 3, children=[0, 1, 2])
        >>> idx.var_factors, idx.child_factor
        (((0, 1), (1, 2), (2,)), (0, 1, 2))
        """
        on: list[list[int]] = [[] for _ in range(n)]
        for f, sc in enumerate(scopes):
            for v in set(sc):
                on[v].append(f)
        child = None
        if children is not None:
            c = [-1] * n
            for f, v in enumerate(children):
                c[v] = f
            child = tuple(c)
        return cls(tuple(tuple(s) for s in scopes), tuple(tuple(x) for x in on), child)


def relevant_factors(index: FactorIndex, evidence: Collection[int], targets: Collection[int], *,
                     barren: bool, separated: bool, positive: Sequence[bool] | None = None) -> tuple[int, ...]:
    """The positions of the factors a query needs, in increasing order.

    ``barren`` drops the CPTs of variables that are not ancestors of a target or of the evidence
    (only valid when ``index.child_factor`` is set and every CPT is normalised over its child);
    ``separated`` keeps only the factors reachable from a free target through free variables
    (valid when the answer is normalised afterwards). A separated part is kept all the same when
    one of its factors has a zero (``positive[f]`` False): the evidence might be impossible there,
    and that must be found and said, not normalised away.

    >>> idx = FactorIndex.build([(0,), (0, 1), (1, 2), (3,)], 4, children=[0, 1, 2, 3])
    >>> relevant_factors(idx, {1}, {0}, barren=True, separated=False)      # 2 and 3 are barren
    (0, 1)
    >>> relevant_factors(idx, {1}, {2}, barren=True, separated=True)       # 0 is cut off by the evidence on 1
    (2,)
    >>> relevant_factors(idx, {1}, {2}, barren=True, separated=True, positive=[False, True, True, True])
    (0, 1, 2)
    """
    ev = set(evidence)
    scopes = index.scopes
    if barren and index.child_factor is not None:
        seen = set(targets) | ev
        stack = list(seen)
        active: set[int] = set()
        while stack:  # ancestors: up through each variable's CPT
            f = index.child_factor[stack.pop()]
            if f < 0 or f in active:
                continue
            active.add(f)
            for u in scopes[f]:
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        allowed: set[int] | None = active
    else:
        allowed = None
    if not separated:
        return tuple(range(len(scopes))) if allowed is None else tuple(sorted(allowed))

    def component(start_vars: list[int], start_factors: list[int]) -> set[int]:
        """The factors connected to these through free variables."""
        seen_v, reached = set(start_vars), set(start_factors)
        stack = list(start_vars)
        for f in start_factors:
            for u in scopes[f]:
                if u not in seen_v and u not in ev:
                    seen_v.add(u)
                    stack.append(u)
        while stack:
            v = stack.pop()
            for f in index.var_factors[v]:
                if f in reached or (allowed is not None and f not in allowed):
                    continue
                reached.add(f)
                for u in scopes[f]:
                    if u not in seen_v and u not in ev:
                        seen_v.add(u)
                        stack.append(u)
        return reached

    keep = component([v for v in set(targets) if v not in ev], [])
    if positive is not None:  # separated parts holding a zero stay: their evidence may be impossible
        candidates = range(len(scopes)) if allowed is None else sorted(allowed)
        done = set(keep)
        for f in candidates:
            if f in done or positive[f]:
                continue
            part = component([], [f])
            done |= part
            keep |= part
    return tuple(sorted(keep))
