"""Energy-model training by contrastive divergence through the shared loop: the data check
(``as_training_data``), the per-epoch monitors, and :func:`fit_contrastive`, which ``gd.fit`` runs
for ``method="cd"`` and ``method="pcd"`` on an RBM, a Markov network or any compiled graph (latent
blocks summed out or handled by the positive phase, input blocks clamped; see
:mod:`graphdgm.learn.graph_contrastive`)."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from graphdgm.errors import SpecError
from graphdgm.learn.contrastive_divergence import ContrastiveDivergence
from graphdgm.learn.examples import example_matrix
from graphdgm.learn.graph_contrastive import graph_training_data, trains_by_blocks
from graphdgm.learn.history import History
from graphdgm.learn.loop import train
from graphdgm.learn.metrics import pseudo_log_likelihood, reconstruction_error
from graphdgm.runtime.distributed import rank_seed
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_float, positive_int


def data_columns(model: torch.nn.Module) -> list[str] | None:
    """The variable names of the columns ``model`` trains on, in order: a graph's (an RBM's)
    observed and input blocks side by side, else every variable; None for a model trained on
    sequences (an HMM, a Markov chain), which has no columns.

    >>> import graphdgm as gd
    >>> data_columns(gd.compile(gd.RBM(3, 2)))
    ['v[0]', 'v[1]', 'v[2]']
    """
    if "time_tied" in getattr(model, "capabilities", ()):
        return None
    names = getattr(model, "variables", None)
    if names is None:
        return None
    ranges, roles = getattr(model, "ranges", None), getattr(model, "roles", None)
    if ranges is not None and roles is not None:
        return [names[i] for b in model.block_names if roles[b] in ("observed", "input") for i in range(*ranges[b])]
    return list(names)


def is_data_frame(data: Any) -> bool:
    """Whether ``data`` is a pandas DataFrame (or any table with ``columns`` and ``to_numpy``)."""
    return hasattr(data, "columns") and hasattr(data, "to_numpy") and not torch.is_tensor(data)


def frame_to_matrix(model: torch.nn.Module, frame: Any, what: str = "training data") -> torch.Tensor:
    """A DataFrame's columns matched to ``model``'s data variables **by name** (any order) -> (N, n)
    tensor in :func:`data_columns` order. Numbers are taken as they are (state indices for a discrete
    unit, values for a real one); text columns are state labels, mapped through the variable's labels.

    >>> import pandas as pd, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(2, 2))
    >>> frame_to_matrix(rbm, pd.DataFrame({"v[1]": [1, 0], "v[0]": [0, 0]})).tolist()
    [[0, 1], [0, 0]]
    """
    wanted = data_columns(model)
    if wanted is None:
        raise SpecError(f"{what}: a {type(model).__name__} trains on sequences, not on a table; give a list of "
                        f"sequences (or a padded tensor with lengths=...)")
    names = [str(c) for c in frame.columns]
    missing = [v for v in wanted if v not in names]
    extra = [c for c in names if c not in wanted]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if missing or extra or repeated:
        raise SpecError(f"{what}: DataFrame columns are matched to the model's variables by name; missing columns "
                        f"{missing}, extra columns {extra}" + (f", repeated columns {repeated}" if repeated else "") +
                        f". This {type(model).__name__} trains on the columns {wanted[:8]}"
                        f"{' ...' if len(wanted) > 8 else ''} ({len(wanted)}); rename or drop columns to match")
    by_name = dict(zip(names, frame.columns))
    index = {v: i for i, v in enumerate(getattr(model, "variables", wanted))}
    cols = [_column_values(model, index[v], v, np.asarray(frame[by_name[v]]), what) for v in wanted]  # once per column
    return torch.as_tensor(np.stack(cols, 1) if cols else np.zeros((len(frame), 0)))


def frame_to_training_data(model: torch.nn.Module, frame: Any, what: str = "training data") -> Any:
    """:func:`frame_to_matrix`, split into a dict by block name for a graph with several observed
    and input blocks (what :func:`graph_training_data` reads), else the (N, n) tensor itself."""
    x = frame_to_matrix(model, frame, what)
    ranges, roles = getattr(model, "ranges", None), getattr(model, "roles", None)
    if ranges is None or roles is None:
        return x
    clamped = [b for b in model.block_names if roles[b] in ("observed", "input")]
    if len(clamped) < 2:
        return x
    out, col = {}, 0
    for b in clamped:  # a loop over blocks
        n = ranges[b][1] - ranges[b][0]
        out[b], col = x[:, col:col + n], col + n
    return out


def _column_values(model: torch.nn.Module, i: int, name: str, col: np.ndarray, what: str) -> np.ndarray:
    """One column (N,): numbers as they are, labels (text or objects) to state indices of variable ``i``."""
    if col.dtype.kind in "iubf":
        return col
    labels = list(model.state_labels(i)) if hasattr(model, "state_labels") else None
    if not labels:
        raise SpecError(f"{what} column {name!r} holds {col.dtype} values; give numbers (state indices or values)")
    lookup = {str(lab): s for s, lab in enumerate(labels)}
    unknown = sorted({str(v) for v in col if str(v) not in lookup})
    if unknown:
        raise SpecError(f"{what} column {name!r} holds labels {unknown[:5]} that are not states of {name!r}; "
                        f"its states are {labels}")
    return np.array([lookup[str(v)] for v in col], dtype=np.int64)


def as_training_data(model: torch.nn.Module, data: Any, what: str = "training data") -> torch.Tensor:
    """Check and convert ``data`` to what ``model`` trains on: (N, V) visible states of an RBM
    (images (N, 28, 28) are flattened), (N, n) state indices of a Markov network, or for a compiled
    graph with latent or input blocks its observed and input blocks packed side by side (a tensor
    for a single such block, else a dict by block name; :func:`graph_training_data`). A pandas
    DataFrame is matched to the variables by column name (:func:`frame_to_matrix`).

    >>> import pandas as pd, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(2, 2))
    >>> as_training_data(rbm, pd.DataFrame({"v[1]": [1, 0], "v[0]": [1, 1]})).tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """
    if is_data_frame(data):
        data = frame_to_training_data(model, data, what)
    if trains_by_blocks(model):
        return graph_training_data(model, data, what)
    dev = next(model.parameters()).device
    rbm = _has_latent_layer(model)
    n = model.V if rbm else model.num_variables
    units = f"visible units of this RBM ({model.V})" if rbm else f"variables of this network ({n})"
    x = example_matrix(data, n, what, "(examples, units)", f"it needs (examples, {n}), one column per {units}")
    vtype = getattr(model, "visible_type", None)
    if vtype == "gaussian":
        return x.to(dev, model.dtype)
    cards = model.cards[:n].to(x.device)
    if rbm and vtype == "bernoulli":
        bad_cols = ((x != 0) & (x != 1)).any(0)  # one pass for the common 0/1 case
    else:
        bad_cols = ((x != x.round()) | (x < 0) | (x >= cards)).any(0)
    if bool(bad_cols.any()):
        bad = int(bad_cols.nonzero()[0, 0])
        raise SpecError(f"{what} column {bad} ({model.variables[bad]!r}) holds values outside the unit's "
                        f"states 0..{int(cards[bad]) - 1}; binarise or encode the data as state indices")
    return x.to(dev, model.dtype) if rbm else x.to(dev, torch.long)


def _has_latent_layer(model: torch.nn.Module) -> bool:
    """Whether ``model`` has latent units summed out analytically (``"marginalisable:<block>"``, an
    RBM's hidden layer): the data then covers its visible units only."""
    return any(c.startswith("marginalisable:") for c in getattr(model, "capabilities", ()))


EXACT_MONITOR_BITS = 16.0  # a graph's history records its exact log-likelihood when enumeration visits <= 2^16 states


def _exact_monitor_feasible(model: torch.nn.Module) -> bool:
    from graphdgm.errors import CapabilityError
    from graphdgm.infer.enumeration import enumeration_plan

    inputs = {b for b in model.block_names if model.roles[b] == "input"}
    clamped = {b for b in model.block_names if model.roles[b] != "latent"}
    try:
        plans = [enumeration_plan(model, inputs)[0], enumeration_plan(model, clamped)[0]]
    except CapabilityError:
        return False
    bits = [sum((model.ranges[b][1] - model.ranges[b][0]) * math.log2(model.units[b].cardinality) for b in p) for p in plans]
    return max(bits) <= EXACT_MONITOR_BITS


def _graph_monitor(model: torch.nn.Module, mon: torch.Tensor, size: int) -> Callable[[int], dict[str, float]] | None:
    """Per epoch, the exact mean log-likelihood (log p(observed | inputs)) of a small graph."""
    if size <= 0 or not _exact_monitor_feasible(model):
        return None
    from graphdgm.infer.enumeration import exact_log_likelihood

    def monitor(epoch: int) -> dict[str, float]:
        with torch.no_grad():
            xs, col = {}, 0
            for b in model.block_names:
                if model.roles[b] != "latent":
                    n = model.ranges[b][1] - model.ranges[b][0]
                    xs[b], col = mon[:, col: col + n], col + n
            return {"log_likelihood": float(exact_log_likelihood(model, xs).mean())}

    return monitor


def _monitor(model: torch.nn.Module, train_x: torch.Tensor, valid: torch.Tensor | None, size: int,
             ais_every: int, ais_options: dict[str, Any], seed: int) -> Callable[[int], dict[str, float]] | None:
    if size <= 0 and not ais_every:
        return None  # monitoring off (for timing runs)
    mon = (valid if valid is not None else train_x)[:max(size, 1)]
    if trains_by_blocks(model):
        if ais_every:
            raise SpecError("ais_every is not available for compiled graphs in fit_contrastive yet; leave it 0 (small graphs "
                            "record their exact log-likelihood every epoch) and estimate log Z after training")
        return _graph_monitor(model, mon, size)
    g = make_generator(seed + 7, mon.device)
    rbm = "bipartite" in getattr(model, "capabilities", ())  # reconstruct v through the other layer

    def monitor(epoch: int) -> dict[str, float]:
        out: dict[str, float] = {}
        if rbm and size > 0:
            out["reconstruction_error"] = reconstruction_error(model, mon)
        if "discrete" in model.capabilities and size > 0:
            out["pseudo_log_likelihood"] = pseudo_log_likelihood(model, mon, g)
        if ais_every and epoch % ais_every == 0:
            from graphdgm.infer.rbm_ais import rbm_log_likelihood

            res = rbm_log_likelihood(model, mon, base_data=train_x, **ais_options)
            out["ais_log_z"] = float(res.log_z)
            out["log_likelihood"] = float(res.log_likelihood)
        return out

    return monitor


def _init_observed_biases(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Observed blocks with a learnable bias declared without initial values start at the data's marginals."""
    col = 0
    for b in model.block_names:
        if model.roles[b] == "latent":
            continue
        n = model.ranges[b][1] - model.ranges[b][0]
        if model.roles[b] == "observed" and model.bias_of(b) is not None and model.spec.biases.get(b, 0) is None:
            model.init_bias_from_data(b, x[:, col: col + n])
        col += n


def fit_contrastive(
    model: torch.nn.Module,
    data: Any,
    *,
    persistent: bool = True,
    epochs: int = 10,
    batch_size: int = 100,
    lr: float = 0.05,
    k: int = 1,
    chains: int | None = None,
    momentum: float = 0.9,
    momentum_warmup: int = 5,
    weight_decay: float = 2e-4,
    schedule: str | Callable[[float], float] = "constant",
    optimizer: str = "sgd",
    seed: int = 0,
    progress: bool | None = None,
    validation: Any = None,
    monitor_size: int = 1000,
    ais_every: int = 0,
    ais_options: dict[str, Any] | None = None,
    init_visible_bias: bool = True,
    positive: str = "mean_field",
    mean_field_steps: int = 10,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    callbacks: Sequence[Callable[[int, dict[str, float]], Any]] = (),
    distributed: bool | None = None,
) -> History:
    """CD-k (``persistent=False``) or PCD-k with ``chains`` fantasy particles (default one per batch
    row) for an RBM or a fully observed discrete Markov network, SGD with ``momentum`` (0.5 for the
    first ``momentum_warmup`` epochs) and ``weight_decay`` on weights (not biases); visible biases
    start at the data's log-odds (``init_visible_bias``). The history records per epoch the
    learning rate, the reconstruction error and a pseudo-log-likelihood on ``validation`` (or the
    first ``monitor_size`` training rows), and every ``ais_every`` epochs an AIS estimate of log Z
    and of the mean log-likelihood (``ais_options`` go to
    :func:`graphdgm.infer.rbm_ais.rbm_log_likelihood`).

    A compiled graph (:class:`~graphdgm.compiler.graph.CompiledGraph`) trains on data per
    observed and input block (a tensor for a single one, else a dict by block name): latent blocks
    that sum out are summed out of the free energy, the others are handled in the positive phase
    by ``positive`` (``"mean_field"`` with ``mean_field_steps`` fixed-point sweeps, ``"gibbs"`` with
    that many clamped sweeps, or ``"exact"`` enumeration); the negative chains run over every
    non-input block, and a graph with input blocks (a CRBM) trains by CD (``persistent=False``).
    Observed blocks' biases start at the data's marginals; small graphs record the exact
    log-likelihood per epoch (``monitor_size`` rows).

    >>> import torch, graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 3))
    >>> x = torch.bernoulli(torch.full((32, 6), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> len(fit_contrastive(rbm, x, persistent=False, epochs=2, batch_size=8, progress=False))
    2
    """
    epochs, batch_size, lr = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size"), positive_float(lr, "lr")
    momentum_warmup = positive_int(momentum_warmup, "momentum_warmup", minimum=0)
    momentum = positive_float(momentum, "momentum", allow_zero=True)
    weight_decay = positive_float(weight_decay, "weight_decay", allow_zero=True)
    k = positive_int(k, "k")
    chains = None if chains is None else positive_int(chains, "chains")
    monitor_size = positive_int(monitor_size, "monitor_size", minimum=0)
    ais_every = positive_int(ais_every, "ais_every", minimum=0)
    x = as_training_data(model, data)
    valid = as_training_data(model, validation, "validation data") if validation is not None else None
    graph = trains_by_blocks(model)
    if init_visible_bias and not resume and not graph and _has_latent_layer(model) and model.spec.visible_bias is None:
        model.init_visible_bias(x)
    if init_visible_bias and not resume and graph:
        _init_observed_biases(model, x)
    objective = ContrastiveDivergence(model, k, persistent=persistent, chains=chains, seed=rank_seed(seed, stride=1000),
                                      positive=positive, mean_field_steps=mean_field_steps)
    monitor = _monitor(model, x, valid, monitor_size, ais_every, dict(ais_options or {}), seed)
    return train(model, objective, x, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                 momentum_warmup=momentum_warmup, weight_decay=weight_decay, schedule=schedule, seed=seed,
                 progress=progress, monitor=monitor, callbacks=callbacks, checkpoint=checkpoint, resume=resume,
                 distributed=distributed, optimizer=optimizer)
