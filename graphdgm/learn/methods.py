"""The table of training methods ``gd.fit`` chooses from: for each method, the models it applies
to (by capability), the function that runs it, and so the options it accepts (that function's
keyword arguments). ``fit`` looks a method up here, checks it applies, and rejects every option
the method does not use, instead of ignoring it.

The first method in :data:`METHODS` that applies to a model is its default: counting for a
Bayesian network or a Markov chain, Baum-Welch for an HMM, gradient maximum likelihood for an
autoregressive model, adversarial training for a GAN, PCD for an RBM or a Markov network.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphdgm.errors import CapabilityError, SpecError


def _energy_model(caps: frozenset[str]) -> bool:
    """CD/PCD applies to an undirected energy model with a sampler for its negative phase; not to
    a Bayesian network, whose factors are normalised CPTs that energy training would break."""
    return ("free_energy" in caps or {"energy", "conditionals"} <= caps) and "bayesian_network" not in caps


@dataclass(frozen=True)
class TrainingMethod:
    """One row of the table: ``name`` (and ``aliases``), which models it applies to (``applies``
    on a model's capabilities, ``models`` in words), and ``runner(model, data, **options)``; the
    keyword arguments in ``fixed`` are the method's own, not the user's."""

    name: str
    models: str
    applies: Callable[[frozenset[str]], bool]
    runner: Callable[[], Callable[..., Any]]  # imported lazily: learn/ modules import each other
    fixed: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        """The option names this method accepts, in the runner's order."""
        params = list(inspect.signature(self.runner()).parameters.values())[2:]  # after (model, data)
        return tuple(p.name for p in params if p.name not in self.fixed and p.kind is not p.VAR_KEYWORD)


def _run_cd():
    from graphdgm.learn.contrastive_training import fit_contrastive
    return fit_contrastive


def _run_mle():
    from graphdgm.learn.maximum_likelihood import fit_mle
    return fit_mle


def _run_tables():
    from graphdgm.learn.counting import fit_tables_by_counting
    return fit_tables_by_counting


def _run_chain():
    from graphdgm.learn.counting import fit_chain_by_counting
    return fit_chain_by_counting


def _run_baum_welch():
    from graphdgm.learn.baum_welch import baum_welch
    return baum_welch


def _run_adversarial():
    from graphdgm.learn.adversarial import fit_adversarial
    return fit_adversarial


METHODS: tuple[TrainingMethod, ...] = (
    TrainingMethod("mle", "a Bayesian network (CPTs from counts)", lambda c: "bayesian_network" in c, _run_tables),
    TrainingMethod("mle", "a Markov chain (transitions from counts)", lambda c: "markov_chain" in c, _run_chain),
    TrainingMethod("baum_welch", "a hidden Markov model (EM)", lambda c: "hmm" in c, _run_baum_welch, aliases=("em",)),
    TrainingMethod("mle", "an autoregressive model (NADE, MADE, PixelCNN, PixelRNN; gradient ascent on log p)",
                   lambda c: "autoregressive" in c, _run_mle),
    TrainingMethod("adversarial", "a GAN", lambda c: "gan" in c, _run_adversarial, aliases=("gan",)),
    TrainingMethod("pcd", "an RBM or an undirected Markov network (persistent contrastive divergence)", _energy_model,
                   _run_cd, fixed={"persistent": True}),
    TrainingMethod("cd", "an RBM or an undirected Markov network (contrastive divergence)", _energy_model, _run_cd,
                   fixed={"persistent": False, "chains": None}),
)

# Universal: display only, never changes a result, so scripts may pass it to every method.
UNIVERSAL_OPTIONS = ("progress",)

# Models no single method trains, and what to do instead (keyed by capability).
ADVICE = {"dbn": "a deep belief network trains layer by layer: gd.learn.fit_layerwise(dbn, data, method='pcd')"}


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
    return [m.name for m in METHODS if m.applies(caps)]


def resolve(model: Any, method: str | None) -> TrainingMethod:
    """The table row for ``method`` on ``model`` (its default when None), or a
    :class:`CapabilityError` that names the methods this model has."""
    caps = _capabilities(model)
    mine = [m for m in METHODS if m.applies(caps)]
    kind = type(model).__name__
    advice = "; ".join(text for cap, text in ADVICE.items() if cap in caps)
    if method is None:
        if not mine:
            raise CapabilityError(f"gd.fit has no training method for a {kind}" + (f": {advice}" if advice else ""))
        return mine[0]
    if not isinstance(method, str):
        raise SpecError(f"method must be a method name such as {mine[0].name if mine else 'pcd'!r}, got {method!r}")
    names = sorted({n for m in METHODS for n in (m.name, *m.aliases)})
    if method not in names:
        close = difflib.get_close_matches(method, names, n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise SpecError(f"unknown training method {method!r}.{hint} Methods: {', '.join(names)}")
    for m in mine:
        if method in (m.name, *m.aliases):
            return m
    where = "; ".join(f"{m.name!r} trains {m.models}" for m in METHODS if method in (m.name, *m.aliases))
    has = ", ".join(repr(m.name) for m in mine)
    raise CapabilityError(f"method {method!r} does not apply to a {kind} ({where}). "
                          + (f"A {kind} trains by {has}: gd.fit(model, data, method={mine[0].name!r})" if mine else advice))


def check_options(model: Any, method: TrainingMethod, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` if ``method`` uses every one of them, else a :class:`SpecError` naming each
    unused option (with a close spelling, or the methods that do use it) and listing the method's
    options. An option of some other method given as None means "not given" (wrappers pass
    ``chains=None``); a name no method knows is an error whatever its value. Returns the options
    to pass to the runner (None: the runner's default)."""
    accepted = method.options
    known_somewhere = {o for m in METHODS for o in m.options}
    unknown = [k for k, v in options.items() if k not in accepted and k not in UNIVERSAL_OPTIONS
               and not (v is None and k in known_somewhere)]  # None for another method's option: "not given"
    if unknown:
        every = {o: [m.name for m in METHODS if o in m.options] for o in unknown}
        notes = []
        for k in unknown:
            close = difflib.get_close_matches(k, accepted, n=1)
            if close:
                notes.append(f"{k!r} (did you mean {close[0]!r}?)")
            elif every[k]:
                notes.append(f"{k!r} (an option of {', '.join(repr(n) for n in dict.fromkeys(every[k]))}, not of this method)")
            else:
                elsewhere = difflib.get_close_matches(k, sorted({o for m in METHODS for o in m.options}), n=1)
                notes.append(f"{k!r}" + (f" (did you mean {elsewhere[0]!r}? that is not an option of this method "
                                         f"either)" if elsewhere else ""))
        raise SpecError(f"unknown option(s) for fit(method={method.name!r}) on a {type(model).__name__}: "
                        f"{', '.join(notes)}. Its options are: {', '.join(accepted)}")
    defaults = {p.name: p.default for p in inspect.signature(method.runner()).parameters.values()}
    return {k: v for k, v in options.items() if k in accepted and not (v is None and defaults.get(k) is not None)}


__all__ = ["ADVICE", "METHODS", "TrainingMethod", "check_options", "methods_for", "resolve"]
