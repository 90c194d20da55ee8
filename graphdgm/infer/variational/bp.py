"""Loopy belief propagation on the compiled factor graph, in log space, batched per factor kind.

Messages live in one tensor per factor group: ``msgs[g]`` (a, F, K) holds the message from each
of the F factors to the variable at each of its a positions. An iteration computes every
variable's belief with one scatter-add per group, the variable-to-factor messages by
subtraction, and the factor-to-variable messages by one logsumexp (sum-product) or max
(max-product) per position of each group: loops run over factor kinds and positions, never
over factors.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from graphdgm.errors import ConvergenceWarning, SpecError
from graphdgm.infer.variational.factors import FactorTables, expand_axis, huge_negative, reduce_except

SCHEDULES = ("parallel", "sequential", "residual")


@dataclass(frozen=True)
class BPResult:
    """Beliefs ``marginals`` (n, K) (max-marginals for max-product), the Bethe estimate
    ``log_z`` (sum-product), iterations run, whether it converged, and the largest message
    change per iteration (``history``)."""

    marginals: torch.Tensor
    log_z: torch.Tensor | None
    iterations: int
    converged: bool
    history: list[float]
    log_beliefs: torch.Tensor


def _beliefs(tables: FactorTables, msgs: list[torch.Tensor]) -> torch.Tensor:
    """Unnormalised log-beliefs (n, K): unary plus every incoming factor message, summed by one
    sparse incidence product per factor kind (variables x messages)."""
    b = tables.unary
    for inc, m in zip(tables.incidence(), msgs):  # loop over factor kinds
        b = b + inc @ m.reshape(-1, m.shape[-1])  # (n, a F) @ (a F, K)
    return b


def _to_factors(tables: FactorTables, msgs: list[torch.Tensor], beliefs: torch.Tensor) -> list[torch.Tensor]:
    """Variable-to-factor messages (a, F, K): the belief without the factor's own message.

    Not normalised: every factor-to-variable message is normalised after the reduction instead."""
    return [beliefs[scope.t()] - m for (scope, _), m in zip(tables.groups, msgs)]  # (a, F, K) each


def _reduce(t: torch.Tensor, dim: int, op: str) -> torch.Tensor:
    if op == "max":
        return t.amax(dim)
    if t.shape[dim] == 2:  # two states: logaddexp beats a general logsumexp
        a, b = t.unbind(dim)
        return torch.logaddexp(a, b)
    return t.logsumexp(dim)


def _factor_messages(tables: FactorTables, to_factors: list[torch.Tensor], op: str) -> list[torch.Tensor]:
    """Factor-to-variable messages (a, F, K) of every group, normalised (logsumexp 0 / max 0)."""
    out = []
    for (scope, tab), n_vf in zip(tables.groups, to_factors):
        a = scope.shape[1]
        if a == 2:  # pairs, the common case: no full table needed
            msgs = torch.stack([_reduce(tab + n_vf[1][:, None, :], 2, op),  # (F, K) to the first variable
                                _reduce(tab + n_vf[0][:, :, None], 1, op)])  # (F, K) to the second
        else:
            full = tab.clone()  # (F, K, ..., K)
            for r in range(a):  # positions of this factor kind
                full += expand_axis(n_vf[r], r, a)
            msgs = torch.stack([reduce_except(full - expand_axis(n_vf[p], p, a), p, op) for p in range(a)])  # (a, F, K)
        norm = _reduce(msgs, -1, op)[..., None]
        out.append(msgs - norm)
    return out


def bethe_log_z(tables: FactorTables, msgs: list[torch.Tensor]) -> torch.Tensor:
    """log Z_Bethe = Σ_f Σ b_f (log f − log b_f) + Σ_v Σ b_v log ψ_v + Σ_v (d_v − 1) Σ b_v log b_v,
    with ψ_v the unary factors and d_v the number of larger factors on v (exact on trees)."""
    beliefs = _beliefs(tables, msgs)
    b_v = torch.softmax(beliefs, -1)  # (n, K)
    total = (b_v * tables.unary).sum() + ((tables.degree - 1)[:, None] * torch.special.xlogy(b_v, b_v)).sum()
    for (scope, tab), n_vf in zip(tables.groups, _to_factors(tables, msgs, beliefs)):
        a = scope.shape[1]
        log_bf = tab.clone()
        for r in range(a):
            log_bf += expand_axis(n_vf[r], r, a)
        log_bf = log_bf - log_bf.reshape(log_bf.shape[0], -1).logsumexp(-1).view([-1] + [1] * a)  # (F, K, ..., K)
        b_f = log_bf.exp()
        total = total + (b_f * tab).sum() - torch.special.xlogy(b_f, b_f).sum()
    return total.masked_fill(total < 0.5 * huge_negative(total.dtype), float("-inf"))


def belief_propagation(
    tables: FactorTables,
    *,
    max_iters: int = 200,
    tol: float = 1e-6,
    damping: float = 0.0,
    schedule: str = "parallel",
    mode: str = "sum",
    blocks: tuple[torch.Tensor, ...] | None = None,
    residual_fraction: float = 0.5,
    init_noise: float = 0.0,
    generator: torch.Generator | None = None,
    warn: bool = True,
) -> BPResult:
    """Run loopy BP to convergence (largest message change below ``tol``) or ``max_iters``.

    - ``mode``: ``"sum"`` (marginals, Bethe log Z) or ``"max"`` (max-marginals for MAP decoding);
    - ``damping`` ∈ [0, 1): new message = (1 − damping)·computed + damping·old (in log space);
    - ``schedule``: ``"parallel"`` (flooding), ``"sequential"`` (one colour block of ``blocks``
      receives its messages at a time, with beliefs refreshed in between; the checkerboard
      schedule on a grid), or ``"residual"`` (a batched form of residual BP: each iteration
      commits only the messages whose change is at least ``residual_fraction`` of the largest).

    Messages start at zero (uniform), plus Gaussian noise of scale ``init_noise`` on their log
    values drawn from ``generator`` (one draw per state shared by all messages, a random common
    field, plus one per message entry): a perturbed start leaves the symmetric fixed point of a
    zero-field ferromagnet. Not converging by ``max_iters`` is a
    :class:`~graphdgm.errors.ConvergenceWarning` (unless ``warn=False``).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(1, 5, coupling=0.7, field=0.2))  # a chain
    >>> r = belief_propagation(FactorTables.from_model(model))
    >>> r.converged, abs(float(r.log_z) - float(gd.log_partition(model))) < 1e-9
    (True, True)
    """
    if schedule not in SCHEDULES:
        raise SpecError(f"unknown BP schedule {schedule!r}; use one of {SCHEDULES}")
    if mode not in ("sum", "max"):
        raise SpecError(f"mode must be 'sum' (marginals) or 'max' (MAP), got {mode!r}")
    if not 0.0 <= damping < 1.0:
        raise SpecError(f"damping must lie in [0, 1), got {damping}")
    if schedule == "sequential" and blocks is None:
        raise SpecError("the sequential schedule needs the model's colour blocks (blocks=model.blocks)")
    K = tables.unary.shape[1]
    # binary pairs without hard zeros: one number per message (hard zeros keep full messages, whose
    # huge negative entries carry "impossible" exactly; a clamped log-ratio would soften it)
    ratio = K == 2 and all(s.shape[1] == 2 and bool((t > 0.5 * huge_negative(t.dtype)).all()) for s, t in tables.groups)
    shape = (lambda s: (2, s.shape[0])) if ratio else (lambda s: (s.shape[1], s.shape[0], K))
    msgs = [torch.zeros(shape(s), dtype=tables.unary.dtype, device=tables.unary.device) for s, _ in tables.groups]
    if init_noise:
        shared = torch.randn(K, generator=generator, dtype=tables.unary.dtype, device=tables.unary.device)  # (K,)
        common = shared[1] - shared[0] if ratio else shared  # a random common field, as a log-ratio or per state
        msgs = [m + init_noise * (common + torch.randn(m.shape, generator=generator, dtype=m.dtype, device=m.device)) for m in msgs]
    step = _RatioStep(tables, mode) if ratio else (lambda m: _factor_messages(tables, _to_factors(tables, m, _beliefs(tables, m)), mode))
    targets = _targets(tables, blocks) if schedule == "sequential" else None
    history: list[float] = []
    converged = False
    it = 0
    for it in range(1, max_iters + 1):
        if schedule == "sequential":
            change = 0.0
            for masks in targets:  # one colour block receives its messages at a time
                change = max(change, _commit(msgs, step(msgs), masks, damping))
        else:
            new = step(msgs)
            masks = None
            if schedule == "residual":
                res = [(n - m).abs() if ratio else (n - m).abs().amax(-1) for n, m in zip(new, msgs)]  # (a, F) each
                top = max((float(r.amax()) for r in res if r.numel()), default=0.0)
                masks = [r >= residual_fraction * top for r in res]
            change = _commit(msgs, new, masks, damping)
        history.append(change)
        if change < tol:
            converged = True
            break
    if not converged and warn:
        warnings.warn(f"loopy BP did not converge in {max_iters} iterations (largest message change {history[-1]:.2e} > "
                      f"tol {tol:.0e}); try damping=0.5, schedule='sequential', or more iterations", ConvergenceWarning, stacklevel=2)
    if ratio:  # back to full log-messages (a, F, 2), normalised
        msgs = [torch.stack([torch.zeros_like(r), r], -1) - torch.logaddexp(torch.zeros_like(r), r)[..., None] for r in msgs]
    log_b = _beliefs(tables, msgs)
    marg = torch.softmax(log_b, -1)
    log_z = bethe_log_z(tables, msgs) if mode == "sum" else None
    return BPResult(marg, log_z, it, converged, history, log_b)


class _RatioStep:
    """One round of binary pairwise BP with each message as a log-ratio r = log m(1) − log m(0):
    four times less memory traffic than full (F, 2, 2) tables, which is what bounds a
    million-variable grid."""

    def __init__(self, tables: FactorTables, mode: str) -> None:
        self.tables, self.mode = tables, mode
        self.corners = [tab.reshape(-1, 4).unbind(1) for _, tab in tables.groups]  # T00, T01, T10, T11: (F,) each
        self.field = tables.unary[:, 1] - tables.unary[:, 0]  # (n,)

    def __call__(self, msgs: list[torch.Tensor]) -> list[torch.Tensor]:
        beta = self.field
        for inc, r in zip(self.tables.incidence(), msgs):  # log-ratio beliefs (n,)
            beta = beta + inc @ r.reshape(-1)
        out = []
        for (scope, _), (t00, t01, t10, t11), r in zip(self.tables.groups, self.corners, msgs):
            nu = beta[scope.t()] - r  # (2, F): variable-to-factor log-ratios
            to0 = _ratio(t10, t11, t00, t01, nu[1], self.mode)  # (F,) to the first variable
            to1 = _ratio(t01, t11, t00, t10, nu[0], self.mode)  # (F,) to the second
            out.append(torch.stack([to0, to1]))
        return out


def _ratio(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, e: torch.Tensor, nu: torch.Tensor, mode: str) -> torch.Tensor:
    """log (e^a + e^(b+ν)) − log (e^c + e^(e+ν)) (max instead of sum for max-product).

    ν is clamped to ±700 (±80 in float32) first: evidence makes ν ≈ ±1e154, and t + ν would lose
    the table entry t entirely. The message saturates in ν, so the clamp changes it by at most
    2·exp(D − 700), D the spread of the factor's finite log-entries."""
    lim = 700.0 if nu.dtype == torch.float64 else 80.0
    nu = nu.clamp(-lim, lim)
    red = torch.logaddexp if mode == "sum" else torch.maximum
    return red(a, b + nu) - red(c, e + nu)


def _targets(tables: FactorTables, blocks: tuple[torch.Tensor, ...]) -> list[list[torch.Tensor]]:
    """For each colour block, which messages (a, F) of each group point at one of its variables."""
    n = tables.unary.shape[0]
    out = []
    for b in blocks:
        member = torch.zeros(n, dtype=torch.bool, device=tables.unary.device)
        member[b.to(member.device)] = True
        out.append([member[scope.t()] for scope, _ in tables.groups])  # (a, F) per group
    return out


def _commit(msgs: list[torch.Tensor], new: list[torch.Tensor], masks: list[torch.Tensor] | None, damping: float) -> float:
    """Write damped new messages (where ``masks`` allow) in place; returns the largest change."""
    change = 0.0
    for i, (m, n) in enumerate(zip(msgs, new)):
        upd = (1 - damping) * n + damping * m if damping else n
        if masks is not None:
            mask = masks[i] if masks[i].dim() == upd.dim() else masks[i][..., None]
            upd = torch.where(mask, upd, m)
        if m.numel():
            change = max(change, float((upd - m).abs().amax()))
        msgs[i] = upd
    return change
