"""Replaying an elimination plan on a compiled model's factor tables.

Tables are moved to linear space once (each divided by its own maximum), contracted with
``torch.einsum`` step by step, and each intermediate is rescaled by its maximum, the logs of the
scales being summed. This is as stable as log-space elimination for tables whose entries span
less than ~700 nats (float64), and far faster: no exp/log on the large intermediate tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from graphdgm.infer.exact.plan import Plan, Step


@dataclass
class EliminationResult:
    """``table`` over ``plan.keep`` in linear space, times ``exp(log_const)`` (a scalar); its log,
    ``log_table``, is formed only when asked (a scalar log Z when keep is empty). ``argmax`` has,
    for every max step, the maximising state of its variable as a function of the step's output scope."""

    table: torch.Tensor
    log_const: torch.Tensor
    argmax: dict[int, tuple[torch.Tensor, tuple[int, ...]]]
    _log: torch.Tensor | None = field(default=None, repr=False)

    @property
    def log_table(self) -> torch.Tensor:
        """log of the result over ``plan.keep`` (``log(table) + log_const``), computed once and cached."""
        if self._log is None:
            self._log = torch.log(self.table) + self.log_const
        return self._log

    def log_total(self) -> torch.Tensor:
        """log of the table's sum (log Z given the evidence), without forming the log table."""
        return torch.log(self.table.sum()) + self.log_const


@dataclass
class LinearTables:
    """Every group's log tables, the same divided by each factor's max in linear space, and the maxima.

    ``shallow[g]`` says that no finite entry of group ``g`` lies more than 600 nats below its
    factor's maximum, so an evidence slice of the linear table keeps every value (no underflow).
    Groups the caller does not need may be left out (``None``)."""

    logs: list[torch.Tensor | None]  # per group (F, k_1..k_a)
    lins: list[torch.Tensor | None]  # per group (F, k_1..k_a), exp(log - max)
    maxima: list[torch.Tensor | None]  # per group (F,), finite
    log_scale: torch.Tensor | None  # Σ of every maximum (None when groups were left out)
    shallow: list[bool]
    scales: dict = field(default_factory=dict)  # Σ of the maxima of a pruned plan's factors, by plan.pruned

    def scale_of(self, pruned: tuple[tuple[int, tuple[int, ...]], ...]) -> torch.Tensor | None:
        """Σ of the log maxima of the factors ``pruned`` names (None for no factor); memoised
        for detached tables (a differentiable sum is recomputed, to keep its graph fresh)."""
        hit = self.scales.get(pruned)
        if hit is not None:
            return hit
        parts = [self.maxima[g][list(rows)].sum() for g, rows in pruned]
        total = torch.stack(parts).sum() if parts else None
        if total is not None and not total.requires_grad:
            self.scales[pruned] = total
        return total


def linear_tables(model: torch.nn.Module, detach: bool, groups: set[int] | None = None) -> LinearTables:
    """Each group's tables divided by their own max, in linear space; plus Σ of the log maxima.
    With ``groups``, only those groups (the others are ``None``)."""
    logs, lins, maxima, shallow, total = [], [], [], [], None
    for g, (_, t) in enumerate(model.factor_tables()):
        if groups is not None and g not in groups:
            logs.append(None), lins.append(None), maxima.append(None), shallow.append(False)
            continue
        if detach:
            t = t.detach()
        F = t.shape[0]
        mx = t.reshape(F, -1).amax(1)  # (F,)
        mx = torch.where(torch.isfinite(mx), mx, torch.zeros_like(mx))
        logs.append(t)
        maxima.append(mx)
        rel = t - mx.reshape((F,) + (1,) * (t.dim() - 1))
        lins.append(torch.exp(rel))  # (F, k_1..k_a)
        shallow.append(detach and bool((torch.isinf(rel) | (rel > -600.0)).all()))
        total = mx.sum() if total is None else total + mx.sum()
    return LinearTables(logs, lins, maxima, None if groups is not None else total, shallow)


def device_dtype(tables: LinearTables, model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and dtype to compute in: those of the first linear table, or of the model's values when
    the plan needs no table.
    """
    t = next((x for x in tables.lins if x is not None), None)
    if t is None:  # a pruned plan that needs no table (log Z = 0 of a normalised network, say)
        return model.values.device, model.values.dtype
    return t.device, t.dtype


_VF_EINSUM = getattr(getattr(torch, "_VF", None), "einsum", None)  # the bound aten op torch.einsum ends in


def _einsum(equation: str, operands: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``torch.einsum`` of one or two operands without its Python wrapper, which spends about 3 µs a
    call deciding on a contraction path that one or two operands do not need (a plan runs 10-100
    of these: 5.5 against 8.4 µs on small tables). ``torch.einsum`` where torch lacks the bound op.

    >>> _einsum("ab,b->a", (torch.ones(2, 3), torch.ones(3))).tolist()
    [3.0, 3.0]
    """
    if _VF_EINSUM is not None:
        return _VF_EINSUM(equation, operands)
    return torch.einsum(equation, *operands)


def _observed_slice(tables: LinearTables, group: int, index: int, take: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Slice one factor at its evidence in log space, then rescale by the slice's own maximum, so a
    row far below the table's maximum (1e-600, say) keeps its relative values instead of underflowing.
    Returns the linear slice and the log correction against the factor's full maximum."""
    if tables.shallow[group]:  # the linear slice keeps every value: no rescaling needed
        t = tables.lins[group][index][take]
        if t.dim() == 0:
            return torch.ones((), dtype=t.dtype, device=t.device), torch.log(t)
        return t, None
    lt = tables.logs[group][index][take]
    mx = tables.maxima[group][index]
    if lt.dim() == 0:
        return torch.ones((), dtype=lt.dtype, device=lt.device), lt - mx
    m = lt.detach().amax()
    m = torch.where(torch.isfinite(m), m, mx.detach())
    return torch.exp(lt - m), m - mx


def _contract(ops: list[torch.Tensor], step: Step, consts: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Run a step's pairwise program: two-operand einsums, so no path search at run time. With
    ``consts``, every intermediate is divided by its maximum, whose log is appended there."""
    ops = list(ops)
    for i, j, _, equation in step.pairs:
        out = _einsum(equation, (ops[i],) if j < 0 else (ops[i], ops[j]))
        ops.append(out if consts is None else _rescale(out, consts))
    return ops[-1]


def _peak(t: torch.Tensor) -> torch.Tensor:
    """The largest entry of ``t`` (detached), a scalar."""
    return t.detach().amax() if t.dim() else t.detach()


def _rescale(out: torch.Tensor, consts: list[torch.Tensor]) -> torch.Tensor:
    """``out`` divided by its largest entry (when positive), whose log is appended to ``consts``."""
    m = _peak(out)
    m = torch.where(m > 0, m, torch.ones_like(m))
    consts.append(torch.log(m))
    return out / m


def _max_step(ops: list[torch.Tensor], scopes: list[tuple[int, ...]], step: Step) -> tuple[torch.Tensor, torch.Tensor]:
    union = tuple(sorted({v for sc in scopes for v in sc}))
    pos = {v: i for i, v in enumerate(union)}
    prod = None
    for t, sc in zip(ops, scopes):
        perm = sorted(range(len(sc)), key=lambda i: pos[sc[i]])
        t = t.permute(perm) if perm else t
        shape = [1] * len(union)
        for i in perm:
            shape[pos[sc[i]]] = t.shape[perm.index(i)]
        t = t.reshape(shape)
        prod = t if prod is None else prod * t
    axis = pos[step.var]
    val, arg = prod.max(dim=axis)  # over the eliminated variable
    return val, arg


def run_plan(
    plan: Plan, model: torch.nn.Module, evidence: dict[int, int] | None = None, *,
    indicators: torch.Tensor | None = None, detach: bool = False, tables: LinearTables | None = None,
    rescale: bool = False,
) -> EliminationResult:
    """Execute ``plan`` on ``model``'s factor tables with ``evidence`` (variable -> state) for the
    plan's evidence variables: the same plan answers every assignment to them.

    ``indicators`` (n, kmax) is the linear-space unit table used for the plan's indicator slots;
    the gradient of the resulting log Z with respect to it is the matrix of marginals. ``tables``
    are the model's :func:`linear_tables` when the caller holds them already (detached ones
    give an answer that is not differentiable in the parameters).

    Every table starts divided by its maximum, so entries are at most one. The steps run without
    rescaling while each step's maximum stays within [1e-200, 1e200] (checked once, at the end);
    when one leaves that range the plan is run again rescaling every intermediate by its maximum
    (``rescale=True``), as stable as log-space elimination.
    """
    evidence = {} if evidence is None else evidence
    if set(evidence) != plan.evidence_vars:
        raise ValueError(f"this plan was built for evidence on {sorted(plan.evidence_vars)}, "
                         f"not on {sorted(evidence)}")  # an internal misuse, never a user's input
    if tables is None:
        tables = linear_tables(model, detach, None if plan.pruned is None else {g for g, _ in plan.pruned})
    device, dtype = device_dtype(tables, model)
    slots: list[torch.Tensor | None] = [None] * plan.num_slots
    if plan.pruned is None:
        consts = [tables.log_scale]
    else:  # only the factors the plan uses were divided by their maxima
        scale = tables.scale_of(plan.pruned)
        consts = [torch.zeros((), dtype=dtype, device=device) if scale is None else scale]
    for s, src in enumerate(plan.sources):
        if any(v is not None for v in src.observed):
            t, correction = _observed_slice(tables, src.group, src.index, src.take(evidence))
            if correction is not None:
                consts.append(correction)
        else:
            t = tables.lins[src.group][src.index]
        if src.scope:
            slots[s] = t
        elif not any(v is not None for v in src.observed):
            consts.append(torch.log(t))
    base = len(plan.sources)
    for j, (v,) in enumerate(plan.extra):
        k = int(model.cards[v])
        if indicators is not None and j < plan.num_indicators:
            slots[base + j] = indicators[v, :k]
        else:
            slots[base + j] = torch.ones(k, dtype=dtype, device=device)
    argmax: dict[int, tuple[torch.Tensor, tuple[int, ...]]] = {}
    step_max: list[torch.Tensor] = []
    for step in plan.steps:
        ops = [slots[i] for i in step.inputs]
        scopes = [plan.slot_scopes[i] for i in step.inputs]
        for i in step.inputs:
            slots[i] = None  # free memory as we go
        if not ops:  # a variable in no factor: sums to its cardinality, maximises to 1
            k = float(model.cards[step.var]) if step.mode == "sum" else 1.0
            slots[step.output] = torch.tensor(k, dtype=dtype, device=device)
            if step.mode == "max":
                argmax[step.var] = (torch.zeros((), dtype=torch.long, device=device), ())
            continue
        if step.mode == "sum":
            out = _contract(ops, step, consts if rescale else None)
        else:
            out, arg = _max_step(ops, scopes, step)
            argmax[step.var] = (arg, step.out_scope)
        if rescale:
            out = _rescale(out, consts)
        else:
            step_max.append(_peak(out))
        slots[step.output] = out
    if plan.final_scalars:  # finished parts: multiplied as a sum of logs, which cannot underflow
        consts.append(torch.log(torch.stack([slots[i].reshape(()) for i in plan.final_scalars])).sum())
    if plan.final_pairs:  # two operands at a time: no path search at run time
        ops = [slots[i] for i in plan.final_inputs]
        for i, j, _, equation in plan.final_pairs:
            out = _einsum(equation, (ops[i],) if j < 0 else (ops[i], ops[j]))
            if rescale:
                out = _rescale(out, consts)
            else:
                step_max.append(_peak(out))  # every product is checked, as every elimination step is
            ops.append(out)
        table = ops[-1]
    elif plan.final_inputs:
        lhs, rhs = plan.final_equation.split("->")
        table = slots[plan.final_inputs[0]] if lhs == rhs else torch.einsum(plan.final_equation, *[slots[i] for i in plan.final_inputs])
    else:
        table = torch.ones((), dtype=dtype, device=device)
    if not rescale and (step_max or plan.final_pairs):
        step_max.append(_peak(table))
        ms = torch.stack([m.reshape(()) for m in step_max])
        if not bool(((ms >= 1e-200) & (ms <= 1e200)).all()):  # an intermediate left the safe range
            return run_plan(plan, model, evidence, indicators=indicators, detach=detach, tables=tables, rescale=True)
    const = torch.stack([c.reshape(()) for c in consts]).sum()
    return EliminationResult(table, const, argmax)


def decode_argmax(plan: Plan, result: EliminationResult, n: int, evidence: dict[int, int], device: torch.device) -> torch.Tensor:
    """Trace the max steps back in reverse order to the maximising joint state (n,) (long)."""
    state = torch.zeros(n, dtype=torch.long, device=device)
    for v, s in evidence.items():
        state[v] = s
    for step in reversed(plan.steps):
        if step.mode != "max" or step.var not in result.argmax:
            continue
        arg, scope = result.argmax[step.var]
        state[step.var] = arg[tuple(state[u] for u in scope)] if scope else arg
    return state
