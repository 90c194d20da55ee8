"""Hamiltonian Monte Carlo for continuous models: Pyro's NUTS and HMC kernels on the model's energy.

The compiled model's ``energy`` is Pyro's ``potential_fn`` over the free variables (evidence
clamped: the clamped values are inserted into the full state before the energy is evaluated).
Pyro owns the loop (warm-up with step-size and mass-matrix adaptation, then collection); chains run
one after the other in this process, never in worker processes.

Randomness: Pyro draws from torch's global generator. Each run forks that generator
(``torch.random.fork_rng``), seeds the fork with ``seed`` and restores the caller's state on exit,
so a run is reproducible from ``seed`` alone and leaves the caller's global random state untouched.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from graphdgm.infer.diagnostics import PerThread
from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.diagnostics import Diagnostics, warn_if_unconverged
from graphdgm.infer.mcmc.diagnostics import RHAT_THRESHOLD
from graphdgm.infer.options import check_integer
from graphdgm.infer.packed_state import insert_evidence, model_device, model_float_dtype, packed_evidence
from graphdgm.infer.results import ContinuousMarginal
from graphdgm.runtime.random import seeded_global_rng


class _PyroHMCBackend:
    """The shared part of :class:`NUTS` and :class:`HMC`: running chains, marginals, MAP, diagnostics."""

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()
    last_diagnostics = PerThread()

    requires = frozenset({"continuous", "energy"})
    approximate = True
    name = ""

    def __init__(self, samples: int, warmup: int, chains: int, seed: int, progress: bool) -> None:
        check_integer("samples", samples, 1)
        check_integer("warmup", warmup, 0)
        check_integer("chains", chains, 1)
        check_integer("seed", seed, 0)
        self.samples, self.warmup, self.chains, self.seed = int(samples), int(warmup), int(chains), int(seed)
        self.progress = bool(progress)
        self.last_diagnostics: dict[str, Any] | None = None  # filled by every run
        self.diagnostics: Diagnostics | None = None  # the run's checks, under the name every backend uses

    def _kernel(self, potential_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor]) -> Any:
        raise NotImplementedError

    def _hook(self, kernel: Any) -> Callable[..., None] | None:
        """A per-iteration ``hook_fn`` for Pyro's MCMC loop, or None."""
        return None

    # ------------------------------------------------------------------- run
    def run(self, model: torch.nn.Module, evidence: dict[Any, Any] | None = None) -> torch.Tensor:
        """Draw ``chains × samples`` states of the free variables: a tensor (chains·samples, m).

        Columns are the free variables in packed order; rows are chain 0's draws, then chain 1's, ...
        ``evidence`` maps names (or packed indices) to real values. Diagnostics of the run
        (split R-hat and effective sample size per free variable, divergences and acceptance rate
        per chain, Pyro's own per-chain report) are left in ``self.last_diagnostics``.
        """
        from pyro.infer.mcmc import MCMC
        from pyro.ops.stats import effective_sample_size, split_gelman_rubin

        ev = packed_evidence(model, evidence)
        free = [i for i in range(model.num_variables) if i not in ev]
        dtype, device = model_float_dtype(model), model_device(model)
        if not free:
            self.last_diagnostics = {"variables": (), "chains": []}
            self.diagnostics = Diagnostics(self.name, True, details={"note": "every variable is clamped"})
            return torch.empty(self.chains * self.samples, 0, dtype=dtype, device=device)
        potential_fn = _clamped_potential(model, free, ev, dtype, device)
        draws, reports = [], []
        with seeded_global_rng(self.seed, device):
            for _ in range(self.chains):  # sequential chains, each from its own random start
                init = torch.randn(len(free), dtype=dtype, device=device)  # (m,)
                kernel = self._kernel(potential_fn)
                mcmc = MCMC(
                    kernel, num_samples=self.samples, warmup_steps=self.warmup, initial_params={"x": init},
                    disable_progbar=not self.progress, hook_fn=self._hook(kernel),
                )
                mcmc.run()
                draws.append(mcmc.get_samples()["x"].detach().reshape(self.samples, len(free)))  # (S, m)
                reports.append(mcmc.diagnostics())
        stacked = torch.stack(draws)  # (C, S, m)
        enough = self.samples >= 4  # split R-hat halves each chain
        nan = torch.full((len(free),), float("nan"), dtype=dtype, device=device)
        self.last_diagnostics = {
            "variables": tuple(model.variables[i] for i in free),
            "r_hat": split_gelman_rubin(stacked, chain_dim=0, sample_dim=1) if enough else nan,  # (m,)
            "n_eff": effective_sample_size(stacked, chain_dim=0, sample_dim=1) if enough else nan,  # (m,)
            "divergences": [len(r["divergences"]["chain 0"]) for r in reports],
            "acceptance_rate": [float(r["acceptance rate"]["chain 0"]) for r in reports],
            "chains": reports,
        }
        self.diagnostics = warn_if_unconverged(self._diagnostics(enough), stacklevel=5)
        return stacked.reshape(-1, len(free))  # (C·S, m)

    def _diagnostics(self, enough: bool) -> Diagnostics:
        """Split R-hat over the free variables above RHAT_THRESHOLD, divergent transitions, or too
        few draws to judge: each a message (and so a ConvergenceWarning)."""
        d = self.last_diagnostics
        names = d["variables"]
        rhat = torch.nan_to_num(torch.as_tensor(d["r_hat"], dtype=torch.float64).cpu(), nan=float("inf"))  # (m,)
        messages = []
        if not enough:
            messages.append(f"{type(self).__name__} kept {self.samples} samples per chain: too few to judge mixing "
                            "(split R-hat needs 4); the estimates may be wrong.")
        elif float(rhat.max()) > RHAT_THRESHOLD:
            worst = torch.argsort(rhat, descending=True)[:5]
            shown = ", ".join(f"{names[int(i)]!r} {float(rhat[i]):.3g}" for i in worst)
            messages.append(f"{type(self).__name__} chains have not mixed: split R-hat above {RHAT_THRESHOLD} (worst: "
                            f"{shown}); the estimates may be wrong. Try more samples or warmup, or more chains.")
        divergent = sum(d["divergences"])
        if divergent:
            messages.append(f"{type(self).__name__} had {divergent} divergent transitions: the posterior has regions "
                            "the integrator cannot follow; lower the step size or reparameterise.")
        return Diagnostics(self.name, not messages, rhat_max=float(rhat.max()) if enough else None,
                           ess_min=float(torch.as_tensor(d["n_eff"]).min()) if enough else None,
                           messages=tuple(messages), details={"r_hat": rhat, "divergences": d["divergences"]})

    # --------------------------------------------------------------- queries
    def marginals(self, model: torch.nn.Module, variables: Sequence[int], evidence: dict[int, float]) -> list[ContinuousMarginal]:
        """Sample mean, std and the samples of each variable; a clamped variable gets its value, std 0."""
        draws = self.run(model, evidence)  # (N, m)
        ev = packed_evidence(model, evidence)
        col = {v: k for k, v in enumerate(i for i in range(model.num_variables) if i not in ev)}
        out = []
        for v in variables:
            name = model.variables[v]
            if v in ev:
                out.append(ContinuousMarginal(name, ev[v], 0.0, torch.full((draws.shape[0],), ev[v], dtype=draws.dtype, device=draws.device)))
            else:
                x = draws[:, col[v]]  # (N,)
                out.append(ContinuousMarginal(name, float(x.mean()), float(x.std()), x))
        return out

    def map(
        self, model: torch.nn.Module, evidence: dict[int, float], variables: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The drawn state of lowest energy (n,), clamped values inserted, and its log score −energy.

        Approximate: the best of the samples, not an optimum; for a Gaussian the ``"gaussian"``
        backend gives the exact mode. Marginal MAP (``variables``) is not estimated by sampling.
        """
        if variables is not None:
            raise CapabilityError(
                f"backend {self.name!r} does not estimate a marginal MAP over a subset of variables; "
                "omit variables= for the joint MAP, or use backend='gaussian' for a Gaussian model"
            )
        ev = packed_evidence(model, evidence)
        draws = self.run(model, ev)  # (N, m)
        states = insert_evidence(draws, ev, model.num_variables)  # (N, n)
        with torch.no_grad():
            energies = model.energy(states)  # (N,)
        best = int(torch.argmin(energies))
        return states[best], -energies[best]

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, float]) -> torch.Tensor:
        """Not answered by sampling: HMC draws from p(x) without estimating its normaliser."""
        raise CapabilityError(
            f"backend {self.name!r} samples p(x) but does not estimate log Z; for a Gaussian network use "
            "the analytic model.log_partition(evidence) or backend='gaussian'"
        )


class NUTS(_PyroHMCBackend):
    """The No-U-Turn sampler (Pyro's ``NUTS`` on ``potential_fn = model.energy``), step size and
    diagonal mass matrix adapted during ``warmup``; ``target_accept`` is the adaptation's target
    acceptance probability and ``max_tree_depth`` caps a trajectory at 2^depth leapfrog steps.

    >>> import graphdgm as gd
    >>> from graphdgm.infer.mcmc.pyro_hmc import NUTS
    >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0.3], [0.3, 1.0]], [0.5, 0.0]))
    >>> sampler = NUTS(samples=100, warmup=100, seed=1)
    >>> sampler.run(model, {"x[1]": 0.0}).shape
    torch.Size([100, 1])
    >>> sorted(sampler.last_diagnostics), sampler.diagnostics.converged
    (['acceptance_rate', 'chains', 'divergences', 'n_eff', 'r_hat', 'variables'], True)
    """

    name = "nuts"

    def __init__(
        self,
        samples: int = 1000,
        warmup: int = 500,
        chains: int = 1,
        seed: int = 0,
        progress: bool = False,
        target_accept: float = 0.8,
        max_tree_depth: int = 10,
    ) -> None:
        super().__init__(samples, warmup, chains, seed, progress)
        if not 0.0 < float(target_accept) < 1.0:
            raise SpecError(f"NUTS target_accept={target_accept!r} must lie strictly between 0 and 1 (0.8 is usual)")
        check_integer("max_tree_depth", max_tree_depth, 1)
        self.target_accept, self.max_tree_depth = float(target_accept), int(max_tree_depth)

    def _kernel(self, potential_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor]) -> Any:
        from pyro.infer.mcmc import NUTS as PyroNUTS

        return PyroNUTS(potential_fn=potential_fn, target_accept_prob=self.target_accept, max_tree_depth=self.max_tree_depth)


class HMC(_PyroHMCBackend):
    """Hamiltonian Monte Carlo (Pyro's ``HMC`` on ``potential_fn = model.energy``), step size and
    diagonal mass matrix adapted during ``warmup``.

    Pyro fixes the trajectory length L = ``step_size · num_steps`` and, as it adapts the step size,
    recomputes the number of leapfrog steps to keep that length. A fixed L can resonate with a
    near-periodic direction of the target (samples that alternate, an effective sample size above
    the sample size, wrong variances), so each iteration draws its length uniformly from
    [(1 − jitter)·L, (1 + jitter)·L]; ``jitter=0`` gives Pyro's fixed length. The defaults give
    L = 1, which after adaptation can mean one or two leapfrog steps (close to a random walk); aim
    for 2–3 posterior standard deviations, e.g. ``step_size=0.25, num_steps=10``, or use
    :class:`NUTS`, which picks the length itself.

    >>> import graphdgm as gd
    >>> from graphdgm.infer.mcmc.pyro_hmc import HMC
    >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0.3], [0.3, 1.0]]))
    >>> HMC(samples=30, warmup=10).run(model).shape
    torch.Size([30, 2])
    """

    name = "hmc"

    def __init__(
        self,
        samples: int = 1000,
        warmup: int = 500,
        step_size: float = 0.25,
        num_steps: int = 10,
        chains: int = 1,
        seed: int = 0,
        progress: bool = False,
        jitter: float = 0.5,
    ) -> None:
        super().__init__(samples, warmup, chains, seed, progress)
        if not float(step_size) > 0.0:
            raise SpecError(f"HMC step_size={step_size!r} must be positive (0.1 is a fair start; it adapts in warm-up)")
        check_integer("num_steps", num_steps, 1)
        if not 0.0 <= float(jitter) < 1.0:
            raise SpecError(f"HMC jitter={jitter!r} must lie in [0, 1): the trajectory length varies by ±jitter·L")
        self.step_size, self.num_steps, self.jitter = float(step_size), int(num_steps), float(jitter)

    def _kernel(self, potential_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor]) -> Any:
        from pyro.infer.mcmc import HMC as PyroHMC

        return PyroHMC(potential_fn=potential_fn, step_size=self.step_size, num_steps=self.num_steps)

    def _hook(self, kernel: Any) -> Callable[..., None] | None:
        if self.jitter == 0.0:
            return None
        length = kernel.trajectory_length

        def jitter_length(*_: Any) -> None:  # runs inside the seeded fork, after every iteration
            u = float(torch.rand(()))
            kernel.trajectory_length = length * (1.0 + self.jitter * (2.0 * u - 1.0))

        return jitter_length


# ----------------------------------------------------------------- helpers
def _clamped_potential(
    model: torch.nn.Module, free: list[int], ev: dict[int, float], dtype: torch.dtype, device: torch.device
) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """Pyro's ``potential_fn``: {"x": free values (m,)} -> energy of the full state (a 0-d tensor)."""
    base = torch.zeros(model.num_variables, dtype=dtype, device=device)  # (n,)
    if ev:
        base[list(ev)] = torch.tensor(list(ev.values()), dtype=dtype, device=device)
    where = torch.tensor(free, dtype=torch.long, device=device)  # (m,)

    def potential_fn(params: dict[str, torch.Tensor]) -> torch.Tensor:
        x = base.index_put((where,), params["x"])  # (n,), differentiable in the free values
        return model.energy(x[None])[0]  # ()

    return potential_fn


def register() -> None:
    """Register :class:`NUTS` as backend ``"nuts"`` and :class:`HMC` as ``"hmc"`` (idempotent)."""
    from graphdgm.infer.registry import register_backend

    register_backend(NUTS.name, NUTS, overwrite=True)
    register_backend(HMC.name, HMC, overwrite=True)


__all__ = ["HMC", "NUTS", "register"]
