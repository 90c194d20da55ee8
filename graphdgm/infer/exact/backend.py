"""The exact backend: variable elimination (sum- and max-product) over the compiled factor tables."""
from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from graphdgm.errors import EvidenceError, InferenceError
from graphdgm.infer.exact.elimination import LinearTables, decode_argmax, linear_tables, run_plan
from graphdgm.infer.exact.order import EliminationOrder
from graphdgm.infer.exact.plan import Plan, build_plan
from graphdgm.infer.exact.prune import FactorIndex, relevant_factors
from graphdgm.infer.registry import approximate_backends
from graphdgm.runtime import PlanCache
from graphdgm.runtime.progress import progress_bar

_PLANS: PlanCache = PlanCache(max_per_model=256)  # per model: plans by (pruned problem, query shape)
_STRUCTURES: PlanCache = PlanCache(max_per_model=1)  # per model: what planning reads, built once
_TABLES: PlanCache = PlanCache(max_per_model=1)  # per model: detached linear tables for the current parameters


class _Fingerprint:
    """A 64-bit hash of the bits of some tensors: their bits (as integers) dotted with fixed random
    odd weights (wrapping integer arithmetic), so any changed entry changes it. Large tensors get a
    dot each (no copy); small ones of a dtype are concatenated into one. Every exact query pays
    this (about 0.7 ns an entry on a CPU core), so that a table changed in place is never missed."""

    _SMALL = 1 << 14  # entries: below this, one concatenation beats a call per tensor

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = list(tensors)
        self.weights: dict[object, torch.Tensor] = {}
        self._ptrs: tuple | None = None
        self._views: list[tuple[object, list[torch.Tensor]]] = []

    def _dot(self, key: object, flat: torch.Tensor) -> torch.Tensor:
        bits = flat.view({8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}[flat.element_size()])
        if bits.dtype != torch.int64:
            bits = bits.long()
        w = self.weights.get(key)
        if w is None or w.numel() != bits.numel() or w.device != bits.device:
            g = torch.Generator().manual_seed(12345 + hash(key) % 100003)
            w = (torch.randint(-2 ** 62, 2 ** 62, (bits.numel(),), generator=g) * 2 + 1).to(bits.device)
            self.weights[key] = w
        if bits.device.type == "cpu":
            return torch.dot(bits, w)
        return (bits * w).sum()  # integer dot products exist on CPU only

    def _layout(self) -> list[tuple[object, list[torch.Tensor]]]:
        """(weight key, flat views to hash together): one entry per large tensor, one per dtype and
        device for the small ones. Views alias the tensors' storage, so they see in-place writes
        (a non-contiguous tensor is kept as it is and flattened, a copy, at every call)."""
        small: dict[object, list[torch.Tensor]] = {}
        out: list[tuple[object, list[torch.Tensor]]] = []
        for k, t in enumerate(self.tensors):
            if t.numel() == 0:
                continue
            flat = t.detach().view(-1) if t.is_contiguous() else t.detach()
            if t.numel() < self._SMALL:
                small.setdefault((t.dtype, t.device), []).append(flat)
            else:
                out.append((k, [flat]))
        return out + list(small.items())

    def __call__(self) -> tuple:
        ptrs = tuple((t.data_ptr(), t.numel(), t.dtype, t.device, t.is_contiguous()) for t in self.tensors)
        if ptrs != self._ptrs:  # new storage (or the first call): new views
            self._ptrs, self._views = ptrs, self._layout()
        sums = []
        for key, views in self._views:
            flat = [v if v.dim() == 1 else v.reshape(-1) for v in views]
            sums.append(self._dot(key, torch.cat(flat) if len(flat) > 1 else flat[0]))
        return (ptrs, tuple(torch.stack(sums).tolist()) if sums else ())


@dataclass(frozen=True)
class _Structure:
    """What planning reads from a compiled model: factor scopes, cardinalities, Markov edges, and
    the index pruning walks (with each factor's child when every factor is a CPT)."""

    scopes: list[tuple[int, int, tuple[int, ...]]]
    cards: list[int]
    edges: np.ndarray
    index: FactorIndex
    fingerprint: _Fingerprint  # of the tensors the tables are computed from


def _structure(model: torch.nn.Module) -> _Structure:
    scopes = [(g, i, tuple(row)) for g, (scope, _) in enumerate(model.factor_tables()) for i, row in enumerate(scope.tolist())]
    edges = model.markov_edges()
    edges.setflags(write=False)
    children = model.factor_children() if "cpd_factors" in getattr(model, "capabilities", ()) else None
    index = FactorIndex.build([sc for _, _, sc in scopes], model.num_variables, children)
    tensors = model.factor_tensors() if hasattr(model, "factor_tensors") else [
        t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    return _Structure(scopes, model.cards.tolist(), edges, index, _Fingerprint(tensors))


@dataclass(frozen=True)
class _CachedTables:
    tables: LinearTables
    cpds_normalised: bool  # every factor sums to one over its child (its last axis)
    positive: tuple[bool, ...]  # per factor (structure order): no zero entry


def _table_key(model: torch.nn.Module) -> tuple:
    """Changes when any bit of a tensor the factor tables read changes, however it was changed
    (an optimiser's fused kernel or a write through ``.data`` leaves version counters alone)."""
    return ("tables", _STRUCTURES.get(model, "structure", lambda: _structure(model)).fingerprint())


def _cached_tables(model: torch.nn.Module) -> _CachedTables:
    """The detached linear tables of the current parameters (rebuilt when a table changes in
    place: an optimiser step, a load), and whether the CPTs are still normalised."""
    def build() -> _CachedTables:
        with torch.no_grad():
            tables = linear_tables(model, detach=True)
            normalised = "cpd_factors" in getattr(model, "capabilities", ()) and all(
                bool((torch.logsumexp(t, -1).abs() < 1e-9).all()) for t in tables.logs)
            positive = tuple(b for t in tables.logs for b in (t.reshape(t.shape[0], -1) > -math.inf).all(1).tolist())
        return _CachedTables(tables, normalised, positive)
    return _TABLES.get(model, _table_key(model), build)


class Exact:
    """Exact inference by variable elimination with a searched elimination order, sliced to fit memory.

    Every intermediate table must fit the memory budget: ``memory_budget`` bytes (a quarter of
    the machine's memory, or of the GPU's for a model on one, by default), of which one table may
    take a quarter; ``max_table_log2`` caps a table's entries directly instead. When the best order
    found needs a larger table, the plan is *sliced*: up to ``max_slices`` joint states of a few
    variables are answered one after another and summed (maximised for MAP), each within the budget;
    a problem that does not fit even so gets an ``InferenceError`` stating the width. All
    single-variable marginals come from one pass, as the gradient of log Z with respect to unit
    indicator factors. ``progress`` shows a bar over the slices (None: on a terminal, for 8 or more).
    ``heuristic`` (min_fill, min_degree, min_weight, weighted_min_fill, cuthill_mckee,
    reverse_cuthill_mckee or bfs) takes that elimination order instead of searching, to check
    an answer with a second order.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.2))
    >>> round(float(gd.log_partition(model, backend=gd.infer.Exact())), 3)
    6.483
    >>> sliced = gd.infer.Exact(max_table_log2=2, max_slices=64)  # tables of 4 entries: sliced
    >>> round(float(gd.log_partition(model, backend=sliced)), 3)
    6.483
    """

    name = "exact"
    requires = frozenset({"factor_tables"})
    approximate = False

    def __init__(self, max_table_log2: float | None = None, seed: int = 0, *, memory_budget: int | None = None,
                 max_slices: int = 1024, heuristic: str | None = None, progress: bool | None = None) -> None:
        from graphdgm.infer.exact.order import HEURISTICS
        from graphdgm.infer.options import check_choice, check_real

        self.heuristic = None if heuristic is None else check_choice("Exact", "heuristic", heuristic, HEURISTICS)
        self.memory_budget = None if memory_budget is None else int(check_real("Exact", "memory_budget", memory_budget, 1.0, 2.0 ** 62))
        self._explicit_log2 = None if max_table_log2 is None else check_real("Exact", "max_table_log2", max_table_log2, 0.0, 1e9)
        self.max_slices = int(check_real("Exact", "max_slices", max_slices, 1.0, 2.0 ** 40))
        self.seed = int(seed)
        self.progress = progress

    @property
    def max_table_log2(self) -> float:
        """log2 of the most entries one table may have on the host (see :meth:`table_log2`)."""
        return self.table_log2(None)

    def table_log2(self, model: torch.nn.Module | None) -> float:
        """log2 of the most entries one intermediate table may have for ``model``: ``max_table_log2``
        when given, else a quarter of the memory budget in float64 entries (the budget defaulting
        to a quarter of the memory of the model's device)."""
        if self._explicit_log2 is not None:
            return self._explicit_log2
        budget = self.memory_budget if self.memory_budget is not None else _device_memory(model) // 4
        return math.floor(4 * math.log2(max(budget / (4 * 8), 2.0))) / 4  # float64 tables, a quarter each

    # ----------------------------------------------------------------- plans
    def plan(self, model: torch.nn.Module, evidence: Collection[int], keep: tuple[int, ...] = (),
             max_vars: tuple[int, ...] = (), indicators: tuple[int, ...] = (), *, normalised: bool = False,
             cached: _CachedTables | None = None) -> Plan:
        """The elimination plan for this query shape on ``model``: which variables are observed,
        kept, maximised, or get indicators. Plans hold no evidence values and no parameters, so one
        plan answers every evidence assignment, and the cache is shared safely between threads.

        The problem is pruned first (:mod:`graphdgm.infer.exact.prune`): barren variables when every
        factor is a normalised CPT, and, when the caller normalises the answer (``normalised``),
        the parts the evidence separates from the query. The plan then holds only the factors left,
        and its ``evidence_vars`` only the evidence they touch; run it with that evidence
        (:meth:`relevant_evidence`)."""
        structure = _STRUCTURES.get(model, "structure", lambda: _structure(model))
        targets = set(keep) | set(max_vars) | set(indicators)
        if cached is None and (structure.index.child_factor is not None or normalised):
            cached = _cached_tables(model)
        barren = structure.index.child_factor is not None and cached.cpds_normalised
        if barren or normalised:
            factors: tuple[int, ...] | None = relevant_factors(
                structure.index, evidence, targets, barren=barren, separated=normalised,
                positive=cached.positive if evidence else None)
            touched = {v for f in factors for v in structure.index.scopes[f]}
            ev = frozenset(v for v in evidence if v in touched)
        else:
            factors, ev = None, frozenset(evidence)
        budget = self.table_log2(model)
        key = ("plan", factors, ev, keep, max_vars, indicators, self.seed, budget, self.max_slices, self.heuristic)
        def build() -> Plan:
            plan = build_plan(
                structure.scopes, model.num_variables, structure.cards, structure.edges, ev, keep,
                max_vars, indicators, self.seed, check_order=lambda order, kept: self._check_width(order, kept, model),
                factors=factors, max_table_log2=budget, max_slices=self.max_slices, heuristic=self.heuristic)
            _warn_if_long(plan, model)
            return plan

        plan = _PLANS.get(model, key, build)
        self._check_width(plan.order, plan.keep, model)  # a plan cached by a backend with a larger budget
        return plan

    @staticmethod
    def relevant_evidence(plan: Plan, evidence: dict[int, int]) -> dict[int, int]:
        """The part of ``evidence`` that ``plan`` reads (pruning may have dropped the rest)."""
        return {v: s for v, s in evidence.items() if v in plan.evidence_vars}

    def _check_width(self, order: EliminationOrder, keep: tuple[int, ...], model: torch.nn.Module) -> None:
        cards = model.cards.tolist()
        keep_log2 = sum(math.log2(cards[v]) for v in keep)
        largest = max(order.log2_max_table, keep_log2)
        budget = self.table_log2(model)
        if largest > budget:
            approx = approximate_backends(model)
            raise InferenceError(
                f"exact inference is too wide for this model: the best elimination order found "
                f"({order.heuristic}) has induced width {order.width} and a largest table of "
                f"2^{largest:.1f} entries, above the limit 2^{budget:g} (max_table_log2 or memory_budget){order.note}. "
                f"Use an approximate backend ({', '.join(approx) if approx else 'loopy BP, mean field or Gibbs, once installed'}), "
                "add evidence, or raise memory_budget (or max_slices) if memory and time allow."
            )

    # --------------------------------------------------------------- queries
    def slices(self, plan: Plan, evidence: dict[int, int]) -> Iterator[dict[int, int]]:
        """The evidence each run of ``plan`` reads: the relevant part of ``evidence`` alone, or, for
        a sliced plan, with every joint state of the sliced variables in turn (a progress bar
        follows them)."""
        ev = self.relevant_evidence(plan, evidence)
        if plan.slicing is None:
            yield ev
            return
        many = plan.slicing.num_slices >= 8
        for extra in progress_bar(plan.slicing.assignments(), self.progress if many else False, desc="exact: slices",
                                  total=plan.slicing.num_slices):
            yield {**ev, **extra}

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, int]) -> torch.Tensor:
        """log Σ_x p̃(x) over states that agree with ``evidence``; differentiable in the parameters
        (for a Bayesian network, log P(evidence), from the ancestors of the evidence only)."""
        cached = _cached_tables(model)
        plan = self.plan(model, evidence, cached=cached)
        grad = torch.is_grad_enabled() and any(p.requires_grad for p in model.parameters())
        logs = [run_plan(plan, model, ev, tables=None if grad else cached.tables).log_table for ev in self.slices(plan, evidence)]
        return logs[0] if len(logs) == 1 else torch.logsumexp(torch.stack(logs), 0)

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> list[torch.Tensor]:
        """Single-variable marginals p(x_v | evidence) for every v in ``variables``, in one pass
        (the joint of a few variables, summed, or the gradient of log Z with respect to indicators)."""
        free = tuple(sorted(v for v in set(variables) if v not in evidence))
        out: dict[int, torch.Tensor] = {}
        if not free and evidence:
            with torch.no_grad():
                _raise_if_impossible(self.log_partition(model, evidence), evidence, model)
        if free and len(free) <= 4 and math.prod(int(model.cards[v]) for v in free) <= 65536:
            try:  # a few variables: their joint, then sums (no backward pass)
                table = self._normalised_joint(model, free, evidence)
            except InferenceError:  # the joint is too wide: the indicators below need less
                table = None
            if table is not None:
                for a, v in enumerate(free):
                    others = tuple(b for b in range(len(free)) if b != a)
                    out[v] = table.sum(others) if others else table  # sum(()) would sum every axis
                free = ()
        if free:
            cached = _cached_tables(model)
            plan = self.plan(model, evidence, indicators=free, normalised=True, cached=cached)
            probs = self._indicator_marginals(model, plan, free, evidence, cached)
            for v in free:
                p = probs[v, : int(model.cards[v])]
                out[v] = p / p.sum()
        for v in variables:
            if v in evidence:
                p = torch.zeros(int(model.cards[v]), dtype=model.values.dtype, device=model.values.device)
                p[evidence[v]] = 1.0
                out[v] = p
        return [out[v] for v in variables]

    def _indicator_marginals(self, model: torch.nn.Module, plan: Plan, free: tuple[int, ...], evidence: dict[int, int],
                             cached: _CachedTables) -> torch.Tensor:
        """(n, max_card) marginals of ``free`` (other rows unused): the gradient of log Z with respect
        to indicators, or for a sliced plan, each slice's marginals weighted by its share of Z (a
        sliced variable's marginal is the share of the slices at each of its states)."""
        n, kmax = model.num_variables, model.max_card
        sliced = () if plan.slicing is None else plan.slicing.variables
        total, peak, weight = None, -math.inf, 0.0  # Σ probs·w and Σ w, relative to the largest slice
        for ev in self.slices(plan, evidence):
            ind = torch.ones(n, kmax, dtype=model.values.dtype, device=model.values.device, requires_grad=True)
            with torch.enable_grad():
                res = run_plan(plan, model, ev, indicators=ind, detach=True, tables=cached.tables)
                if plan.slicing is None:
                    _raise_if_impossible(res.log_table, evidence, model)
                else:
                    lz = float(res.log_table.detach())
                    if not math.isfinite(lz):  # this slice has no weight
                        continue
                if res.log_table.requires_grad:
                    (probs,) = torch.autograd.grad(res.log_table, ind, allow_unused=True)
                else:  # every indicator was sliced away: the slice's marginals are its states
                    probs = None
                probs = torch.zeros_like(ind.detach()) if probs is None else probs
            if plan.slicing is None:
                return probs
            for v in sliced:
                probs[v].zero_()
                probs[v, ev[v]] = 1.0
            if lz > peak:  # keep the running sum relative to the largest slice
                shrink = math.exp(peak - lz)
                total = None if total is None else total * shrink
                weight *= shrink
                peak = lz
            w = math.exp(lz - peak)
            total = probs * w if total is None else total + probs * w
            weight += w
        if total is None:
            _raise_if_impossible(torch.tensor(-math.inf), evidence, model)
        return total / weight

    def _normalised_joint(self, model: torch.nn.Module, free: tuple[int, ...], evidence: dict[int, int]) -> torch.Tensor:
        """p(free | evidence), one axis per variable of ``free`` (distinct, none observed)."""
        cached = _cached_tables(model)
        plan = self.plan(model, evidence, keep=free, normalised=True, cached=cached)
        with torch.no_grad():
            if plan.slicing is None:
                res = run_plan(plan, model, self.relevant_evidence(plan, evidence), detach=True, tables=cached.tables)
                _raise_if_impossible(res.log_total(), evidence, model)
                return res.table / res.table.sum()
            acc = None  # log of the joint summed over slices
            for ev in self.slices(plan, evidence):
                lt = run_plan(plan, model, ev, detach=True, tables=cached.tables).log_table
                acc = lt if acc is None else torch.logaddexp(acc, lt)
            _raise_if_impossible(torch.logsumexp(acc.reshape(-1), 0), evidence, model)
            table = torch.exp(acc - acc.max())
        return table / table.sum()

    def joint(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> torch.Tensor:
        """Joint p(variables | evidence) as a tensor with one axis per variable, in the given order."""
        free = tuple(v for v in variables if v not in evidence)
        table = self._normalised_joint(model, free, evidence) if free else None
        if table is None:
            with torch.no_grad():
                _raise_if_impossible(self.log_partition(model, evidence), evidence, model)
            table = torch.ones((), dtype=model.values.dtype, device=model.values.device)
        for axis, v in enumerate(variables):  # evidence variables become point-mass axes
            if v in evidence:
                k = int(model.cards[v])
                onehot = torch.zeros(k, dtype=table.dtype, device=table.device)
                onehot[evidence[v]] = 1.0
                table = table.unsqueeze(axis) * onehot.reshape([k if a == axis else 1 for a in range(table.dim() + 1)])
        return table

    def map(self, model: torch.nn.Module, evidence: dict[int, int], variables: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable joint state (max-product with traceback) and its unnormalised log score.

        With ``variables``, the marginal MAP: the other variables are summed out first. A sliced
        plan keeps the best slice (slicing only ever fixes maximised variables here).
        """
        n = model.num_variables
        max_vars = tuple(v for v in (range(n) if variables is None else variables) if v not in evidence)
        with torch.no_grad():
            cached = _cached_tables(model)
            plan = self.plan(model, evidence, max_vars=max_vars, cached=cached)
            best = None
            for ev in self.slices(plan, evidence):
                res = run_plan(plan, model, ev, detach=True, tables=cached.tables)
                if best is None or float(res.log_table) > float(best[0].log_table):
                    best = (res, ev)
            res, ev = best
            _raise_if_impossible(res.log_table, evidence, model)
            state = decode_argmax(plan, res, n, {**evidence, **ev}, model.values.device)
        return state, res.log_table


_CPU_RATE = 2e8  # table entries a second that a CPU core's contraction reaches on large tables (measured)
LONG_SLICED_SECONDS = 60.0  # a sliced plan predicted to run longer than this warns when it is planned


def predicted_seconds(plan: Plan) -> float:
    """A rough time for one run of ``plan`` (all its slices) on a CPU core: its work in table entries
    over the rate contraction reaches on large tables here (2e8 a second); a GPU is faster.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3))
    >>> predicted_seconds(gd.infer.Exact().plan(model, {})) < 1
    True
    """
    slices = 1 if plan.slicing is None else plan.slicing.num_slices
    return slices * 2.0 ** plan.order.log2_work / _CPU_RATE


def _warn_if_long(plan: Plan, model: torch.nn.Module) -> None:
    """Warn, once per plan, when a sliced plan is predicted to take more than a minute on a CPU."""
    if plan.slicing is None:
        return
    device = getattr(getattr(model, "values", None), "device", None)
    seconds = predicted_seconds(plan)
    if seconds > LONG_SLICED_SECONDS and (device is None or device.type == "cpu"):
        import warnings

        before = plan.slicing.before
        warnings.warn(
            f"exact inference will slice this query into {plan.slicing.num_slices} parts (width {before.width} -> "
            f"{plan.order.width}, to fit the memory budget), about {seconds / 60:.0f} min on a CPU core; "
            "pass a smaller max_slices to refuse it, a larger memory_budget if memory allows, or use an approximate "
            "backend", UserWarning, stacklevel=5)


def _device_memory(model: torch.nn.Module | None) -> int:
    """Bytes of memory on ``model``'s device: the GPU's for a CUDA model, else the machine's."""
    device = getattr(getattr(model, "values", None), "device", None)
    if device is not None and device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): assume 8 GiB
        return 8 * 2 ** 30


def _raise_if_impossible(log_z: torch.Tensor, evidence: dict[int, int], model: torch.nn.Module) -> None:
    if not torch.isfinite(log_z):
        shown = {model.variables[v]: model.state_labels(v)[s] for v, s in list(evidence.items())[:8]}
        if evidence:
            raise EvidenceError(f"the evidence {shown} has probability zero under the model; no state agrees with it")
        raise InferenceError(f"log Z is {float(log_z)}: the model's potentials are zero or overflow everywhere")
