"""Naive mean field: q(x) = Π_v q_v(x_v), coordinate ascent on the ELBO, a lower bound on log Z."""
from __future__ import annotations

import string
import warnings
from dataclasses import dataclass

import torch

from graphdgm.errors import ConvergenceWarning, SpecError
from graphdgm.infer.variational.factors import FactorTables, huge_negative

SCHEDULES = ("parallel", "sequential")


@dataclass(frozen=True)
class MeanFieldResult:
    """``q`` (n, K) marginals, ``elbo`` (≤ log Z), iterations run, whether it converged, and the
    largest change of q per iteration (``history``)."""

    q: torch.Tensor
    elbo: torch.Tensor
    iterations: int
    converged: bool
    history: list[float]


def _expectations(tables: FactorTables, q: torch.Tensor) -> torch.Tensor:
    """E_q[log φ(x) | x_v = k] summed over the factors of each variable: (n, K), unary included."""
    field = tables.unary.clone()  # (n, K)
    for scope, tab in tables.groups:  # loop over factor kinds; einsum contracts the other positions
        a = scope.shape[1]
        letters = string.ascii_lowercase[:a]
        qs = [q[scope[:, r]] for r in range(a)]  # a x (F, K)
        for p in range(a):
            others = [r for r in range(a) if r != p]
            eq = f"z{letters}," + ",".join(f"z{letters[r]}" for r in others) + f"->z{letters[p]}"
            field.index_add_(0, scope[:, p], torch.einsum(eq, tab, *[qs[r] for r in others]))
    return field


def elbo(tables: FactorTables, q: torch.Tensor) -> torch.Tensor:
    """E_q[log p̃(x)] + H(q) for a fully factorised q (n, K): a lower bound on log Z."""
    energy_term = (q * tables.unary).sum()
    for scope, tab in tables.groups:
        a = scope.shape[1]
        letters = string.ascii_lowercase[:a]
        eq = f"z{letters}," + ",".join(f"z{c}" for c in letters) + "->"
        energy_term = energy_term + torch.einsum(eq, tab, *[q[scope[:, r]] for r in range(a)])
    entropy = -torch.special.xlogy(q, q).sum()
    total = energy_term + entropy
    # mass on an impossible state (a huge negative stand-in for log 0) means the bound is -inf
    return total.masked_fill(total < 0.5 * huge_negative(total.dtype), float("-inf"))


def _update(field: torch.Tensor, q: torch.Tensor, damping: float) -> torch.Tensor:
    """softmax(field), damped geometrically: q ∝ exp((1-α)·field + α·log q_old). Impossible states
    (field ≈ -huge) get exactly 0; log q_old is floored so a state that had 0 can come back."""
    if not damping:
        return torch.softmax(field, -1)
    return torch.softmax((1 - damping) * field + damping * q.log().clamp_min(-1e3), -1)


def mean_field(
    tables: FactorTables,
    *,
    max_iters: int = 500,
    tol: float = 1e-6,
    damping: float = 0.0,
    schedule: str = "parallel",
    blocks: tuple[torch.Tensor, ...] | None = None,
    init_noise: float = 0.0,
    generator: torch.Generator | None = None,
    warn: bool = True,
) -> MeanFieldResult:
    """Fixed-point iteration q_v ∝ exp(E_q[log p̃ | x_v]).

    ``schedule="parallel"`` updates every variable at once (``damping`` ∈ [0, 1) mixes in the
    previous q geometrically); ``"sequential"`` updates one colour block at a time (``blocks``, variables
    with no factor in common), which is exact coordinate ascent: the ELBO never decreases.
    q starts from the unary factors alone, their logits perturbed by Gaussian noise of scale
    ``init_noise`` (from ``generator``): one draw per state shared by all variables (a random
    common field, which breaks a symmetry without seeding domains) plus one per variable and
    state; ``warn=False`` leaves the cap warning to the caller.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.2, field=0.1))
    >>> r = mean_field(FactorTables.from_model(model))
    >>> r.converged, bool(r.elbo <= gd.log_partition(model))
    (True, True)
    """
    if schedule not in SCHEDULES:
        raise SpecError(f"unknown mean-field schedule {schedule!r}; use one of {SCHEDULES}")
    if not 0.0 <= damping < 1.0:
        raise SpecError(f"damping must lie in [0, 1), got {damping}")
    if schedule == "sequential" and blocks is None:
        raise SpecError("the sequential schedule needs the model's colour blocks (blocks=model.blocks)")
    start = tables.unary  # (n, K): start from the unary factors alone, perturbed when asked
    if init_noise:
        shared = torch.randn(1, start.shape[1], generator=generator, dtype=start.dtype, device=start.device)  # (1, K)
        start = start + init_noise * (shared + torch.randn(start.shape, generator=generator, dtype=start.dtype, device=start.device))
    q = torch.softmax(start, -1)
    history: list[float] = []
    converged = False
    for it in range(1, max_iters + 1):
        old = q
        if schedule == "parallel":
            q = _update(_expectations(tables, q), q, damping)
        else:
            q = q.clone()
            for b in blocks:  # loop over colours
                q[b] = _update(_expectations(tables, q)[b], q[b], damping)
        change = float((q - old).abs().max())
        history.append(change)
        if change < tol:
            converged = True
            break
    if not converged and warn:
        warnings.warn(f"mean field did not converge in {max_iters} iterations (last change {history[-1]:.2e} > tol {tol:.0e}); "
                      "add damping, use schedule='sequential', or raise max_iters", ConvergenceWarning, stacklevel=2)
    return MeanFieldResult(q, elbo(tables, q), it, converged, history)
