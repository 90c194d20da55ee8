"""Baum-Welch: expectation-maximisation for hidden Markov models, in log space, batched over
sequences, with the E-step sums all-reduced over ``torch.distributed`` processes."""
from __future__ import annotations

import math
from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.infer.forward_backward import backward_messages, check_possible, expected_transitions, forward_messages
from graphdgm.learn.history import History
from graphdgm.runtime.distributed import all_reduce_sum_
from graphdgm.runtime.progress import progress_bar
from graphdgm.spec.validate import positive_float, positive_int


REQUIRES = frozenset({"emission", "emission_statistics"})


def expected_statistics(model: Any, y: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """One flat tensor of E-step sums over the batch: [Σ log p(y), Σ γ_0 (S), Σ ξ (S*S),
    emission statistics (categorical: Σ γ [y = m] (S*M); Gaussian: Σ γ, Σ γ y, Σ γ y² (S + 2SD))],
    so that processes can all-reduce it in one call.

    >>> import graphdgm as gd
    >>> hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
    >>> stats = expected_statistics(hmm, *hmm.observations([[0, 2, 1], [1]]))
    >>> stats.shape, round(float(stats[1:3].sum()), 6)  # [log p, γ_0 (2), ξ (4), counts (6)]: γ_0 sums to 2 sequences
    (torch.Size([13]), 2.0)
    """
    e = model.emission_log_prob(y, lengths)  # (B, T, S)
    B, T, S = e.shape
    alpha, beta = forward_messages(model, e, lengths), backward_messages(model, e, lengths)
    check_possible(model, alpha, y, lengths, "Baum-Welch E-step")
    ll = torch.logsumexp(alpha[:, -1], -1)  # (B,)
    mask = torch.arange(T, device=e.device) < lengths[:, None]  # (B, T)
    gamma = torch.where(mask[..., None], (alpha + beta - ll[:, None, None]).exp(), torch.zeros_like(e))  # (B, T, S)
    xi = expected_transitions(model, alpha, beta, e, lengths, ll)
    parts = [ll.sum()[None], gamma[:, 0].sum(0), xi.reshape(-1)]
    if model.categorical:
        M = model.log_emission.shape[1]
        counts = torch.zeros(M, S, dtype=e.dtype, device=e.device).index_add_(0, y[mask], gamma[mask])  # (M, S)
        parts.append(counts.t().reshape(-1))
    else:
        parts += [gamma.sum((0, 1)), torch.einsum("bts,btd->sd", gamma, y).reshape(-1),
                  torch.einsum("bts,btd->sd", gamma, y * y).reshape(-1)]
    return torch.cat(parts)


@torch.no_grad()
def maximise(model: Any, stats: torch.Tensor, pseudo_count: float = 0.0, variance_floor: float = 1e-6) -> None:
    """The M-step: set the parameters from summed :func:`expected_statistics` (plus a symmetric
    Dirichlet ``pseudo_count`` on the tables; Gaussian variances at least ``variance_floor``).
    A row with no expected counts keeps its old values.

    >>> import graphdgm as gd
    >>> hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
    >>> maximise(hmm, expected_statistics(hmm, *hmm.observations([[0, 2, 1, 1, 0]])))
    >>> [round(float(r), 6) for r in hmm.log_transition.exp().sum(-1)]
    [1.0, 1.0]
    """
    S = model.num_states
    init, xi = stats[1 : 1 + S] + pseudo_count, stats[1 + S : 1 + S + S * S].view(S, S) + pseudo_count
    rest = stats[1 + S + S * S :]
    trans = _normalised_rows(xi, model.log_transition.exp())
    initial = init / init.sum() if float(init.sum()) > 0 else model.log_initial.exp()
    if model.categorical:
        M = model.log_emission.shape[1]
        emission: Any = _normalised_rows(rest.view(S, M) + pseudo_count, model.log_emission.exp())
    else:
        D = model.emission_means.shape[1]
        w, sy, syy = rest[:S], rest[S : S + S * D].view(S, D), rest[S + S * D :].view(S, D)
        seen = (w > 0)[:, None]
        mean = sy / w.clamp_min(1e-300)[:, None]
        var = (syy / w.clamp_min(1e-300)[:, None] - mean**2).clamp_min(variance_floor)
        emission = (torch.where(seen, mean, model.emission_means), torch.where(seen, var.sqrt(), model.emission_stds))
    model.set_parameters(initial, trans, emission)


def _normalised_rows(counts: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    tot = counts.sum(-1, keepdim=True)
    return torch.where(tot > 0, counts / tot.clamp_min(1e-300), old)


@torch.no_grad()
def baum_welch(model: torch.nn.Module, sequences: Any, lengths: Any = None, *, iterations: int = 100, tol: float = 1e-8,
               pseudo_count: float = 0.0, variance_floor: float = 1e-6, progress: bool | None = None,
               distributed: bool | None = None) -> History:
    """Fit a compiled HMM to observation ``sequences`` by EM from its current parameters.

    Each iteration runs forward-backward on every sequence, sums the expected counts (initial
    states, transitions, emissions; Gaussian: Σγ, Σγy, Σγy²) and sets the parameters to their
    maximisers. The history has one record per iteration, starting with iteration 0 (the
    starting parameters): ``log_likelihood`` (total over all sequences, all processes) and
    ``improvement``; with ``pseudo_count=0`` the log-likelihood never decreases. Stops after
    ``iterations`` M-steps or when the improvement falls below ``tol * |log-likelihood|``.

    >>> import graphdgm as gd
    >>> true = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=1))
    >>> _, y = true.sample(50, 20, seed=0)
    >>> model = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=2))
    >>> h = baum_welch(model, y, iterations=5, progress=False)
    >>> len(h), all(b >= a for a, b in zip(h["log_likelihood"], h["log_likelihood"][1:]))
    (6, True)
    """
    if not REQUIRES <= getattr(model, "capabilities", frozenset()):
        raise CapabilityError(f"Baum-Welch fits a hidden chain with tabulated or Gaussian emissions (capabilities "
                              f"{sorted(REQUIRES)}); got a {type(model).__name__}")
    iterations = positive_int(iterations, "iterations", minimum=0)
    tol = positive_float(tol, "tol", allow_zero=True)
    pseudo_count = positive_float(pseudo_count, "pseudo_count", allow_zero=True)
    variance_floor = positive_float(variance_floor, "variance_floor")
    y, n = model.observations(sequences, lengths)
    history = History()
    stats = all_reduce_sum_(expected_statistics(model, y, n), distributed)
    ll = float(stats[0])
    history.append({"iteration": 0, "log_likelihood": ll, "improvement": math.nan})
    bar = progress_bar(range(1, int(iterations) + 1), progress, desc="baum-welch", total=int(iterations))
    for it in bar:
        maximise(model, stats, pseudo_count=pseudo_count, variance_floor=variance_floor)
        stats = all_reduce_sum_(expected_statistics(model, y, n), distributed)
        prev, ll = ll, float(stats[0])
        history.append({"iteration": it, "log_likelihood": ll, "improvement": ll - prev})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(log_likelihood=f"{ll:.4f}")
        if ll - prev < tol * max(abs(ll), 1.0):
            break
    return history


__all__ = ["baum_welch", "expected_statistics", "maximise"]
