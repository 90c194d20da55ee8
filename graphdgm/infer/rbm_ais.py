"""RBM and DBN likelihoods with log Z by annealed importance sampling (Salakhutdinov and Murray,
2008). The AIS itself is the graph AIS (:mod:`graphdgm.infer.graph_ais`): one implementation for
every compiled graph, which for an RBM anneals from a base-rate model with one layer summed out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from graphdgm.infer.diagnostics import Diagnostics
from graphdgm.infer.graph_ais import salakhutdinov_murray_betas  # noqa: F401 - its old home
from graphdgm.infer.mcmc.ais import AIS_ESS_FRACTION, importance_ess
from graphdgm.runtime.random import make_generator


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


def rbm_ais(
    model: torch.nn.Module,
    runs: int = 100,
    betas: torch.Tensor | str | int = "salakhutdinov_murray",
    *,
    base_data: torch.Tensor | None = None,
    seed: int | torch.Generator = 0,
    dtype: torch.dtype = torch.float64,
    progress: bool | None = None,
    ess_fraction: float | None = AIS_ESS_FRACTION,
) -> RBMAISResult:
    """Estimate log Z of an RBM by AIS from a base-rate model: the graph AIS
    (:func:`graphdgm.infer.graph_ais.graph_ais`) on the RBM's two blocks, which samples the smaller
    layer and sums the other out, with the base biases from ``base_data``'s marginals (the hidden
    layer's from its posterior given ``base_data``).

    ``betas``: ``"salakhutdinov_murray"`` (14,500 steps), an integer step count, or a rising tensor
    from 0 to 1. ``base_data`` (N, V): strongly recommended (without it the base is uniform). An
    effective sample size below ``ess_fraction`` · ``runs`` (or below 10) is a
    :class:`~graphdgm.errors.ConvergenceWarning` (None: never); the ESS is in ``diagnostics.ess_min``.
    ``dtype`` is kept for compatibility: the walk always runs in float64.

    >>> import graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(8, 4, init_std=0.5))
    >>> r = rbm_ais(rbm, runs=100, betas=500)
    >>> abs(float(r.log_z) - float(gd.log_partition(rbm))) < 0.05
    True
    """
    from graphdgm.infer.graph_ais import graph_ais

    if base_data is not None:
        base_data = torch.as_tensor(base_data, device=model.values.device).reshape(-1, model.V).to(torch.float64)
    r = graph_ais(model, runs, betas, base_data=base_data, seed=seed, progress=progress, ess_fraction=ess_fraction)
    lo, hi = (float(t) for t in r.log_z_bounds)
    sampled = torch.cat([r.samples[b].reshape(runs, -1) for b in r.split.sampled], 1)
    return RBMAISResult(r.log_z.to(torch.float64), float(r.stderr), (lo, hi), r.log_weights, sampled, None, r.diagnostics)


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
