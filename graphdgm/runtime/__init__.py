"""Cross-cutting chores in one place: atomic file writes, safe loads, structure-keyed plan caches,
seed to generator, progress bars, ``torch.distributed``.

Everything in graphdgm that writes a file goes through :func:`atomic_write`; everything that reads
a torch file goes through :func:`safe_torch_load`; every backend that builds state from a model's
structure keeps it in a :class:`PlanCache`, never in the model's ``__dict__``; every seed becomes a
``torch.Generator`` through :func:`make_generator`; every long loop shows progress through
:func:`progress_bar`; every sum, mean, gather or broadcast over processes goes through
:mod:`graphdgm.runtime.distributed`.
"""
from graphdgm.runtime.distributed import (
    all_gather_cat,
    all_reduce_grads_,
    all_reduce_mean_,
    all_reduce_sum_,
    broadcast_,
    is_distributed,
    rank_and_world,
    rank_seed,
)
from graphdgm.runtime.files import atomic_write, atomic_write_bytes, atomic_write_text, safe_torch_load, torch_save_atomic
from graphdgm.runtime.plans import PlanCache
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import make_generator, seeded_global_rng

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "safe_torch_load", "torch_save_atomic", "PlanCache",
           "make_generator", "seeded_global_rng", "progress_bar", "all_gather_cat", "all_reduce_grads_", "all_reduce_mean_", "all_reduce_sum_",
           "broadcast_", "is_distributed", "rank_and_world", "rank_seed"]
