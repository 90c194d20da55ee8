"""Parallel tempering (replica exchange): Gibbs at a ladder of temperatures, with swaps."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import SpecError
from graphdgm.infer.mcmc.gibbs import conditionals_for
from graphdgm.infer.mcmc.kernel import ChainState
from graphdgm.runtime.random import make_generator


def geometric_ladder(num_temps: int, beta_min: float) -> torch.Tensor:
    """Inverse temperatures 1 = β_0 > β_1 > ... > β_{R-1} = beta_min, evenly spaced in log β.

    >>> geometric_ladder(3, 0.25).tolist()
    [1.0, 0.5, 0.25]
    """
    if num_temps < 2 or not 0 < beta_min < 1:
        raise SpecError(f"a ladder needs num_temps >= 2 and 0 < beta_min < 1; got {num_temps}, {beta_min}")
    return torch.logspace(0, torch.log10(torch.tensor(beta_min, dtype=torch.float64)).item(), num_temps, dtype=torch.float64)


class ParallelTempering:
    """Replica exchange: each of C chains runs R replicas at inverse temperatures ``betas`` (β_0 = 1
    is the target); after every Gibbs sweep, neighbouring replicas propose to swap states,
    alternating even and odd pairs, accepted with probability min(1, exp((β_r − β_{r+1})(ℓ_{r+1} − ℓ_r)))
    where ℓ is the log-potential. All replicas of all chains are one batch.

    With ``adapt_sweeps`` > 0 the ladder adapts during the first ``adapt_sweeps`` sweeps (the
    burn-in, whose draws are discarded): every ``adapt_every`` sweeps each gap in log β widens
    where swaps across it were accepted more often than on average and narrows where less, with a
    step that decays (Robbins-Monro), the two ends (1 and the hottest β) fixed; the swap rates
    become flat, which is what keeps replicas travelling the whole ladder. Afterwards the ladder is
    fixed, so the chain is a plain replica-exchange chain; ``ladder(state)`` is the one it ended with.

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.8))
    >>> kernel = ParallelTempering(num_temps=6, beta_min=0.2)
    >>> state = kernel.init(model, chains=8, generator=torch.Generator().manual_seed(0))
    >>> state = kernel.sample(state)
    >>> kernel.packed(state).shape   # the β = 1 replica of each chain
    torch.Size([8, 16])
    """

    def __init__(self, betas: Any = None, *, num_temps: int = 12, beta_min: float = 0.2, adapt_sweeps: int = 0,
                 adapt_every: int = 10) -> None:
        b = geometric_ladder(num_temps, beta_min) if betas is None else torch.as_tensor(betas, dtype=torch.float64)
        if b.dim() != 1 or len(b) < 2 or float(b[0]) != 1.0 or bool((b[1:] >= b[:-1]).any()) or bool((b <= 0).any()):
            raise SpecError(f"betas must start at 1.0 and decrease strictly, staying positive; got {b.tolist()}")
        if int(adapt_sweeps) < 0 or int(adapt_every) < 2:
            raise SpecError(f"ParallelTempering: adapt_sweeps={adapt_sweeps!r} must be >= 0 and adapt_every={adapt_every!r} >= 2")
        self.betas = b
        self.adapt_sweeps, self.adapt_every = int(adapt_sweeps), int(adapt_every)

    def init(self, model: torch.nn.Module, chains: int, evidence: dict[int, Any] | None = None,
             generator: torch.Generator | int | None = None) -> ChainState:
        """A fresh state of ``chains`` chains per temperature: R·C random starts (n, R C), replica-major, with
        ``evidence`` (packed index -> state) clamped, and zeroed swap counts.
        """
        cond = conditionals_for(model, evidence)
        g = make_generator(generator, cond.device)
        R, C = len(self.betas), int(chains)
        x = cond.initial_state(R * C, g)  # (n, R C): replica-major columns
        beta = self.betas.to(cond.device, cond.dtype).repeat_interleave(C)  # (R C,)
        state = ChainState(x, g, beta, extra={"cond": cond, "R": R, "C": C, "parity": 0},
                           accepted=torch.zeros(R - 1, dtype=torch.float64, device=cond.device))
        state.extra["swaps_proposed"] = torch.zeros(R - 1, dtype=torch.float64, device=cond.device)
        state.extra["sweep"] = 0
        return state

    def ladder(self, state: ChainState) -> torch.Tensor:
        """The inverse temperatures the state's replicas run at now, (R,)."""
        R, C = state.extra["R"], state.extra["C"]
        return state.beta.view(R, C)[:, 0].to(torch.float64)

    def _adapt(self, state: ChainState) -> None:
        """One adaptation of the ladder from the swap rates since the last one (see the class)."""
        R, C = state.extra["R"], state.extra["C"]
        rates = state.accepted / state.extra["swaps_proposed"].clamp_min(1)  # (R-1,)
        log_b = torch.log(self.ladder(state))
        gaps = log_b[:-1] - log_b[1:]  # (R-1,) > 0
        k = state.extra.get("adaptations", 0)
        step = 2.0 / (1.0 + k / 5.0)
        gaps = gaps * torch.exp(step * (rates - rates.mean()))
        gaps = gaps * (log_b[0] - log_b[-1]) / gaps.sum()  # the ends stay where they are
        new = torch.exp(log_b[0] - torch.cat([gaps.new_zeros(1), torch.cumsum(gaps, 0)]))
        new[-1] = torch.exp(log_b[-1])
        state.beta = new.to(state.beta.dtype).repeat_interleave(C)
        state.extra["adaptations"] = k + 1
        state.accepted.zero_()
        state.extra["swaps_proposed"].zero_()

    def sample(self, state: ChainState) -> ChainState:
        """One Gibbs sweep of every replica at its β, then swaps between neighbouring temperatures (even or
        odd pairs in turn) by the MH rule; adapts the ladder during the first ``adapt_sweeps`` sweeps.
        """
        cond, g, R, C = state.extra["cond"], state.generator, state.extra["R"], state.extra["C"]
        cond.sweep(state.x, g, state.beta)
        lp = cond.log_potential(state.x).view(R, C)  # (R, C)
        betas = state.beta.view(R, C)[:, 0]  # (R,)
        lo = torch.arange(state.extra["parity"], R - 1, 2, device=lp.device)  # (P,) lower replica of each pair
        state.extra["parity"] ^= 1
        if len(lo) == 0:
            return state
        log_ratio = (betas[lo] - betas[lo + 1])[:, None] * (lp[lo + 1] - lp[lo])  # (P, C)
        u = torch.rand(log_ratio.shape, generator=g, device=lp.device, dtype=lp.dtype)
        swap = u.log() < log_ratio  # (P, C)
        src = torch.arange(R, device=lp.device)[:, None].expand(R, C).clone()  # (R, C): replica each slot reads
        src[lo] = torch.where(swap, lo[:, None] + 1, lo[:, None])
        src[lo + 1] = torch.where(swap, lo[:, None], lo[:, None] + 1)
        n = state.x.shape[0]
        x = state.x.view(n, R, C)
        state.x = x.gather(1, src[None].expand(n, R, C)).reshape(n, R * C)
        state.accepted[lo] += swap.sum(1).to(torch.float64)
        state.extra["swaps_proposed"][lo] += C
        t = state.extra["sweep"] = state.extra["sweep"] + 1
        if t <= self.adapt_sweeps and t % self.adapt_every == 0:
            self._adapt(state)  # the last one resets the counts, so reported swap rates are of the fixed ladder
        return state

    def packed(self, state: ChainState) -> torch.Tensor:
        """The β = 1 replicas' current states (C, n) in the model's variable order."""
        C = state.extra["C"]
        return state.extra["cond"].packed(state.x[:, :C])  # replica 0 is β = 1

    def log_potential(self, state: ChainState) -> torch.Tensor:
        """Unnormalised log-probability (at β = 1) of each β = 1 replica's state, (C,)."""
        C = state.extra["C"]
        return state.extra["cond"].log_potential(state.x[:, :C])

    @staticmethod
    def swap_rates(state: ChainState) -> torch.Tensor:
        """Acceptance rate of swaps between replicas r and r+1, (R-1,)."""
        return state.accepted / state.extra["swaps_proposed"].clamp_min(1)
