"""The MCMC kernel protocol: ``init(...) -> state`` and ``sample(state) -> state``.

Kernels never own the loop; :func:`graphdgm.infer.mcmc.driver.sample_chains` runs chains, burn-in,
thinning, collection and diagnostics for any kernel. Chains are a batch dimension of the state,
and the state carries its own ``torch.Generator``: no global random state is touched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from graphdgm.runtime.random import make_generator  # kept importable from here: graphdgm.infer.mcmc.kernel.make_generator


@runtime_checkable
class MCMCKernel(Protocol):
    """What a kernel provides. A complete (if slow) Metropolis kernel for discrete models::

        >>> import torch, graphdgm as gd
        >>> from graphdgm.infer.mcmc import ChainState, make_generator, sample_chains
        >>> class RandomFlip:
        ...     def init(self, model, chains, evidence=None, generator=None):
        ...         g = make_generator(generator)
        ...         x = (torch.rand(chains, model.num_variables, generator=g) * model.cards).long()
        ...         for v, s in (evidence or {}).items():
        ...             x[:, v] = s
        ...         free = [v for v in range(model.num_variables) if v not in (evidence or {})]
        ...         return ChainState(x, g, extra={"model": model, "free": torch.tensor(free)})
        ...     def sample(self, state):
        ...         model, free, g = state.extra["model"], state.extra["free"], state.generator
        ...         x = state.x                                            # (C, n)
        ...         v = free[torch.randint(len(free), (x.shape[0],), generator=g)]  # (C,)
        ...         prop = x.clone()
        ...         step = torch.randint(1, 2**30, (x.shape[0],), generator=g)
        ...         prop[torch.arange(len(v)), v] = (x[torch.arange(len(v)), v] + step) % model.cards[v]
        ...         log_ratio = model.log_potential(prop) - model.log_potential(x)
        ...         accept = torch.rand(len(v), generator=g, dtype=log_ratio.dtype).log() < log_ratio
        ...         state.x = torch.where(accept[:, None], prop, x)
        ...         return state
        ...     def packed(self, state):
        ...         return state.x
        ...     def log_potential(self, state):
        ...         return state.extra["model"].log_potential(state.x).detach()
        >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
        >>> result = sample_chains(model, RandomFlip(), chains=8, sweeps=50, seed=0, rhat_threshold=None)  # too short to mix
        >>> result.marginals().shape
        torch.Size([4, 2])
    """

    def init(self, model: torch.nn.Module, chains: int, evidence: dict[int, Any] | None = None,
             generator: torch.Generator | None = None) -> Any:
        """A fresh state of ``chains`` chains with ``evidence`` (packed index -> state) clamped."""
        ...

    def sample(self, state: Any) -> Any:
        """One transition (a sweep) of every chain."""
        ...

    def packed(self, state: Any) -> torch.Tensor:
        """The chains' current states (C, n) in the model's variable order (long for discrete)."""
        ...

    def log_potential(self, state: Any) -> torch.Tensor:
        """Unnormalised log-probability of each chain's state at the target temperature, (C,)."""
        ...


@dataclass
class ChainState:
    """A batch of chains: ``x`` (kernel-specific layout), the generator, and kernel extras."""

    x: torch.Tensor
    generator: torch.Generator
    beta: torch.Tensor | None = None  # (C,) inverse temperatures, None for 1
    extra: dict[str, Any] = field(default_factory=dict)
    accepted: torch.Tensor | None = None  # running count of accepted proposals, where it applies
    proposed: int = 0
