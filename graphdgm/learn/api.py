"""``fit``: train a compiled model on data by a named method (or the model's default), looked up in
the objective registry (:mod:`graphdgm.learn.registry`, built-ins in :mod:`graphdgm.learn.methods`);
every method returns a :class:`History`.

Before the method runs, ``fit`` brings the data to one form: a ``torch.utils.data.DataLoader`` is
read batch by batch into one tensor, a pandas DataFrame is matched to the model's variables by
column name, and under ``torch.distributed`` the data across ranks is laid out the way the method
needs (see ``docs/distributed.md``: pass each rank its own shard, or every rank the same data)."""
from __future__ import annotations

import hashlib
import pickle
from typing import Any

import numpy as np
import torch

from graphdgm.errors import SpecError
from graphdgm.learn.contrastive_training import as_training_data, frame_to_training_data, is_data_frame
from graphdgm.learn.history import History
from graphdgm.learn import methods as _builtins  # noqa: F401 - registers the built-in objectives
from graphdgm.learn.registry import RegisteredObjective, check_options, resolve, run
from graphdgm.runtime.distributed import all_gather_cat, rank_and_world


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

    ``data`` is what the method reads (a tensor or array of examples, a list of sequences), or:

    - a ``torch.utils.data.DataLoader`` whose batches are tensors or ``(x,)`` tuples: its batches are
      read once, in its order, into one tensor; a mini-batch method then uses the loader's
      ``batch_size`` (giving ``batch_size=`` as well is an error unless it agrees). The loader
      chooses the rows (a ``DistributedSampler`` gives each rank its shard); the training loop
      still shuffles them each epoch with ``seed``;
    - a pandas DataFrame: its columns are matched to the model's variables **by name** (an RBM's
      ``v[0]``, ``v[1]``, ...; :func:`~graphdgm.learn.contrastive_training.data_columns`), with a
      ``SpecError`` listing missing and extra columns; text columns are state labels.

    Under ``torch.distributed`` every rank may pass its own shard of the data or all the same data,
    for every method that communicates (has a ``distributed`` option): ``fit`` compares the ranks'
    data and gathers the shards for a mini-batch method (which splits every global batch across
    ranks), or keeps each rank's data for a method that sums statistics over ranks (Baum-Welch,
    chain counting), running it on one process's data (``distributed=False``) when every rank holds
    the same. ``distributed=False`` turns this off; methods without the option (Bayesian-network
    counting) fit each rank's own data and exchange nothing. See ``docs/distributed.md``.

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
    >>> loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=16)
    >>> len(gd.fit(rbm, loader, method="cd", epochs=2, progress=False))  # batch_size 16 from the loader
    2
    """
    chosen = resolve(model, method)
    accepted = chosen.objective.option_names
    if _is_loader(data):
        data, options = _from_loader(data, options, accepted)
    if is_data_frame(data) and not hasattr(model, "encode_data"):  # a Bayesian network reads frames itself (labels)
        data = frame_to_training_data(model, data)
    data, options = _align_ranks(model, data, options, chosen)
    return run(model, data, chosen, check_options(model, chosen, options))


def _is_loader(data: Any) -> bool:
    return isinstance(data, torch.utils.data.DataLoader)


def _from_loader(loader: Any, options: dict[str, Any], accepted: tuple[str, ...]) -> tuple[torch.Tensor, dict[str, Any]]:
    """A DataLoader's batches (tensors or (x,) tuples) concatenated in its order (N, ...), and the
    options with ``batch_size`` set to the loader's where the method has one."""
    parts = []
    for i, batch in enumerate(loader):  # a loop over the loader's batches, once
        if isinstance(batch, (tuple, list)):
            if len(batch) != 1:
                raise SpecError(f"data: the DataLoader's batch {i} holds {len(batch)} tensors; gd.fit trains on one "
                                f"tensor of examples, so give a loader over TensorDataset(x) (batches (x,)) or over x itself")
            batch = batch[0]
        if not torch.is_tensor(batch):
            raise SpecError(f"data: the DataLoader's batch {i} is a {type(batch).__name__}; its batches must be tensors "
                            f"or (x,) tuples of tensors")
        parts.append(batch)
    if not parts:
        raise SpecError("data: the DataLoader yielded no batches; give it at least one example")
    size = loader.batch_size if loader.batch_size is not None else parts[0].shape[0]  # a batch_sampler sets its own
    options = dict(options)
    if "batch_size" in accepted:
        given = options.get("batch_size")
        if given is not None and int(given) != int(size):
            raise SpecError(f"batch_size={given} disagrees with the DataLoader, which defines its own batches "
                            f"(batch_size={size}); drop batch_size= or build the DataLoader with batch_size={given}")
        options["batch_size"] = int(size)
    return torch.cat(parts, 0), options


# ----------------------------------------------------------------------------- ranks
def _fingerprint(data: Any, extra: Any) -> int:
    """A 63-bit digest of the data (values, shape, dtype) and ``extra`` (e.g. ``lengths``), the same
    on every process for the same data; -1 when the data cannot be digested."""
    h = hashlib.blake2b(digest_size=8)
    try:
        for part in (data, extra):
            if torch.is_tensor(part):
                t = part.detach().cpu().contiguous()
                h.update(f"{tuple(t.shape)}{t.dtype}".encode())
                h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
            elif isinstance(part, np.ndarray) and part.dtype.kind in "biufc":
                h.update(f"{part.shape}{part.dtype}".encode() + np.ascontiguousarray(part).tobytes())
            else:
                h.update(pickle.dumps(part, protocol=4))
    except Exception:  # noqa: BLE001 - an object that cannot be digested: leave the layout alone
        return -1
    return int.from_bytes(h.digest(), "little") >> 1


def _gather_rows(x: torch.Tensor, distributed: bool | None) -> torch.Tensor:
    """Every rank's rows (N_r, ...) concatenated in rank order, shards of unequal length included."""
    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = all_gather_cat(n, 0, distributed).tolist()  # (world,)
    M = max(sizes)
    padded = torch.cat([x, x.new_zeros((M - x.shape[0], *x.shape[1:]))], 0) if x.shape[0] < M else x  # (M, ...)
    every = all_gather_cat(padded, 0, distributed)  # (world M, ...)
    return torch.cat([every[r * M: r * M + s] for r, s in enumerate(sizes)], 0)


def _align_ranks(model: torch.nn.Module, data: Any, options: dict[str, Any],
                 chosen: RegisteredObjective) -> tuple[Any, dict[str, Any]]:
    """Lay the data out across ranks as the method needs, for a method that communicates (it has a
    ``distributed`` option): a mini-batch method (``batch_size``) needs the same data on every rank
    and gets the shards gathered; a method that sums over ranks (no ``batch_size``) needs shards
    and runs with ``distributed=False`` when every rank holds the same data. A method without
    ``distributed`` never communicates, so nothing is exchanged for it."""
    accepted = chosen.objective.option_names
    flag = options.get("distributed")
    if "distributed" not in accepted or flag is False or rank_and_world(flag)[1] == 1:
        return data, options  # one process, or a method that never communicates (it may run on one rank alone)
    device = next(iter([*model.parameters(), *model.buffers()]), torch.empty(0)).device  # NCCL needs the model's device
    mine = _fingerprint(data, options.get("lengths"))
    prints = all_gather_cat(torch.tensor([mine], dtype=torch.long, device=device), 0, flag).tolist()  # (world,)
    if -1 in prints:
        return data, options  # not digestible on some rank: the method's own layout (docs/distributed.md)
    same = len(set(prints)) == 1
    sums_over_ranks = "batch_size" not in accepted  # Baum-Welch, chain counting: statistics summed over ranks
    if same:
        return (data, {**options, "distributed": False}) if sums_over_ranks else (data, options)
    if sums_over_ranks:
        return data, options  # shards: what it sums over
    if not torch.is_tensor(data):
        try:
            data = torch.as_tensor(np.asarray(data))
        except (TypeError, ValueError, RuntimeError):
            raise SpecError(f"fit(method={chosen.name!r}) under torch.distributed needs the same data on every rank, or "
                            f"a tensor shard per rank to gather; the ranks hold different {type(data).__name__}s. Give "
                            f"every rank the whole data, or a tensor of its own rows") from None
    return _gather_rows(data.to(device), flag), options


__all__ = ["as_training_data", "fit"]
