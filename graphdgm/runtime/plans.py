"""Structure-keyed plan caches: state a backend builds once per model structure and query shape.

A :class:`PlanCache` maps ``(model, key) -> plan``. Models are held weakly (a dropped model frees
its plans), plans are built outside the lock and published atomically, so threads that share a
model share its plans safely; a plan must not depend on values that can change under the same key
(evidence values, parameters): those are passed when the plan runs.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PlanCache(Generic[T]):
    """A thread-safe, bounded, least-recently-used cache of plans per model.

    >>> import torch
    >>> cache = PlanCache(max_per_model=2)
    >>> m = torch.nn.Linear(1, 1)
    >>> cache.get(m, "a", lambda: [1]) is cache.get(m, "a", lambda: [2])
    True
    """

    def __init__(self, max_per_model: int = 64) -> None:
        self.max_per_model = int(max_per_model)
        self._lock = threading.Lock()
        self._store: weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, T]] = weakref.WeakKeyDictionary()

    def get(self, model: Any, key: Hashable, build: Callable[[], T]) -> T:
        """The plan for ``(model, key)``, built by ``build()`` the first time (outside the lock:
        two threads may both build it; one result is kept and both are valid)."""
        with self._lock:
            plans = self._store.get(model)
            if plans is not None and key in plans:
                plans.move_to_end(key)
                return plans[key]
        plan = build()
        with self._lock:
            plans = self._store.setdefault(model, OrderedDict())
            if key in plans:  # another thread published first: share its plan
                return plans[key]
            plans[key] = plan
            while len(plans) > self.max_per_model:
                plans.popitem(last=False)
        return plan

    def clear(self, model: Any | None = None) -> None:
        """Forget the plans of ``model`` (of every model when None)."""
        with self._lock:
            if model is None:
                self._store.clear()
            else:
                self._store.pop(model, None)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(p) for p in self._store.values())
