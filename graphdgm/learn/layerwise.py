"""Greedy layer-wise training of a deep belief network (Hinton, Osindero and Teh, 2006)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.learn.api import as_training_data, fit
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_int
from graphdgm.learn.history import History


def fit_layerwise(dbn: torch.nn.Module, data: Any, method: str = "pcd", *, epochs: int | Sequence[int] = 10,
                  seed: int = 0, **options: Any) -> list[History]:
    """Train each RBM of ``dbn`` in turn, bottom up: layer l is fitted by ``method`` on binary
    states sampled from layer l-1's hidden units given the data. ``epochs`` is one number or one
    per layer; other options go to :func:`graphdgm.fit` for every layer. Returns their histories.

    >>> import torch, graphdgm as gd
    >>> dbn = gd.compile(gd.DBN([8, 6, 4]))
    >>> x = torch.bernoulli(torch.full((64, 8), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> hs = fit_layerwise(dbn, x, epochs=2, batch_size=16, progress=False)
    >>> [len(h) for h in hs]
    [2, 2]
    """
    if "layerwise" not in getattr(dbn, "capabilities", ()):  # a stack of trainable layers, ``rbms``
        raise CapabilityError(f"fit_layerwise trains a compiled deep belief network (gd.compile(gd.DBN([...]))); got a "
                              f"{type(dbn).__name__}: train it with gd.fit(model, data)")
    if isinstance(epochs, (list, tuple)):
        per_layer = [positive_int(e, f"epochs[{i}]") for i, e in enumerate(epochs)]
    else:
        per_layer = [positive_int(epochs, "epochs")] * len(dbn.rbms)
    if len(per_layer) != len(dbn.rbms):
        raise SpecError(f"epochs has {len(per_layer)} entries for {len(dbn.rbms)} RBMs; give one number or one per RBM")
    x = as_training_data(dbn.rbms[0], data)
    g = make_generator(int(seed) + 99, x.device)
    histories = []
    for layer, (rbm, ep) in enumerate(zip(dbn.rbms, per_layer)):  # a loop over layers
        histories.append(fit(rbm, x, method, epochs=ep, seed=seed + layer, **options))
        if layer + 1 < len(dbn.rbms):
            with torch.no_grad():
                x = torch.cat([rbm.sample_hidden(chunk, g) for chunk in x.split(10000)])  # (N, H_l) binary
    return histories
