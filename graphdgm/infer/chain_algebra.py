"""Linear algebra of a chain tied through time, on its lifted transition matrix over contexts:
n-step and limiting distributions, communicating classes and periods, stationary distributions,
hitting and absorption times. These are the models' methods by capability (``model.stationary()``).

>>> import graphdgm as gd
>>> model = gd.compile(gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]]))
>>> [round(p, 4) for p in gd.infer.chain_algebra.stationary(model).tolist()]
[0.8333, 0.1667]
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from graphdgm.compiler.methods import model_method
from graphdgm.errors import InferenceError
from graphdgm.infer import chain_structure as cs
from graphdgm.infer.chain_structure import ChainStructure
from graphdgm.spec.validate import positive_int

REQUIRES = frozenset({"context_transitions"})


@model_method("n_step", REQUIRES)
def n_step(model: Any, steps: int) -> torch.Tensor:
    """The n-step transition matrix P^n (C, C): entry [i, j] = p(context j after n steps | context i).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.0, 1.0], [1.0, 0.0]]))
    >>> model.n_step(3).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    steps = positive_int(steps, "steps", minimum=0)
    return torch.linalg.matrix_power(model.transition_matrix(), steps)


@model_method("distribution", REQUIRES)
def distribution(model: Any, steps: int, initial: Any = None) -> torch.Tensor:
    """p(x_{t+n}) (S,): the distribution of the state ``steps`` steps after the first k states,
    starting from ``initial`` (the model's initial distribution, a state label (a tuple of k
    labels for order k), or probabilities over contexts).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
    >>> [round(p, 3) for p in model.distribution(2, initial="a").tolist()]  # .81 + .05, .09 + .05
    [0.86, 0.14]
    """
    p = model.start_distribution(initial) @ n_step(model, steps)  # (C,)
    return p.view(-1, model.num_states).sum(0)


@model_method("structure", REQUIRES)
def structure(model: Any) -> ChainStructure:
    """Communicating classes, closed classes and periods, absorbing and transient states of the
    (lifted) chain; ``print(model.structure())`` reads as a report.

    >>> import graphdgm as gd
    >>> print(gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1]])).structure())
    reducible, aperiodic; 3 communicating classes:
      ['a']: transient, period 1
      ['b']: closed (recurrent), period 1
      ['c']: closed (recurrent), period 1
    absorbing states: ['b', 'c']
    2 closed classes: the stationary distribution is not unique
    """
    P = model.transition_matrix()
    labels = model.context_labels()
    classes = cs.communicating_classes(P)
    closed = [cs.is_closed(P, c) for c in classes]
    periods = [cs.class_period(P, c) for c in classes]
    absorbing = [labels[int(i)] for i in (torch.diagonal(P) == 1).nonzero().flatten().tolist()]
    transient = [labels[int(i)] for c, cl in zip(classes, closed) if not cl for i in c]
    return ChainStructure([[labels[int(i)] for i in c] for c in classes], closed, periods, absorbing, transient)


@model_method("communicating_classes", REQUIRES)
def communicating_classes(model: Any) -> list[list[Any]]:
    """The communicating classes as lists of state labels (contexts for order k)."""
    return structure(model).classes


@model_method("closed_classes", REQUIRES)
def closed_classes(model: Any) -> list[list[Any]]:
    """The closed (recurrent) communicating classes; an absorbing state is one of size one."""
    s = structure(model)
    return [c for c, cl in zip(s.classes, s.closed) if cl]


@model_method("absorbing_states", REQUIRES)
def absorbing_states(model: Any) -> list[Any]:
    """States (contexts for order k) that the chain never leaves."""
    return structure(model).absorbing


@model_method("period", REQUIRES)
def period(model: Any) -> int:
    """The period of an irreducible chain (an InferenceError naming the classes otherwise)."""
    s = structure(model)
    if not s.irreducible:
        raise InferenceError(f"the chain is reducible, so periods belong to its classes: {s.classes} have periods {s.periods}")
    return int(s.period)


def _closed_index(model: Any) -> list[np.ndarray]:
    P = model.transition_matrix()
    return [c for c in cs.communicating_classes(P) if cs.is_closed(P, c)]


@model_method("stationary_distributions", REQUIRES)
def stationary_distributions(model: Any, lifted: bool = False) -> torch.Tensor:
    """One stationary distribution per closed class (K, S) (every stationary distribution is a
    mixture of these); ``lifted=True`` gives them over contexts (K, C)."""
    P = model.transition_matrix()
    pis = torch.stack([cs.stationary_of_class(P, c) for c in _closed_index(model)])  # (K, C)
    return pis if lifted else pis.view(len(pis), -1, model.num_states).sum(1)


@model_method("stationary", REQUIRES)
def stationary(model: Any, lifted: bool = False) -> torch.Tensor:
    """The stationary distribution π = π P (S,) (marginal of the last state for order k;
    ``lifted=True`` gives it over contexts, (C,)). A chain with more than one closed class has
    no unique one: an InferenceError names the classes. A periodic chain has a unique π, the
    long-run fraction of time in each state, although P^n does not converge.

    >>> import graphdgm as gd
    >>> gd.compile(gd.MarkovChain(["a", "b"], [[0, 1], [1, 0]])).stationary().tolist()
    [0.5, 0.5]
    """
    closed = _closed_index(model)
    if len(closed) > 1:
        labels = model.context_labels()
        names = "; ".join(str([labels[int(i)] for i in c][:6]) for c in closed)
        raise InferenceError(f"the chain is reducible with {len(closed)} closed communicating classes ({names}), so its "
                             f"stationary distribution is not unique; model.stationary_distributions() gives one per "
                             f"class, and model.limiting_distribution(initial) the one reached from a start")
    return stationary_distributions(model, lifted)[0]


@model_method("limiting_distribution", REQUIRES)
def limiting_distribution(model: Any, initial: Any = None) -> torch.Tensor:
    """lim_n p(x_n) (S,) from ``initial`` (see :meth:`distribution`): the closed classes'
    stationary distributions weighted by the absorption probabilities. A periodic closed class
    has no limit: an InferenceError says so.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.25, 0.25], [0, 1, 0], [0, 0, 1]]))
    >>> model.limiting_distribution("a").tolist()
    [0.0, 0.5, 0.5]
    """
    P = model.transition_matrix()
    closed = _closed_index(model)
    per = [cs.class_period(P, c) for c in closed]
    if any(p != 1 for p in per):
        raise InferenceError(f"a closed class has period {max(p for p in per if p)}: P^n oscillates and has no limit; "
                             f"use model.stationary() for the long-run average")
    B, _ = cs.absorption(P, closed)  # (C, K)
    pis = torch.stack([cs.stationary_of_class(P, c) for c in closed])  # (K, C)
    return (model.start_distribution(initial) @ B @ pis).view(-1, model.num_states).sum(0)


@model_method("hitting_times", REQUIRES)
def hitting_times(model: Any, targets: Any) -> torch.Tensor:
    """Expected number of steps to first reach any state in ``targets`` (labels) from each
    state (S,) (each context (C,) for order k): 0 on the targets, ``inf`` where the chain may
    never reach them.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0, 1]]))
    >>> model.hitting_times("b").tolist()
    [2.0, 0.0]
    """
    targets = [targets] if not isinstance(targets, (list, tuple, set)) else list(targets)
    idx = torch.tensor([model.spec.index(t) for t in targets], device=model.device)
    last = model.context_digits[:, -1]  # (C,)
    return cs.hitting_times(model.transition_matrix(), torch.isin(last, idx))


@model_method("absorption_probabilities", REQUIRES)
def absorption_probabilities(model: Any) -> torch.Tensor:
    """p(absorbed in closed class j | start in state i) (C, K), the columns in the order of
    :meth:`closed_classes` (an absorbing state is a class of size one): B = N R with the
    fundamental matrix N = (I - Q)^-1 over the transient states.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.25, 0.25], [0, 1, 0], [0, 0, 1]]))
    >>> model.absorption_probabilities().tolist()
    [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]
    """
    return cs.absorption(model.transition_matrix(), _closed_index(model))[0]


@model_method("absorption_times", REQUIRES)
def absorption_times(model: Any) -> torch.Tensor:
    """Expected number of steps (C,) until the chain enters a closed class (N 1 on transient
    states, 0 on recurrent ones).

    >>> import graphdgm as gd
    >>> gd.compile(gd.MarkovChain(["a", "b"], [[0.75, 0.25], [0, 1]])).absorption_times().tolist()
    [4.0, 0.0]
    """
    return cs.absorption(model.transition_matrix(), _closed_index(model))[1]


__all__ = ["absorbing_states", "absorption_probabilities", "absorption_times", "closed_classes", "communicating_classes", "distribution", "hitting_times", "limiting_distribution", "n_step", "period", "stationary", "stationary_distributions", "structure"]
