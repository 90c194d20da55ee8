"""One driver for every kernel: chains, burn-in, thinning, collection and diagnostics."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from graphdgm.errors import InferenceError, SpecError
from graphdgm.infer.mcmc.diagnostics import (
    RHAT_THRESHOLD, chain_diagnostics, effective_sample_size, split_rhat, split_rhat_from_counts, split_rhat_from_moments,
)
from graphdgm.infer.diagnostics import warn_if_unconverged
from graphdgm.infer.options import check_count, check_threshold
from graphdgm.runtime.distributed import all_gather_cat, rank_and_world, rank_seed
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import make_generator


@dataclass
class ChainResult:
    """What a run collected. Running counts always (so long runs hold no samples); the kept
    variables' samples (S, C, k) and the log-potential trace (C, S) when asked.

    - ``marginals()`` (n, kmax): visit frequencies of each state, over all chains and draws
    - ``rhat`` (n,): split R-hat of each variable's state indicators (worst state)
    - ``log_potential_ess``, ``log_potential_rhat``: Pyro's ESS and split R-hat of the trace
    - ``diagnostics``: the run's :class:`~graphdgm.infer.diagnostics.Diagnostics` (worst R-hat, ESS)
    """

    variables: tuple[str, ...]
    counts: torch.Tensor  # (n, K): state visits summed over chains and draws
    draws: int
    chains: int
    rhat: torch.Tensor  # (n,)
    log_potential_trace: torch.Tensor  # (C, S)
    samples: torch.Tensor | None = None  # (S, C, k) for ``kept``
    kept: tuple[int, ...] = ()
    acceptance: float | None = None
    final_state: Any = None
    mean: torch.Tensor | None = None  # (n,) for real-valued models
    variance: torch.Tensor | None = None  # (n,) for real-valued models
    diagnostics: Any = None  # Diagnostics of the run

    def marginals(self) -> torch.Tensor:
        """(n, K) estimated p(x_v = k)."""
        return self.counts / self.counts.sum(1, keepdim=True)

    @property
    def log_potential_ess(self) -> float:
        """Effective sample size of the chains' log-potential trace."""
        return effective_sample_size(self.log_potential_trace)

    @property
    def log_potential_rhat(self) -> float:
        """Split R-hat of the chains' log-potential trace (near 1 when the chains agree)."""
        return split_rhat(self.log_potential_trace)

    def ess(self) -> torch.Tensor:
        """ESS of each kept variable's state index (k,), by Pyro; needs ``keep``."""
        if self.samples is None:
            raise InferenceError("ESS per variable needs stored samples: run with keep=[...] or keep='all'")
        from pyro.ops.stats import effective_sample_size as ess

        return ess(self.samples.permute(1, 0, 2).to(torch.float64), chain_dim=0, sample_dim=1)


def sample_chains(
    model: torch.nn.Module,
    kernel: Any,
    *,
    chains: int = 64,
    sweeps: int = 1000,
    burn_in: int | None = None,
    thin: int = 1,
    evidence: dict[int, Any] | None = None,
    seed: int | torch.Generator = 0,
    keep: Sequence[int] | str | None = None,
    progress: bool | None = None,
    distributed: bool = False,
    rhat_threshold: float | None = RHAT_THRESHOLD,
) -> ChainResult:
    """Run ``chains`` chains of ``kernel``: ``burn_in`` sweeps discarded (default ``sweeps // 4``),
    then ``sweeps`` sweeps of which every ``thin``-th is collected.

    ``evidence`` maps packed indices to state indices (``model.encode_evidence`` makes it from
    names); ``keep`` names packed indices whose samples to store (``"all"`` for every variable).

    When the largest split R-hat over the free variables exceeds ``rhat_threshold`` (None: never)
    a :class:`~graphdgm.errors.ConvergenceWarning` names the worst variables and what to try;
    ``result.diagnostics`` holds the figures either way.

    >>> import graphdgm as gd
    >>> from graphdgm.infer.mcmc import BlockGibbs
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.2))
    >>> r = sample_chains(model, BlockGibbs(), chains=128, sweeps=400, seed=0)
    >>> exact = gd.query(model).tensor()
    >>> bool((r.marginals() - exact).abs().max() < 0.03), bool(r.rhat.max() < 1.05)
    (True, True)
    """
    chains, sweeps, thin = (check_count("sample_chains", k, v) for k, v in (("chains", chains), ("sweeps", sweeps), ("thin", thin)))
    burn_in = sweeps // 4 if burn_in is None else check_count("sample_chains", "burn_in", burn_in, minimum=0)
    rhat_threshold = check_threshold("sample_chains", "rhat_threshold", rhat_threshold, 1.0)
    n = model.num_variables
    kept = tuple(range(n)) if keep == "all" else tuple(int(v) for v in (keep or ()))
    world = rank_and_world(bool(distributed))[1]  # distributed=False (the default): this process's chains only
    g = make_generator(rank_seed(seed, distributed=bool(distributed)), _device(model))  # each rank: seed + rank
    state = kernel.init(model, chains, evidence, g)
    draws = sweeps // thin
    if draws < 2:
        raise SpecError(f"sweeps // thin = {draws}; collect at least 2 draws")
    half = draws // 2
    K = int(getattr(model, "max_card", 1))
    discrete = "continuous" not in getattr(model, "capabilities", ())
    dev = _device(model)
    counts = torch.zeros(2, n, K, chains, dtype=torch.float32, device=dev) if discrete else None
    moments = None if discrete else torch.zeros(2, 2, n, chains, dtype=torch.float64, device=dev)  # (half, power, n, C)
    trace = torch.empty(chains, draws, dtype=torch.float64, device=dev)
    samples = [] if kept else None
    ones = torch.ones(n, 1, chains, dtype=torch.float32, device=dev) if discrete else None
    total = burn_in + draws * thin
    d = 0
    for t in progress_bar(range(total), progress, desc=type(kernel).__name__, total=total):
        state = kernel.sample(state)
        if t < burn_in or (t - burn_in + 1) % thin:
            continue
        x = kernel.packed(state)  # (C, n)
        if discrete:
            counts[int(d >= half)].scatter_add_(1, x.t()[:, None, :], ones)  # (n, K, C) += one-hot
        else:
            xt = x.t().to(torch.float64)  # (n, C)
            moments[int(d >= half), 0] += xt
            moments[int(d >= half), 1] += xt * xt
        trace[:, d] = kernel.log_potential(state)
        if samples is not None:
            samples.append(x[:, list(kept)])
        d += 1
    samples = torch.stack(samples) if samples else None
    if world > 1:  # all chains of all ranks, concatenated along the chain dimension
        counts = all_gather_cat(counts, -1) if discrete else None
        moments = None if discrete else all_gather_cat(moments, -1)
        trace = all_gather_cat(trace, 0)
        samples = None if samples is None else all_gather_cat(samples, 1)
        chains = chains * world
    if discrete:
        rhat = split_rhat_from_counts(counts, (half, draws - half))
        visits = counts.sum((0, 3)).to(torch.float64)  # (n, K)
        mean = var = None
    else:
        N = torch.tensor([half, draws - half], dtype=torch.float64, device=dev)[:, None, None]  # (2, 1, 1)
        m = moments[:, 0] / N  # (2, n, C)
        v = (moments[:, 1] / N - m * m) * N / (N - 1).clamp_min(1)
        rhat = split_rhat_from_moments(m, v.clamp_min(0), half)
        visits = torch.zeros(n, 1, dtype=torch.float64)
        mean = moments[:, 0].sum((0, 2)) / (draws * chains)  # (n,)
        var = moments[:, 1].sum((0, 2)) / (draws * chains) - mean * mean
    if not torch.isfinite(trace).all():
        raise InferenceError(
            "some chains sit in states of probability zero (log-potential -inf or nan): the evidence may be "
            "impossible, or hard zeros in the factors make the sampler non-ergodic; check the evidence"
        )
    acc = kernel.acceptance_rate(state) if hasattr(kernel, "acceptance_rate") else None
    result = ChainResult(
        tuple(model.variables), visits, draws, chains, rhat, trace,
        samples, kept, acc, state, mean, var,
    )
    ess = result.log_potential_ess
    if samples is not None:
        ess = min(ess, float(result.ess().min())) if samples.shape[-1] else ess
    result.diagnostics = chain_diagnostics(
        model, rhat, evidence, threshold=rhat_threshold, ess=ess, sampler=_sampler_name(kernel), sweeps=sweeps,
        tempering=hasattr(kernel, "swap_rates"), draws=draws,
    )
    warn_if_unconverged(result.diagnostics)
    return result


def _sampler_name(kernel: Any) -> str:
    names = {"BlockGibbs": "Gibbs", "MetropolisHastings": "Metropolis", "ParallelTempering": "Tempering"}
    return names.get(type(kernel).__name__, type(kernel).__name__)


def _device(model: torch.nn.Module) -> torch.device:
    for t in list(model.buffers()) + list(model.parameters()):
        return t.device
    return torch.device("cpu")
