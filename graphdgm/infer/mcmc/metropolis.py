"""Metropolis-Hastings: single-variable flips, joint block proposals, Gaussian random walk."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.mcmc.gibbs import conditionals_for
from graphdgm.infer.mcmc.kernel import ChainState
from graphdgm.runtime.random import make_generator

_PROPOSALS = ("flip", "block", "random_walk")


class MetropolisHastings:
    """Metropolis-Hastings with a symmetric proposal.

    - ``"flip"`` (discrete): every variable of a colour block proposes a uniformly chosen other
      state and is accepted on its own, from its conditional (the block's variables are
      conditionally independent, so this is exact Metropolis-within-Gibbs, batched);
    - ``"block"`` (discrete): between 1 and ``block_size`` variables (uniformly many, chosen at
      random) propose new states jointly, accepted on the full change in log-probability;
    - ``"random_walk"`` (real): x' = x + ``step_size`` · N(0, I) over the free variables.

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    >>> kernel = MetropolisHastings("block", block_size=2)
    >>> state = kernel.init(model, chains=16, generator=torch.Generator().manual_seed(0))
    >>> state = kernel.sample(state)
    >>> 0.0 <= kernel.acceptance_rate(state) <= 1.0
    True
    """

    def __init__(self, proposal: str = "flip", *, block_size: int = 2, step_size: float = 0.5, beta: float = 1.0) -> None:
        if proposal not in _PROPOSALS:
            raise SpecError(f"unknown proposal {proposal!r}; choose one of {_PROPOSALS}")
        if block_size < 1:
            raise SpecError(f"block_size must be at least 1, got {block_size}")
        if not step_size > 0:
            raise SpecError(f"step_size must be positive, got {step_size}")
        self.proposal, self.block_size, self.step_size, self.beta = proposal, int(block_size), float(step_size), float(beta)

    # ------------------------------------------------------------------ init
    def init(self, model: torch.nn.Module, chains: int, evidence: dict[int, Any] | None = None,
             generator: torch.Generator | int | None = None) -> ChainState:
        """A fresh state of ``chains`` chains with ``evidence`` (packed index -> state) clamped; raises
        CapabilityError when the proposal does not suit the model (``random_walk`` for real-valued models,
        ``flip`` or ``block`` for discrete ones).
        """
        continuous = "continuous" in getattr(model, "capabilities", ())
        if continuous != (self.proposal == "random_walk"):
            kind = "real-valued" if continuous else "discrete"
            fit = "'random_walk'" if continuous else "'flip' or 'block'"
            raise CapabilityError(f"proposal {self.proposal!r} does not suit a {kind} model; use proposal={fit}")
        cards = getattr(model, "cards", None)
        if continuous and cards is not None and bool((cards > 0).any()):
            raise CapabilityError("random-walk proposals move real values, and this model also has discrete units "
                                  "(e.g. Bernoulli hidden units beside Gaussian visible ones); sample it with "
                                  "BlockGibbs(), which draws each block from its own conditional")
        if continuous:
            return self._init_continuous(model, int(chains), evidence or {}, generator)
        cond = conditionals_for(model, evidence)
        g = make_generator(generator, cond.device)
        x = cond.initial_state(int(chains), g)  # (n, C)
        beta = torch.full((int(chains),), self.beta, dtype=cond.dtype, device=cond.device)
        state = ChainState(x, g, beta, extra={"cond": cond}, accepted=torch.zeros((), dtype=torch.float64, device=x.device))
        if self.proposal == "block":
            state.extra["lp"] = cond.log_potential(x)  # (C,)
        return state

    def _init_continuous(self, model: torch.nn.Module, chains: int, evidence: dict[int, float], generator: Any) -> ChainState:
        device = next(iter(model.parameters())).device
        dtype = next(iter(model.parameters())).dtype
        g = make_generator(generator, device)
        n = model.num_variables
        x = torch.randn(chains, n, generator=g, device=device, dtype=dtype)  # (C, n)
        free = torch.tensor([v for v in range(n) if v not in evidence], dtype=torch.long, device=device)
        for v, val in evidence.items():  # evidence is a handful of variables; done once
            x[:, v] = float(val)
        beta = torch.full((chains,), self.beta, dtype=dtype, device=device)
        with torch.no_grad():
            lp = -model.energy(x)
        return ChainState(x, g, beta, extra={"model": model, "free": free, "lp": lp}, accepted=torch.zeros((), dtype=torch.float64, device=x.device))

    # ---------------------------------------------------------------- sample
    def sample(self, state: ChainState) -> ChainState:
        """One step of every chain under the kernel's proposal: a single-site flip sweep, a block proposal,
        or a Gaussian random walk, each accepted by the MH rule.
        """
        if self.proposal == "flip":
            return self._flip_sweep(state)
        if self.proposal == "block":
            return self._block_step(state)
        return self._random_walk(state)

    def _accept(self, log_ratio: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        u = torch.rand(log_ratio.shape, generator=g, device=log_ratio.device, dtype=log_ratio.dtype)
        return u.log() < log_ratio

    def _flip_sweep(self, state: ChainState) -> ChainState:
        cond, x, g = state.extra["cond"], state.x, state.generator
        for b, (a, e) in enumerate(cond.slices):  # loop over colours
            cards = cond.cards[a:e, None]  # (m, 1)
            cur = x[a:e].long()  # (m, C)
            if cond.binary:
                d = cond.binary_logit(x, b, state.beta)  # (m, C): log p(1) - log p(0)
                log_ratio = torch.where(cur == 1, -d, d)
                prop = 1 - cur
            else:
                logits = cond.logits(x, b, state.beta)  # (m, K, C)
                step = torch.randint(1, 2**30, cur.shape, generator=g, device=x.device) % (cards - 1).clamp_min(1) + 1
                prop = torch.where(cards > 1, (cur + step) % cards, cur)  # a uniformly chosen other state
                log_ratio = logits.gather(1, prop[:, None]).squeeze(1) - logits.gather(1, cur[:, None]).squeeze(1)
            acc = self._accept(log_ratio, g)
            x[a:e] = torch.where(acc, prop, cur).to(x.dtype)
            state.accepted += acc.sum()
            state.proposed += acc.numel()
        return state

    def _block_step(self, state: ChainState) -> ChainState:
        cond, x, g = state.extra["cond"], state.x, state.generator
        nf, C = cond.num_free, x.shape[1]
        if nf == 0:
            return state
        k = min(self.block_size, nf)
        # up to k distinct variables per chain: the k smallest of nf uniform keys, of which the
        # first `size` change (size uniform on 1..k: a fixed size would keep binary parity fixed)
        keys = torch.rand(nf, C, generator=g, device=x.device)
        rows = keys.topk(k, dim=0, largest=False).indices  # (k, C)
        size = torch.randint(1, k + 1, (1, C), generator=g, device=x.device)  # (1, C)
        change = torch.arange(k, device=x.device)[:, None] < size  # (k, C)
        cards = cond.cards[rows]  # (k, C)
        cur = x.gather(0, rows).long()  # (k, C)
        step = torch.randint(1, 2**30, cur.shape, generator=g, device=x.device) % (cards - 1).clamp_min(1) + 1
        prop_vals = torch.where((cards > 1) & change, (cur + step) % cards, cur)
        prop = x.clone()
        prop.scatter_(0, rows, prop_vals.to(x.dtype))
        lp_new = cond.log_potential(prop)  # (C,)
        log_ratio = state.beta * (lp_new - state.extra["lp"])
        log_ratio = torch.where(torch.isnan(log_ratio), torch.full_like(log_ratio, float("-inf")), log_ratio)
        acc = self._accept(log_ratio, g)  # (C,)
        state.x = torch.where(acc[None, :], prop, x)
        state.extra["lp"] = torch.where(acc, lp_new, state.extra["lp"])
        state.accepted += acc.sum()
        state.proposed += C
        return state

    def _random_walk(self, state: ChainState) -> ChainState:
        model, free, x, g = state.extra["model"], state.extra["free"], state.x, state.generator
        noise = torch.randn(x.shape[0], len(free), generator=g, device=x.device, dtype=x.dtype) * self.step_size
        prop = x.clone()
        prop[:, free] += noise  # (C, n_free)
        with torch.no_grad():
            lp_new = -model.energy(prop)  # (C,)
        acc = self._accept(state.beta * (lp_new - state.extra["lp"]), g)
        state.x = torch.where(acc[:, None], prop, x)
        state.extra["lp"] = torch.where(acc, lp_new, state.extra["lp"])
        state.accepted += acc.sum()
        state.proposed += x.shape[0]
        return state

    # ---------------------------------------------------------------- reading
    def packed(self, state: ChainState) -> torch.Tensor:
        """The chains' current states (C, n) in the model's variable order (long for discrete, real values
        for the random walk).
        """
        if self.proposal == "random_walk":
            return state.x
        return state.extra["cond"].packed(state.x)

    def log_potential(self, state: ChainState) -> torch.Tensor:
        """Unnormalised log-probability of each chain's state, (C,)."""
        if self.proposal == "random_walk":
            return state.extra["lp"]
        return state.extra["cond"].log_potential(state.x)

    @staticmethod
    def acceptance_rate(state: ChainState) -> float:
        """Fraction of proposals accepted so far."""
        return float(state.accepted) / max(state.proposed, 1)
