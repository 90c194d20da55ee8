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
