"""The objective registry ``gd.fit`` looks training methods up in, like the backend registry of
:mod:`graphdgm.infer.registry`.

An :class:`Objective` declares what a model must have (``requires``: capabilities), the models it
is for in words (``models``, for error messages), the function that trains (``runner(model, data,
**options)``) and its options as a frozen dataclass (field name, type hint, default). Several
objectives may share a name ("mle" for a Bayesian network, a Markov chain, an autoregressive
model): :func:`resolve` picks the first registered one that applies to the model.

A third-party objective in a few lines::

    @dataclass(frozen=True)
    class MomentOptions:
        epochs: int = 1
        progress: bool | None = None

    def fit_moments(model, data, *, epochs=1, progress=None): ...

    register_objective("moments", Objective(fit_moments, MomentOptions, requires=frozenset({"energy"}),
                                            models="an energy model (moment matching)"))
    gd.fit(model, data, method="moments", epochs=3)
"""
from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphdgm.errors import CapabilityError, GraphdgmError, SpecError

Requirement = frozenset[str] | Callable[[frozenset[str]], bool]

# Universal: display only, never changes a result, so scripts may pass it to every method.
UNIVERSAL_OPTIONS = ("progress",)


@dataclass(frozen=True)
class Objective:
    """A training method: ``runner(model, data, **fields of options)`` trains ``model`` in place and
    returns a :class:`~graphdgm.learn.History`; ``options`` is a frozen dataclass whose fields are
    the method's options and defaults; ``requires`` is a set of capabilities the model must have
    (or, where an "and not" is needed, a predicate on the model's capabilities).

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class NoOptions:
    ...     progress: bool | None = None
    >>> o = Objective(lambda model, data, progress=None: None, NoOptions, requires=frozenset({"energy"}))
    >>> o.applies(frozenset({"energy", "discrete"})), o.option_names
    (True, ('progress',))
    """

    runner: Callable[..., Any]
    options: type
    requires: Requirement = frozenset()
    models: str = "models with the capabilities it requires"

    def __post_init__(self) -> None:
        if not callable(self.runner):
            raise SpecError(f"an objective's runner must be a function runner(model, data, **options); got {self.runner!r}")
        if not (isinstance(self.options, type) and dataclasses.is_dataclass(self.options)):
            raise SpecError(f"an objective's options must be a dataclass type (its fields are the options); got "
                            f"{self.options!r}: declare @dataclass(frozen=True) class MyOptions: epochs: int = 10")
        if isinstance(self.requires, (set, frozenset)):
            object.__setattr__(self, "requires", frozenset(self.requires))
        elif not callable(self.requires):
            raise SpecError(f"requires must be a set of capabilities or a predicate on them; got {self.requires!r}")

    def applies(self, capabilities: frozenset[str]) -> bool:
        """Whether a model with these capabilities can be trained by this objective."""
        if isinstance(self.requires, frozenset):
            return self.requires <= capabilities
        return bool(self.requires(capabilities))

    @property
    def option_names(self) -> tuple[str, ...]:
        """The option names this objective accepts, in its dataclass's order."""
        return tuple(f.name for f in dataclasses.fields(self.options))

    def defaults(self) -> dict[str, Any]:
        """Each option's default (``MISSING`` where the dataclass gives none)."""
        return {f.name: (f.default if f.default is not dataclasses.MISSING else
                         f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
                for f in dataclasses.fields(self.options)}


@dataclass(frozen=True)
class RegisteredObjective:
    """One registry entry: the name (and aliases) ``fit(method=...)`` takes, and its objective."""

    name: str
    aliases: tuple[str, ...]
    objective: Objective

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by its aliases: every value of ``fit(method=...)`` that selects this entry."""
        return (self.name, *self.aliases)


_REGISTRY: list[RegisteredObjective] = []  # in registration order: the first that applies is a model's default

# Models no registered objective trains, and what to do instead (keyed by capability).
ADVICE: dict[str, str] = {}


def register_objective(name: str, objective: Objective, *, aliases: tuple[str, ...] = (), overwrite: bool = False) -> None:
    """Make ``objective`` available as ``gd.fit(model, data, method=name)`` (or any of ``aliases``).

    A name may hold several objectives for different models; the first registered one that applies
    to a model is used, so a new objective under a shared name serves the models the earlier ones
    do not. Registering under a name an objective with the same ``requires`` is an error unless
    ``overwrite=True``, which replaces it in place.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Opts:
    ...     progress: bool | None = None
    >>> register_objective("noop", Objective(lambda m, d, progress=None: None, Opts, frozenset({"energy"})))
    >>> "noop" in available_objectives()
    True
    >>> unregister_objective("noop")
    """
    if not isinstance(name, str) or not name:
        raise SpecError(f"an objective's name must be a non-empty string; got {name!r}")
    if not isinstance(objective, Objective):
        raise SpecError(f"register_objective takes an Objective(runner, options, requires, models); got {objective!r}")
    entry = RegisteredObjective(name, tuple(aliases), objective)
    for i, old in enumerate(_REGISTRY):
        if set(old.names) & set(entry.names) and old.objective.requires == objective.requires:
            if not overwrite:
                raise GraphdgmError(f"an objective named {name!r} for the same models ({old.objective.models}) is "
                                    f"already registered; pass overwrite=True to replace it")
            _REGISTRY[i] = entry
            return
    _REGISTRY.append(entry)


def unregister_objective(name: str, objective: Objective | None = None) -> None:
    """Remove the objectives registered as ``name`` (only ``objective`` when given); no error if none."""
    _REGISTRY[:] = [e for e in _REGISTRY if e.name != name or (objective is not None and e.objective is not objective)]


def available_objectives() -> list[str]:
    """Every name ``gd.fit(method=...)`` accepts (names and aliases), sorted.

    >>> {"pcd", "cd", "mle", "baum_welch"} <= set(available_objectives())
    True
    """
    return sorted({n for e in _REGISTRY for n in e.names})


def registered_objectives() -> tuple[RegisteredObjective, ...]:
    """The registry's entries in resolution order."""
    return tuple(_REGISTRY)


def _capabilities(model: Any) -> frozenset[str]:
    caps = getattr(model, "capabilities", None)
    if caps is None or not hasattr(model, "parameters"):
        raise CapabilityError(f"fit trains a compiled model; got a {type(model).__name__}. Compile it first: "
                              f"model = gd.compile(spec)")
    return frozenset(caps)


def methods_for(model: Any) -> list[str]:
    """The training methods that apply to ``model``, its default first.

    >>> import graphdgm as gd
    >>> methods_for(gd.compile(gd.RBM(4, 2)))
    ['pcd', 'cd']
    """
    caps = _capabilities(model)
    return [e.name for e in _REGISTRY if e.objective.applies(caps)]


def _needs(objective: Objective, caps: frozenset[str]) -> str:
    if isinstance(objective.requires, frozenset):
        return f", needs capabilities {sorted(objective.requires - caps)}"
    return ""


def resolve(model: Any, method: str | None) -> RegisteredObjective:
    """The registry entry for ``method`` on ``model`` (its default when None), or a
    :class:`CapabilityError` that names the methods this model has."""
    caps = _capabilities(model)
    mine = [e for e in _REGISTRY if e.objective.applies(caps)]
    kind = type(model).__name__
    advice = "; ".join(text for cap, text in ADVICE.items() if cap in caps)
    if method is None:
        if not mine:
            raise CapabilityError(f"gd.fit has no training method for a {kind}" + (f": {advice}" if advice else ""))
        return mine[0]
    if not isinstance(method, str):
        raise SpecError(f"method must be a method name such as {mine[0].name if mine else 'pcd'!r}, got {method!r}")
    names = available_objectives()
    if method not in names:
        close = difflib.get_close_matches(method, names, n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise SpecError(f"unknown training method {method!r}.{hint} Methods: {', '.join(names)}")
    for e in mine:
        if method in e.names:
            return e
    where = "; ".join(f"{e.name!r} trains {e.objective.models}{_needs(e.objective, caps)}"
                      for e in _REGISTRY if method in e.names)
    has = ", ".join(repr(e.name) for e in mine)
    raise CapabilityError(f"method {method!r} does not apply to a {kind} ({where}). "
                          + (f"A {kind} trains by {has}: gd.fit(model, data, method={mine[0].name!r})" if mine else advice))


def check_options(model: Any, method: RegisteredObjective, options: Mapping[str, Any]) -> Any:
    """The method's options dataclass built from ``options``, or a :class:`SpecError` naming each
    option it does not have (with a close spelling, or the methods that do have it) and listing
    its options. ``progress`` is accepted by every method. An option of some other method given
    as None means "not given" (wrappers pass ``chains=None``), and None for an option whose
    default is not None means its default; a name no method knows is an error whatever its value."""
    accepted = method.objective.option_names
    known_somewhere = {o for e in _REGISTRY for o in e.objective.option_names}
    unknown = [k for k, v in options.items() if k not in accepted and k not in UNIVERSAL_OPTIONS
               and not (v is None and k in known_somewhere)]  # None for another method's option: "not given"
    if unknown:
        notes = []
        for k in unknown:
            close = difflib.get_close_matches(k, accepted, n=1)
            users = [e.name for e in _REGISTRY if k in e.objective.option_names]
            if close:
                notes.append(f"{k!r} (did you mean {close[0]!r}?)")
            elif users:
                notes.append(f"{k!r} (an option of {', '.join(repr(n) for n in dict.fromkeys(users))}, not of this method)")
            else:
                elsewhere = difflib.get_close_matches(k, sorted(known_somewhere), n=1)
                notes.append(f"{k!r}" + (f" (did you mean {elsewhere[0]!r}? that is not an option of this method "
                                         f"either)" if elsewhere else ""))
        raise SpecError(f"unknown option(s) for fit(method={method.name!r}) on a {type(model).__name__}: "
                        f"{', '.join(notes)}. Its options are: {', '.join(accepted)}")
    defaults = method.objective.defaults()
    given = {k: v for k, v in options.items() if k in accepted and not (v is None and defaults.get(k) is not None)}
    missing = [k for k, d in defaults.items() if d is dataclasses.MISSING and k not in given]
    if missing:
        raise SpecError(f"fit(method={method.name!r}) needs option(s) {', '.join(map(repr, missing))}; "
                        f"pass them as gd.fit(model, data, method={method.name!r}, {missing[0]}=...)")
    return method.objective.options(**given)


def run(model: Any, data: Any, method: RegisteredObjective, options: Any) -> Any:
    """Call the method's runner with the fields of its options dataclass ``options``."""
    kwargs = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    return method.objective.runner(model, data, **kwargs)


__all__ = ["ADVICE", "Objective", "RegisteredObjective", "available_objectives", "check_options", "methods_for",
           "register_objective", "registered_objectives", "resolve", "run", "unregister_objective"]
