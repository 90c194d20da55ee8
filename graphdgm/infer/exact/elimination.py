"""Replaying an elimination plan on a compiled model's factor tables.

Tables are moved to linear space once (each divided by its own maximum), contracted with
``torch.einsum`` step by step, and each intermediate is rescaled by its maximum, the logs of the
scales being summed. This is as stable as log-space elimination for tables whose entries span
less than ~700 nats (float64), and far faster: no exp/log on the large intermediate tables.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from graphdgm.infer.exact.plan import Plan, Step


@dataclass
class EliminationResult:
    """``log_table`` over ``plan.keep`` (a scalar log Z when keep is empty); ``table`` is the same
    table in linear space up to a constant (for normalising); ``argmax`` has, for every max step,
    the maximising state of its variable as a function of the step's output scope."""

    log_table: torch.Tensor
    table: torch.Tensor
    argmax: dict[int, tuple[torch.Tensor, tuple[int, ...]]]


@dataclass
class _Tables:
    """Every group's log tables, the same divided by each factor's max in linear space, and the maxima."""

    logs: list[torch.Tensor]  # per group (F, k_1..k_a)
    lins: list[torch.Tensor]  # per group (F, k_1..k_a), exp(log - max)
    maxima: list[torch.Tensor]  # per group (F,), finite
    log_scale: torch.Tensor  # Σ of every maximum


def _linear_tables(model: torch.nn.Module, detach: bool) -> _Tables:
    """Each group's tables divided by their own max, in linear space; plus Σ of the log maxima."""
    logs, lins, maxima, total = [], [], [], None
    for _, t in model.factor_tables():
        if detach:
            t = t.detach()
        F = t.shape[0]
        mx = t.reshape(F, -1).amax(1)  # (F,)
        mx = torch.where(torch.isfinite(mx), mx, torch.zeros_like(mx))
        logs.append(t)
        maxima.append(mx)
        lins.append(torch.exp(t - mx.reshape((F,) + (1,) * (t.dim() - 1))))  # (F, k_1..k_a)
        total = mx.sum() if total is None else total + mx.sum()
    return _Tables(logs, lins, maxima, total)


def _observed_slice(tables: _Tables, group: int, index: int, take: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Slice one factor at its evidence in log space, then rescale by the slice's own maximum, so a
    row far below the table's maximum (1e-600, say) keeps its relative values instead of underflowing.
    Returns the linear slice and the log correction against the factor's full maximum."""
    lt = tables.logs[group][index][take]
    mx = tables.maxima[group][index]
    if lt.dim() == 0:
        return torch.ones((), dtype=lt.dtype, device=lt.device), lt - mx
    m = lt.detach().amax()
    m = torch.where(torch.isfinite(m), m, mx.detach())
    return torch.exp(lt - m), m - mx


def _contract(ops: list[torch.Tensor], step: Step) -> torch.Tensor:
    """Run a step's pairwise program: two-operand einsums, so no path search at run time."""
    ops = list(ops)
    for i, j, _, equation in step.pairs:
        ops.append(torch.einsum(equation, ops[i]) if j < 0 else torch.einsum(equation, ops[i], ops[j]))
    return ops[-1]


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
    indicators: torch.Tensor | None = None, detach: bool = False,
) -> EliminationResult:
    """Execute ``plan`` on ``model``'s factor tables with ``evidence`` (variable -> state) for the
    plan's evidence variables: the same plan answers every assignment to them.

    ``indicators`` (n, kmax) is the linear-space unit table used for the plan's indicator slots;
    the gradient of the resulting log Z with respect to it is the matrix of marginals.
    """
    evidence = {} if evidence is None else evidence
    if set(evidence) != plan.evidence_vars:
        raise ValueError(f"this plan was built for evidence on {sorted(plan.evidence_vars)}, "
                         f"not on {sorted(evidence)}")  # an internal misuse, never a user's input
    tables = _linear_tables(model, detach)
    device, dtype = tables.lins[0].device, tables.lins[0].dtype
    slots: list[torch.Tensor | None] = [None] * plan.num_slots
    consts = [tables.log_scale]
    for s, src in enumerate(plan.sources):
        if any(v is not None for v in src.observed):
            t, correction = _observed_slice(tables, src.group, src.index, src.take(evidence))
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
        if indicators is not None and j < len(plan.extra) - len(plan.keep):
            slots[base + j] = indicators[v, :k]
        else:
            slots[base + j] = torch.ones(k, dtype=dtype, device=device)
    argmax: dict[int, tuple[torch.Tensor, tuple[int, ...]]] = {}
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
            out = _contract(ops, step)
        else:
            out, arg = _max_step(ops, scopes, step)
            argmax[step.var] = (arg, step.out_scope)
        m = out.detach().amax() if out.dim() else out.detach()
        m = torch.where(m > 0, m, torch.ones_like(m))
        out = out / m
        consts.append(torch.log(m))
        slots[step.output] = out
    if plan.final_inputs:
        table = torch.einsum(plan.final_equation, *[slots[i] for i in plan.final_inputs])
    else:
        table = torch.ones((), dtype=dtype, device=device)
    const = torch.stack([c.reshape(()) for c in consts]).sum()
    return EliminationResult(torch.log(table) + const, table, argmax)


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
