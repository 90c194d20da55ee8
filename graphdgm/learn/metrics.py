"""Cheap training monitors for energy models: reconstruction error and pseudo-likelihood."""
from __future__ import annotations

import torch

from graphdgm.learn.contrastive_divergence import negative_phase


@torch.no_grad()
def reconstruction_error(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Mean squared error per example between ``x`` (B, V) and the RBM's mean-field reconstruction.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> 0.0 <= reconstruction_error(rbm, torch.ones(2, 6)) <= 6.0
    True
    """
    x = x.to(model.dtype)
    return float(((model.reconstruct(x) - x) ** 2).sum(1).mean())


@torch.no_grad()
def pseudo_log_likelihood(model: torch.nn.Module, x: torch.Tensor, generator: torch.Generator | None = None,
                          exact: bool = False) -> float:
    """Mean pseudo-log-likelihood Σ_i log p(x_i | x_-i) per example, from free-energy differences.

    ``exact=False`` estimates the sum from one random unit per example (times the number of
    units), as is usual for monitoring; ``exact=True`` visits every unit (B n free energies).
    Works for any model CD trains: binary or categorical units.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> x = torch.bernoulli(torch.full((5, 6), 0.5, dtype=torch.float64))
    >>> pseudo_log_likelihood(rbm, x, exact=True) < 0
    True
    """
    sampler = negative_phase(model)
    B, n = x.shape
    cards = model.cards[:n].to(x.device)  # (n,) states per unit
    K = int(cards.max())
    if exact:
        rows = torch.arange(B, device=x.device).repeat_interleave(n)  # (B n,)
        units = torch.arange(n, device=x.device).repeat(B)  # (B n,)
    else:
        rows = torch.arange(B, device=x.device)
        units = torch.randint(n, (B,), generator=generator, device=x.device)
    base = x[rows]  # (M, n)
    variants = base[:, None, :].repeat(1, K, 1)  # (M, K, n): unit i set to each state k
    ks = torch.arange(K, device=x.device, dtype=x.dtype)
    variants[torch.arange(len(rows)), :, units] = ks
    f = sampler.free_energy(variants.reshape(-1, n)).view(len(rows), K)  # (M, K)
    f = f.masked_fill(ks[None, :] >= cards[units][:, None], float("inf"))  # states past a unit's cardinality
    own = x[rows, units].long()  # (M,)
    logp = -f.gather(1, own[:, None])[:, 0] - torch.logsumexp(-f, 1)  # log p(x_i | x_-i), (M,)
    total = logp.sum() / B if exact else logp.mean() * n
    return float(total)
