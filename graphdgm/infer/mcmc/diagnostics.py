"""Convergence diagnostics: split R-hat from running counts, and Pyro's ESS and R-hat on traces."""
from __future__ import annotations

import torch


def split_rhat_from_counts(counts: torch.Tensor, draws: tuple[int, int]) -> torch.Tensor:
    """Split R-hat of state indicators from per-half, per-chain counts, without storing samples.

    ``counts`` is (2, n, K, C): how often each chain was in each state in the first and second
    half of the draws (of ``draws = (N_1, N_2)`` draws each). An indicator squared is itself, so
    its within-sequence variance follows from its mean. Returns the worst state's R-hat per
    variable, (n,); 1 means the 2C half-chains agree, values far above 1 mean they do not.

    >>> c = torch.zeros(2, 1, 2, 2); c[:, 0, 0, 0] = 10; c[:, 0, 1, 1] = 10  # two stuck chains
    >>> float(split_rhat_from_counts(c, (10, 10))[0])
    inf
    """
    n1, n2 = draws
    N = torch.tensor([n1, n2], dtype=torch.float64, device=counts.device)[:, None, None, None]  # (2, 1, 1, 1)
    mean = counts.to(torch.float64) / N  # (2, n, K, C)
    var = mean * (1 - mean) * N / (N - 1).clamp_min(1)  # (2, n, K, C) within each half-chain
    return split_rhat_from_moments(mean, var, min(n1, n2)).amax(-1)  # (n,)


def split_rhat_from_moments(mean: torch.Tensor, var: torch.Tensor, draws: int) -> torch.Tensor:
    """Split R-hat from per-half, per-chain means and variances (2, ..., C) of ``draws`` draws each.

    >>> m = torch.tensor([[[0.0, 1.0]], [[0.0, 1.0]]]); v = torch.ones(2, 1, 2)
    >>> round(float(split_rhat_from_moments(m, v, 100)[0]), 3)
    1.15
    """
    seq_mean = mean.movedim(0, -2).flatten(-2).to(torch.float64)  # (..., 2C)
    seq_var = var.movedim(0, -2).flatten(-2).to(torch.float64)  # (..., 2C)
    W = seq_var.mean(-1)
    B_over_n = seq_mean.var(-1, unbiased=True)
    var_plus = (draws - 1) / draws * W + B_over_n
    rhat = torch.sqrt(var_plus / W)
    return torch.where(W > 0, rhat, torch.where(B_over_n > 0, torch.full_like(W, float("inf")), torch.ones_like(W)))


def effective_sample_size(trace: torch.Tensor) -> float:
    """ESS of a scalar trace (C, S) over all chains, by Pyro's ``effective_sample_size``."""
    from pyro.ops.stats import effective_sample_size as ess

    if trace.shape[1] < 4:
        return float("nan")
    return float(ess(trace.to(torch.float64), chain_dim=0, sample_dim=1))


def split_rhat(trace: torch.Tensor) -> float:
    """Split R-hat of a scalar trace (C, S), by Pyro's ``split_gelman_rubin``."""
    from pyro.ops.stats import split_gelman_rubin

    if trace.shape[1] < 4:
        return float("nan")
    return float(split_gelman_rubin(trace.to(torch.float64), chain_dim=0, sample_dim=1))


RHAT_THRESHOLD = 1.05  # the usual cut (Vehtari et al. 2021 suggest 1.01 for final results)
_WORST_SHOWN = 5
MIN_DRAWS_TO_JUDGE = 4  # split R-hat compares half-chains: two draws each at least


def chain_diagnostics(
    model: torch.nn.Module,
    rhat: torch.Tensor,
    evidence: dict[int, object] | None,
    *,
    threshold: float | None,
    ess: float,
    sampler: str,
    sweeps: int,
    tempering: bool = False,
    draws: int = MIN_DRAWS_TO_JUDGE,
) -> "Diagnostics":
    """Diagnostics of one sampling run from per-variable split R-hat ``rhat`` (n,).

    R-hat of inf or NaN (chains stuck in different states) counts as not converged; a variable
    that sits in the same single state in every chain has R-hat 1. Variables clamped by
    ``evidence`` are left out. Above ``threshold`` (None: never) the message names the worst
    variables and what to try. With fewer than 4 draws per chain mixing cannot be judged:
    ``converged`` is False and the message (hence the warning, unless ``threshold`` is None) says so.
    """
    from graphdgm.infer.diagnostics import Diagnostics

    r = torch.nan_to_num(rhat.detach().to(torch.float64).cpu(), nan=float("inf"), posinf=float("inf"))  # (n,)
    free = torch.ones(r.numel(), dtype=torch.bool)
    if evidence:
        free[torch.tensor(sorted(int(v) for v in evidence), dtype=torch.long)] = False
    r_free = r[free]
    rhat_max = float(r_free.max()) if r_free.numel() else 1.0
    if draws < MIN_DRAWS_TO_JUDGE:  # e.g. independent chains that each give one state after burn-in
        note = (f"{sampler} kept {draws} draws per chain: too few to judge mixing (split R-hat needs "
                f"{MIN_DRAWS_TO_JUDGE}), so the estimates may be wrong without this run knowing it; keep at least "
                f"{MIN_DRAWS_TO_JUDGE} draws per chain (sweeps / thin); rhat_threshold=None turns this warning off.")
        return Diagnostics(sampler.lower(), False, rhat_max=float("nan"), ess_min=ess,
                           messages=() if threshold is None else (note,),
                           details={"rhat": r, "threshold": threshold, "note": note})
    converged = threshold is None or rhat_max <= threshold
    messages: tuple[str, ...] = ()
    if not converged:
        idx = free.nonzero()[:, 0]
        order = torch.argsort(r_free, descending=True, stable=True)[:_WORST_SHOWN]
        names = list(getattr(model, "variables", [str(i) for i in range(r.numel())]))
        worst = ", ".join(f"{names[int(idx[i])]!r} {_fmt(float(r_free[i]))}" for i in order)
        bad = int((r_free > threshold).sum())
        tips = [f"more sweeps (sweeps={sweeps} now)"]
        tips.append("more replicas or a lower beta_min" if tempering else "gd.infer.Tempering(...) for a multimodal model")
        if exact_fits(model):
            tips.append("backend='exact' (this model is narrow enough)")
        messages = (
            f"{sampler} chains have not mixed: split R-hat above {threshold:g} for {bad} of {r_free.numel()} free "
            f"variables (worst: {worst}); the estimates may be wrong. Try {', '.join(tips)}; "
            f"rhat_threshold=None turns this warning off.",
        )
    return Diagnostics(sampler.lower(), converged, rhat_max=rhat_max, ess_min=ess, messages=messages,
                       details={"rhat": r, "threshold": threshold})


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.3g}"


def exact_fits(model: torch.nn.Module, max_table_log2: float = 27.0, max_variables: int = 5000) -> bool:
    """Whether a greedy (min-degree) elimination order keeps every table of exact inference under
    2^``max_table_log2`` entries (a quick check for advice; False when it cannot tell)."""
    if "factor_tables" not in getattr(model, "capabilities", ()) or model.num_variables > max_variables:
        return False
    try:
        import math

        from graphdgm.infer.exact.order import adjacency, evaluate_order, greedy_order

        n = model.num_variables
        adj = adjacency(n, model.markov_edges())
        log2 = [math.log2(max(int(k), 1)) for k in model.cards.tolist()]
        order = greedy_order(adj, log2, range(n), criterion="min_degree")
        return evaluate_order(order, adj, log2).log2_max_table <= max_table_log2
    except Exception:  # noqa: BLE001 - advice only: never fail a run over it
        return False
