"""The query API shared by every backend: ``query``, ``map_query``, ``log_partition``."""
from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.registry import backends_answering, check_capabilities, get_backend
from graphdgm.spec.validate import positive_int
from graphdgm.infer.results import ContinuousMarginal, DiscreteMarginal, JointDistribution, MAPResult, Marginals


def _model(model: Any) -> torch.nn.Module:
    if isinstance(model, torch.nn.Module):
        return model
    from graphdgm.compiler import compile

    return compile(model)  # a spec: compile it on the fly


def _queryable(model: torch.nn.Module) -> torch.nn.Module:
    """A model whose variables have names and states: what query, map_query and log_partition ask."""
    if hasattr(model, "encode_evidence"):
        return model
    caps = getattr(model, "capabilities", frozenset())
    if "implicit" in caps:
        raise CapabilityError("a GAN has no likelihood, so it answers no marginal, MAP or log Z queries; draw "
                              "samples with gd.sample(gan, n) and score them with gd.infer.mode_coverage / kernel_mmd")
    if "emission" in caps:
        raise CapabilityError("an HMM answers through its own methods: model.forward_backward(obs) for posterior "
                              "marginals, model.viterbi(obs) for the MAP path, model.log_prob(obs); or spec.unroll(T) "
                              "gives a BayesianNetwork for gd.query")
    if "time_tied" in caps:
        raise CapabilityError("a Markov chain answers through its own methods: model.distribution(n, initial), "
                              "model.stationary(), model.structure(); or spec.unroll(T) gives a BayesianNetwork for gd.query")
    raise CapabilityError(f"a {type(model).__name__} has no named variables to query")


def _backend_method(backend: Any, method: str, model: torch.nn.Module) -> Any:
    if isinstance(backend, str) and backend == "exact":
        backend = getattr(model, "exact_backend", "exact")  # e.g. analytic for Gaussian networks
    b = get_backend(backend)
    check_capabilities(b, model)
    fn = getattr(b, method, None)
    if fn is None:
        others = [n for n in backends_answering(method, model) if n != getattr(b, "name", None)]
        hint = (f"backends that answer it for a {type(model).__name__}: {', '.join(repr(n) for n in others)}"
                if others else f"no registered backend answers {method} for a {type(model).__name__}")
        raise CapabilityError(f"backend {getattr(b, 'name', b)!r} does not answer {method} ({_QUESTION[method]}); {hint}")
    return fn


def _diagnostics(fn: Any) -> Any:
    """The run's :class:`~graphdgm.infer.diagnostics.Diagnostics` when the answering backend is
    approximate (it sets ``diagnostics`` after each run); None for exact backends."""
    backend = getattr(fn, "__self__", None)
    return getattr(backend, "diagnostics", None) if getattr(backend, "approximate", False) else None


_QUESTION = {"marginals": "marginal queries", "joint": "joint queries (joint=True)", "map": "MAP queries",
             "log_partition": "log-partition queries"}


def query(
    model: Any,
    variables: Sequence[str] | str | None = None,
    evidence: dict[str, Any] | None = None,
    *,
    backend: Any = "exact",
    joint: bool = False,
) -> Marginals | JointDistribution:
    """Marginals p(variables | evidence): one per variable, or their joint with ``joint=True``.

    ``variables`` are names such as ``"x[3,4]"`` (a block name means all its variables; ``None``
    means every variable); ``evidence`` maps names to state labels (real values for a continuous
    model, whose marginals are :class:`ContinuousMarginal` summaries: mean, std, samples).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1))
    >>> m = gd.query(model, ["x[1,1]"], evidence={"x[0,0]": 1})
    >>> round(m["x[1,1]"][1], 4)
    0.7951
    """
    model = _queryable(_model(model))
    idx = list(range(model.num_variables)) if variables is None else model.resolve(variables)
    ev = model.encode_evidence(evidence)
    if _is_continuous(model):
        return _continuous_marginals(model, idx, ev, backend, joint)
    if joint:
        fn = _backend_method(backend, "joint", model)
        probs = fn(model, idx, ev)
        return JointDistribution(
            tuple(model.variables[i] for i in idx), tuple(model.state_labels(i) for i in idx), probs, _diagnostics(fn)
        )
    fn = _backend_method(backend, "marginals", model)
    probs = fn(model, idx, ev)
    return Marginals([DiscreteMarginal(model.variables[i], model.state_labels(i), p) for i, p in zip(idx, probs)],
                     _diagnostics(fn))


def map_query(
    model: Any,
    *args: Any,
    variables: Sequence[str] | str | None = None,
    evidence: dict[str, Any] | None = None,
    backend: Any = "exact",
) -> MAPResult:
    """The most probable assignment given ``evidence``, or with ``variables`` the marginal MAP over
    them (the other free variables summed out). Called like :func:`query`:
    ``map_query(model, variables=None, evidence=None, *, backend="exact")``.

    ``variables`` are names (a block name means all its variables; ``None`` means a MAP over every
    free variable); ``evidence`` maps names to state labels (real values for a continuous model).
    The assignment holds the maximised and the evidence variables.

    Older code passed evidence second, ``map_query(model, {"a": 1})``: a dict given positionally
    as ``variables`` is still taken as evidence, with a ``FutureWarning``; write ``evidence=``.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.5, field=0.1))
    >>> gd.map_query(model).assignment["x[0,0]"]
    1
    >>> gd.map_query(model, ["x[0,0]"], {"x[1,1]": -1}).assignment
    {'x[0,0]': -1, 'x[1,1]': -1}
    """
    variables, evidence = _map_arguments(args, variables, evidence)
    model = _queryable(_model(model))
    ev = model.encode_evidence(evidence)
    idx = None if variables is None else model.resolve(variables)
    fn = _backend_method(backend, "map", model)
    state, score = fn(model, ev, idx)
    names = range(model.num_variables) if idx is None else sorted(set(idx) | set(ev))
    if _is_continuous(model):
        assignment = {model.variables[i]: float(state[i]) for i in names}
    else:
        assignment = {model.variables[i]: model.state_labels(i)[int(state[i])] for i in names}
    return MAPResult(assignment, state, float(score), _diagnostics(fn))


_UNSET = object()


def _map_arguments(args: tuple[Any, ...], variables: Any, evidence: Any) -> tuple[Any, Any]:
    """``map_query``'s positional arguments ``(variables, evidence)`` merged with its keywords; a
    dict in the ``variables`` place is evidence in the old order (FutureWarning)."""
    if len(args) > 2:
        raise SpecError(f"map_query(model, variables=None, evidence=None, *, backend=...) takes at most 2 positional "
                        f"arguments after the model, got {len(args)}")
    pos_vars = args[0] if len(args) >= 1 else _UNSET
    pos_ev = args[1] if len(args) == 2 else _UNSET
    if pos_vars is not _UNSET and pos_vars is not None and not _names_like(pos_vars):
        # the old order, map_query(model, evidence, variables=...): a dict (or anything that is no
        # list of names) in the variables place is evidence, as it was
        warnings.warn("map_query(model, evidence) with evidence second is deprecated: map_query now takes "
                      "(model, variables=None, evidence=None) like query; write map_query(model, evidence={...})",
                      FutureWarning, stacklevel=3)
        if pos_ev is not _UNSET or evidence is not None:
            raise SpecError("map_query got evidence twice: a dict in the variables place (the old order) and evidence; "
                            "pass evidence=... once")
        return variables, pos_vars
    if pos_vars is not _UNSET:
        if variables is not None:
            raise SpecError("map_query got variables twice (positionally and as variables=...); pass them once")
        variables = pos_vars
    if pos_ev is not _UNSET:
        if evidence is not None:
            raise SpecError("map_query got evidence twice (positionally and as evidence=...); pass it once")
        evidence = pos_ev
    return variables, evidence


def _names_like(x: Any) -> bool:
    """Whether ``x`` can be a ``variables`` argument: a name, or a list (tuple, set, array,
    iterator) of names; a dict, a tensor or a number cannot."""
    if isinstance(x, Mapping) or torch.is_tensor(x):
        return False
    return isinstance(x, (str, list, tuple, set, frozenset, np.ndarray, Iterator))


def _is_continuous(model: torch.nn.Module) -> bool:
    return "continuous" in getattr(model, "capabilities", frozenset())


def _continuous_marginals(model: torch.nn.Module, idx: list[int], ev: dict[int, float], backend: Any, joint: bool) -> Marginals:
    """A continuous model's backend returns :class:`ContinuousMarginal` objects; pass them through."""
    if joint:
        raise CapabilityError(
            "joint=True gives a table over discrete states; a continuous model has none. "
            "For a Gaussian network read model.mean(evidence) and model.covariance(evidence)"
        )
    fn = _backend_method(backend, "marginals", model)
    items = list(fn(model, idx, ev))
    if len(items) != len(idx) or not all(isinstance(m, ContinuousMarginal) for m in items):
        raise CapabilityError(
            f"backend {getattr(backend, 'name', backend)!r} returned {type(items[0]).__name__ if items else 'nothing'} "
            f"for a continuous model; it must return one ContinuousMarginal per queried variable ({len(idx)})"
        )
    return Marginals(items, _diagnostics(fn))


def log_partition(model: Any, evidence: dict[str, Any] | None = None, *, backend: Any = "exact") -> torch.Tensor:
    """log Z = log Σ_x Π φ(x), or with evidence log Σ over the states that agree with it.

    The exact backend's answer is differentiable in the model's parameters.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(1, 2, coupling=0.5))
    >>> round(float(gd.log_partition(model)), 6)  # log(2e^0.5 + 2e^-0.5)
    1.506409
    """
    model = _queryable(_model(model))
    ev = model.encode_evidence(evidence)
    fn = _backend_method(backend, "log_partition", model)
    return fn(model, ev)


def sample(model: Any, n: int, *, evidence: dict[str, Any] | None = None, **options: Any) -> torch.Tensor:
    """``n`` samples from a generative model (RBM, DBN, ...) with optional evidence clamped;
    ``options`` (``steps``, ``seed``, ...) go to the model's own ``sample``.

    >>> import graphdgm as gd
    >>> gd.sample(gd.compile(gd.RBM(6, 4)), 3, steps=5).shape
    torch.Size([3, 6])
    """
    n = positive_int(n, "n (the number of samples)")
    model = _model(model)
    fn = getattr(model, "sample", None)
    if fn is None:
        raise CapabilityError(f"a {type(model).__name__} has no sampler of its own; for a Markov network use "
                              "graphdgm.infer.mcmc.sample_chains(model, BlockGibbs(), ...)")
    return fn(n, evidence=evidence, **options)


def inpaint(model: Any, x: Any, known: Any, *, seed: int | torch.Generator = 0, **options: Any) -> torch.Tensor:
    """Fill in the unknown entries of ``x`` (B, D) given the ``known`` mask ((D,) or (B, D)): a draw
    from p(x_unknown | x_known) for every row, by the model's own conditional sampler (exact
    ancestral passes for prefix evidence in autoregressive models, else their independence MH
    chain; block Gibbs for RBMs and DBNs). ``options`` (``steps``, ...) go to that sampler.

    >>> import torch, graphdgm as gd
    >>> made = gd.compile(gd.MADE(6, hidden=[12]))
    >>> known = torch.tensor([True, True, True, False, False, False])
    >>> filled = gd.inpaint(made, torch.ones(4, 6), known)
    >>> filled.shape, bool((filled[:, :3] == 1).all())
    (torch.Size([4, 6]), True)
    """
    model = _model(model)
    fn = getattr(model, "inpaint", None)
    if fn is None:
        raise CapabilityError(f"a {type(model).__name__} has no conditional sampler for inpainting; autoregressive "
                              f"models, RBMs and DBNs inpaint, and gd.sample(model, n, evidence=...) conditions on "
                              f"evidence shared by every sample")
    return fn(x, known, seed=seed, **options)
