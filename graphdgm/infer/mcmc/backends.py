"""Sampling backends for the query API: ``gd.query(model, backend=gd.infer.Gibbs(...))``."""
from __future__ import annotations

import itertools
from typing import Any

import torch

from graphdgm.infer.diagnostics import PerThread
from graphdgm.errors import CapabilityError
from graphdgm.infer.diagnostics import Diagnostics
from graphdgm.infer.mcmc.ais import AIS_ESS_FRACTION, SCHEDULES, AISResult, annealed_importance_sampling
from graphdgm.infer.mcmc.annealing import simulated_annealing
from graphdgm.infer.mcmc.diagnostics import RHAT_THRESHOLD
from graphdgm.infer.mcmc.driver import ChainResult, sample_chains
from graphdgm.infer.mcmc.gibbs import BlockGibbs
from graphdgm.infer.mcmc.metropolis import MetropolisHastings
from graphdgm.infer.mcmc.tempering import ParallelTempering
from graphdgm.infer.options import check_choice, check_count, check_real, check_threshold


class ChainBackend:
    """Marginals and joints from running chains; MAP by simulated annealing; log Z by AIS.

    After each run ``diagnostics`` holds its :class:`~graphdgm.infer.diagnostics.Diagnostics`;
    a largest split R-hat above ``rhat_threshold`` (default 1.05; None turns the warning off) over
    the free variables is a :class:`~graphdgm.errors.ConvergenceWarning` naming the worst ones.
    """

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    approximate = True
    requires = frozenset({"conditionals"})
    name = "chains"

    def __init__(self, chains: int = 256, sweeps: int = 1000, *, burn_in: int | None = None, thin: int = 1,
                 seed: int = 0, progress: bool | None = None, ais_steps: int = 1000, annealing_sweeps: int = 500,
                 rhat_threshold: float | None = RHAT_THRESHOLD) -> None:
        owner = type(self).__name__
        self.chains, self.sweeps, self.thin = (check_count(owner, k, v) for k, v in (("chains", chains), ("sweeps", sweeps), ("thin", thin)))
        self.burn_in = None if burn_in is None else check_count(owner, "burn_in", burn_in, minimum=0)
        if self.sweeps // self.thin < 2:
            check_count(owner, "sweeps", sweeps, minimum=2 * self.thin)  # at least two draws to compare
        self.seed, self.progress = check_count(owner, "seed", seed, minimum=0), progress
        self.ais_steps = check_count(owner, "ais_steps", ais_steps)
        self.annealing_sweeps = check_count(owner, "annealing_sweeps", annealing_sweeps)
        self.rhat_threshold = check_threshold(owner, "rhat_threshold", rhat_threshold, 1.0)
        self.last_result: ChainResult | AISResult | None = None  # the latest run (rhat, ESS)
        self.diagnostics: Diagnostics | None = None

    def kernel(self) -> Any:
        """The MCMC kernel the chains run (subclasses return one)."""
        raise NotImplementedError

    def run(self, model: torch.nn.Module, evidence: dict[int, Any] | None = None, keep: Any = None) -> ChainResult:
        """Run the chains and keep the result (``last_result``) for diagnostics."""
        result = sample_chains(
            model, self.kernel(), chains=self.chains, sweeps=self.sweeps, burn_in=self.burn_in, thin=self.thin,
            evidence=evidence, seed=self.seed, keep=keep, progress=self.progress, rhat_threshold=self.rhat_threshold,
        )
        self.last_result, self.diagnostics = result, result.diagnostics
        return result

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> list[Any]:
        """Marginals of ``variables`` given ``evidence`` from one run: state frequencies (k,) for discrete
        variables, a :class:`~graphdgm.infer.results.ContinuousMarginal` (mean, std) for real ones.
        """
        r = self.run(model, evidence)
        if r.mean is not None:  # real-valued model
            from graphdgm.infer.results import ContinuousMarginal

            std = r.variance.clamp_min(0).sqrt()
            return [ContinuousMarginal(model.variables[v], float(r.mean[v]), float(std[v])) for v in variables]
        probs = r.marginals()
        return [probs[v, : int(model.cards[v])] for v in variables]

    def joint(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> torch.Tensor:
        """The joint table of ``variables`` given ``evidence`` (shape: their cardinalities) from the kept
        samples' histogram, normalised.
        """
        r = self.run(model, evidence, keep=variables)
        cards = [int(model.cards[v]) for v in variables]
        s = r.samples.reshape(-1, len(variables))  # (S C, k)
        strides = torch.tensor([int(torch.tensor(cards[i + 1:]).prod()) for i in range(len(cards))], device=s.device)
        flat = (s * strides).sum(1)
        hist = torch.bincount(flat, minlength=int(torch.tensor(cards).prod())).to(torch.float64)
        return (hist / hist.sum()).reshape(cards)

    def map(self, model: torch.nn.Module, evidence: dict[int, Any], variables: list[int] | None) -> tuple[torch.Tensor, float]:
        """A full MAP state given ``evidence`` and its score, by simulated annealing (``annealing_sweeps``);
        raises CapabilityError when ``variables`` asks for marginal MAP.
        """
        if variables is not None:
            raise CapabilityError("sampling backends find a full MAP state only; for marginal MAP over a subset use backend='exact'")
        state, score = simulated_annealing(model, evidence, chains=min(self.chains, 64), sweeps=self.annealing_sweeps,
                                           seed=self.seed, progress=self.progress)
        self.diagnostics = _annealing_diagnostics(self.annealing_sweeps)
        return state, float(score)

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, Any]) -> torch.Tensor:
        """log Z by AIS (``ais_steps`` temperatures, one run per chain); warns on a low ESS."""
        result = annealed_importance_sampling(model, self.chains, self.ais_steps, evidence, seed=self.seed,
                                              progress=self.progress)
        self.last_result, self.diagnostics = result, result.diagnostics
        return result.log_z


class Gibbs(ChainBackend):
    """Chromatic block Gibbs: ``gd.query(model, backend=gd.infer.Gibbs(chains=512, sweeps=2000))``.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.2))
    >>> gibbs = gd.infer.Gibbs(chains=256, sweeps=400)
    >>> approx = gd.query(model, ["x[1,1]"], backend=gibbs)["x[1,1]"][1]
    >>> abs(approx - gd.query(model, ["x[1,1]"])["x[1,1]"][1]) < 0.02
    True
    >>> float(gibbs.last_result.rhat.max()) < 1.05
    True
    """

    name = "gibbs"

    def kernel(self) -> BlockGibbs:
        """A fresh :class:`BlockGibbs` kernel."""
        return BlockGibbs()


class Metropolis(ChainBackend):
    """Metropolis-Hastings with ``proposal`` ``"flip"``, ``"block"`` or ``"random_walk"`` (real models)."""

    name = "metropolis"
    requires = frozenset({"energy"})

    def __init__(self, chains: int = 256, sweeps: int = 1000, *, proposal: str = "flip", block_size: int = 2,
                 step_size: float = 0.5, **kw: Any) -> None:
        super().__init__(chains, sweeps, **kw)
        block_size = check_count("Metropolis", "block_size", block_size)
        step_size = check_real("Metropolis", "step_size", step_size, 0.0, low_open=True)
        self._kernel = MetropolisHastings(proposal, block_size=block_size, step_size=step_size)

    def kernel(self) -> MetropolisHastings:
        """The backend's :class:`MetropolisHastings` kernel."""
        return self._kernel

    def map(self, model, evidence, variables):  # noqa: D102 - annealing needs block conditionals
        """MAP by simulated annealing, as :meth:`ChainBackend.map`; raises CapabilityError for a model
        without block conditionals (a Gaussian one).
        """
        if "conditionals" not in model.capabilities:
            raise CapabilityError("MAP by annealing needs a discrete model; for a Gaussian use backend='gaussian'")
        return super().map(model, evidence, variables)


class Tempering(ChainBackend):
    """Parallel tempering over ``num_temps`` inverse temperatures from 1 down to ``beta_min``.

    The ladder adapts during burn-in towards flat swap rates (``adaptive``; on by default unless
    ``betas`` are given), then stays fixed while draws are collected; ``ladder`` is the last run's.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.6))
    >>> pt = gd.infer.Tempering(chains=16, sweeps=400, num_temps=6, beta_min=0.1, seed=0)
    >>> m = gd.query(model, backend=pt)
    >>> len(pt.ladder), float(pt.ladder[0]), round(float(pt.ladder[-1]), 2)
    (6, 1.0, 0.1)
    """

    name = "tempering"

    def __init__(self, chains: int = 64, sweeps: int = 1000, *, num_temps: int = 12, beta_min: float = 0.2,
                 betas: Any = None, adaptive: bool | None = None, **kw: Any) -> None:
        super().__init__(chains, sweeps, **kw)
        if betas is None:
            num_temps = check_count("Tempering", "num_temps", num_temps, minimum=2)
            beta_min = check_real("Tempering", "beta_min", beta_min, 0.0, 1.0, low_open=True, high_open=True)
        self.adaptive = betas is None if adaptive is None else bool(adaptive)
        self._kernel = ParallelTempering(betas, num_temps=num_temps, beta_min=beta_min)
        self.ladder = self._kernel.betas

    def kernel(self) -> ParallelTempering:
        """The backend's :class:`ParallelTempering` kernel, adapting its ladder during burn-in when ``adaptive``."""
        burn_in = self.sweeps // 4 if self.burn_in is None else self.burn_in
        self._kernel.adapt_sweeps = burn_in if self.adaptive else 0
        return self._kernel

    def run(self, model: torch.nn.Module, evidence: dict[int, Any] | None = None, keep: Any = None) -> ChainResult:
        """Run the chains as :meth:`ChainBackend.run` and keep the final temperature ladder in ``ladder``."""
        result = super().run(model, evidence, keep)
        self.ladder = self._kernel.ladder(result.final_state).cpu()
        return result


class SwendsenWang(ChainBackend):
    """Swendsen-Wang cluster moves (see :mod:`graphdgm.infer.mcmc.cluster`): pairwise binary models
    with couplings of either sign and Potts models with non-negative couplings; any other model is
    a ``CapabilityError`` naming the factor that is not pairwise or not of Potts form.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.9))
    >>> m = gd.query(model, backend=gd.infer.SwendsenWang(chains=32, sweeps=400, seed=0))
    >>> bool((m.tensor() - gd.query(model).tensor()).abs().max() < 0.05)
    True
    """

    name = "swendsen_wang"
    requires = frozenset({"factor_tables"})

    def kernel(self) -> Any:
        """A fresh :class:`~graphdgm.infer.mcmc.cluster.SwendsenWangKernel`."""
        from graphdgm.infer.mcmc.cluster import SwendsenWangKernel

        return SwendsenWangKernel()


class AIS:
    """Annealed importance sampling: ``log_partition`` (the estimate's ``stderr`` is kept in
    ``last_result``) and importance-weighted marginals.

    An effective sample size of the importance weights below ``ess_fraction`` of ``chains``
    (default 0.1; None turns the warning off) or below 10 is a ConvergenceWarning; the ESS is in
    ``last_result.effective_sample_size`` and ``diagnostics.ess_min``.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    >>> ais = gd.infer.AIS(chains=256, steps=300)
    >>> abs(float(gd.log_partition(model, backend=ais)) - float(gd.log_partition(model))) < 0.05
    True
    """

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    name = "ais"
    requires = frozenset({"conditionals"})
    approximate = True

    def __init__(self, chains: int = 256, steps: int = 1000, *, schedule: str = "sigmoid", seed: int = 0,
                 progress: bool | None = None, ess_fraction: float | None = AIS_ESS_FRACTION) -> None:
        self.chains, self.steps = check_count("AIS", "chains", chains), check_count("AIS", "steps", steps)
        self.schedule = check_choice("AIS", "schedule", schedule, SCHEDULES)
        self.seed, self.progress = check_count("AIS", "seed", seed, minimum=0), progress
        self.ess_fraction = check_threshold("AIS", "ess_fraction", ess_fraction, 0.0, 1.0)
        self.last_result: AISResult | None = None
        self.diagnostics: Diagnostics | None = None

    def run(self, model: torch.nn.Module, evidence: dict[int, Any] | None = None) -> AISResult:
        """Anneal ``chains`` runs through ``steps`` temperatures; keeps ``last_result`` and ``diagnostics``."""
        self.last_result = annealed_importance_sampling(model, self.chains, self.steps, evidence, betas=self.schedule,
                                                        seed=self.seed, progress=self.progress, ess_fraction=self.ess_fraction)
        self.diagnostics = self.last_result.diagnostics
        return self.last_result

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, Any]) -> torch.Tensor:
        """log Z (log of the evidence's normaliser) estimated by one AIS run."""
        return self.run(model, evidence).log_z

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> list[torch.Tensor]:
        """Marginals of ``variables`` given ``evidence``: the AIS samples' importance-weighted state
        frequencies, (k,) per variable.
        """
        r = self.run(model, evidence)
        w = torch.softmax(r.log_weights, 0)  # (C,)
        out = []
        for v in variables:  # one bincount per queried variable
            k = int(model.cards[v])
            out.append(torch.zeros(k, dtype=w.dtype, device=w.device).index_add_(0, r.samples[:, v], w))
        return out


class SimulatedAnnealing:
    """MAP states by simulated annealing with block Gibbs, then greedy polishing."""

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    name = "annealing"
    requires = frozenset({"conditionals"})
    approximate = True

    def __init__(self, chains: int = 64, sweeps: int = 500, *, beta_start: float = 0.1, beta_end: float = 20.0,
                 seed: int = 0, progress: bool | None = None) -> None:
        owner = "SimulatedAnnealing"
        self.chains, self.sweeps = check_count(owner, "chains", chains), check_count(owner, "sweeps", sweeps)
        self.beta_start = check_real(owner, "beta_start", beta_start, 0.0, low_open=True)
        self.beta_end = check_real(owner, "beta_end", beta_end, self.beta_start)
        self.seed, self.progress = check_count(owner, "seed", seed, minimum=0), progress
        self.diagnostics: Diagnostics | None = None

    def map(self, model: torch.nn.Module, evidence: dict[int, Any], variables: list[int] | None) -> tuple[torch.Tensor, float]:
        """A full MAP state given ``evidence`` and its score, by annealing from ``beta_start`` to ``beta_end``;
        raises CapabilityError when ``variables`` asks for marginal MAP.
        """
        if variables is not None:
            raise CapabilityError("annealing finds a full MAP state only; for marginal MAP over a subset use backend='exact'")
        state, score = simulated_annealing(model, evidence, chains=self.chains, sweeps=self.sweeps, beta_start=self.beta_start,
                                           beta_end=self.beta_end, seed=self.seed, progress=self.progress)
        self.diagnostics = _annealing_diagnostics(self.sweeps)
        return state, float(score)


def _annealing_diagnostics(sweeps: int) -> Diagnostics:
    """Annealing has no convergence test: its answer is the best state found, a lower bound on the MAP score."""
    return Diagnostics("annealing", True, iterations=sweeps,
                       details={"note": "best state found by annealing and greedy polish; not certified optimal"})


def joint_states(cards: list[int]) -> torch.Tensor:
    """All joint states (Π k, len(cards)) in row-major order (small cases, for tests and tables)."""
    return torch.tensor(list(itertools.product(*[range(k) for k in cards])), dtype=torch.long)
