"""Methods that algorithms attach to compiled models, chosen by capability.

A compiled model holds structure and parameters; the algorithms that answer questions about it
(forward-backward, ancestral sampling, chain linear algebra, ...) live in ``infer/`` and
``learn/``, one per file. So that ``model.viterbi(obs)`` keeps working without the compiler
importing those packages, an algorithm registers itself here under a method name with the
capabilities it needs (the accessor pattern of pandas and xarray)::

    @model_method("viterbi", requires={"emission"})
    def viterbi(model, obs, lengths=None): ...

Every compiled model derives from :class:`CompiledModel`. Looking up ``model.viterbi`` finds the
first registered implementation whose requirements the model's ``capabilities`` meet, and binds
it to the model; a model without them has no such attribute (``hasattr`` is False). A compiled
class that defines a method of the same name itself keeps its own.

>>> import graphdgm as gd
>>> hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
>>> hasattr(hmm, "viterbi"), hasattr(gd.compile(gd.MarkovNetwork.ising_grid(2, 2)), "viterbi")
(True, False)
"""
from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Any

from torch import nn

_REGISTRY: dict[str, list[tuple[frozenset[str], Callable[..., Any]]]] = {}


class _CapabilityMethod:
    """The descriptor behind one method name: binds the implementation the model's capabilities
    select, or raises AttributeError (so ``hasattr`` is False) when none applies."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.__doc__ = f"Registered model method {name!r} (see graphdgm.compiler.methods)."

    def implementation(self, model: Any) -> Callable[..., Any] | None:
        caps = getattr(type(model), "capabilities", None) if isinstance(model, type) else getattr(model, "capabilities", None)
        caps = frozenset(caps or ())
        for requires, fn in _REGISTRY.get(self.name, ()):
            if requires <= caps:
                return fn
        return None

    def missing(self, obj: Any) -> str:
        """Why ``obj`` has no such method: the capabilities it would need, and those it has."""
        needs = " or ".join("{" + ", ".join(sorted(r)) + "}" for r, _ in _REGISTRY.get(self.name, ()))
        return (f"{type(obj).__name__!r} has no method {self.name!r}: it needs the capabilities {needs}; "
                f"this model has {sorted(getattr(obj, 'capabilities', ()))}")

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        fn = self.implementation(obj)
        if fn is None:
            raise AttributeError(self.missing(obj))
        return types.MethodType(fn, obj)


class CompiledModel(nn.Module):
    """The base of every compiled model: a torch module with ``capabilities`` (a frozenset of
    structural properties) and the methods registered with :func:`model_method`."""

    capabilities: frozenset[str] = frozenset()

    def _repr_svg_(self) -> str | None:
        """The drawing of the model's declaration (``gd.draw(model)``) as SVG, so that a notebook
        shows it (system Graphviz or the bundled graphviz-pure); ``None`` when it cannot be drawn.

        >>> import graphdgm as gd
        >>> svg = gd.compile(gd.RBM(3, 2))._repr_svg_()
        >>> svg is None or "<svg" in svg
        True
        """
        from graphdgm.viz.notebook import notebook_svg

        return notebook_svg(self)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """``model(x)``: the model's log-density or unnormalised log-potential of a batch (B,), so a
        compiled model is an ordinary module (``torch.nn.parallel.DistributedDataParallel`` wraps
        it; ``loss = -model(x).mean()``). Chosen by capability, first match:

        - ``"implicit"`` (a GAN): its generator, ``generate(z)``: samples (B, *data_shape) from noise
          z (B, latent), not a score (a GAN has no likelihood);
        - ``"log_prob"`` (a Bayesian network, NADE, MADE, PixelCNN, PixelRNN, an HMM, a Markov
          chain): the normalised ``log_prob(...)``, log p(x) (same arguments: an HMM's and a chain's
          ``(sequences, lengths=None)``);
        - ``"free_energy"`` (an RBM, a graph with latent blocks): ``-free_energy(v)``, the
          unnormalised log-marginal log p(v) + log Z with the latent units summed out;
        - ``"energy"`` (a Markov network, a Gaussian Markov network, a graph whose latent blocks do
          not sum out, on its full state): ``log_potential(x)`` = -E(x), the unnormalised log p(x) + log Z.

        A DBN has none (its bound on log p(v) is stochastic): a ``CapabilityError`` pointing to its
        layers ``model.rbms[i]``, each of which has one.

        >>> import torch, graphdgm as gd
        >>> rbm = gd.compile(gd.RBM(4, 3))
        >>> v = torch.tensor([[1.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
        >>> torch.equal(rbm(v), -rbm.free_energy(v))
        True
        """
        caps = self.capabilities
        if "implicit" in caps:
            return self.generate(*args, **kwargs)
        if "log_prob" in caps:
            return self.log_prob(*args, **kwargs)
        if "free_energy" in caps:
            return -self.free_energy(*args, **kwargs)
        if "energy" in caps:
            return self.log_potential(*args, **kwargs)
        from graphdgm.errors import CapabilityError

        hint = (" Each layer model.rbms[i] is an RBM whose model.rbms[i](v) is -free_energy(v); "
                "gd.log_likelihood(model, v) gives a bound on log p(v)") if "layerwise" in caps else ""
        raise CapabilityError(f"a {type(self).__name__} has no log-density or log-potential for forward() "
                              f"(capabilities {sorted(caps)}).{hint}")

    def __getattr__(self, name: str) -> Any:
        # reached when normal lookup fails, which includes a registered method whose capabilities
        # this model lacks: say which capabilities it needs, rather than torch's bare message
        try:
            return super().__getattr__(name)
        except AttributeError:
            method = CompiledModel.__dict__.get(name)
            if isinstance(method, _CapabilityMethod):
                raise AttributeError(method.missing(self)) from None
            raise


def model_method(name: str, requires: Iterable[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(model, ...)`` as ``model.<name>(...)`` on every compiled model whose
    capabilities include ``requires``. Implementations registered first win when several apply.
    Returns ``fn`` unchanged, so the same function is also the module-level API.

    >>> import graphdgm as gd
    >>> size = model_method("size_example", {"emission"})(lambda model: model.num_states)
    >>> gd.compile(gd.HiddenMarkovModel.random(3, symbols=2, seed=0)).size_example()
    3
    >>> unregister_model_method("size_example", size)
    """
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"a model method needs a public identifier as its name, got {name!r}")
    req = frozenset(requires)

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY.setdefault(name, []).append((req, fn))
        if not isinstance(CompiledModel.__dict__.get(name), _CapabilityMethod):
            setattr(CompiledModel, name, _CapabilityMethod(name))
        return fn

    return deco


def unregister_model_method(name: str, fn: Callable[..., Any]) -> None:
    """Remove implementation ``fn`` of method ``name`` (and the method itself when it was the last),
    for plugins and tests that register their own.

    >>> import graphdgm as gd
    >>> probe = model_method("probe_example", {"context_transitions"})(lambda model: model.num_states)
    >>> chain = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
    >>> chain.probe_example()
    2
    >>> unregister_model_method("probe_example", probe); hasattr(chain, "probe_example")
    False
    """
    impls = _REGISTRY.get(name, [])
    impls[:] = [(r, f) for r, f in impls if f is not fn]
    if not impls:
        _REGISTRY.pop(name, None)
        if isinstance(CompiledModel.__dict__.get(name), _CapabilityMethod):
            delattr(CompiledModel, name)


def registered_methods(model: Any) -> dict[str, Callable[..., Any]]:
    """The registered methods that apply to ``model`` (name -> implementation), for help and docs.

    >>> import graphdgm as gd
    >>> "stationary" in registered_methods(gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]])))
    True
    """
    out = {}
    for name in _REGISTRY:
        fn = _CapabilityMethod(name).implementation(model)
        if fn is not None:
            out[name] = fn
    return out


__all__ = ["CompiledModel", "model_method", "registered_methods", "unregister_model_method"]
