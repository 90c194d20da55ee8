"""Maximum likelihood by counting, in one pass: a Bayesian network's CPTs and a Markov chain's
transition matrix from complete data (Dirichlet-smoothed by ``pseudo_count``). Both return a
:class:`History` with one record, like every other training method."""
from __future__ import annotations

import math
from typing import Any

import torch

from graphdgm.compiler.methods import model_method
from graphdgm.errors import SpecError

from graphdgm.learn.history import History
from graphdgm.learn.neural_cpd import fit_neural_cpds
from graphdgm.runtime.distributed import all_reduce_sum_
from graphdgm.spec.validate import positive_float


@torch.no_grad()
def fit_tables_by_counting(model: torch.nn.Module, data: Any, *, pseudo_count: float = 0.0, steps: int = 300,
                           lr: float = 0.05, progress: bool | None = None) -> History:
    """Set a compiled Bayesian network's CPTs to their (smoothed) counts in ``data``, in place.

    ``data``: (N, n) state indices or labels, or a pandas DataFrame matched by column name (see
    ``CompiledBayesianNetwork.encode_data``). The one record holds ``log_likelihood`` (total, in
    nats), ``log_likelihood_per_example`` and ``examples`` of the data under the fitted network.
    ``progress`` is accepted for uniformity with the other methods (one pass: nothing to show).
    Neural CPDs (``bn.add_neural_cpd``) are trained by ``steps`` Adam steps (``lr``) on their
    terms of the log-likelihood instead, which is maximum likelihood for the whole network
    (``pseudo_count`` smooths the counted tables only).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.BayesianNetwork.empty_like({"a": []}, {"a": gd.Binary()}))
    >>> h = fit_tables_by_counting(model, torch.tensor([[0], [1], [1], [1]]))
    >>> model.spec.cpds["a"].tolist(), round(h.last["log_likelihood_per_example"], 4)
    ([0.25, 0.75], -0.5623)
    """
    x = model.encode_data(data)  # (N, n) state indices, columns matched by name
    count_tables(model, x, pseudo_count=pseudo_count)
    if getattr(model, "neural_variables", ()):  # neural CPDs: gradient ascent on their terms of log p
        fit_neural_cpds(model, x, steps=steps, lr=lr)
    with torch.no_grad():
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
    count_transitions(model, sequences, lengths, pseudo_count=pseudo_count, distributed=distributed)
    ll = all_reduce_sum_(model.log_prob(sequences, lengths).sum()[None], distributed)
    return History([{"iteration": 1, "log_likelihood": float(ll[0])}])


@model_method("fit", {"context_transitions"})
@torch.no_grad()
def count_transitions(model: Any, sequences: Any, lengths: Any = None, *, pseudo_count: float = 0.0,
                      distributed: bool | None = None) -> Any:
    """Set the tables to their maximum-likelihood estimates from ``sequences`` (posterior means
    under a symmetric Dirichlet(``pseudo_count``) prior when > 0): one batched count of every
    (context, next state) pair. Unseen contexts get uniform rows; sequences shorter than the
    order are ignored. Counts are summed over ``torch.distributed`` processes when it is
    initialised. Returns the model. This is ``model.fit(sequences)`` for a chain.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]]))
    >>> model.fit([["a", "a", "b", "a"]]).transition.tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    a = float(pseudo_count)
    if not math.isfinite(a) or a < 0:
        raise SpecError(f"pseudo_count must be a finite number >= 0, got {pseudo_count}")
    x, n = model.indices(sequences, lengths)
    if x.shape[0] == 0:
        raise SpecError(f"no sequences to fit chain {model.spec.name!r} to: give at least one sequence of states")
    k, S, C = model.order, model.num_states, model.num_contexts
    counts = torch.zeros(C * S + C, dtype=model.dtype, device=model.device)  # transitions, then first contexts
    if x.shape[1] > k:
        ctx = model.contexts_of(x[:, :-1])  # (B, T-k)
        nxt = x[:, k:]  # (B, T-k)
        ok = nxt >= 0
        counts[: C * S] += torch.bincount((ctx * S + nxt)[ok], minlength=C * S).to(model.dtype)
    if x.shape[1] >= k:
        first = model.contexts_of(x[:, :k])[:, 0][n >= k]  # (B',)
        counts[C * S:] += torch.bincount(first, minlength=C).to(model.dtype)
    all_reduce_sum_(counts, distributed)
    trans = counts[: C * S].view(C, S) + a
    init = counts[C * S:] + a
    tot = trans.sum(1, keepdim=True)
    trans = torch.where(tot > 0, trans / tot.clamp_min(1e-300), torch.full_like(trans, 1.0 / S))
    init = init / init.sum() if float(init.sum()) > 0 else torch.full_like(init, 1.0 / C)
    model.set_tables(trans, init)
    return model


@model_method("fit_tables", {"dag"})
@torch.no_grad()
def count_tables(model: Any, data: Any, pseudo_count: float = 0.0) -> Any:
    """Set every CPT to its maximum-likelihood estimate from complete data (N, n) of state
    indices, or the posterior mean under a symmetric Dirichlet(``pseudo_count``) prior; a
    parent configuration never seen gets a uniform row. One batched count (bincount) for all
    tables. ``data`` is anything ``model.encode_data`` reads. Returns the model; this is
    ``model.fit_tables(data)`` for a Bayesian network.

    >>> import torch, graphdgm as gd
    >>> bn = gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]}, {"a": gd.Binary(), "b": gd.Binary()})
    >>> model = gd.compile(bn).fit_tables(torch.tensor([[0, 0], [0, 1], [1, 1], [1, 1]]))
    >>> model.cpt_log[1, :2, :2].exp().tolist()
    [[0.5, 0.5], [0.0, 1.0]]
    """
    pseudo_count = positive_float(pseudo_count, "pseudo_count", allow_zero=True)
    x = model.encode_data(data)
    if x.shape[0] == 0:
        raise SpecError("data is empty: give at least one complete example (rows of state indices)")
    n, (_, C, K) = model.num_variables, model.cpt_log.shape
    conf = model.configs(x, slice(None))  # (N, n)
    flat = (torch.arange(n, device=x.device) * C * K + conf * K + x).reshape(-1)
    counts = torch.bincount(flat, minlength=n * C * K).reshape(n, C, K).to(model.cpt_log.dtype)
    valid = torch.isfinite(model.cpt_log) | (torch.arange(K, device=x.device) < model.cards[:, None, None])
    counts = (counts + float(pseudo_count)) * valid
    tot = counts.sum(-1, keepdim=True)
    probs = torch.where(tot > 0, counts / tot.clamp_min(1e-300), valid / valid.sum(-1, keepdim=True).clamp_min(1))
    new = torch.log(probs)
    for i in getattr(model, "neural_variables", ()):  # a neural CPD keeps its network's table (trained by gradient)
        new[i] = model.cpt_log[i]
    model.cpt_log.copy_(new)
    model.write_tables()
    return model


__all__ = ["count_tables", "count_transitions", "fit_chain_by_counting", "fit_tables_by_counting"]
