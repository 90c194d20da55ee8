"""Variational backends for the query API: ``backend="bp"`` / ``"mean_field"`` or an instance."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.infer.variational.bp import BPResult, belief_propagation
from graphdgm.infer.variational.factors import FactorTables
from graphdgm.infer.variational.mean_field import MeanFieldResult, mean_field


def _blocks_if(schedule: str, model: torch.nn.Module) -> tuple[torch.Tensor, ...] | None:
    return model.blocks if schedule == "sequential" else None


class BeliefPropagation:
    """Loopy belief propagation: marginals (beliefs), Bethe log Z, MAP by max-product.

    Exact on trees and chains; on loopy graphs an approximation whose error the tests and
    ``benchmarks/bp.py`` measure. The latest run is kept in ``last_result`` (iterations,
    convergence, message-change history).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(1, 6, coupling=0.5, field=0.1))
    >>> bp = gd.infer.BeliefPropagation()
    >>> abs(gd.query(model, ["x[0,2]"], backend=bp)["x[0,2]"][1] - gd.query(model, ["x[0,2]"])["x[0,2]"][1]) < 1e-9
    True
    >>> gd.map_query(model, backend="bp").state.tolist() == gd.map_query(model).state.tolist()
    True
    """

    name = "bp"
    requires = frozenset({"factor_tables"})
    approximate = True

    def __init__(self, max_iters: int = 200, tol: float = 1e-6, *, damping: float = 0.0, schedule: str = "parallel",
                 residual_fraction: float = 0.5) -> None:
        self.max_iters, self.tol, self.damping, self.schedule = int(max_iters), float(tol), float(damping), schedule
        self.residual_fraction = float(residual_fraction)
        self.last_result: BPResult | None = None

    def run(self, model: torch.nn.Module, evidence: dict[int, int] | None = None, mode: str = "sum") -> BPResult:
        """Run BP on ``model`` with ``evidence`` (packed index -> state index)."""
        with torch.no_grad():
            self.last_result = belief_propagation(
                FactorTables.from_model(model, evidence), max_iters=self.max_iters, tol=self.tol, damping=self.damping,
                schedule=self.schedule, mode=mode, blocks=_blocks_if(self.schedule, model),
                residual_fraction=self.residual_fraction,
            )
        return self.last_result

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> list[torch.Tensor]:
        m = self.run(model, evidence).marginals
        return [m[v, : int(model.cards[v])] for v in variables]

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, int]) -> torch.Tensor:
        """The Bethe approximation of log Z (exact on trees)."""
        return self.run(model, evidence).log_z

    def map(self, model: torch.nn.Module, evidence: dict[int, int], variables: list[int] | None) -> tuple[torch.Tensor, float]:
        """Max-product BP decoded by the argmax of each max-marginal (exact on trees without ties)."""
        if variables is not None:
            raise CapabilityError("max-product BP decodes a full MAP state; for marginal MAP over a subset use backend='exact'")
        state = self.run(model, evidence, mode="max").log_beliefs.argmax(-1)  # (n,)
        with torch.no_grad():
            score = float(model.log_potential(state[None])[0])
        return state, score


class MeanField:
    """Naive mean field: approximate marginals and the ELBO, a lower bound on log Z.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3, field=0.1))
    >>> bool(gd.log_partition(model, backend="mean_field") <= gd.log_partition(model))
    True
    """

    name = "mean_field"
    requires = frozenset({"factor_tables"})
    approximate = True

    def __init__(self, max_iters: int = 500, tol: float = 1e-6, *, damping: float = 0.0, schedule: str = "sequential") -> None:
        self.max_iters, self.tol, self.damping, self.schedule = int(max_iters), float(tol), float(damping), schedule
        self.last_result: MeanFieldResult | None = None

    def run(self, model: torch.nn.Module, evidence: dict[int, int] | None = None) -> MeanFieldResult:
        with torch.no_grad():
            self.last_result = mean_field(
                FactorTables.from_model(model, evidence), max_iters=self.max_iters, tol=self.tol, damping=self.damping,
                schedule=self.schedule, blocks=_blocks_if(self.schedule, model),
            )
        return self.last_result

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> list[torch.Tensor]:
        q = self.run(model, evidence).q
        return [q[v, : int(model.cards[v])] for v in variables]

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, int]) -> torch.Tensor:
        """The mean-field ELBO: a lower bound on log Z."""
        return self.run(model, evidence).elbo

    def map(self, model: torch.nn.Module, evidence: dict[int, int], variables: Any) -> tuple[torch.Tensor, float]:
        """The mode of the fitted q (a heuristic MAP)."""
        if variables is not None:
            raise CapabilityError("mean field decodes a full state; for marginal MAP over a subset use backend='exact'")
        state = self.run(model, evidence).q.argmax(-1)
        with torch.no_grad():
            return state, float(model.log_potential(state[None])[0])
