"""Convert between graphdgm specs and pgmpy discrete models (pgmpy 1.x names).

``to_pgmpy`` gives a ``DiscreteMarkovNetwork`` with one ``DiscreteFactor`` per factor of
``spec.table_factors()`` (couplings and fields expanded), state names taken from the domain labels.
pgmpy needs a factor on every variable, so a variable that no factor touches gets a uniform unary
factor (all ones).

``from_pgmpy`` reads a ``DiscreteMarkovNetwork``, a ``FactorGraph`` or a ``DiscreteBayesianNetwork``
(one factor per CPD over ``(child, *parents)``, so the product of the factors is the joint). Domains
become ``Categorical`` (labels from the state names; plain ``0..k-1`` names give default labels), so
spin/binary kinds are not recovered. Variable names of the form ``x[i,j]`` that fill a whole grid
with one domain become a block ``x``; other names that are not valid spec names are sanitised
(``a b`` -> ``a_b``; non-strings through ``str``).

pgmpy is imported on first use, so ``import graphdgm.io`` stays cheap.
"""
from __future__ import annotations

import math
import re
from collections.abc import Hashable
from typing import Any

import numpy as np

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.spec.bayesian_network import BayesianNetwork
from graphdgm.spec.domains import Categorical, Domain
from graphdgm.spec.factors import TableFactor
from graphdgm.spec.markov_network import MarkovNetwork
from graphdgm.spec.names import format_name, parse_name


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def factor_to_pgmpy(spec: MarkovNetwork, factor: TableFactor) -> Any:
    """One spec table factor as a pgmpy ``DiscreteFactor`` (potentials = exp of the log table).

    >>> import graphdgm as gd
    >>> mn = gd.MarkovNetwork.ising_grid(1, 2, coupling=0.0)
    >>> df = factor_to_pgmpy(mn, mn.table_factors()[0])
    >>> df.variables, df.state_names["x[0,0]"], df.values.tolist()
    (['x[0,0]', 'x[0,1]'], [-1, 1], [[1.0, 1.0], [1.0, 1.0]])
    """
    from pgmpy.factors.discrete import DiscreteFactor

    doms = [spec.domain_of(v) for v in factor.scope]
    for v, d in zip(factor.scope, doms):
        if not d.is_discrete:
            raise SpecError(f"pgmpy discrete factors need discrete variables; {v!r} is {d.describe()}")
    values = np.exp(np.asarray(factor.log_table, dtype=np.float64))
    return DiscreteFactor(
        list(factor.scope), [d.cardinality for d in doms], values,
        state_names={v: list(d.labels) for v, d in zip(factor.scope, doms)},
    )


def to_pgmpy(spec: MarkovNetwork) -> Any:
    """The spec as a pgmpy ``DiscreteMarkovNetwork`` over the same variable names (a
    :class:`~graphdgm.BayesianNetwork` becomes a ``DiscreteBayesianNetwork`` with its CPDs).

    >>> import graphdgm as gd
    >>> pm = to_pgmpy(gd.MarkovNetwork.ising_grid(2, 2, field=0.1))
    >>> len(pm.get_factors()), pm.check_model()
    (8, True)
    """
    from pgmpy.factors.discrete import DiscreteFactor
    from pgmpy.models import DiscreteMarkovNetwork

    if not isinstance(spec, MarkovNetwork):
        hint = (" For a small Bernoulli RBM, convert spec.to_markov_network(...) (or the compiled model's "
                "to_markov_network()) instead." if hasattr(spec, "to_markov_network") else "")
        raise CapabilityError(
            f"to_pgmpy converts discrete MarkovNetwork / FactorGraph specs (to a DiscreteMarkovNetwork) and "
            f"BayesianNetwork specs (to a DiscreteBayesianNetwork); a {type(spec).__name__} has no pgmpy "
            f"counterpart.{hint}"
        )
    if getattr(spec, "dense_edges", None) is not None and (spec.dense_edges() or spec.biases):
        raise CapabilityError(
            f"to_pgmpy converts discrete MarkovNetwork / FactorGraph specs (to a DiscreteMarkovNetwork) and BayesianNetwork "
            f"specs (to a DiscreteBayesianNetwork); a {type(spec).__name__} with dense edges or block biases (parameters "
            "the compiler initialises or learns) has no pgmpy counterpart. Compile it and convert "
            "model.to_markov_network() (small discrete graphs) instead."
        )
    if hasattr(spec, "cpds") and hasattr(spec, "parents"):
        return bayesian_network_to_pgmpy(spec)
    for v, d in zip(spec.variables, spec.domains()):
        if not d.is_discrete:
            raise SpecError(f"pgmpy's DiscreteMarkovNetwork holds discrete variables only; {v!r} is {d.describe()}")
    model = DiscreteMarkovNetwork()
    model.add_nodes_from(spec.variables)
    covered: set[str] = set()
    for f in spec.table_factors():
        model.add_edges_from((a, b) for i, a in enumerate(f.scope) for b in f.scope[i + 1 :])
        model.add_factors(factor_to_pgmpy(spec, f))
        covered.update(f.scope)
    for v, d in zip(spec.variables, spec.domains()):
        if v not in covered:
            model.add_factors(DiscreteFactor([v], [d.cardinality], np.ones(d.cardinality), state_names={v: list(d.labels)}))
    return model


def _model_factors(model: Any) -> tuple[list[Hashable], list[Any]]:
    """The variables (in the model's node order) and discrete factors of a supported pgmpy model."""
    import pgmpy.models as pm
    from pgmpy.factors.discrete import DiscreteFactor, TabularCPD

    def kinds(*names: str) -> tuple[type, ...]:
        return tuple(getattr(pm, n) for n in names if isinstance(getattr(pm, n, None), type))

    if isinstance(model, kinds("DiscreteBayesianNetwork", "BayesianNetwork")):
        cpds = model.get_cpds()
        bad = [c for c in cpds if not isinstance(c, TabularCPD)]
        if bad:
            raise SpecError(f"only discrete (TabularCPD) CPDs can be read; got {type(bad[0]).__name__}")
        factors, nodes = [c.to_factor() for c in cpds], list(model.nodes())
    elif isinstance(model, kinds("FactorGraph")):
        factors = list(model.get_factors())
        nodes = [n for n in model.nodes() if not isinstance(n, DiscreteFactor)]
    elif isinstance(model, kinds("DiscreteMarkovNetwork", "MarkovNetwork")):
        factors, nodes = list(model.get_factors()), list(model.nodes())
    else:
        raise SpecError(
            f"cannot read a pgmpy {type(model).__name__}: supported are DiscreteMarkovNetwork, FactorGraph and "
            "DiscreteBayesianNetwork with discrete factors (continuous models such as LinearGaussianBayesianNetwork are not)"
        )
    bad = [f for f in factors if not isinstance(f, DiscreteFactor)]
    if bad:
        raise SpecError(f"only discrete factors (DiscreteFactor) can be read; got {type(bad[0]).__name__}")
    in_factors = list(dict.fromkeys(v for f in factors for v in f.variables))
    scoped = set(in_factors)
    missing = [n for n in nodes if n not in scoped]
    if missing:
        raise SpecError(f"pgmpy variable {missing[0]!r} is in no factor, so its number of states is unknown; add a factor on it")
    return list(dict.fromkeys([*nodes, *in_factors])), factors


def _domains(keys: list[Hashable], factors: list[Any]) -> dict[Hashable, Domain]:
    """One Categorical domain per variable; every factor must agree on its states."""
    seen: dict[Hashable, list[Any]] = {}
    for f in factors:
        cards = f.get_cardinality(f.variables)
        for v in f.variables:
            names = f.state_names.get(v) if f.state_names else None
            states = [_plain(s) for s in names] if names is not None else list(range(int(cards[v])))
            if len(states) != int(cards[v]):
                raise SpecError(f"pgmpy variable {v!r} has cardinality {cards[v]} but {len(states)} state names")
            if seen.setdefault(v, states) != states:
                raise SpecError(f"pgmpy factors disagree on the states of {v!r}: {seen[v]} and {states}")
    return {v: Categorical(len(s)) if s == list(range(len(s))) else Categorical(len(s), labels=tuple(s)) for v, s in seen.items()}


def _sanitise(s: str) -> str:
    return re.sub(r"[^\w.:\-]+", "_", s).strip("_") or "var"  # a subset of what spec.names.check_block_name allows


def _layout(keys: list[Hashable], doms: dict[Hashable, Domain]) -> tuple[list[tuple[str, tuple[int, ...], Domain]], dict[Hashable, str]]:
    """Blocks to declare (name, shape, domain) and the spec name of every pgmpy variable."""
    parsed: dict[Hashable, tuple[str, tuple[int, ...]] | None] = {}
    for k in keys:
        try:
            parsed[k] = parse_name(k) if isinstance(k, str) else parse_name(str(k))
        except (SpecError, ValueError):
            parsed[k] = None
    groups: dict[str, list[Hashable]] = {}
    for k, p in parsed.items():
        if p is not None and p[1]:
            groups.setdefault(p[0], []).append(k)
    scalars = {p[0] for p in parsed.values() if p is not None and not p[1]}
    good: dict[str, tuple[int, ...]] = {}
    for b, members in groups.items():
        idx = [parsed[k][1] for k in members]  # type: ignore[index]
        shape = tuple(max(i[d] for i in idx) + 1 for d in range(len(idx[0]))) if len({len(i) for i in idx}) == 1 else ()
        if shape and b not in scalars and len(set(idx)) == len(idx) == math.prod(shape) and len({doms[k] for k in members}) == 1:
            good[b] = shape
    blocks: list[tuple[str, tuple[int, ...], Domain]] = []
    names: dict[Hashable, str] = {}
    used = set(good)
    for k in keys:
        p = parsed[k]
        if p is not None and p[0] in good:
            if p[0] not in {b for b, _, _ in blocks}:
                blocks.append((p[0], good[p[0]], doms[k]))
            names[k] = format_name(*p)
            continue
        s = k if isinstance(k, str) else str(k)
        name = s if p is not None and not p[1] and format_name(p[0], ()) == s else _sanitise(s)
        base, n = name, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        names[k] = name
        blocks.append((name, (), doms[k]))
    return blocks, names


def from_pgmpy(model: Any, name: str | None = None) -> MarkovNetwork:
    """A spec holding the factors of a pgmpy model (Markov network, factor graph or discrete Bayes net).
    For a Bayes net that keeps its direction and CPTs, use :func:`bayesian_network_from_pgmpy`.

    >>> import graphdgm as gd
    >>> mn = from_pgmpy(to_pgmpy(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3)))
    >>> mn.variables, mn.domain_of("x[0,0]").labels
    (['x[0,0]', 'x[0,1]', 'x[1,0]', 'x[1,1]'], (-1, 1))
    """
    keys, factors = _model_factors(model)
    doms = _domains(keys, factors)
    blocks, names = _layout(keys, doms)
    mn = MarkovNetwork(name=name or type(model).__name__)
    for b, shape, d in blocks:
        mn.add_block(b, shape, d)
    for i, f in enumerate(factors):
        mn.add_factor([names[v] for v in f.variables], np.asarray(f.values, dtype=np.float64), name=f"f{i}")
    return mn


def pgmpy_names(model: Any) -> dict[Hashable, str]:
    """The graphdgm name that :func:`from_pgmpy` and :func:`bayesian_network_from_pgmpy` give
    each variable of a pgmpy model (names are made spec-safe, so ``"x 1"`` becomes ``"x_1"``).

    >>> from pgmpy.models import DiscreteBayesianNetwork
    >>> from pgmpy.factors.discrete import TabularCPD
    >>> net = DiscreteBayesianNetwork([("rain fall", "wet")])
    >>> net.add_cpds(TabularCPD("rain fall", 2, [[0.5], [0.5]]),
    ...              TabularCPD("wet", 2, [[0.9, 0.2], [0.1, 0.8]], evidence=["rain fall"], evidence_card=[2]))
    >>> pgmpy_names(net)["rain fall"]
    'rain_fall'
    """
    keys, factors = _model_factors(model)
    return _layout(keys, _domains(keys, factors))[1]


def pgmpy_factors(model: Any) -> list[Any]:
    """The discrete factors of a supported pgmpy model (CPDs of a Bayes net as factors), in model order.

    >>> import graphdgm as gd
    >>> len(pgmpy_factors(to_pgmpy(gd.MarkovNetwork.ising_grid(1, 3))))
    2
    """
    return _model_factors(model)[1]


def bayesian_network_from_pgmpy(model: Any, name: str | None = None) -> Any:
    """A :class:`~graphdgm.BayesianNetwork` from a pgmpy ``DiscreteBayesianNetwork``: the same
    variables (names made spec-safe), states and CPTs.

    >>> import graphdgm as gd
    >>> bn = gd.BayesianNetwork(); _ = bn.add_variable("a", gd.Binary()); _ = bn.add_variable("b", gd.Binary())
    >>> _ = bn.add_cpd("a", [], [0.3, 0.7]); _ = bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.2, 0.8]])
    >>> back = bayesian_network_from_pgmpy(bayesian_network_to_pgmpy(bn))
    >>> back.parents["b"], back.cpds["b"].tolist()
    (('a',), [[0.9, 0.1], [0.2, 0.8]])
    """
    from pgmpy.factors.discrete import TabularCPD

    from graphdgm.spec.bayesian_network import BayesianNetwork

    keys, factors = _model_factors(model)
    if not hasattr(model, "get_cpds"):
        raise SpecError(f"bayesian_network_from_pgmpy needs a DiscreteBayesianNetwork, got {type(model).__name__}; "
                        "use from_pgmpy for Markov networks and factor graphs")
    doms = _domains(keys, factors)
    blocks, names = _layout(keys, doms)
    bn = BayesianNetwork(name=name or type(model).__name__)
    for b, shape, d in blocks:
        bn.add_block(b, shape, d)
    cpds = {c.variable: c for c in model.get_cpds() if isinstance(c, TabularCPD)}
    import networkx as nx

    for v in nx.topological_sort(model):  # parents before children: add_cpd checks acyclicity as it goes
        cpd = cpds.get(v)
        if cpd is None:
            raise SpecError(f"pgmpy variable {v!r} has no CPD; add one with model.add_cpds(...)")
        table = np.moveaxis(np.asarray(cpd.values, dtype=np.float64), 0, -1)  # (*evidence, child)
        bn.add_cpd(names[v], [names[p] for p in cpd.variables[1:]], table)
    return bn


def bayesian_network_to_pgmpy(spec: Any) -> Any:
    """A pgmpy ``DiscreteBayesianNetwork`` with one TabularCPD per variable of ``spec``."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    spec.check_complete()
    model = DiscreteBayesianNetwork()
    model.add_nodes_from(spec.variables)
    model.add_edges_from((p, c) for c, ps in spec.parents.items() for p in ps)
    for v in spec.ordering:
        ps = list(spec.parents[v])
        table = spec.cpds[v]
        d = spec.domain_of(v)
        vals = np.moveaxis(table, -1, 0).reshape(d.cardinality, -1)
        model.add_cpds(TabularCPD(v, d.cardinality, vals, evidence=ps or None,
                                  evidence_card=[spec.domain_of(p).cardinality for p in ps] or None,
                                  state_names={u: [_plain(s) for s in spec.domain_of(u).labels] for u in [v, *ps]}))
    return model



def _network_from_pgmpy(cls: type, model: Any, name: str | None = None) -> Any:
    """A spec from a pgmpy ``DiscreteBayesianNetwork`` (TabularCPDs; state names become labels)."""
    return bayesian_network_from_pgmpy(model, name)


def _network_to_pgmpy(self: Any) -> Any:
    """This network as a pgmpy ``DiscreteBayesianNetwork`` with one TabularCPD per variable."""
    return bayesian_network_to_pgmpy(self)


# The spec layer never imports io: the conversions attach themselves to the spec class here, so
# ``gd.BayesianNetwork.from_pgmpy(pm)`` and ``bn.to_pgmpy()`` keep working.
BayesianNetwork.from_pgmpy = classmethod(_network_from_pgmpy)  # type: ignore[attr-defined]
BayesianNetwork.to_pgmpy = _network_to_pgmpy  # type: ignore[attr-defined]

__all__ = ["bayesian_network_from_pgmpy", "bayesian_network_to_pgmpy", "to_pgmpy", "from_pgmpy", "factor_to_pgmpy", "pgmpy_factors"]
