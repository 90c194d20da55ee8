"""Maximum pseudo-likelihood (Besag, 1975): maximise Σ_i log p(x_i | x_-i) over the data, for a
fully observed discrete energy model (a Markov network, or a graph with no latent blocks).

Each term needs only one unit's conditional, so the objective is exact and cheap: one batched
conditional per sampler block (the units of a block are independent given the rest), and its
autograd gradient is the estimator. It is consistent (Gidas, 1988) and needs no sampling.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.learn.contrastive_training import as_training_data
from graphdgm.learn.history import History
from graphdgm.learn.loop import train
from graphdgm.runtime.random import make_generator  # noqa: F401 - seeds go through the loop


class PseudoLikelihood:
    """The objective: ``backward(batch)`` fills the gradient of -mean Σ_i log p(x_i | x_-i).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    >>> loss = PseudoLikelihood(model).backward(torch.zeros(4, 4, dtype=torch.long))
    >>> float(loss) > 0
    True
    """

    def __init__(self, model: torch.nn.Module) -> None:
        caps = getattr(model, "capabilities", frozenset())
        if "latent" in caps or not {"discrete", "conditionals"} <= set(caps):
            raise CapabilityError("pseudo-likelihood needs a fully observed discrete energy model (no latent blocks, "
                                  f"block conditionals); a {type(model).__name__} has {sorted(caps)}. Train latent "
                                  "models by gd.fit(model, data, method='pcd')")
        self.model = model

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        """The negative log pseudo-likelihood per row of ``batch`` (B, n): -Σ_v log p(x_v | x_rest), averaged
        over the batch, from each sampler block's conditional logits.
        """
        model, total = self.model, 0.0
        x = batch.long()
        for b, members in enumerate(model.blocks):  # a loop over sampler blocks, each one batched call
            logits = model.conditional_logits(batch, b)  # (B, m, K)
            own = x[:, members.to(x.device)]  # (B, m)
            total = total + torch.log_softmax(logits, -1).gather(2, own[..., None]).sum()
        return -total / batch.shape[0]

    def backward(self, batch: torch.Tensor) -> torch.Tensor:
        """Put the gradient of :meth:`loss` into the parameters' ``.grad``; returns the loss, detached."""
        loss = self.loss(batch)
        loss.backward()
        return loss.detach()


def fit_pseudo_likelihood(model: torch.nn.Module, data: Any, *, epochs: int = 50, batch_size: int = 100, lr: float = 0.05,
                          optimizer: str = "adam", weight_decay: float = 0.0, schedule: str | Callable[[float], float] = "constant",
                          seed: int = 0, progress: bool | None = None, checkpoint: Any = None, resume: bool = False,
                          callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
                          distributed: bool | None = None) -> History:
    """Fit ``model`` to fully observed ``data`` by maximum pseudo-likelihood through the shared
    training loop (Adam by default); the history records the mean negative pseudo-log-likelihood
    per example as ``loss``.

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.0))
    >>> x = torch.ones(32, 4, dtype=torch.long)               # all spins up
    >>> h = fit_pseudo_likelihood(model, x, epochs=20, batch_size=8, progress=False)
    >>> h.records[-1]["loss"] < h.records[0]["loss"]
    True
    """
    objective = PseudoLikelihood(model)
    x = as_training_data(model, data)
    return train(model, objective, x, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                 weight_decay=weight_decay, schedule=schedule, seed=seed, progress=progress, checkpoint=checkpoint,
                 resume=resume, callbacks=callbacks, distributed=distributed)


__all__ = ["PseudoLikelihood", "fit_pseudo_likelihood"]
