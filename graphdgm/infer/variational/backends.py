"""Variational backends for the query API: ``backend="bp"`` / ``"mean_field"`` or an instance."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError, EvidenceError
from graphdgm.infer.variational.bp import BPResult, belief_propagation
from graphdgm.infer.variational.factors import FactorTables, huge_negative
from graphdgm.infer.variational.mean_field import MeanFieldResult, mean_field


def _blocks_if(schedule: str, model: torch.nn.Module) -> tuple[torch.Tensor, ...] | None:
    return model.blocks if schedule == "sequential" else None


def polish(model: torch.nn.Module, state: torch.Tensor, evidence: dict[int, int], max_sweeps: int = 100) -> tuple[torch.Tensor, float]:
    """Greedy block sweeps from ``state`` (n,) until nothing changes; the state and its log-potential."""
    from graphdgm.infer.mcmc import conditionals_for, greedy_sweep

    with torch.no_grad():
        cond = conditionals_for(model, evidence)
        x = cond.to_layout(state[None])  # (n, 1)
        for _ in range(max_sweeps):
            before = x.clone()
            greedy_sweep(cond, x)
            if torch.equal(before, x):
                break
        best = cond.packed(x)[0]
        return best, float(model.log_potential(best[None])[0])


def _check_possible(log_beliefs: torch.Tensor, model: torch.nn.Module, evidence: dict[int, int]) -> None:
    """Raise when some variable has no possible state left (contradictory evidence or hard zeros)."""
    dead = log_beliefs.amax(-1) < 0.5 * huge_negative(log_beliefs.dtype)  # (n,)
    if bool(dead.any()):
        v = int(dead.nonzero()[0])
        raise EvidenceError(f"belief propagation finds no possible state for {model.variables[v]!r}: the evidence "
                            f"{ {model.variables[u]: s for u, s in evidence.items()} } has probability zero (or hard zeros contradict)")


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
        r = self.run(model, evidence)
        _check_possible(r.log_beliefs, model, evidence)
        return [r.marginals[v, : int(model.cards[v])] for v in variables]

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, int]) -> torch.Tensor:
        """The Bethe approximation of log Z (exact on trees)."""
        return self.run(model, evidence).log_z

    def map(self, model: torch.nn.Module, evidence: dict[int, int], variables: list[int] | None) -> tuple[torch.Tensor, float]:
        """Max-product BP decoded by the argmax of each max-marginal, then polished by greedy
        (iterated conditional modes) sweeps, which never lower the score. Exact on trees without
        ties; where max-marginals tie, the argmax can mix two optimal states and the sweeps repair
        what they can."""
        if variables is not None:
            raise CapabilityError("max-product BP decodes a full MAP state; for marginal MAP over a subset use backend='exact'")
        state = self.run(model, evidence, mode="max").log_beliefs.argmax(-1)  # (n,)
        return polish(model, state, evidence)


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
        r = self.run(model, evidence)
        if not torch.isfinite(r.elbo):
            raise EvidenceError("mean field puts mass only on impossible states: the evidence (or hard zeros) rule out "
                                "every state it can represent; check the evidence")
        return [r.q[v, : int(model.cards[v])] for v in variables]

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, int]) -> torch.Tensor:
        """The mean-field ELBO: a lower bound on log Z."""
        return self.run(model, evidence).elbo

    def map(self, model: torch.nn.Module, evidence: dict[int, int], variables: Any) -> tuple[torch.Tensor, float]:
        """The mode of the fitted q (a heuristic MAP)."""
        if variables is not None:
            raise CapabilityError("mean field decodes a full state; for marginal MAP over a subset use backend='exact'")
        return polish(model, self.run(model, evidence).q.argmax(-1), evidence)
