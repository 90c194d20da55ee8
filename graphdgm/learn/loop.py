"""One training loop for every objective: mini-batches, SGD with momentum and weight decay, a
learning-rate schedule, a progress bar, a history, callbacks, checkpoints, and data parallelism
with ``torch.distributed`` (gradients all-reduced)."""
from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from graphdgm.errors import ConvergenceWarning, SpecError
from graphdgm.learn.history import History, plain_data
from graphdgm.runtime import make_generator, progress_bar, safe_torch_load, torch_save_atomic
from graphdgm.runtime.progress import postfix
from graphdgm.runtime.distributed import all_reduce_grads_, broadcast_, rank_and_world
from graphdgm.spec.validate import positive_float, positive_int


def lr_factor(schedule: str | Callable[[float], float], total_steps: int) -> Callable[[int], float]:
    """Step -> learning-rate multiplier: ``"constant"``, ``"linear"`` (to zero at the end),
    ``"cosine"``, or a callable of the training fraction done (0..1).

    >>> [lr_factor("linear", 4)(step) for step in range(5)]
    [1.0, 0.75, 0.5, 0.25, 0.0]
    """
    if callable(schedule):
        return lambda step: float(schedule(step / max(total_steps, 1)))
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "linear":
        return lambda step: max(0.0, 1.0 - step / max(total_steps, 1))
    if schedule == "cosine":
        return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))
    raise SpecError(f"unknown learning-rate schedule {schedule!r}; use 'constant', 'linear', 'cosine' or a callable")


def _param_groups(named: Any, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on weights only; biases are not decayed (Hinton's practical guide, section 10)."""
    decay, plain = [], []
    for name, p in named:
        if p.requires_grad:
            (plain if "bias" in name else decay).append(p)
    return [{"params": decay, "weight_decay": float(weight_decay)}, {"params": plain, "weight_decay": 0.0}]


class _LastFinite:
    """A copy of the parameters at the end of the last epoch where all were finite (one buffer per
    parameter tensor, refreshed in place), to roll back to when training diverges."""

    def __init__(self, params: list[tuple[str, torch.nn.Parameter]]) -> None:
        self.params = params
        self.copies = [p.detach().clone() for _, p in params]
        self.epoch = 0

    def non_finite(self) -> list[str]:
        return [n for n, p in self.params if not bool(torch.isfinite(p).all())]

    @torch.no_grad()
    def keep(self, epoch: int) -> None:
        for c, (_, p) in zip(self.copies, self.params):  # a loop over parameter tensors
            c.copy_(p)
        self.epoch = epoch

    @torch.no_grad()
    def restore(self) -> None:
        for c, (_, p) in zip(self.copies, self.params):
            p.copy_(c)


def train(
    model: torch.nn.Module,
    objective: Any,
    data: torch.Tensor,
    *,
    epochs: int = 10,
    batch_size: int = 100,
    lr: float = 0.01,
    momentum: float = 0.9,
    momentum_warmup: int = 5,
    weight_decay: float = 0.0,
    schedule: str | Callable[[float], float] = "constant",
    optimizer: str = "sgd",
    seed: int = 0,
    progress: bool | None = None,
    monitor: Callable[[int], dict[str, float]] | None = None,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    distributed: bool | None = None,
    history: History | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
) -> History:
    """Minimise an objective over ``data`` (N, ...) in shuffled mini-batches; ``objective.backward(batch)``
    fills the parameters' gradients (returning the loss when it computes one, or a dict of named
    losses such as a GAN's ``loss_d`` and ``loss_g``, recorded per epoch as their means).
    An objective with its own ``named_parameters()`` (a GAN's, which steps the discriminator itself)
    has only those stepped by the loop's optimizer.

    SGD with ``momentum`` (``momentum_warmup`` epochs at 0.5 first) or ``optimizer="adam"``;
    ``monitor(epoch)`` adds figures to the history after each epoch, and ``callbacks(epoch,
    record)`` see each record (return ``False`` to stop early). With ``checkpoint`` a file keeps
    the model, optimizer, objective state (PCD chains) and history every ``checkpoint_every``
    epochs (written atomically, as tensors and plain data only); ``resume=True`` continues from it,
    loading with ``weights_only=True`` (a file holding anything else is a ``FormatError``, never
    unpickled). Under ``torch.distributed`` each process takes its share of every batch and the
    gradients are averaged.

    Divergence: when an epoch leaves a parameter NaN or infinite, the model is rolled back to the
    parameters of the last epoch that ended finite, training stops, a ``ConvergenceWarning`` names
    the epoch, the parameters and the fix, and ``history.diverged`` records it (None otherwise).

    >>> import torch, graphdgm as gd
    >>> from graphdgm.learn import ContrastiveDivergence
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> x = torch.bernoulli(torch.full((40, 6), 0.3, dtype=torch.float64))
    >>> h = train(rbm, ContrastiveDivergence(rbm), x, epochs=2, batch_size=10, progress=False)
    >>> len(h), sorted(h.records[0])
    (2, ['epoch', 'lr', 'seconds'])
    """

    rank, world = rank_and_world(distributed)
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
    momentum_warmup = positive_int(momentum_warmup, "momentum_warmup", minimum=0)
    lr = positive_float(lr, "lr")
    momentum = positive_float(momentum, "momentum", allow_zero=True)
    weight_decay = positive_float(weight_decay, "weight_decay", allow_zero=True)
    N = data.shape[0]
    if N == 0:
        raise SpecError("training data is empty: give at least one example (rows of the data tensor)")
    global_batch = batch_size * world
    steps_per_epoch = max(1, math.ceil(N / global_batch))
    total = epochs * steps_per_epoch
    named = list(objective.named_parameters() if hasattr(objective, "named_parameters") else model.named_parameters())
    groups = _param_groups(named, weight_decay)
    if optimizer == "sgd":
        try:  # one fused kernel per step where this torch has it (CPU and CUDA, torch >= 2.4)
            opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum, fused=True)
        except (RuntimeError, TypeError, ValueError):
            opt = torch.optim.SGD(groups, lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=tuple(betas))
    else:
        raise SpecError(f"unknown optimizer {optimizer!r}; use 'sgd' or 'adam'")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(schedule, total))
    constant_lr = isinstance(schedule, str) and schedule == "constant"
    objective_reports_loss = False
    history = history if history is not None else History()
    g = make_generator(int(seed))  # shuffling: the same on every process
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt is not None and ckpt.exists():
        state = safe_torch_load(ckpt, map_location=next(model.parameters()).device, what="graphdgm training checkpoint")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        objective.load_state_dict(state["objective"])
        g.set_state(state["shuffle"])
        history.records = list(state["history"])
        start = int(state["epoch"])
    if world > 1:
        for p in model.parameters():  # every rank starts from rank 0's parameters
            broadcast_(p.data, 0, distributed)
    history.diverged = None
    labels = getattr(model, "parameter_labels", {})  # names people use in messages (a graph's edge names)
    last_finite = _LastFinite([(labels.get(n, n), p) for n, p in model.named_parameters()])
    last_finite.epoch = start
    bar = progress_bar(range(start, epochs), progress if rank == 0 else False, desc="train")
    for epoch in bar:
        if optimizer == "sgd":
            for grp in opt.param_groups:
                grp["momentum"] = 0.5 if epoch < momentum_warmup else momentum
        t_epoch = time.perf_counter()
        perm = torch.randperm(N, generator=g).to(data.device)
        loss_sums: dict[str, torch.Tensor] = {}
        for s in range(steps_per_epoch):  # a loop over mini-batches
            idx = perm[s * global_batch:(s + 1) * global_batch][rank::world]
            opt.zero_grad(set_to_none=True)
            loss = objective.backward(data[idx])  # fills .grad; the loss when the objective computed one
            if world > 1:
                all_reduce_grads_(model.parameters(), distributed)
            opt.step()
            objective_reports_loss = loss is not None
            for key, value in (loss.items() if isinstance(loss, dict) else [("loss", loss)] if loss is not None else []):
                loss_sums[key] = loss_sums.get(key, 0.0) + torch.as_tensor(value).detach().to(torch.float64)
            if not constant_lr:
                sched.step()
        record = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t_epoch}
        if objective_reports_loss:
            record.update({key: float(total) / steps_per_epoch for key, total in loss_sums.items()})
        bad = last_finite.non_finite()
        if bad:
            last_finite.restore()
            history.diverged = {"epoch": epoch + 1, "parameters": bad, "restored_epoch": last_finite.epoch}
            back = f"after epoch {last_finite.epoch}" if last_finite.epoch else "from before training"
            warnings.warn(f"training diverged in epoch {epoch + 1}: parameters {bad} were no longer finite, so the "
                          f"model was rolled back to its parameters {back} and training stopped; lower the learning rate (lr={lr}, try lr={lr / 10:g}) or add weight decay "
                          f"(weight_decay=...)", ConvergenceWarning, stacklevel=2)
            break
        last_finite.keep(epoch + 1)
        if monitor is not None:
            record.update(monitor(epoch + 1))
        history.append(record)
        bar.set_postfix(postfix(record), refresh=False)  # the epoch's figures, drawn at the bar's own pace
        if ckpt is not None and rank == 0 and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
            torch_save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                               "objective": objective.state_dict(), "shuffle": g.get_state(),
                               "history": plain_data(history.records), "epoch": epoch + 1}, ckpt)
        if any(cb(epoch + 1, record) is False for cb in callbacks):
            break
    bar.close()  # a bar stopped early (a callback, divergence) is finished too, and stays on screen
    return history
