"""Maximum-likelihood training of models with an exact ``log_prob`` (autoregressive models, Bayesian
networks' neural cousins): the objective, and ``fit_mle`` with validation and early stopping."""
from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from graphdgm.errors import SpecError
from graphdgm.learn.examples import example_matrix
from graphdgm.learn.history import History
from graphdgm.learn.loop import train
from graphdgm.spec.validate import positive_float, positive_int


class MaximumLikelihood:
    """The mean negative log-likelihood of a batch, back-propagated by autograd (or the model's
    own kernel). Models with several masks (MADE) move to the next mask set every step, which is
    order- and connectivity-agnostic training.

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(6, hidden=[10]))
    >>> loss = MaximumLikelihood(made).backward(torch.ones(4, 6))
    >>> bool(loss > 0), made.net[0].weight.grad is not None
    (True, True)
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.step = 0

    def backward(self, batch: torch.Tensor) -> torch.Tensor:
        """Put the gradient of -mean log p(batch) into the parameters' ``.grad`` and return that loss
        (float64); a MADE with several masks trains one mask per step, in turn.
        """
        if getattr(self.model, "num_masks", 1) > 1:
            self.model.use_mask(self.step)
            loss = -self.model.log_prob(batch, ensemble=False).mean()
        else:
            loss = -self.model.log_prob(batch).mean()
        loss.backward()
        self.step += 1
        return loss.detach().to(torch.float64)

    def state_dict(self) -> dict[str, Any]:
        """The step count (which MADE mask comes next), for checkpoints."""
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.step = int(state.get("step", 0))


@torch.no_grad()
def mean_nll(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000, **options: Any) -> float:
    """Mean -log p(x) in nats per example, in batches (``options`` go to ``log_prob``)."""
    total = 0.0
    for s in range(0, x.shape[0], batch_size):
        total += float(-model.log_prob(x[s:s + batch_size], **options).sum())
    return total / max(x.shape[0], 1)


def as_binary_data(model: torch.nn.Module, data: Any, what: str = "training data") -> torch.Tensor:
    """(N, D) float tensor of 0/1 values on the model's device, with clear errors."""
    D = model.D
    x = example_matrix(data, D, what, "of 0/1 values",
                       f"this model needs (examples, {D}) or (examples, *{model.shape}) binary values")
    if bool(((x != 0) & (x != 1)).any()):
        raise SpecError(f"{what} must be binary (0/1); binarise it first, e.g. (x > 0.5).float()")
    return x.to(model.device, model.dtype)


def fit_mle(
    model: torch.nn.Module,
    data: Any,
    *,
    epochs: int = 10,
    batch_size: int = 100,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    schedule: str | Callable[[float], float] = "constant",
    validation: Any = None,
    patience: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    distributed: bool | None = None,
) -> History:
    """Maximum-likelihood training with Adam (default) through the shared loop.

    With ``validation`` data the history has ``valid_nll`` per epoch (nats per example; the mask
    ensemble for a multi-mask MADE), and ``patience`` stops training after that many epochs
    without improvement and restores the best parameters (early stopping).
    """
    epochs, batch_size, lr = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size"), positive_float(lr, "lr")
    x = as_binary_data(model, data)
    valid = as_binary_data(model, validation, "validation data") if validation is not None else None
    patience = None if patience is None else positive_int(patience, "patience")
    if patience is not None and valid is None:
        raise SpecError("early stopping (patience=...) needs validation data: pass validation=x_valid")
    if not resume and hasattr(model, "init_visible_bias"):
        model.init_visible_bias(x)
    best: dict[str, Any] = {"nll": math.inf, "state": None, "epoch": 0}

    def monitor(epoch: int) -> dict[str, float]:
        if valid is None:
            return {}
        model.eval()
        nll = mean_nll(model, valid)
        model.train()
        if nll < best["nll"]:
            best.update(nll=nll, state=copy.deepcopy(model.state_dict()), epoch=epoch)
        return {"valid_nll": nll, "best_epoch": best["epoch"]}

    def stop(epoch: int, record: dict[str, float]) -> bool:
        return not (patience is not None and epoch - best["epoch"] >= int(patience))

    history = train(model, MaximumLikelihood(model), x, epochs=epochs, batch_size=batch_size, lr=lr, momentum=0.9,
                    momentum_warmup=0, weight_decay=weight_decay, schedule=schedule, optimizer=optimizer, seed=seed,
                    progress=progress, monitor=monitor, callbacks=[stop, *callbacks], checkpoint=checkpoint,
                    resume=resume, distributed=distributed)
    if best["state"] is not None and patience is not None:
        model.load_state_dict(best["state"])  # early stopping keeps the best epoch's parameters
        if hasattr(model, "use_mask"):
            model.active_mask = -1
            model.use_mask(0)
    return history
