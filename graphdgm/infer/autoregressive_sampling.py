"""One ``sample`` and one ``inpaint`` for autoregressive models: exact ancestral sampling when the
evidence is a prefix of every component's ordering, else an independence Metropolis-Hastings chain
whose proposal is the evidence-clamped ancestral draw. These are the models' methods by capability
(``model.sample(n, evidence=...)``, ``model.inpaint(x, known)``).
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.compiler.methods import model_method
from graphdgm.errors import EvidenceError, SpecError
from graphdgm.infer.autoregressive_ancestral import evidence_weight, prefix_start, propose, ancestral
from graphdgm.infer.mcmc.autoregressive import AutoregressiveIndependence, warn_if_low_acceptance
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_int


@model_method("sample", {"ordering", "sample"})
@torch.no_grad()

def sample_autoregressive(model: Any, n: int, *, evidence: dict[str, Any] | None = None, seed: int | torch.Generator = 0,
           steps: int = 200, method: str = "auto", progress: bool | None = None) -> torch.Tensor:
    """``n`` samples (n, D) from p(x | evidence), the density ``log_prob`` gives.

    Without evidence, or with evidence on a prefix of the ordering (such as the top rows of an
    image), ancestral sampling is exact. Other evidence runs an independence Metropolis-Hastings
    chain (``steps`` proposals per sample) whose proposal is ancestral sampling with the evidence
    filled in; the acceptance ratio is the likelihood of the evidence given what came before it,
    so the chain targets the exact conditional. ``method="ancestral"`` forces the one-pass
    sampler (biased for non-prefix evidence), ``"mh"`` the chain. The chain's acceptance rate
    is kept in ``last_acceptance``; when under 1% of the proposals in the last half of the
    steps are accepted, a :class:`~graphdgm.errors.ConvergenceWarning` says the chains are stuck
    and the samples may be far from the conditional.

    A MADE with several masks is the mixture 1/M Σ_k p_k(x) of its masks: each sample picks
    a mask, uniformly without evidence, by the posterior p(mask | evidence) ∝ p_k(evidence)
    when the evidence is a prefix of every mask's ordering, and otherwise the chain's target
    is the mixture itself.

    >>> import graphdgm as gd
    >>> made = gd.compile(gd.MADE((4, 4), hidden=[16]))
    >>> x = made.sample(3, evidence={"x[0,0]": 1, "x[0,1]": 0})
    >>> x.shape, x[:, :2].tolist()
    (torch.Size([3, 16]), [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    """
    n = positive_int(n, "n (the number of samples)")
    mask, vals = model.clamp_evidence(evidence, n)
    return conditional(model, vals, mask, make_generator(seed, model.device), steps, method, progress)


@model_method("inpaint", {"ordering"})
@torch.no_grad()

def inpaint(model: Any, x: Any, known: Any, *, steps: int = 200, seed: int | torch.Generator = 0,
            method: str = "auto", progress: bool | None = None) -> torch.Tensor:
    """Fill in the unknown variables of ``x`` (B, D) given the ``known`` mask ((D,) or (B, D));
    exact in one pass when the known part is a prefix of the ordering (e.g. the top half),
    else by the independence MH chain of :func:`sample_autoregressive` (the mask mixture's, for a MADE with
    several masks)."""
    x = model.check_x(x)
    if x.shape[0] == 0:
        raise SpecError("x is empty: give at least one row to inpaint")
    known = torch.as_tensor(known, dtype=torch.bool, device=model.device)
    if known.numel() == model.D:
        known = known.reshape(model.D)
    elif known.numel() == x.numel():
        known = known.reshape(x.shape)
    else:
        raise EvidenceError(f"known has shape {tuple(known.shape)}; give a mask of shape ({model.D},), {model.shape} "
                            f"or one per row {tuple(x.shape)}")
    if bool(((x != 0) & (x != 1) & known.expand_as(x)).any()):
        raise EvidenceError("the known entries of x must be 0 or 1; binarise the data first (e.g. (x > 0.5).float())")
    return conditional(model, x, known, make_generator(seed, model.device), steps, method, progress)


def conditional(model: Any, vals: torch.Tensor, mask: torch.Tensor, g: torch.Generator, steps: int, method: str,
                 progress: bool | None) -> torch.Tensor:
    """Samples (B, D) with the ``mask`` (D,) variables clamped to ``vals`` (B, D): exact ancestral draws when
    the evidence is a prefix of every ordering, else proposals corrected by ``steps`` independence-MH steps
    (``method``: ``"auto"``, ``"ancestral"`` (proposals only) or ``"mh"``).
    """
    if method not in ("auto", "ancestral", "mh"):
        raise SpecError(f"unknown sampling method {method!r}; use 'auto', 'ancestral' or 'mh'")
    steps = positive_int(steps, "steps (MH proposals per sample)")
    M = model.num_components
    starts = [prefix_start(model, mask, k) for k in range(M)]
    exact = all(s is not None for s in starts)
    if exact and method != "mh":
        if M == 1:
            return ancestral(model, vals, mask, g, start=starts[0])
        # the evidence is a prefix of every mask's ordering: p(mask | e) ∝ p_k(e), exactly
        log_w = torch.stack([evidence_weight(model, vals, mask, k) for k in range(M)], 1)  # (B, M)
        return propose(model, vals, mask, g, log_weights=log_w, starts=starts)
    x = propose(model, vals, mask, g, starts=[s or 0 for s in starts])
    if method == "ancestral":
        return x
    return independence_mh(model, x, mask, g, steps, progress)


def independence_mh(model: Any, x: torch.Tensor, mask: torch.Tensor, g: torch.Generator, steps: int,
                     progress: bool | None) -> torch.Tensor:
    """Run ``steps`` independence Metropolis-Hastings steps from x (B, D) with the ``mask`` variables fixed,
    proposals drawn from the model itself; sets ``model.last_acceptance`` and returns the final (B, D).
    """
    kernel = AutoregressiveIndependence()
    state = kernel.start(model, x, mask, g)
    for _ in progress_bar(range(steps), progress, desc="mh"):  # a loop over chain steps
        state = kernel.sample(state)
    model.last_acceptance = kernel.acceptance_rate(state)
    warn_if_low_acceptance(kernel.late_acceptance_rate(state), steps, where=f"{type(model).__name__}.sample/inpaint")
    return state.x


__all__ = ["conditional", "independence_mh", "inpaint", "sample_autoregressive"]
