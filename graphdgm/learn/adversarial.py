"""Adversarial training of a compiled GAN through the shared loop: the objective (non-saturating,
WGAN-GP or hinge loss) and ``fit_adversarial`` with sample grids and per-epoch metrics.

The objective steps the discriminator itself (its own Adam, ``d_steps`` updates per generator
update, gradients all-reduced under ``torch.distributed``) and leaves the generator's gradients
for the loop's optimizer, so checkpoints, resume, the progress bar and the history are the loop's.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from graphdgm.errors import SpecError
from graphdgm.learn.history import History
from graphdgm.learn.loop import lr_factor, train
from graphdgm.runtime.distributed import all_reduce_grads_, rank_and_world, rank_seed
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_float, positive_int

LOSSES = ("non_saturating", "wgan_gp", "hinge")


def discriminator_loss(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its logits on real (B,) and generated (B,) data, without a
    gradient penalty: non-saturating (the GAN's cross-entropy), WGAN's critic loss, or hinge.

    >>> z = torch.zeros(4)
    >>> round(float(discriminator_loss("non_saturating", z, z)), 4)  # 2 log 2
    1.3863
    >>> float(discriminator_loss("hinge", z + 2, z - 2)), float(discriminator_loss("wgan_gp", z + 1, z))
    (0.0, -1.0)
    """
    if loss == "non_saturating":
        return F.softplus(-real).mean() + F.softplus(fake).mean()  # -log σ(D(x)) - log(1 - σ(D(G(z))))
    if loss == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if loss == "wgan_gp":
        return fake.mean() - real.mean()
    raise SpecError(f"unknown GAN loss {loss!r}; use one of {', '.join(LOSSES)}")


def generator_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the discriminator's logits on generated data (B,):
    -log σ(D(G(z))) for the non-saturating loss, -D(G(z)) for WGAN-GP and hinge.

    >>> round(float(generator_loss("non_saturating", torch.zeros(3))), 4)
    0.6931
    """
    if loss == "non_saturating":
        return F.softplus(-fake).mean()
    if loss in ("hinge", "wgan_gp"):
        return -fake.mean()
    raise SpecError(f"unknown GAN loss {loss!r}; use one of {', '.join(LOSSES)}")


def gradient_penalty(model: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017): mean (||∇ D(x̂)|| - 1)² at random points x̂ on the
    lines between real and generated examples (one norm per group of ``pack`` examples).

    >>> import graphdgm as gd
    >>> gan = gd.compile(gd.GAN(2, latent=2, discriminator_hidden=[4]), dtype=torch.float64)
    >>> float(gradient_penalty(gan, torch.zeros(4, 2), torch.ones(4, 2), torch.Generator())) >= 0
    True
    """
    B = real.shape[0]
    eps = torch.rand((B,) + (1,) * (real.dim() - 1), generator=generator, device=real.device, dtype=real.dtype)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, *data_shape)
    out = model.discriminate(mix)  # (B / pack,)
    (grad,) = torch.autograd.grad(out.sum(), mix, create_graph=True)
    norms = grad.reshape(out.shape[0], -1).norm(dim=1)  # (B / pack,)
    return ((norms - 1) ** 2).mean()


def r1_penalty(model: torch.nn.Module, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean ||∇ D(x)||² over real examples, the zero-centred penalty that
    makes GAN training converge locally (one norm per group of ``pack`` examples).

    >>> import graphdgm as gd
    >>> gan = gd.compile(gd.GAN(2, latent=2, discriminator_hidden=[4]), dtype=torch.float64)
    >>> float(r1_penalty(gan, torch.zeros(4, 2, dtype=torch.float64))) >= 0
    True
    """
    x = real.detach().requires_grad_(True)
    out = model.discriminate(x)  # (B / pack,)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(out.shape[0], -1).pow(2).sum(1).mean()


class Adversarial:
    """The adversarial objective for :func:`graphdgm.learn.train`.

    Each ``backward(batch)`` makes ``d_steps`` discriminator updates (the batch split into that
    many real mini-batches, fresh noise for each) with the objective's own Adam (``lr_d``,
    ``betas``), then back-propagates the generator's loss into the generator's parameters only;
    the loop's optimizer steps those (``named_parameters`` tells it which). ``r1`` > 0 adds the R1
    penalty (r1 / 2) E||∇D(x_real)||² to any loss. Returns the step's figures: ``loss_d`` (without
    penalties), ``loss_g`` and, when used, ``gradient_penalty`` and ``r1_penalty``.

    >>> import graphdgm as gd
    >>> gan = gd.compile(gd.GAN(2, latent=4, generator_hidden=[8], discriminator_hidden=[8]))
    >>> obj = Adversarial(gan, "hinge", lr_d=1e-3)
    >>> sorted(obj.backward(torch.randn(16, 2)))
    ['loss_d', 'loss_g']
    """

    def __init__(self, model: torch.nn.Module, loss: str = "non_saturating", *, d_steps: int | None = None,
                 lr_d: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), gp_weight: float = 10.0, r1: float = 0.0,
                 seed: int = 0, distributed: bool | None = None) -> None:
        if loss not in LOSSES:
            raise SpecError(f"unknown GAN loss {loss!r}; use one of {', '.join(LOSSES)}")
        if "implicit" not in getattr(model, "capabilities", ()):
            raise SpecError(f"adversarial training needs a compiled GAN, got a {type(model).__name__}")
        self.model, self.loss = model, loss
        self.distributed = distributed  # None: all-reduce when a process group is up; False: never
        self.d_steps = positive_int(d_steps if d_steps is not None else (5 if loss == "wgan_gp" else 1), "d_steps")
        try:  # the one check of the penalty weights: fit_adversarial and direct callers both pass here
            self.gp_weight = positive_float(gp_weight, "gp_weight", allow_zero=True)
            self.r1 = positive_float(r1, "r1", allow_zero=True)
        except SpecError as e:
            raise SpecError(f"penalty weights: {e}") from None
        self.opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=float(lr_d), betas=tuple(betas))
        self.noise_rng = make_generator(int(seed), model.device)
        self.step = 0
        self.base_lr_d = float(lr_d)
        self.lr_factor: Callable[[int], float] | None = None  # step -> multiplier of lr_d (a schedule)

    def named_parameters(self):
        """The parameters the loop's optimizer steps: the generator's."""
        return (("generator." + n, p) for n, p in self.model.generator.named_parameters())

    def _fake(self, n: int) -> torch.Tensor:
        return self.model.generate(self.model.noise(n, self.noise_rng))  # (n, *data_shape)

    def _allreduce_discriminator_grads(self) -> None:
        all_reduce_grads_(self.model.discriminator.parameters(), self.distributed)

    def backward(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """One GAN step on a real batch (B, ...): ``d_steps`` discriminator updates (with the gradient or R1
        penalty when set), then the generator's gradient left in ``.grad`` for the loop's optimiser step.
        Returns the figures (``loss_d``, ``loss_g``, penalties) as detached tensors.
        """
        model, pack = self.model, self.model.pack
        real_all = batch.reshape(batch.shape[0], *model.data_shape).to(model.dtype)
        size = (real_all.shape[0] // self.d_steps) // pack * pack
        if size == 0:
            raise SpecError(f"a batch of {batch.shape[0]} rows is too small for d_steps={self.d_steps} discriminator "
                            f"updates in groups of pack={pack}; raise batch_size")
        figures: dict[str, torch.Tensor] = {}
        if self.lr_factor is not None:
            for group in self.opt_d.param_groups:
                group["lr"] = self.base_lr_d * self.lr_factor(self.step)
        for k in range(self.d_steps):  # the discriminator's updates for this step
            real = real_all[k * size:(k + 1) * size]
            with torch.no_grad():
                fake = self._fake(size)
            loss_d = discriminator_loss(self.loss, model.discriminate(real), model.discriminate(fake))
            total = loss_d
            if self.loss == "wgan_gp":
                gp = gradient_penalty(model, real, fake, self.noise_rng)
                total = loss_d + self.gp_weight * gp
                figures["gradient_penalty"] = gp.detach()
            if self.r1 > 0:
                r1 = r1_penalty(model, real)
                total = total + 0.5 * self.r1 * r1
                figures["r1_penalty"] = r1.detach()
            self.opt_d.zero_grad(set_to_none=True)
            total.backward()
            self._allreduce_discriminator_grads()
            self.opt_d.step()
            figures["loss_d"] = loss_d.detach()
        self.opt_d.zero_grad(set_to_none=True)  # spent: the loop must not all-reduce them again
        d_params = list(model.discriminator.parameters())
        for p in d_params:
            p.requires_grad_(False)  # the generator's step needs no discriminator gradients
        try:
            loss_g = generator_loss(self.loss, model.discriminate(self._fake(size)))
            loss_g.backward()
        finally:
            for p in d_params:
                p.requires_grad_(True)
        figures["loss_g"] = loss_g.detach()
        self.step += 1
        return figures

    def state_dict(self) -> dict[str, Any]:
        """The discriminator's optimiser state, the noise generator's state and the step count, for checkpoints."""
        return {"opt_d": self.opt_d.state_dict(), "noise_rng": self.noise_rng.get_state(), "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.opt_d.load_state_dict(state["opt_d"])
        self.noise_rng.set_state(state["noise_rng"])
        self.step = int(state.get("step", 0))


def as_gan_data(model: torch.nn.Module, data: Any, what: str = "training data") -> torch.Tensor:
    """(N, *data_shape) float tensor on the model's device, with clear errors for wrong shapes,
    NaN/inf, and non-0/1 values where the GAN models binary data."""
    x = torch.as_tensor(data.detach() if hasattr(data, "detach") else np.asarray(data))
    shape, D = model.data_shape, model.D
    if x.dim() >= 1 and x.shape[0] == 0:
        raise SpecError(f"{what} is empty: give at least one example of shape {shape}")
    if x.dim() < 2 or x.shape[0] == 0 or math.prod(x.shape[1:]) != D:
        raise SpecError(f"{what} has shape {tuple(x.shape)}; this GAN needs (examples, *{shape}) or (examples, {D}). "
                        f"Reshape it, e.g. data.reshape(len(data), {D})")
    x = x.reshape(x.shape[0], *shape).to(model.device, model.dtype)
    if not bool(torch.isfinite(x).all()):
        raise SpecError(f"{what} holds NaN or inf; clean or drop those rows")
    if model.binary and bool(((x != 0) & (x != 1)).any()):
        raise SpecError(f"{what} must be binary (0/1) for a GAN with data='binary'; binarise it, e.g. (x > 0.5).float(), "
                        f"or declare the GAN with data='real'")
    return x


def _sample_writer(model: torch.nn.Module, every: int, folder: str | os.PathLike, n: int, seed: int,
                   extent: float | None) -> Callable[[int, dict[str, float]], None]:
    """A callback writing a PNG of ``n`` samples every ``every`` epochs: an image grid for image
    data, a density picture for points in the plane."""
    from graphdgm.viz.images import save_image_grid, save_png, scatter_image

    folder = Path(folder)

    def write(epoch: int, record: dict[str, float]) -> None:
        if epoch % every:
            return
        x = model.sample(n, seed=seed)
        path = folder / f"samples_epoch{epoch:04d}.png"
        if len(model.data_shape) >= 2:
            save_image_grid(x, path, shape=model.spec.image_shape[-2:])
        elif model.D == 2:
            save_png(scatter_image(x, extent=extent), path)

    return write


def fit_adversarial(
    model: torch.nn.Module,
    data: Any,
    *,
    loss: str = "non_saturating",
    epochs: int = 10,
    batch_size: int = 64,
    lr: float | None = None,
    lr_d: float | None = None,
    betas: tuple[float, float] | None = None,
    d_steps: int | None = None,
    gp_weight: float = 10.0,
    r1: float = 0.0,
    schedule: str | Callable[[float], float] = "constant",
    seed: int = 0,
    progress: bool | None = None,
    metrics: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    sample_every: int = 0,
    sample_dir: str | os.PathLike | None = None,
    sample_count: int = 64,
    sample_extent: float | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    distributed: bool | None = None,
) -> History:
    """Train a compiled GAN on ``data`` (N, *data_shape) through the shared loop.

    ``loss``: ``"non_saturating"`` (Goodfellow et al. 2014; Adam lr 2e-4, betas (0.5, 0.999)),
    ``"wgan_gp"`` (Gulrajani et al. 2017; lr 1e-4, betas (0.5, 0.9), ``d_steps=5``, penalty
    weight ``gp_weight``) or ``"hinge"`` (as non-saturating); ``r1`` > 0 adds the R1 penalty on real
    data (Mescheder et al. 2018) to any of them. ``batch_size`` is the size of each
    discriminator mini-batch; a loop step takes ``d_steps`` of them. The history has ``loss_d``
    and ``loss_g`` per epoch (and ``gradient_penalty``), plus whatever ``metrics(model)`` returns;
    every ``sample_every`` epochs a PNG of samples goes to ``sample_dir``. ``schedule`` (``"linear"``,
    ``"cosine"``, ...) decays the generator's learning rate and the discriminator's with it.

    >>> import torch, graphdgm as gd
    >>> gan = gd.compile(gd.GAN(1, latent=2, generator_hidden=[8], discriminator_hidden=[8]))
    >>> h = gd.fit(gan, torch.randn(64, 1) + 3, method="adversarial", epochs=2, batch_size=16, progress=False)
    >>> sorted(h.last)
    ['epoch', 'loss_d', 'loss_g', 'lr', 'seconds']
    """
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    sample_every, sample_count = positive_int(sample_every, "sample_every", minimum=0), positive_int(sample_count, "sample_count")
    x = as_gan_data(model, data)
    wgan = loss == "wgan_gp"
    lr = (1e-4 if wgan else 2e-4) if lr is None else positive_float(lr, "lr")
    lr_d = lr if lr_d is None else positive_float(lr_d, "lr_d")
    betas = ((0.5, 0.9) if wgan else (0.5, 0.999)) if betas is None else tuple(betas)
    rank, _ = rank_and_world(distributed)
    objective = Adversarial(model, loss, d_steps=d_steps, lr_d=lr_d, betas=betas, gp_weight=gp_weight, r1=r1,
                            seed=rank_seed(seed + 1, stride=1000, distributed=distributed), distributed=distributed)
    steps = max(1, math.ceil(x.shape[0] / (int(batch_size) * objective.d_steps * rank_and_world(distributed)[1]))) * int(epochs)
    objective.lr_factor = lr_factor(schedule, steps)  # the discriminator's rate decays with the generator's
    if sample_every and sample_dir is None:
        raise SpecError("sample_every needs sample_dir=... (the folder for the sample PNGs)")
    hooks = list(callbacks)
    if sample_every and rank == 0:
        hooks.insert(0, _sample_writer(model, int(sample_every), sample_dir, int(sample_count), seed, sample_extent))

    def monitor(epoch: int) -> dict[str, float]:
        return dict(metrics(model)) if metrics is not None else {}

    return train(model, objective, x, epochs=epochs, batch_size=int(batch_size) * objective.d_steps, lr=lr, momentum=0.0,
                 momentum_warmup=0, weight_decay=0.0, schedule=schedule, optimizer="adam", betas=betas, seed=seed, progress=progress,
                 monitor=monitor if metrics is not None else None, callbacks=hooks, checkpoint=checkpoint, resume=resume,
                 distributed=distributed)
