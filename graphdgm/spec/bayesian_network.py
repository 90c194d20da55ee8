"""Discrete Bayesian networks: an autoregressive DAG with tabular conditionals.

A Bayesian network is a :class:`~graphdgm.Graph` of CPT edges, one conditional probability table
P(child | parents) per variable, directed and acyclic; as a Markov network its factors are the
log-CPTs. Lowered to its
factors it runs on every undirected backend (exact elimination, belief propagation, Gibbs); its
topological order gives exact ancestral sampling and a normalised ``log_prob``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Edge, Graph, register_family
from graphdgm.graph.patterns import CPT
from graphdgm.spec.markov_network import MarkovNetwork
from graphdgm.spec.names import canonical
from graphdgm.spec.validate import check_cpt_table, positive_int


class BayesianNetwork(Graph):
    """A discrete Bayesian network: variables, and one CPT P(child | parents) per variable.

    ``add_cpd(child, parents, table)`` takes ``table`` with axes ``(*parents, child)`` (the UAI
    BAYES layout: each row over the child's states sums to one).

    >>> import graphdgm as gd
    >>> bn = gd.BayesianNetwork("sprinkler")
    >>> for v in ("rain", "sprinkler", "wet"):
    ...     _ = bn.add_variable(v, gd.Binary())
    >>> bn.add_cpd("rain", [], [0.8, 0.2])
    'P(rain)'
    >>> bn.add_cpd("sprinkler", ["rain"], [[0.6, 0.4], [0.99, 0.01]])
    'P(sprinkler|rain)'
    >>> bn.add_cpd("wet", ["rain", "sprinkler"], [[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]])
    'P(wet|rain,sprinkler)'
    >>> bn.ordering
    ['rain', 'sprinkler', 'wet']
    """

    family_tag = "bayesian_network"
    default_view = "family"

    def __init__(self, name: str = "bayesian_network") -> None:
        super().__init__(name)
        self.parents: dict[str, tuple[str, ...]] = {}
        self.cpds: dict[str, np.ndarray] = {}  # child -> table (*parent cards, child card)
        self.neural_cpds: dict[str, dict[str, Any]] = {}  # child -> {"hidden": [...], "seed": s}: a network's CPD
        self._dag = nx.DiGraph()  # parent -> child, kept as CPDs are added

    @property
    def edges(self) -> dict[str, Edge]:
        """One CPT edge per CPD, parents -> child, made from the current tables (which a compiled
        model writes back after fitting)."""
        out = {}
        for child, table in self.cpds.items():
            ps = self.parents[child]
            net = self.neural_cpds.get(child)
            name = f"P({child}{'|' + ','.join(ps) if ps else ''})"
            pattern = CPT(table, hidden=net["hidden"], seed=net["seed"]) if net else CPT(table)
            out[name] = Edge(name, ps[0] if ps else child, child, pattern, ps)
        return out

    def connect(self, a: str | Sequence[str], b: str, pattern: Any = None, *, name: str | None = None) -> str:
        """A CPT edge parents -> child, as :meth:`add_cpd` (a neural CPT as :meth:`add_neural_cpd`);
        a Bayesian network takes no other edges."""
        if not isinstance(pattern, CPT):
            raise SpecError(f"a BayesianNetwork holds only CPT edges; connect(parents, child, gd.graph.CPT(table)), not "
                            f"{pattern!r}")
        parents = [a] if isinstance(a, str) else list(a)
        if pattern.hidden is not None:
            return self.add_neural_cpd(b, parents, pattern.hidden, seed=pattern.seed)
        return self.add_cpd(b, parents, pattern.table)

    @classmethod
    def from_graph(cls, g: Graph) -> BayesianNetwork:
        """The network a graph's CPT edges declare, over the graph's blocks (validated here)."""
        bn = cls(g.name)
        for blk, b in g.blocks.items():
            bn.add_block(blk, b.shape, b.domain)
        for e in g.cpt_edges():
            bn.connect(list(e.sources), e.b, e.pattern)
        return bn

    def add_cpd(self, child: str, parents: Sequence[str] = (), table: Any = None, *, tol: float = 1e-6) -> str:
        """Add P(child | parents); returns the factor's name ``"P(child|parents)"``."""
        child = canonical(child)
        if parents is None:
            parents = ()
        if isinstance(parents, str):
            parents = [parents]
        if not isinstance(parents, (list, tuple)) or not all(isinstance(p, str) for p in parents):
            raise SpecError(f"the parents of {child!r} must be a list of variable names (or [] for a root), "
                            f"got {parents!r}")
        parents = tuple(canonical(p) for p in parents)
        self.index_of(child)
        for p in parents:
            self.index_of(p)  # UnknownVariableError names close matches
        if child in self.cpds:
            raise SpecError(f"{child!r} already has a CPD; each variable gets exactly one P(child | parents)")
        if child in parents:
            raise SpecError(f"{child!r} cannot be its own parent")
        for p in parents:  # a cycle through the new edges: one reachability search per parent
            if self._dag.has_node(child) and self._dag.has_node(p) and nx.has_path(self._dag, child, p):
                cycle = " -> ".join(nx.shortest_path(self._dag, child, p))
                raise SpecError(f"P({child}|{','.join(parents)}) would close a directed cycle ({cycle} -> {child}); a "
                                f"Bayesian network must be acyclic")
        cards = [self.domain_of(v).cardinality for v in (*parents, child)]
        cpt = check_cpt_table(child, parents, cards, table, tol)
        name = f"P({child}{'|' + ','.join(parents) if parents else ''})"
        with np.errstate(divide="ignore"):
            MarkovNetwork.add_factor(self, [*parents, child], log_table=np.log(cpt), name=name)
        self.parents[child] = parents
        self.cpds[child] = cpt
        self._dag.add_node(child)
        self._dag.add_edges_from((p, child) for p in parents)
        return name

    def add_neural_cpd(self, child: str, parents: Sequence[str], hidden: Sequence[int] | int = (16,), *,
                       seed: int = 0) -> str:
        """Add P(child | parents) computed by a small neural network: the parents' states, one-hot,
        through ``hidden`` tanh layers to a softmax over the child's states. The compiled network
        tabulates it over every parent configuration, so exact inference, sampling and pgmpy see
        an ordinary CPT; ``gd.fit(model, data, method="mle")`` trains it by gradient ascent on the
        log-likelihood while the other CPTs are counted. The network's weights (initialised from
        ``seed``) are the CPD's parameters: the spec holds a uniform table until a compiled model
        writes its tabulation back.

        >>> import graphdgm as gd
        >>> bn = gd.BayesianNetwork.empty_like({"a": [], "b": []}, {"a": gd.Binary(), "b": gd.Binary()})
        >>> _ = bn.add_variable("c", gd.Categorical(3))
        >>> bn.add_neural_cpd("c", ["a", "b"], hidden=[8])
        'P(c|a,b)'
        """
        if isinstance(parents, str):
            parents = [parents]
        if not parents:
            raise SpecError(f"a neural CPD maps parents' states to P({child} | parents); {child!r} has no parents, so "
                            f"give it a table with bn.add_cpd({child!r}, [], probabilities)")
        sizes = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        sizes = [positive_int(h, "each hidden layer size of a neural CPD") for h in sizes]
        cards = [self.domain_of(v).cardinality for v in (*parents, child)]
        if None in cards:
            raise SpecError(f"P({child}|...): CPDs need discrete variables")
        name = self.add_cpd(child, parents, np.full(cards, 1.0 / cards[-1]))
        self.neural_cpds[canonical(child)] = {"hidden": sizes, "seed": int(seed)}
        return name

    def _refuse(self, what: str) -> None:
        raise SpecError(f"a BayesianNetwork holds only conditional probability tables, so {what} would break "
                        f"log_prob and sampling (they read the CPTs); add P(child | parents) with "
                        f"bn.add_cpd(child, parents, table), or declare a gd.MarkovNetwork for undirected factors")

    def add_factor(self, *args: Any, **kwargs: Any) -> str:
        """Refused: a Bayesian network's factors are its CPTs; use :meth:`add_cpd`."""
        self._refuse("add_factor")
        return ""

    def add_coupling(self, *args: Any, **kwargs: Any) -> str:
        """Refused: a Bayesian network has no pairwise couplings; use :meth:`add_cpd`."""
        self._refuse("add_coupling")
        return ""

    def add_field(self, *args: Any, **kwargs: Any) -> str:
        """Refused: a Bayesian network has no unary fields; use :meth:`add_cpd`."""
        self._refuse("add_field")
        return ""

    def dag(self) -> nx.DiGraph:
        """Variables as nodes and parent -> child edges."""
        g = nx.DiGraph()
        g.add_nodes_from(self.variables)
        g.add_edges_from((p, c) for c, ps in self.parents.items() for p in ps)
        return g

    @property
    def ordering(self) -> list[str]:
        """A topological order (parents before children; ties in declaration order)."""
        pos = {v: i for i, v in enumerate(self.variables)}
        return list(nx.lexicographical_topological_sort(self.dag(), key=lambda v: pos[v]))

    def check_complete(self) -> None:
        """Raise a SpecError naming the variables that still lack a CPD."""
        missing = [v for v in self.variables if v not in self.cpds]
        if missing:
            raise SpecError(f"variables {missing[:5]}{'...' if len(missing) > 5 else ''} have no CPD; add one with "
                            f"bn.add_cpd(child, parents, table) (or fit the tables from data with gd.fit(model, data, method='mle'))")

    @classmethod
    def empty_like(cls, dag: dict[str, Sequence[str]], domains: dict[str, Any], name: str = "bayesian_network") -> BayesianNetwork:
        """A network with the given structure (child -> parents) and uniform CPTs, to fit from data.

        >>> import graphdgm as gd
        >>> bn = gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]}, {"a": gd.Binary(), "b": gd.Categorical(3)})
        >>> bn.cpds["b"].shape
        (2, 3)
        """
        bn = cls(name)
        for v, d in domains.items():
            bn.add_variable(v, d)
        g = nx.DiGraph()
        g.add_nodes_from(domains)
        g.add_edges_from((p, c) for c, ps in dag.items() for p in ps)
        if not nx.is_directed_acyclic_graph(g):
            raise SpecError("the structure has a directed cycle; a Bayesian network must be acyclic")
        for v in nx.topological_sort(g):
            ps = tuple(dag.get(v, ()))
            cards = [domains[p].cardinality for p in ps] + [domains[v].cardinality]
            bn.add_cpd(v, ps, np.full(cards, 1.0 / cards[-1]))
        return bn

    def __repr__(self) -> str:
        return f"BayesianNetwork({self.name!r}: {self.num_variables} variables, {len(self.cpds)} CPDs)"


register_family(CPT, BayesianNetwork)
