"""EM with a gradient M-step, for hidden chains whose emissions are density models (a MADE, a
NADE, ... per hidden state): the E-step is exact forward-backward; the M-step sets the initial
and transition probabilities in closed form and takes gradient steps on each state's model,
weighted by the posterior of its state. A step that would lower the expected log-likelihood is
undone, so the log-likelihood never decreases (generalised EM, Dempster, Laird and Rubin 1977);
with ``pseudo_count > 0`` the tables are MAP estimates, and the quantity that never decreases is
the log-likelihood plus the Dirichlet prior's log-density.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.infer.forward_backward import backward_messages, check_possible, expected_transitions, forward_messages
from graphdgm.learn.history import History
from graphdgm.runtime.progress import progress_bar
from graphdgm.spec.validate import positive_float, positive_int

REQUIRES = frozenset({"emission", "emission_module"})


def _posteriors(model: Any, y: torch.Tensor, n: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Exact E-step: (log p(y) summed, state posteriors (B, T, S) (zero at padding), Σ ξ (S, S))."""
    with torch.no_grad():
        e = model.emission_log_prob(y, n)
        alpha, beta = forward_messages(model, e, n), backward_messages(model, e, n)
        check_possible(model, alpha, y, n, "EM E-step")
        ll = torch.logsumexp(alpha[:, -1], -1)
        mask = torch.arange(e.shape[1], device=e.device) < n[:, None]
        gamma = torch.where(mask[..., None], (alpha + beta - ll[:, None, None]).exp(), torch.zeros_like(e))
        return float(ll.sum()), gamma, expected_transitions(model, alpha, beta, e, n, ll)


def fit_em_gradient(model: Any, sequences: Any, lengths: Any = None, *, iterations: int = 20, tol: float = 1e-6,
                    m_steps: int = 20, lr: float = 1e-2, pseudo_count: float = 0.0,
                    progress: bool | None = None) -> History:
    """Fit a hidden chain with density-model emissions to binary observation ``sequences``
    ((B, T, D) with ``lengths``, or a list of (T_i, D) arrays) by generalised EM, in place.

    Each iteration: forward-backward gives p(z_t = s | y); the initial and transition
    probabilities become their expected counts (plus a Dirichlet ``pseudo_count``); each state's
    model takes ``m_steps`` Adam steps (``lr``) on Σ_t p(z_t = s | y) log p_s(y_t). The history has
    one record per iteration from iteration 0 (the start): ``log_likelihood`` (total), the
    ``improvement``, and whether the M-step's gradient steps were ``kept``. Stops after
    ``iterations`` or when the improvement falls below ``tol * |log-likelihood|``.

    >>> import torch, graphdgm as gd
    >>> hmm = gd.HiddenMarkovModel(2, [[0.9, 0.1], [0.1, 0.9]],
    ...                            gd.DensityEmission([gd.MADE(4, hidden=[8], seed=s) for s in range(2)]))
    >>> model = gd.compile(hmm)
    >>> y = (torch.rand(20, 6, 4, generator=torch.Generator().manual_seed(0)) < 0.3).double()
    >>> h = gd.fit(model, y, method="em", iterations=3, progress=False)
    >>> len(h), all(b >= a for a, b in zip(h["log_likelihood"], h["log_likelihood"][1:]))
    (4, True)
    """
    if not REQUIRES <= getattr(model, "capabilities", frozenset()):
        raise CapabilityError(f"EM with a gradient M-step fits a hidden chain whose emissions are density models "
                              f"(gd.DensityEmission); got a {type(model).__name__}")
    iterations = positive_int(iterations, "iterations", minimum=0)
    m_steps = positive_int(m_steps, "m_steps (gradient steps per M-step)")
    tol = positive_float(tol, "tol", allow_zero=True)
    lr = positive_float(lr, "lr")
    pseudo_count = positive_float(pseudo_count, "pseudo_count", allow_zero=True)
    y, n = model.observations(sequences, lengths)
    mask = torch.arange(y.shape[1], device=y.device) < n[:, None]
    steps = y[mask]  # (N, D): every observed step, once
    params = [p for m in model.emission_models for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)

    def expected(gamma_steps: torch.Tensor) -> torch.Tensor:  # Σ_s Σ_t γ_t(s) log p_s(y_t) / N
        lp = torch.stack([m.log_prob(steps).to(gamma_steps.dtype) for m in model.emission_models], -1)  # (N, S)
        return (gamma_steps * lp).sum() / max(len(steps), 1)

    history = History()
    ll, gamma, xi = _posteriors(model, y, n)
    history.append({"iteration": 0, "log_likelihood": ll, "improvement": math.nan, "kept": True})
    bar = progress_bar(range(1, int(iterations) + 1), progress, desc="em", total=int(iterations))
    for it in bar:
        init = gamma[:, 0].sum(0) + pseudo_count
        trans = xi + pseudo_count
        tot = trans.sum(-1, keepdim=True)
        trans = torch.where(tot > 0, trans / tot.clamp_min(1e-300), model.log_transition.exp())
        model.set_parameters(init / init.sum() if float(init.sum()) > 0 else model.log_initial.exp(), trans, None)
        g = gamma[mask]  # (N, S)
        with torch.no_grad():
            before, saved = float(expected(g)), [p.detach().clone() for p in params]
        for _ in range(int(m_steps)):  # gradient M-step on the states' models, full batch
            opt.zero_grad(set_to_none=True)
            (-expected(g)).backward()
            opt.step()
        with torch.no_grad():
            kept = float(expected(g)) >= before
            if not kept:  # a step that lowers Q is undone: the log-likelihood cannot decrease
                for p, old in zip(params, saved):
                    p.copy_(old)
                opt = torch.optim.Adam(params, lr=lr)  # and its moments with it, so the next M-step starts afresh
        prev, (ll, gamma, xi) = ll, _posteriors(model, y, n)
        history.append({"iteration": it, "log_likelihood": ll, "improvement": ll - prev, "kept": kept})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(log_likelihood=f"{ll:.4f}")
        if ll - prev < tol * max(abs(ll), 1.0):
            break
    return history


__all__ = ["fit_em_gradient"]
