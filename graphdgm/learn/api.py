"""``fit``: train a compiled model on data by a named method (or the model's default), looked up in
the table of :mod:`graphdgm.learn.methods`; every method returns a :class:`History`."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.learn.contrastive_training import as_training_data
from graphdgm.learn.history import History
from graphdgm.learn.methods import check_options, resolve


def fit(model: torch.nn.Module, data: Any, method: str | None = None, **options: Any) -> History:
    """Train ``model`` on ``data`` by ``method`` (None: the model's default) and return the history;
    the model is updated in place.

    Methods (the first that applies to a model is its default; each runner's keyword arguments are
    the method's options):

    - ``"mle"`` for a Bayesian network: CPTs from counts, :func:`~graphdgm.learn.fit_tables_by_counting`
      (``pseudo_count``; a DataFrame is matched by column name, labels are read);
    - ``"mle"`` for a Markov chain: :func:`~graphdgm.learn.fit_chain_by_counting`;
    - ``"baum_welch"`` (``"em"``) for an HMM: :func:`~graphdgm.learn.baum_welch` (``iterations``, ``tol``);
    - ``"mle"`` for NADE, MADE, PixelCNN, PixelRNN: :func:`~graphdgm.learn.maximum_likelihood.fit_mle`;
    - ``"adversarial"`` for a GAN: :func:`~graphdgm.learn.fit_adversarial` (``loss``, ``d_steps``, ...);
    - ``"pcd"`` (default) or ``"cd"`` for an RBM or a Markov network: :func:`~graphdgm.learn.fit_contrastive`.

    An option the chosen method does not use is a ``SpecError`` naming it (``progress`` is
    accepted by all); a method that does not apply to the model is a ``CapabilityError`` naming
    the methods it has (``gd.learn.methods_for(model)``). A deep belief network trains with
    :func:`graphdgm.learn.fit_layerwise`. Gradient methods roll back to the last finite
    parameters and warn (``ConvergenceWarning``) if training diverges; ``history.diverged``
    says where.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(8, 4))
    >>> x = torch.bernoulli(torch.full((64, 8), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> history = gd.fit(rbm, x, method="pcd", epochs=3, batch_size=16, progress=False)
    >>> len(history), "pseudo_log_likelihood" in history.last
    (3, True)
    """
    chosen = resolve(model, method)
    kwargs = check_options(model, chosen, options)
    return chosen.runner()(model, data, **chosen.fixed, **kwargs)


__all__ = ["as_training_data", "fit"]
