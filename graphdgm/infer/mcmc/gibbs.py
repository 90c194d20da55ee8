"""Chromatic block Gibbs: each block of conditionally independent variables is drawn at once."""
from __future__ import annotations

import copy
from typing import Any

import torch

from graphdgm.compiler.conditionals import BlockConditionals
from graphdgm.errors import CapabilityError
from graphdgm.infer.mcmc.kernel import ChainState
from graphdgm.runtime import PlanCache
from graphdgm.runtime.random import make_generator

# Block conditionals per (model, evidence, dtype, device): the index structure is built once and
# shared; each run gets its own shallow copy whose parameter values are re-read (``refresh``
# rebinds, never mutates, the value tensors), so threads sampling one model never share state
# that changes.
_CONDITIONALS: PlanCache[Any] = PlanCache(max_per_model=16)


def conditionals_for(model: torch.nn.Module, evidence: dict[int, Any] | None, dtype: torch.dtype | None = None) -> BlockConditionals:
    """The model's block conditionals with ``evidence`` clamped: the structure is cached per
    model and evidence set, the parameter values are read afresh for each call (a private copy)."""
    if "conditionals" not in getattr(model, "capabilities", ()):
        raise CapabilityError(
            f"block samplers need a model with block conditionals (a compiled MarkovNetwork); "
            f"a {type(model).__name__} has {sorted(getattr(model, 'capabilities', ()))}. "
            "For real-valued models use MetropolisHastings(proposal='random_walk') or backend='nuts'."
        )
    key = (tuple(sorted((int(v), int(s)) for v, s in (evidence or {}).items())), dtype, str(model.cards.device))

    def build() -> BlockConditionals:
        make = getattr(model, "block_conditionals", None)  # models with their own operators (an RBM)
        structure = make(evidence, dtype) if make is not None else BlockConditionals(model, evidence, dtype)
        structure.model = None  # the cache holds its model weakly: no strong reference from the plan
        return structure

    cond = copy.copy(_CONDITIONALS.get(model, key, build))
    cond.model = model
    cond.refresh()  # this run's own parameter values (they may have moved since: learning)
    return cond


class BlockGibbs:
    """Chromatic block Gibbs sampling over the compiled blocks (two for a grid or an RBM).

    ``beta`` samples p(x)^beta instead of p(x) (used by tempering and annealing).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(4, 4, coupling=0.3))
    >>> kernel = BlockGibbs()
    >>> state = kernel.init(model, chains=32, generator=torch.Generator().manual_seed(0))
    >>> for _ in range(10):
    ...     state = kernel.sample(state)
    >>> kernel.packed(state).shape
    torch.Size([32, 16])
    """

    def __init__(self, beta: float = 1.0, dtype: torch.dtype | None = None) -> None:
        self.beta = float(beta)
        self.dtype = dtype

    def init(self, model: torch.nn.Module, chains: int, evidence: dict[int, Any] | None = None,
             generator: torch.Generator | int | None = None) -> ChainState:
        """A fresh state of ``chains`` chains: the model's block conditionals with ``evidence`` (packed index
        -> state) clamped, a random start (n, C), and β when the kernel samples at another temperature.
        """
        cond = conditionals_for(model, evidence, self.dtype)
        g = make_generator(generator, cond.device)
        x = cond.initial_state(int(chains), g)  # (n, C)
        beta = None if self.beta == 1.0 else torch.full((int(chains),), self.beta, dtype=cond.dtype, device=cond.device)
        return ChainState(x, g, beta, extra={"cond": cond})

    def sample(self, state: ChainState) -> ChainState:
        """One sweep of every chain: each block drawn from its conditional given the rest, in place."""
        state.extra["cond"].sweep(state.x, state.generator, state.beta)
        return state

    def packed(self, state: ChainState) -> torch.Tensor:
        """The chains' current states (C, n) in the model's variable order (long for discrete)."""
        return state.extra["cond"].packed(state.x)

    def log_potential(self, state: ChainState) -> torch.Tensor:
        """Unnormalised log-probability of each chain's state, (C,)."""
        return state.extra["cond"].log_potential(state.x)
