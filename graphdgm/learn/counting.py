"""Maximum likelihood by counting, in one pass: a Bayesian network's CPTs and a Markov chain's
transition matrix from complete data (Dirichlet-smoothed by ``pseudo_count``). Both return a
:class:`History` with one record, like every other training method."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.learn.history import History
from graphdgm.runtime.distributed import all_reduce_sum_


@torch.no_grad()
def fit_tables_by_counting(model: torch.nn.Module, data: Any, *, pseudo_count: float = 0.0,
                           progress: bool | None = None) -> History:
    """Set a compiled Bayesian network's CPTs to their (smoothed) counts in ``data``, in place.

    ``data``: (N, n) state indices or labels, or a pandas DataFrame matched by column name (see
    ``CompiledBayesianNetwork.encode_data``). The one record holds ``log_likelihood`` (total, in
    nats), ``log_likelihood_per_example`` and ``examples`` of the data under the fitted network.
    ``progress`` is accepted for uniformity with the other methods (one pass: nothing to show).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.BayesianNetwork.empty_like({"a": []}, {"a": gd.Binary()}))
    >>> h = fit_tables_by_counting(model, torch.tensor([[0], [1], [1], [1]]))
    >>> model.spec.cpds["a"].tolist(), round(h.last["log_likelihood_per_example"], 4)
    ([0.25, 0.75], -0.5623)
    """
    x = model.encode_data(data)  # (N, n) state indices, columns matched by name
    model.fit_tables(x, pseudo_count=pseudo_count)
    ll = model.log_prob(x)  # (N,)
    return History([{"iteration": 1, "examples": int(x.shape[0]), "log_likelihood": float(ll.sum()),
                     "log_likelihood_per_example": float(ll.mean())}])


@torch.no_grad()
def fit_chain_by_counting(model: torch.nn.Module, sequences: Any, lengths: Any = None, *, pseudo_count: float = 0.0,
                          distributed: bool | None = None, progress: bool | None = None) -> History:
    """Set a compiled Markov chain's initial and transition probabilities to their (smoothed)
    counts in ``sequences``; one record with the fitted ``log_likelihood`` (total over all
    sequences and processes).

    >>> import graphdgm as gd
    >>> chain = gd.compile(gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]]))
    >>> h = fit_chain_by_counting(chain, [["a", "a", "b", "a"]])
    >>> chain.transition.tolist(), round(h.last["log_likelihood"], 4)  # log(1 * 0.5 * 0.5 * 1): initial p(a) = 1
    ([[0.5, 0.5], [1.0, 0.0]], -1.3863)
    """
    model.fit(sequences, lengths, pseudo_count=pseudo_count, distributed=distributed)
    ll = all_reduce_sum_(model.log_prob(sequences, lengths).sum()[None], distributed)
    return History([{"iteration": 1, "log_likelihood": float(ll[0])}])


__all__ = ["fit_chain_by_counting", "fit_tables_by_counting"]
