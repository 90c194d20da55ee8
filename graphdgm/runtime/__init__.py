"""Cross-cutting chores in one place: atomic file writes, safe loads, structure-keyed plan caches.

Everything in graphdgm that writes a file goes through :func:`atomic_write`; everything that reads
a torch file goes through :func:`safe_torch_load`; every backend that builds state from a model's
structure keeps it in a :class:`PlanCache`, never in the model's ``__dict__``.
"""
from graphdgm.runtime.files import atomic_write, atomic_write_bytes, atomic_write_text, safe_torch_load, torch_save_atomic
from graphdgm.runtime.plans import PlanCache

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "safe_torch_load", "torch_save_atomic", "PlanCache"]
