"""Ancestral sampling by position for autoregressive models (a uniform mixture of components,
each with its own ordering: one for NADE, PixelCNN and PixelRNN, one per mask for a MADE mask
ensemble), with evidence clamped, and the importance weights of such draws. What a model gives:
``num_components``, ``component_ordering(k)``, ``component_logits(x, k)``,
``component_log_conditionals(x)``, and the incremental hooks ``next_logit`` / ``advance``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


@torch.no_grad()

def ancestral(model: Any, x: torch.Tensor, known: torch.Tensor, g: torch.Generator, start: int = 0,
               k: int = 0) -> torch.Tensor:
    """Fill the unknown variables of x (B, D) in component ``k``'s order from position ``start``;
    the known ones (mask (B, D) or (D,)) stay. Sequential over positions: inherent to
    autoregressive sampling.

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(5, hidden=[8]))
    >>> x = ancestral(made, torch.ones(3, 5), torch.tensor([True, True, False, False, False]), torch.Generator().manual_seed(0), start=2)
    >>> x.shape, x[:, :2].tolist()
    (torch.Size([3, 5]), [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    """
    x = x.clone()
    known = known.expand_as(x)
    cache: dict[str, Any] = {}
    order = model.component_ordering(k).tolist()
    for pos in range(start, model.D):  # one conditional per step; each step is batched over samples
        var = order[pos]
        free = ~known[:, var]
        if not bool(free.any()):
            model.advance(x, pos, var, cache)
            continue
        p = torch.sigmoid(model.next_logit(x, pos, var, cache, k))
        draw = (torch.rand(p.shape, generator=g, device=p.device, dtype=p.dtype) < p).to(x.dtype)
        x[:, var] = torch.where(free, draw, x[:, var])
        model.advance(x, pos, var, cache)
    return x


def prefix_start(model: Any, known: torch.Tensor, k: int = 0) -> int | None:
    """If every row's known variables (mask (D,) or (B, D)) are a prefix of component ``k``'s
    ordering (then ancestral sampling under ``k`` is exact), the shortest such prefix's length;
    else None.

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(4, hidden=[8]))  # natural order
    >>> prefix_start(made, torch.tensor([True, True, False, False])), prefix_start(made, torch.tensor([False, True, False, False]))
    (2, None)
    """
    k_known = known.reshape(-1, model.D)[:, model.component_ordering(k)].long()  # (B or 1, D) in order
    if not bool((k_known == k_known.cumprod(1)).all()):
        return None
    return int(k_known.sum(1).min())


@torch.no_grad()

def propose(model: Any, x: torch.Tensor, known: torch.Tensor, g: torch.Generator,
             log_weights: torch.Tensor | None = None, starts: list[int] | None = None) -> torch.Tensor:
    """A draw from the mixture's ancestral sampler with the evidence clamped: each row picks a
    component (uniformly, or by ``log_weights`` (B, M)), then is filled in that component's
    order. Samples are grouped by component: a loop over the M components, each batched.

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(4, hidden=[8], masks=3))
    >>> known = torch.tensor([False, False, False, True])
    >>> propose(made, torch.ones(6, 4), known, torch.Generator().manual_seed(0))[:, 3].tolist()  # evidence kept
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    M = model.num_components
    if M == 1:  # one component: no draw of the component, the random stream is the plain sampler's
        return ancestral(model, x, known, g, start=0 if starts is None else starts[0])
    B = x.shape[0]
    if log_weights is None:
        comp = torch.randint(M, (B,), generator=g, device=x.device)  # (B,)
    else:
        probs = torch.softmax(log_weights.to(torch.float64), 1)  # (B, M): p(component | evidence)
        comp = torch.multinomial(probs.to(x.device), 1, generator=g).reshape(B)
    known = known.expand_as(x)
    out = x.clone()
    for k in range(M):  # a loop over mask sets (a handful), each batched over its samples
        rows = (comp == k).nonzero().reshape(-1)
        if rows.numel():
            out[rows] = ancestral(model, x[rows], known[rows], g, start=0 if starts is None else starts[k], k=k)
    return out


def evidence_weight(model: Any, x: torch.Tensor, mask: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """log Π_{known d} p(x_d | x_<d) (B,): the importance weight of an evidence-clamped ancestral
    draw under component ``k`` (default: the model's only, or active, component). When the
    known variables are a prefix of ``k``'s ordering this is log p_k(evidence).

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(3, hidden=[6]))
    >>> x, first = torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([True, False, False])
    >>> bool(torch.allclose(evidence_weight(made, x, first), made.log_prob(torch.tensor([[1.0, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]])).logsumexp(0)))
    True
    """
    logits = model.logits(x) if k is None else model.component_logits(x, k)
    lp = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")  # (B, D)
    return (lp * mask.to(lp.dtype)).sum(1)


def log_weight(model: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log π(x) / q(x) up to a constant (B,), for x drawn by :func:`propose` (uniform component):
    π is the mixture p(x) = 1/M Σ_k p_k(x) with the evidence fixed, q = 1/M Σ_k q_k(x_free)
    the proposal, so the weight is logsumexp_k(log p_k(x)) - logsumexp_k(log q_k(x_free)).

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(3, hidden=[6]))
    >>> log_weight(made, torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([False, False, True])).shape
    torch.Size([1])
    """
    if model.num_components == 1:
        return evidence_weight(model, x, mask)
    lp = model.component_log_conditionals(x)  # (M, B, D)
    free = (~mask.expand_as(x)).to(lp.dtype)  # (B, D)
    return torch.logsumexp(lp.sum(-1), 0) - torch.logsumexp((lp * free).sum(-1), 0)


__all__ = ["ancestral", "evidence_weight", "log_weight", "prefix_start", "propose"]
