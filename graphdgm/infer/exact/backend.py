"""The exact backend: variable elimination (sum- and max-product) over the compiled factor tables."""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import torch

from graphdgm.errors import EvidenceError, InferenceError
from graphdgm.infer.exact.elimination import decode_argmax, run_plan
from graphdgm.infer.exact.plan import Plan, build_plan
from graphdgm.infer.exact.order import EliminationOrder
from graphdgm.infer.registry import approximate_backends
from graphdgm.runtime import PlanCache

_PLANS: PlanCache = PlanCache(max_per_model=64)  # per model: its structure and plans by query shape


@dataclass(frozen=True)
class _Structure:
    """What planning reads from a compiled model: factor scopes, cardinalities, Markov edges."""

    scopes: list[tuple[int, int, tuple[int, ...]]]
    cards: list[int]
    edges: np.ndarray


def _structure(model: torch.nn.Module) -> _Structure:
    scopes = [(g, i, tuple(row)) for g, (scope, _) in enumerate(model.factor_tables()) for i, row in enumerate(scope.tolist())]
    edges = model.markov_edges()
    edges.setflags(write=False)
    return _Structure(scopes, model.cards.tolist(), edges)


class Exact:
    """Exact inference by variable elimination with a searched elimination order.

    ``max_table_log2`` caps the largest intermediate table (2^27 entries, 1 GiB in float64, by
    default); wider models get an ``InferenceError`` stating the width. All single-variable
    marginals come from one pass, as the gradient of log Z with respect to unit indicator factors.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.2))
    >>> round(float(gd.log_partition(model, backend=gd.infer.Exact())), 3)
    6.483
    """

    name = "exact"
    requires = frozenset({"factor_tables"})
    approximate = False

    def __init__(self, max_table_log2: float = 27.0, seed: int = 0) -> None:
        self.max_table_log2 = float(max_table_log2)
        self.seed = int(seed)

    # ----------------------------------------------------------------- plans
    def plan(self, model: torch.nn.Module, evidence: Collection[int], keep: tuple[int, ...] = (),
             max_vars: tuple[int, ...] = (), indicators: tuple[int, ...] = ()) -> Plan:
        """The elimination plan for this query shape on ``model``: which variables are observed,
        kept, maximised, or get indicators. Plans hold no evidence values and no parameters, so one
        plan answers every evidence assignment, and the cache is shared safely between threads."""
        key = ("plan", frozenset(evidence), keep, max_vars, indicators, self.seed)
        structure = _PLANS.get(model, "structure", lambda: _structure(model))
        plan = _PLANS.get(model, key, lambda: build_plan(
            structure.scopes, model.num_variables, structure.cards, structure.edges, frozenset(evidence), keep,
            max_vars, indicators, self.seed, check_order=lambda order, kept: self._check_width(order, kept, model),
        ))
        self._check_width(plan.order, plan.keep, model)  # a plan cached by a backend with a larger budget
        return plan

    def _check_width(self, order: EliminationOrder, keep: tuple[int, ...], model: torch.nn.Module) -> None:
        cards = model.cards.tolist()
        keep_log2 = sum(math.log2(cards[v]) for v in keep)
        largest = max(order.log2_max_table, keep_log2)
        if largest > self.max_table_log2:
            approx = approximate_backends(model)
            raise InferenceError(
                f"exact inference is too wide for this model: the best elimination order found "
                f"({order.heuristic}) has induced width {order.width} and a largest table of "
                f"2^{largest:.1f} entries, above the limit 2^{self.max_table_log2:.0f} (max_table_log2). "
                f"Use an approximate backend ({', '.join(approx) if approx else 'loopy BP, mean field or Gibbs, once installed'}), "
                "add evidence, or raise max_table_log2 if memory allows."
            )

    # --------------------------------------------------------------- queries
    def log_partition(self, model: torch.nn.Module, evidence: dict[int, int]) -> torch.Tensor:
        """log Σ_x p̃(x) over states that agree with ``evidence``; differentiable in the parameters."""
        return run_plan(self.plan(model, evidence), model, evidence).log_table

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> list[torch.Tensor]:
        """Single-variable marginals p(x_v | evidence) for every v in ``variables``, in one pass."""
        free = tuple(sorted(v for v in set(variables) if v not in evidence))
        out: dict[int, torch.Tensor] = {}
        if not free and evidence:
            with torch.no_grad():
                _raise_if_impossible(self.log_partition(model, evidence), evidence, model)
        if free:
            plan = self.plan(model, evidence, indicators=free)
            ind = torch.ones(model.num_variables, model.max_card, dtype=model.values.dtype, device=model.values.device, requires_grad=True)
            with torch.enable_grad():
                res = run_plan(plan, model, evidence, indicators=ind, detach=True)
                _raise_if_impossible(res.log_table, evidence, model)
                (grad,) = torch.autograd.grad(res.log_table, ind)
            for v in free:
                p = grad[v, : int(model.cards[v])]
                out[v] = p / p.sum()
        for v in variables:
            if v in evidence:
                p = torch.zeros(int(model.cards[v]), dtype=model.values.dtype, device=model.values.device)
                p[evidence[v]] = 1.0
                out[v] = p
        return [out[v] for v in variables]

    def joint(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> torch.Tensor:
        """Joint p(variables | evidence) as a tensor with one axis per variable, in the given order."""
        free = tuple(v for v in variables if v not in evidence)
        with torch.no_grad():
            res = run_plan(self.plan(model, evidence, keep=free), model, evidence, detach=True)
        _raise_if_impossible(torch.logsumexp(res.log_table.reshape(-1), 0), evidence, model)
        table = res.table / res.table.sum()
        for axis, v in enumerate(variables):  # evidence variables become point-mass axes
            if v in evidence:
                k = int(model.cards[v])
                onehot = torch.zeros(k, dtype=table.dtype, device=table.device)
                onehot[evidence[v]] = 1.0
                table = table.unsqueeze(axis) * onehot.reshape([k if a == axis else 1 for a in range(table.dim() + 1)])
        return table

    def map(self, model: torch.nn.Module, evidence: dict[int, int], variables: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable joint state (max-product with traceback) and its unnormalised log score.

        With ``variables``, the marginal MAP: the other variables are summed out first.
        """
        n = model.num_variables
        max_vars = tuple(v for v in (range(n) if variables is None else variables) if v not in evidence)
        with torch.no_grad():
            plan = self.plan(model, evidence, max_vars=max_vars)
            res = run_plan(plan, model, evidence, detach=True)
            _raise_if_impossible(res.log_table, evidence, model)
            state = decode_argmax(plan, res, n, evidence, model.values.device)
        return state, res.log_table


def _raise_if_impossible(log_z: torch.Tensor, evidence: dict[int, int], model: torch.nn.Module) -> None:
    if not torch.isfinite(log_z):
        shown = {model.variables[v]: model.state_labels(v)[s] for v, s in list(evidence.items())[:8]}
        if evidence:
            raise EvidenceError(f"the evidence {shown} has probability zero under the model; no state agrees with it")
        raise InferenceError(f"log Z is {float(log_z)}: the model's potentials are zero or overflow everywhere")
