"""The backend protocol and registry (extensible through the ``graphdgm.backends`` entry point)."""
from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

import torch

from graphdgm.errors import CapabilityError, GraphdgmError, SpecError


@runtime_checkable
class Backend(Protocol):
    """What an inference backend provides. Methods it cannot answer raise ``CapabilityError``.

    Indices are packed variable positions and state indices; the top-level API does names/labels.

    - ``marginals(model, variables, evidence)`` -> list of 1-D probability tensors, one per variable
    - ``joint(model, variables, evidence)`` -> one tensor with one axis per variable
    - ``map(model, evidence, variables)`` -> (state (n,) long, log score)
    - ``log_partition(model, evidence)`` -> 0-d tensor

    A minimal third-party backend::

        class Uniform:
            name = "uniform"; requires = frozenset({"discrete"}); approximate = True
            def marginals(self, model, variables, evidence):
                return [torch.full((int(model.cards[v]),), 1 / int(model.cards[v])) for v in variables]

    registered with ``graphdgm.infer.register_backend("uniform", Uniform)`` or, from a package,
    an entry point ``[project.entry-points."graphdgm.backends"] uniform = "pkg.mod:Uniform"``.
    """

    name: str
    requires: frozenset[str]
    approximate: bool


_REGISTRY: dict[str, Callable[..., Any]] = {}
_ENTRY_POINTS_LOADED = False
# Built-in backends whose modules the package does not import eagerly (they import the samplers,
# which import this module): registered on the first lookup, before third-party entry points.
_LAZY_BUILTINS: dict[str, tuple[str, str]] = {"graph_ais": ("graphdgm.infer.graph_ais", "GraphAIS")}


def register_backend(name: str, factory: Callable[..., Any], *, overwrite: bool = False) -> None:
    """Make ``factory`` (a class or callable returning a backend) available under ``name``.

    >>> class Fake:
    ...     name, requires, approximate = "fake", frozenset(), True
    >>> register_backend("fake", Fake)
    >>> type(get_backend("fake")).__name__
    'Fake'
    >>> unregister_backend("fake")
    """
    if name in _REGISTRY and not overwrite:
        raise GraphdgmError(f"a backend named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def unregister_backend(name: str) -> None:
    """Remove the backend registered under ``name``; a name that is not registered is ignored."""
    _REGISTRY.pop(name, None)


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for name, (module, attr) in _LAZY_BUILTINS.items():
        if name not in _REGISTRY:
            _REGISTRY[name] = getattr(importlib.import_module(module), attr)
    for ep in metadata.entry_points(group="graphdgm.backends"):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load


def available_backends() -> list[str]:
    """Names of all registered backends (built-in and from entry points)."""
    _load_entry_points()
    return sorted(_REGISTRY)


def get_backend(backend: Any, **options: Any) -> Any:
    """A backend instance from a name (looked up in the registry), a backend class (instantiated
    with ``options``) or an instance (returned as is).

    >>> type(get_backend("exact")).__name__, type(get_backend(type(get_backend("exact")))).__name__
    ('Exact', 'Exact')
    """
    if isinstance(backend, str):
        _load_entry_points()
        factory = _REGISTRY.get(backend)
        if factory is None:
            close = difflib.get_close_matches(backend, available_backends(), n=2)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise SpecError(f"unknown backend {backend!r}.{hint} Registered backends: {available_backends()}")
        if factory.__class__.__name__ == "method" and getattr(factory, "__name__", "") == "load":
            factory = factory()  # an entry point: load it now
            _REGISTRY[backend] = factory
        return factory(**options)
    if isinstance(backend, type):  # gd.infer.Exact rather than gd.infer.Exact(): use its defaults
        try:
            return backend(**options)
        except TypeError as e:
            raise SpecError(f"backend class {backend.__name__} could not be created with options {sorted(options)}: {e}; "
                            f"pass an instance, e.g. backend={backend.__name__}(...)") from None
    if options:
        raise SpecError("options are for a backend given by name; configure an instance directly instead")
    if not hasattr(backend, "requires") and not any(callable(getattr(backend, m, None)) for m in ("marginals", "joint", "map", "log_partition")):
        raise SpecError(f"backend={backend!r} is neither a backend name ({', '.join(available_backends())}) nor a "
                        "backend instance (an object with `requires` and marginals / joint / map / log_partition methods)")
    return backend


def check_capabilities(backend: Any, model: torch.nn.Module) -> None:
    """Raise ``CapabilityError`` naming what is missing and which registered backends would work."""
    have = getattr(model, "capabilities", frozenset())
    missing = set(getattr(backend, "requires", ())) - set(have)
    if not missing:
        return
    fits = []
    for name in available_backends():
        try:
            req = getattr(_REGISTRY[name], "requires", None)
        except Exception:  # noqa: BLE001 - a broken third-party backend must not hide the real error
            req = None
        if req is not None and set(req) <= set(have):
            fits.append(name)
    raise CapabilityError(
        f"backend {getattr(backend, 'name', backend)!r} needs {sorted(missing)}, which a "
        f"{type(model).__name__} does not provide (it has {sorted(have)}); backends that fit: {fits or 'none registered'}"
    )


def approximate_backends(model: torch.nn.Module | None = None) -> list[str]:
    """Registered backends that declare ``approximate = True`` (for 'too wide for exact' errors),
    only those whose required capabilities ``model`` has when a model is given."""
    have = None if model is None else set(getattr(model, "capabilities", ()))
    out = []
    for n in available_backends():
        factory = _REGISTRY[n]
        if not getattr(factory, "approximate", False):
            continue
        if have is not None and not set(getattr(factory, "requires", ())) <= have:
            continue
        out.append(n)
    return out


def backends_answering(method: str, model: torch.nn.Module) -> list[str]:
    """Registered backends whose class defines ``method`` and whose requirements ``model`` meets."""
    have = set(getattr(model, "capabilities", ()))
    out = []
    for n in available_backends():
        factory = _REGISTRY[n]
        if isinstance(factory, type) and callable(getattr(factory, method, None)) and set(getattr(factory, "requires", ())) <= have:
            out.append(n)
    return out
