"""``log_likelihood``: the mean log-probability of data under a model, in nats per example."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError, SpecError


def log_likelihood(model: torch.nn.Module, data: Any, *, backend: str = "exact", **options: Any) -> float:
    """Mean log p(x) over the rows of ``data`` (nats per example; negate for the usual test NLL).

    Chosen by the model's capabilities: a compiled graph (``gd.DBM``, ``gd.SRBM``, ``gd.CRBM``, any
    ``gd.Graph``; data per observed and input block) gives log p(observed | inputs) exactly by
    enumeration (``backend="exact"``) or with log Z by AIS (``backend="ais"``; for latent blocks
    that do not all sum out, a DBM's, the mean-field variational lower bound; ``options`` go to
    :func:`graphdgm.infer.graph_ais.graph_log_likelihood`). A model with a free energy (latent units summed out, an
    RBM) gives -F(x) - log Z, with ``backend="exact"`` for log Z by enumeration or ``backend="ais"``
    for annealed importance sampling (Salakhutdinov and Murray 2008; ``options`` go to
    :func:`graphdgm.infer.rbm_ais.rbm_log_likelihood`). A model whose likelihood is intractable but
    bounded through a recognition pass (``"recognition_bound"``, a DBN) gives, with
    ``backend="ais"``, the variational lower bound with the top layer's log Z by AIS.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 3))
    >>> x = torch.zeros(4, 6)
    >>> round(gd.log_likelihood(rbm, x), 4) == round(float(-rbm.free_energy(x.double()).mean() - gd.log_partition(rbm)), 4)
    True
    """
    from graphdgm.learn.api import as_training_data

    if _num_rows(data) == 0:
        raise SpecError("data is empty: give at least one example (a row, or a sequence) to average log p over")

    caps = getattr(model, "capabilities", frozenset())
    if "recognition_bound" in caps:
        if backend != "ais":
            raise CapabilityError(f"a {type(model).__name__}'s likelihood is intractable; use backend='ais' for its "
                                  "variational lower bound")
        from graphdgm.infer.rbm_ais import dbn_log_likelihood_bound

        x = as_training_data(model.rbms[0], data)
        return dbn_log_likelihood_bound(model, x, **options).bound
    if "block_sums" in caps and not hasattr(model, "free_energy_and_logits"):  # a compiled graph (DBM, SRBM, CRBM, ...)
        if backend == "exact":  # enumeration with every summable block summed out
            from graphdgm.infer.enumeration import exact_log_likelihood

            with torch.no_grad():
                return _mean(exact_log_likelihood(model, data))
        if backend == "ais":  # -F - log Z, or the mean-field bound when latent blocks do not all sum out
            from graphdgm.infer.graph_ais import graph_log_likelihood

            return graph_log_likelihood(model, data, **options).log_likelihood
        raise SpecError(f"unknown backend {backend!r} for the likelihood of a {type(model).__name__}; use 'exact' "
                        "(enumeration, small graphs) or 'ais' (annealed importance sampling; a lower bound when latent "
                        "blocks do not all sum out)")
    if "free_energy" in caps:  # latent units summed out: log p(x) = -F(x) - log Z
        x = as_training_data(model, data)
        if backend == "ais":
            from graphdgm.infer.rbm_ais import rbm_log_likelihood

            return rbm_log_likelihood(model, x, **options).log_likelihood
        if backend == "exact":
            from graphdgm.infer.api import log_partition

            with torch.no_grad():
                return float(-model.free_energy(x).mean() - log_partition(model, backend="exact"))
        raise SpecError(f"unknown backend {backend!r} for the likelihood of a {type(model).__name__} (free energy "
                        "and log Z); use 'exact' or 'ais'")
    if "time_tied" in caps:  # Markov chains and HMMs: label sequences or padded index tensors, variable lengths
        with torch.no_grad():
            return _mean(model.log_prob(data, options.get("lengths")))
    if "log_prob" in caps:
        with torch.no_grad():
            return _mean(model.log_prob(torch.as_tensor(data)))
    if "factor_tables" in caps:
        from graphdgm.infer.api import log_partition

        x = as_training_data(model, data)
        with torch.no_grad():
            return float((-model.energy(x)).mean() - log_partition(model, backend=backend))
    raise CapabilityError(f"a {type(model).__name__} does not give likelihoods (capabilities {sorted(caps)})")


def _num_rows(data: Any) -> int | None:
    """The number of examples in ``data`` when it can be told without converting it (else None)."""
    shape = getattr(data, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else None
    if isinstance(data, (list, tuple)):
        return len(data)
    return None


def _mean(values: torch.Tensor) -> float:
    """The mean of per-example log-probabilities (B,); an empty batch is an error, never nan."""
    if values.numel() == 0:
        raise SpecError("data is empty: give at least one example (a row, or a sequence) to average log p over")
    return float(values.mean())
