"""Contrastive divergence (CD-k) and persistent CD, written once against the compiled energy.

The log-likelihood gradient of an energy model is E_data[∂F] - E_model[∂F], where F is the free
energy of the observed units (the energy itself for a fully observed Markov network, the hidden
layer summed out for an RBM). The objective below is the surrogate loss
``mean F(data) - mean F(negatives)``, whose autograd gradient is that difference with the model
expectation replaced by samples: k Gibbs sweeps from the data (CD-k) or from chains that persist
across updates (PCD, Tieleman 2008). On a compiled graph with latent or input blocks the phases are
:class:`graphdgm.learn.graph_contrastive.GraphChains` (latent blocks summed out where they can be,
mean-field / Gibbs / exact positive phase for the others).
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.mcmc.gibbs import conditionals_for
from graphdgm.learn.graph_contrastive import GraphChains, trains_by_blocks
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_int


class _RBMChains:
    """Negative phase of a model with a free energy and layer conditionals (an RBM)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def data_free_energy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.free_energy_and_logits(x)  # (B,), (B, H)

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.free_energy(x)

    def run(self, x: torch.Tensor, steps: int, g: torch.Generator, hint: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.gibbs(x, steps, g, hidden_logits=hint)

    def hidden_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.hidden_logits(x)

    def accumulate_grad(self, pos: torch.Tensor, pos_logits: torch.Tensor, neg: torch.Tensor) -> None:
        """The closed-form gradient of mean F(pos) - mean F(neg) (same as autograd, no graph)."""
        self.model.accumulate_free_energy_grad([(pos, pos_logits, 1.0 / len(pos)), (neg, None, -1.0 / len(neg))])


class _MarkovChains:
    """Negative phase of a fully observed discrete Markov network: chromatic block Gibbs."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def data_free_energy(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.model.energy(x), None

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.energy(x)

    def run(self, x: torch.Tensor, steps: int, g: torch.Generator, hint: Any = None) -> torch.Tensor:
        cond = conditionals_for(self.model, None)  # refreshed: parameters have moved since
        y = cond.to_layout(x)  # (n, C)
        for _ in range(int(steps)):  # a loop over sweeps
            cond.sweep(y, g)
        return cond.packed(y)  # (C, n)


def negative_phase(model: torch.nn.Module, **options: Any) -> _RBMChains | _MarkovChains | GraphChains:
    """The sampler CD uses for ``model``, chosen by its capabilities and interface: a compiled
    graph's block phases (``options``: ``positive``, ``mean_field_steps``, ``generator``; a graph
    without latent or input blocks but with pairs / table factors uses the Markov-network path),
    an RBM's layer conditionals, or a Markov network's chromatic block Gibbs."""
    caps = getattr(model, "capabilities", frozenset())
    if trains_by_blocks(model):
        return GraphChains(model, **options)
    if "free_energy" in caps:
        return _RBMChains(model)
    if {"energy", "conditionals"} <= set(caps):
        return _MarkovChains(model)
    raise CapabilityError(f"contrastive divergence needs an energy model with block conditionals (an RBM or a "
                          f"discrete MarkovNetwork); a {type(model).__name__} has {sorted(caps)}")


class ContrastiveDivergence:
    """The CD-k (``persistent=False``) or PCD-k (``persistent=True``) objective.

    ``loss(batch)`` returns the surrogate whose gradient is the (negated) CD estimate of the
    log-likelihood gradient; PCD keeps ``chains`` fantasy particles between calls.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> cd = ContrastiveDivergence(rbm, k=1, seed=0)
    >>> x = torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64))
    >>> loss = cd.loss(x); loss.backward()
    >>> rbm.weight.grad.shape
    torch.Size([6, 4])
    """

    def __init__(self, model: torch.nn.Module, k: int = 1, *, persistent: bool = False, chains: int | None = None,
                 seed: int | torch.Generator = 0, positive: str = "mean_field", mean_field_steps: int = 10) -> None:
        self.model, self.k, self.persistent = model, positive_int(k, "k (Gibbs sweeps per update)"), bool(persistent)
        self.chains_wanted = None if chains is None else positive_int(chains, "chains")
        dev = next(model.parameters()).device
        self.generator = make_generator(seed, dev)
        if trains_by_blocks(model):
            self.sampler = negative_phase(model, positive=positive, mean_field_steps=mean_field_steps, generator=self.generator)
        else:  # positive / mean_field_steps only matter for latent blocks that do not sum out
            self.sampler = negative_phase(model)
        if self.persistent and isinstance(self.sampler, GraphChains) and self.sampler.inputs:
            raise SpecError(f"PCD cannot train a conditional model: its negative chains are conditioned on each batch's "
                            f"input blocks {self.sampler.inputs}, so they cannot persist across batches; use CD-k "
                            f"(persistent=False, gd.fit(model, data, method='cd'))")
        self.chains: torch.Tensor | None = None  # PCD's fantasy particles (C, n)

    def _init_chains(self, batch: torch.Tensor) -> torch.Tensor:
        """PCD chains start from data (rows drawn with replacement): a common, well-mixed start."""
        c = self.chains_wanted or batch.shape[0]
        idx = torch.randint(batch.shape[0], (c,), generator=self.generator, device=batch.device)
        if isinstance(self.sampler, GraphChains):  # the latent blocks drawn given the rows
            return self.sampler.chains_from(batch[idx], self.generator)
        return batch[idx].clone()

    def negatives(self, batch: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """Samples for the negative phase (no gradient)."""
        with torch.no_grad():
            if not self.persistent:
                if isinstance(self.sampler, GraphChains):
                    return self.sampler.run(self.sampler.chains_from(batch, self.generator), self.k, self.generator)
                return self.sampler.run(batch, self.k, self.generator, hint)
            if self.chains is None:
                self.chains = self._init_chains(batch)
            self.chains = self.sampler.run(self.chains, self.k, self.generator)
            return self.chains

    def backward(self, batch: torch.Tensor) -> torch.Tensor | None:
        """Put the CD/PCD gradient estimate into the parameters' ``.grad``; returns the loss when it
        was computed (the autograd path), None on a model's closed-form path (an RBM's)."""
        if hasattr(self.sampler, "accumulate_grad"):
            with torch.no_grad():
                z = self.sampler.hidden_logits(batch)  # (B, H): used by the gradient and by CD's first sweep
                neg = self.negatives(batch, z)
            self.sampler.accumulate_grad(batch, z, neg)
            return None
        loss = self.loss(batch)
        loss.backward()
        return loss.detach()

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        """mean F(batch) - mean F(negatives); its gradient is the CD/PCD estimate."""
        pos, hint = self.sampler.data_free_energy(batch)  # the data's product is reused by CD
        neg = self.negatives(batch, None if hint is None else hint.detach())
        return pos.mean() - self.sampler.free_energy(neg).mean()

    def state_dict(self) -> dict[str, Any]:
        """The persistent chains (C, n) (None before the first PCD step) and the generator's state, for checkpoints."""
        return {"chains": self.chains, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.chains = state.get("chains")
        if state.get("generator") is not None:
            self.generator.set_state(state["generator"])
