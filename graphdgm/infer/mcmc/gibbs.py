"""Chromatic block Gibbs: each block of conditionally independent variables is drawn at once."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.compiler.conditionals import BlockConditionals
from graphdgm.errors import CapabilityError
from graphdgm.infer.mcmc.kernel import ChainState, make_generator


def conditionals_for(model: torch.nn.Module, evidence: dict[int, Any] | None, dtype: torch.dtype | None = None) -> BlockConditionals:
    """The model's block conditionals with ``evidence`` clamped (cached on the model per evidence set)."""
    if "conditionals" not in getattr(model, "capabilities", ()):
        raise CapabilityError(
            f"block samplers need a model with block conditionals (a compiled MarkovNetwork); "
            f"a {type(model).__name__} has {sorted(getattr(model, 'capabilities', ()))}. "
            "For real-valued models use MetropolisHastings(proposal='random_walk') or backend='nuts'."
        )
    cache = model.__dict__.setdefault("_block_conditionals", {})
    key = (tuple(sorted((int(v), int(s)) for v, s in (evidence or {}).items())), dtype, str(model.cards.device))
    cond = cache.get(key)
    if cond is None:
        if len(cache) > 16:
            cache.pop(next(iter(cache)))
        make = getattr(model, "block_conditionals", None)  # models with their own operators (an RBM)
        cond = cache[key] = make(evidence, dtype) if make is not None else BlockConditionals(model, evidence, dtype)
    else:
        cond.refresh()  # parameters may have moved since (learning)
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
        cond = conditionals_for(model, evidence, self.dtype)
        g = make_generator(generator, cond.device)
        x = cond.initial_state(int(chains), g)  # (n, C)
        beta = None if self.beta == 1.0 else torch.full((int(chains),), self.beta, dtype=cond.dtype, device=cond.device)
        return ChainState(x, g, beta, extra={"cond": cond})

    def sample(self, state: ChainState) -> ChainState:
        state.extra["cond"].sweep(state.x, state.generator, state.beta)
        return state

    def packed(self, state: ChainState) -> torch.Tensor:
        return state.extra["cond"].packed(state.x)

    def log_potential(self, state: ChainState) -> torch.Tensor:
        return state.extra["cond"].log_potential(state.x)
