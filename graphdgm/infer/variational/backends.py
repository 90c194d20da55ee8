"""Variational backends for the query API: ``backend="bp"`` / ``"mean_field"`` or an instance."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.infer.diagnostics import PerThread
from graphdgm.errors import CapabilityError, EvidenceError
from graphdgm.infer.diagnostics import Diagnostics, warn_if_unconverged
from graphdgm.infer.options import check_choice, check_count, check_real
from graphdgm.infer.variational import bp as _bp
from graphdgm.infer.variational import mean_field as _mf
from graphdgm.infer.variational.bp import BPResult, belief_propagation
from graphdgm.infer.variational.factors import FactorTables, huge_negative
from graphdgm.infer.variational.mean_field import MeanFieldResult, mean_field
from graphdgm.runtime.random import make_generator

RESTARTS = 3  # runs per query at most: the best fixed point of three perturbed starts (two when the
# first mirrored pair meets at one fixed point that is not the symmetric one)
PERTURBATION = 0.5  # scale of the Gaussian noise on the starting log-messages / logits
_UNIFORM_TOL = 1e-4  # beliefs this close to uniform count as the symmetric fixed point
_DISTINCT_TOL = 1e-3  # converged runs whose marginals differ by more found different fixed points


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


def _check_options(owner: str, max_iters: Any, tol: Any, damping: Any, schedule: Any, schedules: tuple[str, ...],
                   restarts: Any, seed: Any, perturbation: Any) -> tuple[int, float, float, str, int, int, float]:
    """The options every variational backend shares, validated (SpecError names the bad one)."""
    return (check_count(owner, "max_iters", max_iters), check_real(owner, "tol", tol, 0.0),
            check_real(owner, "damping", damping, 0.0, 1.0, high_open=True), check_choice(owner, "schedule", schedule, schedules),
            check_count(owner, "restarts", restarts), check_count(owner, "seed", seed, minimum=0),
            check_real(owner, "perturbation", perturbation, 0.0))


def _coupled(tables: FactorTables) -> bool:
    """Whether any factor over two or more variables is non-constant over its possible entries."""
    for _, tab in tables.groups:  # loop over factor kinds
        flat = tab.reshape(tab.shape[0], -1)  # (F, Πk)
        possible = flat > 0.5 * huge_negative(flat.dtype)
        hi = flat.masked_fill(~possible, float("-inf")).amax(1)
        lo = flat.masked_fill(~possible, float("inf")).amin(1)
        if bool(((hi - lo) > 1e-9).any()):
            return True
    return False


def _pair_agrees(runs: list[Any], marginals: list[torch.Tensor], tables: FactorTables, evidence: dict[int, int]) -> bool:
    """After the first mirrored pair of starts: both converged to the same fixed point, and it is not
    the symmetric one. Then the fixed point is very likely unique and further restarts are spared."""
    return (len(runs) == 2 and all(r.converged for r in runs)
            and float((marginals[0] - marginals[1]).abs().max()) <= _DISTINCT_TOL
            and not (_coupled(tables) and _uniform(marginals[0], tables, evidence)))


def _uniform(marginals: torch.Tensor, tables: FactorTables, evidence: dict[int, int]) -> bool:
    """Whether every free variable's belief (n, K) is uniform over its states."""
    cards = tables.cards.to(marginals.device)
    free = torch.ones(marginals.shape[0], dtype=torch.bool, device=marginals.device)
    if evidence:
        free[torch.tensor(sorted(evidence), dtype=torch.long, device=marginals.device)] = False
    free &= cards > 1
    if not bool(free.any()):
        return False
    ks = torch.arange(marginals.shape[1], device=marginals.device)
    target = torch.where(ks[None, :] < cards[:, None], 1.0 / cards[:, None].to(marginals.dtype), 0.0)  # (n, K)
    return bool(((marginals - target).abs().amax(1)[free] < _UNIFORM_TOL).all())


def _variational_diagnostics(name: str, runs: list[Any], best: int, marginals: list[torch.Tensor], scores: list[float],
                             tables: FactorTables, evidence: dict[int, int], perturbation: float, what: str,
                             cap_advice: str) -> Diagnostics:
    """Convergence, symmetric-fixed-point and several-fixed-points checks over the restarts."""
    chosen = runs[best]
    messages = []
    if not chosen.converged:
        messages.append(f"{name} did not converge in {chosen.iterations} iterations (last change {chosen.history[-1]:.2e}) "
                        f"in any of {len(runs)} restarts; {cap_advice}.")
    coupled = _coupled(tables)
    symmetric = coupled and _uniform(marginals[best], tables, evidence)
    distinct = sum(1 for i, r in enumerate(runs) if r.converged and i != best
                   and float((marginals[i] - marginals[best]).abs().max()) > _DISTINCT_TOL)
    if symmetric and (perturbation == 0 or distinct or not all(r.converged for r in runs)):
        messages.append(f"{name} stopped at the symmetric fixed point (every belief uniform although the couplings are not "
                        f"zero): {what} may be far off. Use restarts >= 3 with perturbation > 0, or backend='exact' / Gibbs.")
    elif distinct:
        messages.append(f"{name} found several fixed points over {len(runs)} restarts ({what} from {min(scores):.6g} to "
                        f"{max(scores):.6g}); the best is kept, but the beliefs of a model with several modes (such as a "
                        "zero-field ferromagnet, whose exact marginals are symmetric) can be far from the truth. Compare with "
                        "backend='exact' where the width allows it, or with gd.infer.Tempering.")
    return Diagnostics(name if name != "loopy BP" else "bp", not messages, iterations=chosen.iterations, restarts=len(runs),
                       messages=tuple(messages),
                       details={"scores": tuple(scores), "best": best, "symmetric": symmetric, "runs_at_other_fixed_points": distinct,
                                "converged_runs": sum(r.converged for r in runs)})


def _start(restart: int, perturbation: float, seed: int, tables: FactorTables) -> tuple[float, torch.Generator]:
    """Noise scale and generator of one restart. Restarts come in antithetic pairs (the same draws,
    negated), so a model with two mirrored fixed points (a zero-field ferromagnet) shows both,
    and :func:`_variational_diagnostics` reports them, instead of one silently broken symmetry."""
    g = make_generator(seed + restart // 2, tables.unary.device)
    return (perturbation if restart % 2 == 0 else -perturbation), g


def _best(scores: list[float], converged: list[bool]) -> int:
    """Index of the highest score among converged runs (among all runs when none converged); NaN loses."""
    pool = [i for i, c in enumerate(converged) if c] or list(range(len(scores)))
    return max(pool, key=lambda i: (scores[i] == scores[i], scores[i]))  # NaN != NaN ranks last


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

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    name = "bp"
    requires = frozenset({"factor_tables"})
    approximate = True

    def __init__(self, max_iters: int = 200, tol: float = 1e-6, *, damping: float = 0.0, schedule: str = "parallel",
                 residual_fraction: float = 0.5, restarts: int = RESTARTS, seed: int = 0,
                 perturbation: float = PERTURBATION) -> None:
        (self.max_iters, self.tol, self.damping, self.schedule, self.restarts, self.seed,
         self.perturbation) = _check_options("BeliefPropagation", max_iters, tol, damping, schedule, _bp.SCHEDULES,
                                             restarts, seed, perturbation)
        self.residual_fraction = check_real("BeliefPropagation", "residual_fraction", residual_fraction, 0.0, 1.0, low_open=True)
        self.last_result: BPResult | None = None
        self.diagnostics: Diagnostics | None = None

    def run(self, model: torch.nn.Module, evidence: dict[int, int] | None = None, mode: str = "sum") -> BPResult:
        """Run BP on ``model`` with ``evidence`` (packed index -> state index) from ``restarts``
        perturbed starts (seeded by ``seed``); keeps the converged run of highest Bethe log Z
        (lowest Bethe free energy) in ``last_result`` and its checks in ``diagnostics``, and warns
        when it hit the iteration cap, stopped at the symmetric fixed point or found several fixed
        points. After a run that did not converge the next restarts use damping >= 0.5.
        Max-product runs once."""
        evidence = evidence or {}
        with torch.no_grad():
            tables = FactorTables.from_model(model, evidence)
            runs: list[BPResult] = []
            damping = self.damping
            for r in range(self.restarts if mode == "sum" else 1):  # a short loop over restarts
                noise, g = _start(r, self.perturbation, self.seed, tables)
                runs.append(belief_propagation(
                    tables, max_iters=self.max_iters, tol=self.tol, damping=damping, schedule=self.schedule, mode=mode,
                    blocks=_blocks_if(self.schedule, model), residual_fraction=self.residual_fraction,
                    init_noise=noise, generator=g, warn=False,
                ))
                if not runs[-1].converged:  # flooding often cycles with period two; damping removes that cycle
                    damping = max(damping, 0.5)
                if _pair_agrees(runs, [x.marginals for x in runs], tables, evidence):
                    break  # mirrored starts met at one fixed point: more restarts would find it again
        scores = [float(r.log_z) if r.log_z is not None else 0.0 for r in runs]
        best = _best(scores, [r.converged for r in runs])
        self.last_result = runs[best]
        self.diagnostics = warn_if_unconverged(_variational_diagnostics(
            "loopy BP", runs, best, [r.marginals for r in runs], scores, tables, evidence, self.perturbation, "the Bethe log Z",
            "try damping=0.5, schedule='sequential', or more iterations"), stacklevel=4)
        return self.last_result

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> list[torch.Tensor]:
        """Beliefs (k,) of each packed index in ``variables`` after loopy BP with ``evidence`` clamped (exact
        on trees); raises EvidenceError when the evidence is impossible.
        """
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
        evidence = evidence or {}
        with torch.no_grad():
            tables = FactorTables.from_model(model, evidence)
            best: tuple[torch.Tensor, float, BPResult] | None = None
            runs = []
            for r in range(self.restarts):  # the plain start first, then perturbed ones; the best decoded state wins
                noise, g = (0.0, None) if r == 0 else _start(r - 1, self.perturbation, self.seed, tables)
                res = belief_propagation(
                    tables, max_iters=self.max_iters, tol=self.tol, damping=self.damping, schedule=self.schedule, mode="max",
                    blocks=_blocks_if(self.schedule, model), residual_fraction=self.residual_fraction,
                    init_noise=noise, generator=g, warn=False,
                )
                runs.append(res)
                state, score = polish(model, res.log_beliefs.argmax(-1), evidence)  # (n,), its log-potential
                if best is None or score > best[1]:
                    best = (state, score, res)
        state, score, chosen = best
        self.last_result = chosen
        messages = () if any(r.converged for r in runs) else (
            f"max-product BP did not converge in {chosen.iterations} iterations in any of {len(runs)} restarts; the "
            "decoded state is a heuristic: try damping=0.5, schedule='sequential', or backend='exact' / 'annealing'.",)
        self.diagnostics = warn_if_unconverged(Diagnostics("bp", not messages, iterations=chosen.iterations,
                                                           restarts=len(runs), messages=messages), stacklevel=4)
        return state, score


class MeanField:
    """Naive mean field: approximate marginals and the ELBO, a lower bound on log Z.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3, field=0.1))
    >>> bool(gd.log_partition(model, backend="mean_field") <= gd.log_partition(model))
    True
    """

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    name = "mean_field"
    requires = frozenset({"factor_tables"})
    approximate = True

    def __init__(self, max_iters: int = 500, tol: float = 1e-6, *, damping: float = 0.0, schedule: str = "sequential",
                 restarts: int = RESTARTS, seed: int = 0, perturbation: float = PERTURBATION) -> None:
        (self.max_iters, self.tol, self.damping, self.schedule, self.restarts, self.seed,
         self.perturbation) = _check_options("MeanField", max_iters, tol, damping, schedule, _mf.SCHEDULES,
                                             restarts, seed, perturbation)
        self.last_result: MeanFieldResult | None = None
        self.diagnostics: Diagnostics | None = None

    def run(self, model: torch.nn.Module, evidence: dict[int, int] | None = None) -> MeanFieldResult:
        """Fit q from ``restarts`` perturbed starts (seeded by ``seed``); keeps the run of highest
        ELBO in ``last_result`` and its checks in ``diagnostics``; warns like :class:`BeliefPropagation`."""
        evidence = evidence or {}
        with torch.no_grad():
            tables = FactorTables.from_model(model, evidence)
            runs: list[MeanFieldResult] = []
            for r in range(self.restarts):  # a short loop over restarts
                noise, g = _start(r, self.perturbation, self.seed, tables)
                runs.append(mean_field(
                    tables, max_iters=self.max_iters, tol=self.tol, damping=self.damping, schedule=self.schedule,
                    blocks=_blocks_if(self.schedule, model), init_noise=noise, generator=g, warn=False,
                ))
                if _pair_agrees(runs, [x.q for x in runs], tables, evidence):
                    break  # mirrored starts met at one fixed point: more restarts would find it again
        scores = [float(r.elbo) for r in runs]
        best = _best(scores, [r.converged for r in runs])
        self.last_result = runs[best]
        self.diagnostics = warn_if_unconverged(_variational_diagnostics(
            "mean field", runs, best, [r.q for r in runs], scores, tables, evidence, self.perturbation, "the ELBO",
            "add damping, use schedule='sequential', or raise max_iters"), stacklevel=4)
        return self.last_result

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, int]) -> list[torch.Tensor]:
        """The fitted q(x_v) (k,) of each packed index in ``variables`` given ``evidence``; raises EvidenceError
        when q puts mass only on impossible states.
        """
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
