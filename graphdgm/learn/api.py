"""``fit``: train a compiled model on data by a named method (or the model's default), looked up in
the objective registry (:mod:`graphdgm.learn.registry`, built-ins in :mod:`graphdgm.learn.methods`);
every method returns a :class:`History`."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.learn.contrastive_training import as_training_data
from graphdgm.learn.history import History
from graphdgm.learn import methods as _builtins  # noqa: F401 - registers the built-in objectives
from graphdgm.learn.registry import check_options, resolve, run


def fit(model: torch.nn.Module, data: Any, method: str | None = None, **options: Any) -> History:
    """Train ``model`` on ``data`` by ``method`` (None: the model's default) and return the history;
    the model is updated in place.

    ``method`` names an objective in the registry (:func:`~graphdgm.learn.available_objectives`;
    add one with :func:`~graphdgm.learn.register_objective`). Each objective declares the
    capabilities a model needs and its options as a small dataclass; ``fit`` picks the first
    objective of that name that applies to the model, builds its options from ``options`` and
    calls its runner. The built-ins (the first that applies to a model is its default):

    - ``"mle"`` for a Bayesian network: CPTs from counts, :func:`~graphdgm.learn.fit_tables_by_counting`
      (:class:`~graphdgm.learn.methods.CountingOptions`; a DataFrame is matched by column name, labels are read);
    - ``"mle"`` for a Markov chain: :func:`~graphdgm.learn.fit_chain_by_counting` (``ChainCountingOptions``);
    - ``"baum_welch"`` (``"em"``) for an HMM: :func:`~graphdgm.learn.baum_welch` (``BaumWelchOptions``:
      ``iterations``, ``tol``, ...);
    - ``"mle"`` for NADE, MADE, PixelCNN, PixelRNN: :func:`~graphdgm.learn.maximum_likelihood.fit_mle` (``MLEOptions``);
    - ``"adversarial"`` for a GAN: :func:`~graphdgm.learn.fit_adversarial` (``AdversarialOptions``: ``loss``,
      ``d_steps``, ...);
    - ``"pcd"`` (default) or ``"cd"`` for an energy model with a free energy or block conditionals (an RBM, a
      Markov network): :func:`~graphdgm.learn.fit_contrastive` (``PersistentContrastiveOptions``, ``ContrastiveOptions``).

    An option the chosen method does not have is a ``SpecError`` naming it (``progress`` is
    accepted by all); a method that does not apply to the model is a ``CapabilityError`` naming
    the methods it has (``gd.learn.methods_for(model)``). A model with a stack of layers (a deep
    belief network) trains with :func:`graphdgm.learn.fit_layerwise`. Gradient methods roll back
    to the last finite parameters and warn (``ConvergenceWarning``) if training diverges;
    ``history.diverged`` says where.

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(8, 4))
    >>> x = torch.bernoulli(torch.full((64, 8), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> history = gd.fit(rbm, x, method="pcd", epochs=3, batch_size=16, progress=False)
    >>> len(history), "pseudo_log_likelihood" in history.last
    (3, True)
    """
    chosen = resolve(model, method)
    return run(model, data, chosen, check_options(model, chosen, options))


__all__ = ["as_training_data", "fit"]
