"""Annealed importance sampling for RBMs, following Salakhutdinov and Murray (2008).

The walk starts at a base-rate RBM (no weights, visible biases from the data's marginals, so its
log Z_A and samples are exact) and moves to the target through p_β(v) ∝ p_A(v)^(1-β) p̃(v)^β with
the hidden layer summed out analytically (a lower-variance weight than annealing the joint). Each
temperature costs two products over all runs at once: one gives the weight increment and the
hidden conditional, the other the visible conditional.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.diagnostics import Diagnostics, warn_if_unconverged
from graphdgm.infer.mcmc.ais import AIS_ESS_FRACTION, ais_diagnostics, importance_ess
from graphdgm.infer.options import check_count, check_threshold
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import make_generator


def salakhutdinov_murray_betas(device: torch.device | str | None = None) -> torch.Tensor:
    """The published 14,501 inverse temperatures: steps of 1e-3 to 0.5, 1e-4 to 0.9, 1e-5 to 1.

    >>> b = salakhutdinov_murray_betas(); len(b), float(b[0]), float(b[-1])
    (14501, 0.0, 1.0)
    """
    return torch.cat([torch.linspace(0, 0.5, 501, dtype=torch.float64)[:-1],
                      torch.linspace(0.5, 0.9, 4001, dtype=torch.float64)[:-1],
                      torch.linspace(0.9, 1.0, 10001, dtype=torch.float64)]).to(device)


@dataclass(frozen=True)
class RBMAISResult:
    """log Ẑ with its standard error (delta method); ``log_z_bounds`` = log(r̂ ∓ 3σ̂) as in
    Salakhutdinov and Murray; ``log_likelihood`` (mean over the data, nats) when data were given."""

    log_z: torch.Tensor
    stderr: float
    log_z_bounds: tuple[float, float]
    log_weights: torch.Tensor
    samples: torch.Tensor
    log_likelihood: float | None = None
    diagnostics: Diagnostics | None = field(default=None, compare=False)

    @property
    def effective_sample_size(self) -> float:
        """(Σ w)² / Σ w² of the importance weights (also ``diagnostics.ess_min``)."""
        return importance_ess(self.log_weights)


def base_rate_bias(model: torch.nn.Module, data: torch.Tensor | None, smoothing: float = 5e-3) -> torch.Tensor:
    """The base-rate RBM's visible biases: log-odds (or log-probabilities, softmax units) of the
    data's marginals, pulled slightly toward 0.5 so no unit is certain; zeros without data."""
    V, K = model.V, model.K
    dev = model.weight.device
    if data is None:
        return torch.zeros((V, K) if model.visible_type == "categorical" else (V,), dtype=torch.float64, device=dev)
    x = torch.as_tensor(data, device=dev)
    if model.visible_type == "categorical":
        p = F.one_hot(x.long().reshape(len(x), V), K).double().mean(0)
        p = (p + smoothing) / (1 + K * smoothing)
        return torch.log(p)
    p = (x.double().reshape(len(x), V).mean(0) + smoothing) / (1 + 2 * smoothing)
    return torch.log(p) - torch.log1p(-p)


def _visible_terms(model, v: torch.Tensor, base: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The target's and the base's visible log-potentials (R,), in float64."""
    if model.visible_type == "categorical":
        oh = model.visible_input(v).double()  # (R, V K)
        return oh @ model.visible_bias.double().reshape(-1), oh @ base.reshape(-1)
    v = v.double()
    return v @ model.visible_bias.double(), v @ base


def rbm_ais(
    model: torch.nn.Module,
    runs: int = 100,
    betas: torch.Tensor | str = "salakhutdinov_murray",
    *,
    base_data: torch.Tensor | None = None,
    seed: int | torch.Generator = 0,
    dtype: torch.dtype = torch.float64,
    progress: bool | None = None,
    ess_fraction: float | None = AIS_ESS_FRACTION,
) -> RBMAISResult:
    """Estimate log Z of a Bernoulli or softmax-visible RBM by AIS from a base-rate RBM.

    ``betas``: ``"salakhutdinov_murray"`` (14,500 steps), an integer step count for a schedule of
    the same shape, or a rising tensor from 0 to 1. ``base_data`` (N, V): the data whose marginals
    set the base-rate biases (strongly recommended; without it the base is uniform). An effective
    sample size of the importance weights below ``ess_fraction`` · ``runs`` (or below 10) is a
    :class:`~graphdgm.errors.ConvergenceWarning` (None: never); the ESS is in ``diagnostics.ess_min``.

    >>> import graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(10, 5, init_std=0.5))
    >>> r = rbm_ais(rbm, runs=200, betas=1000)
    >>> abs(float(r.log_z) - float(gd.log_partition(rbm))) < 0.05
    True
    """
    if model.visible_type == "gaussian":
        raise CapabilityError("AIS for Gaussian visible units is not implemented; train a Bernoulli or softmax RBM, "
                              "or use backend='ais' (the generic annealer) on a binary model")
    runs = check_count("rbm_ais", "runs", runs)
    ess_fraction = check_threshold("rbm_ais", "ess_fraction", ess_fraction, 0.0, 1.0)
    if isinstance(betas, int) and not isinstance(betas, bool):
        betas = check_count("rbm_ais", "betas", betas)
    if model.dtype != dtype:  # the whole walk in one precision (float64 by default), model left as it is
        model = copy.deepcopy(model).to(dtype)
    dev = model.weight.device
    if isinstance(betas, str):
        if betas != "salakhutdinov_murray":
            raise SpecError(f"unknown AIS schedule {betas!r}; use 'salakhutdinov_murray', a step count or a tensor")
        b = salakhutdinov_murray_betas(dev)
    elif isinstance(betas, int):
        full = salakhutdinov_murray_betas()
        b = torch.quantile(full, torch.linspace(0, 1, int(betas) + 1, dtype=torch.float64)).to(dev)  # same shape, fewer steps
    else:
        b = torch.as_tensor(betas, dtype=torch.float64, device=dev)
    if b.dim() != 1 or float(b[0]) != 0.0 or float(b[-1]) != 1.0 or bool((b[1:] < b[:-1]).any()):
        raise SpecError("betas must rise from 0.0 to 1.0")
    g = make_generator(seed, dev)
    base = base_rate_bias(model, base_data)  # (V,) or (V, K), float64
    W = model._flat_weight().detach()  # (V K, H)
    c = model.hidden_bias.detach()
    # exact draws from the base-rate RBM: independent visible units
    with torch.no_grad():
        zeros = torch.zeros(int(runs), model.H, dtype=dtype, device=dev)
        base_t = base.to(dtype)
        v = model.sample_visible(zeros, g, beta=0.0, base=base_t)  # (R, V)
        log_z_a = (torch.logsumexp(base, -1) if model.visible_type == "categorical" else F.softplus(base)).sum() + model.H * math.log(2)
        log_w = torch.zeros(int(runs), dtype=torch.float64, device=dev)
        for t in progress_bar(range(1, len(b)), progress, desc="AIS"):  # a loop over temperatures
            bt, bp = float(b[t]), float(b[t - 1])
            z = torch.addmm(c, model.visible_input(v), W)  # (R, H), shared by both uses
            vis, vis_a = _visible_terms(model, v, base)
            log_w += (bt - bp) * (vis - vis_a) + (F.softplus(bt * z) - F.softplus(bp * z)).double().sum(1)
            u = torch.rand(z.shape, generator=g, dtype=z.dtype, device=dev)
            h = (u < torch.sigmoid(bt * z)).to(dtype)  # h ~ p_t(h | v)
            v = model.sample_visible(h, g, beta=bt, base=base_t)  # v ~ p_t(v | h)
    n = log_w.numel()
    log_mean = torch.logsumexp(log_w, 0) - math.log(n)
    w = torch.exp(log_w - log_mean)  # weights relative to their mean
    sd = float(w.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("inf")
    log_z = log_mean + log_z_a
    lo = float(log_z + math.log(1 - 3 * sd)) if 3 * sd < 1 else float("-inf")  # no lower bound when σ̂ is that large
    hi = float(log_z + math.log(1 + 3 * sd))
    diagnostics = warn_if_unconverged(ais_diagnostics(
        log_w, ess_fraction, "rbm_ais", hint="more temperatures (betas), more runs, or base_data for the base-rate RBM"))
    return RBMAISResult(log_z.to(torch.float64), sd, (lo, hi), log_w, v, None, diagnostics)


def rbm_log_likelihood(model: torch.nn.Module, data: torch.Tensor, *, runs: int = 100,
                       betas: torch.Tensor | str | int = "salakhutdinov_murray", base_data: torch.Tensor | None = None,
                       seed: int = 0, progress: bool | None = None,
                       ess_fraction: float | None = AIS_ESS_FRACTION) -> RBMAISResult:
    """Mean log p(v) over ``data`` (nats per example) = -mean F(v) - log Ẑ, with log Ẑ by
    :func:`rbm_ais` (base rates from ``base_data``, default ``data`` itself)."""
    data = torch.as_tensor(data, device=model.weight.device)
    res = rbm_ais(model, runs, betas, base_data=data if base_data is None else base_data, seed=seed, progress=progress,
                  ess_fraction=ess_fraction)
    with torch.no_grad():
        f = torch.cat([model.free_energy(chunk.to(model.dtype)).double() for chunk in data.split(10000)])
    ll = float(-f.mean() - res.log_z)
    return RBMAISResult(res.log_z, res.stderr, res.log_z_bounds, res.log_weights, res.samples, ll, res.diagnostics)


@dataclass(frozen=True)
class DBNBound:
    """Mean variational lower bound on log p(v) (nats per example) of a DBN, the top RBM's AIS
    result it used, and the bound's Monte-Carlo standard error over examples."""

    bound: float
    stderr: float
    top: RBMAISResult


def dbn_log_likelihood_bound(dbn: torch.nn.Module, data: torch.Tensor, *, base_data: torch.Tensor | None = None,
                             runs: int = 100, betas: torch.Tensor | str | int = "salakhutdinov_murray",
                             samples: int = 1, seed: int = 0, progress: bool | None = None) -> DBNBound:
    """log p(v) ≥ E_q[Σ_l log p(h_{l-1} | h_l)] + Σ_l H(q(h_l | h_{l-1})) - E_q[F_top(h_{L-1})] - log Z_top,
    with q the recognition pass, ``samples`` draws per example, and log Z_top by :func:`rbm_ais`
    (base rates from ``base_data`` (default ``data``) carried up to the top RBM's visible layer)."""
    dev = dbn.top.weight.device
    g = make_generator(int(seed), dev)
    base = data if base_data is None else base_data
    with torch.no_grad():
        xb = torch.as_tensor(base, device=dev).to(dbn.dtype)
        for r in dbn.rbms[:-1]:  # carry the base data up, by samples
            xb = r.sample_hidden(xb, g)
    top = rbm_ais(dbn.top, runs, betas, base_data=xb, seed=seed, progress=progress)
    per_example = []
    with torch.no_grad():
        for chunk in torch.as_tensor(data, device=dev).to(dbn.dtype).split(5000):
            acc = torch.zeros(len(chunk), dtype=torch.float64, device=dev)
            for _ in range(int(samples)):  # a loop over Monte-Carlo draws
                x, b = chunk, torch.zeros(len(chunk), dtype=torch.float64, device=dev)
                for r in dbn.rbms[:-1]:  # a loop over layers
                    z = r.hidden_logits(x)  # (B, H)
                    q = torch.sigmoid(z)
                    h = (torch.rand(z.shape, generator=g, dtype=z.dtype, device=dev) < q).to(z.dtype)
                    entropy = (F.binary_cross_entropy_with_logits(z, q, reduction="none")).sum(1)  # H(q) per example
                    a = r.visible_params(h)  # logits of p(x | h)
                    log_px = -F.binary_cross_entropy_with_logits(a, x, reduction="none").sum(1)
                    b += (log_px + entropy).double()
                    x = h
                b += (-dbn.top.free_energy(x)).double()
                acc += b
            per_example.append(acc / int(samples) - top.log_z)
    pe = torch.cat(per_example)
    return DBNBound(float(pe.mean()), float(pe.std() / len(pe) ** 0.5) if len(pe) > 1 else float("inf"), top)
