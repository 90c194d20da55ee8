"""``fit``: train a compiled model on data by a named method through the shared loop."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.learn.contrastive_divergence import ContrastiveDivergence
from graphdgm.learn.history import History
from graphdgm.learn.loop import train
from graphdgm.learn.metrics import pseudo_log_likelihood, reconstruction_error


def as_training_data(model: torch.nn.Module, data: Any) -> torch.Tensor:
    """Check and convert ``data`` to what ``model`` trains on: (N, V) visible states of an RBM
    (images (N, 28, 28) are flattened) or (N, n) state indices of a Markov network."""
    x = torch.as_tensor(data.detach() if hasattr(data, "detach") else np.asarray(data))
    dev = next(model.parameters()).device
    rbm = "rbm" in getattr(model, "capabilities", ())
    n = model.V if rbm else model.num_variables
    what = f"visible units of this RBM ({model.V})" if rbm else f"variables of this network ({n})"
    if x.dim() >= 2 and x.shape[0] > 0 and math.prod(x.shape[1:]) == n:
        x = x.reshape(x.shape[0], n)
    if x.dim() != 2 or x.shape[1] != n:
        raise SpecError(f"training data has shape {tuple(x.shape)}; it needs (examples, {n}), one column per "
                        f"{what}. Reshape it, e.g. data.reshape(len(data), {n})")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise SpecError("training data holds NaN or inf; clean or drop those rows")
    vtype = getattr(model, "visible_type", None)
    if vtype == "gaussian":
        return x.to(dev, model.dtype)
    cards = model.cards[:n].to(x.device)
    if rbm and vtype == "bernoulli":
        bad_cols = ((x != 0) & (x != 1)).any(0)  # one pass for the common 0/1 case
    else:
        bad_cols = ((x != x.round()) | (x < 0) | (x >= cards)).any(0)
    if bool(bad_cols.any()):
        bad = int(bad_cols.nonzero()[0, 0])
        raise SpecError(f"training data column {bad} ({model.variables[bad]!r}) holds values outside the unit's "
                        f"states 0..{int(cards[bad]) - 1}; binarise or encode the data as state indices")
    return x.to(dev, model.dtype) if rbm else x.to(dev, torch.long)


def _monitor(model: torch.nn.Module, train_x: torch.Tensor, valid: torch.Tensor | None, size: int,
             ais_every: int, ais_options: dict[str, Any], seed: int) -> Callable[[int], dict[str, float]] | None:
    if size <= 0 and not ais_every:
        return None  # monitoring off (for timing runs)
    mon = (valid if valid is not None else train_x)[:max(size, 1)]
    g = torch.Generator(device=mon.device).manual_seed(seed + 7)
    rbm = "rbm" in getattr(model, "capabilities", ())

    def monitor(epoch: int) -> dict[str, float]:
        out: dict[str, float] = {}
        if rbm and size > 0:
            out["reconstruction_error"] = reconstruction_error(model, mon)
        if "discrete" in model.capabilities and size > 0:
            out["pseudo_log_likelihood"] = pseudo_log_likelihood(model, mon, g)
        if ais_every and epoch % ais_every == 0:
            from graphdgm.infer.rbm_ais import rbm_log_likelihood

            res = rbm_log_likelihood(model, mon, base_data=train_x, **ais_options)
            out["ais_log_z"] = float(res.log_z)
            out["log_likelihood"] = float(res.log_likelihood)
        return out

    return monitor


def fit(
    model: torch.nn.Module,
    data: Any,
    method: str = "pcd",
    *,
    epochs: int = 10,
    batch_size: int = 100,
    lr: float | None = None,
    k: int = 1,
    chains: int | None = None,
    momentum: float = 0.9,
    momentum_warmup: int = 5,
    weight_decay: float | None = None,
    schedule: str | Callable[[float], float] = "constant",
    seed: int = 0,
    progress: bool | None = None,
    validation: Any = None,
    monitor_size: int = 1000,
    ais_every: int = 0,
    ais_options: dict[str, Any] | None = None,
    init_visible_bias: bool = True,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    distributed: bool | None = None,
    optimizer: str | None = None,
    patience: int | None = None,
    pseudo_count: float = 0.0,
    iterations: int = 100,
    tol: float = 1e-8,
    **options: Any,
) -> History:
    """Train ``model`` on ``data`` by ``method``: ``"cd"`` (CD-k) or ``"pcd"`` (persistent CD with
    ``chains`` fantasy particles, default one per batch row), for an RBM or any fully observed
    discrete Markov network; ``"mle"`` (maximum likelihood, Adam at ``lr=1e-3`` by default, early
    stopping after ``patience`` epochs without a better ``validation`` NLL) for a model with an
    exact ``log_prob`` such as NADE, MADE, PixelCNN or PixelRNN; for a Bayesian network ``"mle"``
    sets the tables to their (Dirichlet-smoothed, ``pseudo_count``) counts in one pass, and so it
    does for a Markov chain fitted to sequences; a hidden Markov model trains by ``"baum_welch"``
    (EM for at most ``iterations``, stopping at a relative improvement below ``tol``); for a GAN
    ``"adversarial"`` trains generator and discriminator (``options`` such as ``loss="wgan_gp"``,
    ``d_steps``, ``lr_d``, ``betas``, ``metrics``, ``sample_every``/``sample_dir`` go to
    :func:`graphdgm.learn.fit_adversarial`).

    The history records per epoch the loss, the learning rate, the reconstruction error and a
    pseudo-log-likelihood on ``validation`` (or the first ``monitor_size`` training rows), and
    every ``ais_every`` epochs an AIS estimate of log Z and of the mean log-likelihood
    (``ais_options`` go to :func:`graphdgm.infer.rbm_ais.rbm_log_likelihood`). Weight decay
    applies to weights, not biases; visible biases start at the data's log-odds.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(8, 4))
    >>> x = torch.bernoulli(torch.full((64, 8), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> history = gd.fit(rbm, x, method="pcd", epochs=3, batch_size=16, progress=False)
    >>> len(history), "pseudo_log_likelihood" in history.last
    (3, True)
    """
    caps = getattr(model, "capabilities", frozenset())
    if "sequence" in caps:  # Markov chains ("mle": counting) and HMMs ("baum_welch": EM for ``iterations``)
        from graphdgm.learn.baum_welch import fit_sequence_model

        return fit_sequence_model(model, data, method, pseudo_count=pseudo_count, iterations=iterations, tol=tol,
                                  progress=progress, distributed=distributed, **options)
    if "gan" in caps:
        if method not in ("adversarial", "gan"):
            raise CapabilityError(f"a GAN has no likelihood, so it trains by method='adversarial', not {method!r}")
        from graphdgm.learn.adversarial import fit_adversarial

        return fit_adversarial(model, data, epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule, seed=seed, progress=progress,
                               checkpoint=checkpoint, resume=resume, callbacks=callbacks, distributed=distributed, **options)
    if method == "mle" and "autoregressive" in caps:
        from graphdgm.learn.maximum_likelihood import fit_mle

        return fit_mle(model, data, epochs=epochs, batch_size=batch_size, lr=1e-3 if lr is None else lr,
                       optimizer=optimizer or "adam", weight_decay=weight_decay or 0.0,
                       schedule=schedule, validation=validation, patience=patience, seed=seed, progress=progress,
                       checkpoint=checkpoint, resume=resume, callbacks=callbacks, distributed=distributed)
    if method == "mle" and "bayesian_network" in caps:
        return model.fit_tables(data, pseudo_count=pseudo_count)
    if options:
        raise SpecError(f"unknown option(s) {sorted(options)} for method {method!r} on a {type(model).__name__}")
    lr = 0.05 if lr is None else lr
    weight_decay = 2e-4 if weight_decay is None else weight_decay
    x = as_training_data(model, data)
    valid = as_training_data(model, validation) if validation is not None else None
    if method in ("cd", "pcd"):
        if init_visible_bias and not resume and "rbm" in model.capabilities and model.spec.visible_bias is None:
            model.init_visible_bias(x)
        rank = torch.distributed.get_rank() if torch.distributed.is_available() and torch.distributed.is_initialized() else 0
        objective = ContrastiveDivergence(model, k, persistent=method == "pcd", chains=chains, seed=seed + 1000 * rank)
    else:
        use = "'mle'" if "log_prob" in caps else "'cd' or 'pcd'"
        raise CapabilityError(f"unknown training method {method!r} for a {type(model).__name__}; use {use}")
    monitor = _monitor(model, x, valid, int(monitor_size), int(ais_every), dict(ais_options or {}), seed)
    return train(model, objective, x, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum, momentum_warmup=momentum_warmup,
                 weight_decay=weight_decay, schedule=schedule, seed=seed, progress=progress, monitor=monitor,
                 callbacks=callbacks, checkpoint=checkpoint, resume=resume, distributed=distributed,
                 optimizer=optimizer or "sgd")
