"""Baum-Welch: expectation-maximisation for hidden Markov models, in log space, batched over
sequences, with the E-step sums all-reduced over ``torch.distributed`` processes."""
from __future__ import annotations

import math
from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.learn.history import History
from graphdgm.runtime.distributed import all_reduce_sum_
from graphdgm.runtime.progress import progress_bar
from graphdgm.spec.validate import positive_float, positive_int


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
    if "hmm" not in getattr(model, "capabilities", ()):
        raise CapabilityError(f"Baum-Welch fits hidden Markov models; got a {type(model).__name__}")
    iterations = positive_int(iterations, "iterations", minimum=0)
    tol = positive_float(tol, "tol", allow_zero=True)
    pseudo_count = positive_float(pseudo_count, "pseudo_count", allow_zero=True)
    variance_floor = positive_float(variance_floor, "variance_floor")
    y, n = model.observations(sequences, lengths)
    history = History()
    stats = all_reduce_sum_(model.expected_statistics(y, n), distributed)
    ll = float(stats[0])
    history.append({"iteration": 0, "log_likelihood": ll, "improvement": math.nan})
    bar = progress_bar(range(1, int(iterations) + 1), progress, desc="baum-welch", total=int(iterations))
    for it in bar:
        model.maximise(stats, pseudo_count=pseudo_count, variance_floor=variance_floor)
        stats = all_reduce_sum_(model.expected_statistics(y, n), distributed)
        prev, ll = ll, float(stats[0])
        history.append({"iteration": it, "log_likelihood": ll, "improvement": ll - prev})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(log_likelihood=f"{ll:.4f}")
        if ll - prev < tol * max(abs(ll), 1.0):
            break
    return history


__all__ = ["baum_welch"]
