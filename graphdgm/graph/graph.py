"""``Graph``: an energy-based model declared as blocks of units and edges between them.

A block has a name, a shape, a unit type (Bernoulli, Spin, Softmax(k), Gaussian(σ)) and a role:

- ``"observed"``: data is given for it when training and scoring;
- ``"latent"``: never observed; summed out analytically where the structure allows, else
  sampled or mean-field-updated;
- ``"input"``: always given (the conditioning block of a conditional model); never sampled, and
  the partition function depends on it.

Edges join two blocks (or a block with itself) with a pattern: :class:`~graphdgm.graph.Dense`
weights, explicit :class:`~graphdgm.graph.Pairs`, a :class:`~graphdgm.graph.Grid`, or factor
tables of any arity (:meth:`Graph.add_factor`, inherited from :class:`~graphdgm.MarkovNetwork`,
as are ``add_coupling`` and ``add_field``). A 784x500 RBM is two blocks and one dense edge; the
compiler lowers each dense edge to one matrix.

>>> import graphdgm as gd
>>> g = gd.Graph("dbm")
>>> v = g.block("v", 6, gd.Bernoulli())
>>> h1 = g.block("h1", 4, gd.Bernoulli(), role="latent")
>>> h2 = g.block("h2", 3, gd.Bernoulli(), role="latent")
>>> g.connect(v, h1, gd.Dense()), g.connect(h1, h2, gd.Dense())
('W_v_h1', 'W_h1_h2')
>>> g
Graph('dbm': blocks v (6,) bernoulli observed, h1 (4,) bernoulli latent, h2 (3,) bernoulli latent; edges v-h1 dense, h1-h2 dense)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.graph.patterns import CPT, Autoregressive, Dense, Emission, Grid, NeuralMap, Pairs, Pattern, Transition, as_pattern
from graphdgm.graph.units import Unit, unit_for_domain
from graphdgm.spec.domains import Domain
from graphdgm.spec.markov_network import MarkovNetwork, grid_edges, grid_weights
from graphdgm.spec.validate import check_cpt_table, real_array

ROLES = ("observed", "latent", "input")

# file tag -> Graph class (Graph itself, and every subclass that sets ``family_tag``): a saved graph
# names its class by tag, and loading rebuilds that class with ``from_graph``
GRAPH_CLASSES: dict[str, type] = {}

# directed pattern type -> the family class (a Graph subclass) its graphs are, or a function of the
# graph returning it; filled by each family's module (see register_family)
_FAMILIES: dict[type, Any] = {}


def register_family(pattern: type, family: Any) -> None:
    """Declare that a graph whose directed edges use ``pattern`` is the family ``family`` (a
    :class:`Graph` subclass with a ``from_graph(graph)`` class method), or ``family(graph)`` when
    the class depends on the other edges. Each family's module calls this for its patterns, so the
    graph language needs no list of families and the compiler lowers a declared graph through the
    family's operator."""
    _FAMILIES[pattern] = family


@dataclass(frozen=True)
class Edge:
    """A declared edge: its name, the two blocks it joins (equal for a lateral edge) and its pattern."""

    name: str
    a: str
    b: str
    pattern: Pattern
    sources: tuple[str, ...] = ()  # a CPT edge's parent blocks (a is the first, or the child for a root)

    @property
    def lateral(self) -> bool:
        """Whether the edge joins a block with itself."""
        return self.a == self.b


class Graph(MarkovNetwork):
    """An energy-based graph of blocks and edges (see the module docstring).

    p(x) ∝ exp(Σ_blocks own(x_b) + Σ_edges log φ_e(x)), with each block's own term its unit's
    bias term (learnable; set ``bias=False`` for none, or give initial values).
    """

    family_tag = "graph"  # what a saved file calls this class (a family constructor sets its own)
    default_view: str | None = None  # gd.draw's "auto" view: "family" draws a family's own picture

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "family_tag" in cls.__dict__:
            GRAPH_CLASSES[cls.family_tag] = cls

    @classmethod
    def from_graph(cls, g: Graph) -> Graph:
        """This class built from a declared graph ``g`` (a family rebuilds itself from its blocks and
        edges, validated by its constructor); for ``Graph`` itself, ``g``."""
        if cls is Graph:
            return g
        raise SpecError(f"{cls.__name__} cannot be built from a graph's blocks and edges")

    def __init__(self, name: str = "graph") -> None:
        super().__init__(name)
        self.units: dict[str, Unit] = {}
        self.roles: dict[str, str] = {}
        self.biases: dict[str, np.ndarray | None] = {}  # block -> initial bias (None: zeros); absent: no bias
        self._edges: dict[str, Edge] = {}
        self._sealed = False  # a family constructor's complete declaration

    @property
    def edges(self) -> dict[str, Edge]:
        """The declared edges by name. A family built by its constructor derives them from its
        arguments (one source of truth), so they follow the parameters a compiled model writes back."""
        return self._derived_edges() if self._sealed else self._edges

    def _derived_edges(self) -> dict[str, Edge]:
        return self._edges

    # ---------------------------------------------------------------- blocks
    def block(self, name: str, shape: Sequence[int] | int, unit: Unit | Domain, *, role: str = "observed",
              bias: Any = True) -> str:
        """Declare a block of units; returns its name (pass it to :meth:`connect`).

        ``unit`` is a unit type (``gd.Bernoulli()``, ``gd.Softmax(3)``, ``gd.Gaussian(1.0)``,
        ``gd.graph.Spin()``) or a domain (``gd.Spin()``, ``gd.Categorical(3)``); ``bias`` True (zeros,
        learnable), False (no own term) or initial values of shape (n,), (n, k) for softmax units.
        """
        self._refuse_if_sealed(f"block({name!r}, ...)")
        if any(isinstance(e.pattern, Autoregressive) for e in self._edges.values()):
            raise SpecError(f"graph {self.name!r} has an autoregressive edge, which is its whole model over one block; "
                            f"declare block {name!r} in another graph")
        domain = unit if isinstance(unit, Domain) else None  # a given domain keeps its state labels
        if isinstance(unit, Domain):
            unit = unit_for_domain(unit)
        if not isinstance(unit, Unit):
            raise SpecError(f"block {name!r}: unit must be a unit type such as gd.Bernoulli(), gd.Softmax(3) or "
                            f"gd.Gaussian(1.0), got {unit!r}")
        if role not in ROLES:
            raise SpecError(f"block {name!r}: role {role!r} is unknown; use one of {ROLES}")
        self._declare_block(name, shape, domain if domain is not None else unit.domain)
        n = self.blocks[name].size
        unit.scale(n)  # validates a per-unit σ against the block size
        self.units[name] = unit
        self.roles[name] = role
        if bias is True or bias is None:
            self.biases[name] = None
        elif bias is not False:
            arr = real_array(bias, f"block {name!r} bias")
            want = unit.bias_shape(n)
            if arr.size != int(np.prod(want)):
                raise SpecError(f"block {name!r} bias has shape {arr.shape}; {unit!r} units need {want}"
                                + (f" or ({n}, {unit.width})" if unit.width > 1 else ""))
            if not np.all(np.isfinite(arr)):
                raise SpecError(f"block {name!r} bias has non-finite entries (NaN or inf)")
            self.biases[name] = arr.reshape(want).copy()
        return name

    def add_block(self, name: str, shape: Sequence[int] | int, domain: Domain) -> str:
        """A block as a Markov network declares it: units from the domain, observed, no bias."""
        return self.block(name, shape, domain, bias=False)

    # ----------------------------------------------------------------- edges
    def connect(self, a: str | Sequence[str], b: str, pattern: Pattern | type = Dense, *, name: str | None = None) -> str:
        """Join blocks ``a`` and ``b`` (the same block for lateral couplings) with ``pattern``;
        returns the edge's name (``W_a_b`` by default). A :class:`~graphdgm.graph.CPT` edge takes a
        list of parent blocks as ``a`` (empty for a root) and the child as ``b``."""
        self._refuse_if_sealed(f"connect({a!r}, {b!r}, ...)")
        if isinstance(pattern, CPT):
            return self._connect_cpt(a, b, pattern, name)
        if isinstance(pattern, (Transition, Emission)) or self.transition_edge() is not None:
            return self._connect_sequence(a, b, pattern, name)
        if isinstance(pattern, NeuralMap) or self.generator_edge() is not None:
            return self._connect_generator(a, b, pattern, name)
        if any(isinstance(e.pattern, CPT) for e in self.edges.values()):
            raise SpecError(f"graph {self.name!r} holds CPT edges (a Bayesian network); it takes only CPT edges")
        for blk in (a, b):
            if not isinstance(blk, str) or blk not in self.blocks:
                raise SpecError(f"connect({a!r}, {b!r}): {blk!r} is not a declared block; blocks are {list(self.blocks)}")
        pattern = as_pattern(pattern)
        name = name or (f"AR_{a}" if isinstance(pattern, Autoregressive) else f"W_{a}_{b}")
        if name in self.edges:
            raise SpecError(f"an edge named {name!r} already exists; pass name= to connect() to name this one")
        if isinstance(pattern, Autoregressive) or self.autoregressive_edge() is not None:
            self._check_autoregressive(name, a, b, pattern)
            return self._add_validated(Edge(name, a, b, pattern))
        ua, ub = self.units[a], self.units[b]
        na, nb = self.blocks[a].size, self.blocks[b].size
        if isinstance(pattern, Dense):
            pattern.matrix(na * ua.width, nb * ub.width, (na, nb), f"edge {name!r} ({a}-{b})")
            if a == b and na < 2:
                raise SpecError(f"lateral edge {name!r} on block {a!r} needs at least two units")
        elif isinstance(pattern, (Pairs, Grid)):
            if not (ua.discrete and ub.discrete):
                raise SpecError(f"edge {name!r}: {pattern.describe()} couple discrete units; {a!r} or {b!r} is real-valued "
                                "(use gd.Dense() for Gaussian units)")
            self._lower_pairs(name, a, b, pattern)
        else:
            raise SpecError(f"edge {name!r}: pattern {pattern!r} is not supported by Graph.connect")
        self.edges[name] = Edge(name, a, b, pattern)
        return name

    def _connect_cpt(self, parents: Any, child: str, pattern: CPT, name: str | None) -> str:
        """A CPT edge: parents -> child, each one discrete variable (a scalar block, or one variable
        ``z[3]`` of a plate); one CPT per child."""
        parents = [parents] if isinstance(parents, str) else list(parents)
        for v in (*parents, child):
            if not isinstance(v, str):
                raise SpecError(f"CPT edge into {child!r}: {v!r} is not a variable name; blocks are {list(self.blocks)}")
            if v in self.blocks and self.blocks[v].shape not in ((), (1,)):
                raise SpecError(f"CPT edge into {child!r}: block {v!r} has shape {self.blocks[v].shape}; each end of a CPT "
                                f"edge must be one discrete variable, so name one, such as {v}[0], or declare {v!r} "
                                f"with shape ()")
            if v not in self.blocks:
                self.index_of(v)  # an unknown name: UnknownVariableError names close matches
            kind = self.domain_of(v).kind
            if kind not in ("binary", "categorical"):
                raise SpecError(f"CPT edge into {child!r}: {v!r} must be one discrete variable (a gd.Bernoulli() or "
                                f"gd.Softmax(k) unit); it is {kind}")
        if child in parents:
            raise SpecError(f"CPT edge: {child!r} cannot be its own parent")
        if any(isinstance(e.pattern, CPT) and e.b == child for e in self.edges.values()):
            raise SpecError(f"{child!r} already has a CPT; each variable gets exactly one P(child | parents)")
        if any(not isinstance(e.pattern, CPT) for e in self.edges.values()) or self.factors:
            raise SpecError(f"graph {self.name!r} has undirected edges or factors; CPT edges make a Bayesian network, "
                            f"which holds only CPTs")
        name = name or f"P({child}{'|' + ','.join(parents) if parents else ''})"
        self._check_cpt(child, parents, pattern)
        self.edges[name] = Edge(name, parents[0] if parents else child, child, pattern, tuple(parents))
        return name

    def _connect_sequence(self, a: Any, b: Any, pattern: Pattern, name: str | None) -> str:
        """A chain through time: one Transition self-edge on a discrete state block, then at most one
        Emission edge from it to an observation block; nothing else."""
        for blk in (a, b):
            if not isinstance(blk, str) or blk not in self.blocks:
                raise SpecError(f"connect({a!r}, {b!r}): {blk!r} is not a declared block; blocks are {list(self.blocks)}")
        trans = self.transition_edge()
        if isinstance(pattern, Transition):
            if trans is not None or self.edges or self.factors or self.couplings or self.fields:
                raise SpecError(f"graph {self.name!r}: a Transition edge is the first edge of a chain through time; this "
                                f"graph already has edges or factors")
            if a != b:
                raise SpecError(f"a Transition edge ties a block to itself through time: connect({a!r}, {a!r}, ...)")
            if self.blocks[a].shape not in ((), (1,)) or not self.units[a].discrete or self.units[a].kind == "spin":
                raise SpecError(f"a Transition edge needs one discrete state per step: block {a!r} of shape (), a "
                                f"gd.Softmax(S) or gd.Bernoulli() unit; it is {self.blocks[a].shape} {self.units[a].kind}")
        elif isinstance(pattern, Emission):
            if trans is None or a != trans.a or a == b:
                raise SpecError(f"an Emission edge goes from the chain's state block to an observation block; declare "
                                f"the Transition edge first and connect(state, observation, gd.graph.Emission(...))")
            if self.emission_edge() is not None:
                raise SpecError(f"graph {self.name!r} already has an emission edge; a step emits one observation block")
        else:
            raise SpecError(f"graph {self.name!r} is a chain through time (a Transition edge); it takes one Emission "
                            f"edge and no {pattern.describe()} edges")
        name = name or (f"T_{a}" if isinstance(pattern, Transition) else f"E_{a}_{b}")
        return self._add_validated(Edge(name, a, b, pattern))  # the family validates tables, shapes and rows

    def _connect_generator(self, a: Any, b: Any, pattern: Pattern, name: str | None) -> str:
        """x = G(z): an input block of Gaussian noise to a data block, the graph's only edge."""
        if not isinstance(pattern, NeuralMap) or self.edges or self.factors or self.couplings or self.fields:
            raise SpecError(f"graph {self.name!r}: a NeuralMap edge (a generator) is the graph's only edge; it takes no "
                            f"other edges or factors")
        for blk in (a, b):
            if not isinstance(blk, str) or blk not in self.blocks:
                raise SpecError(f"connect({a!r}, {b!r}): {blk!r} is not a declared block; blocks are {list(self.blocks)}")
        if a == b or self.roles[a] != "input" or self.units[a].kind != "gaussian":
            raise SpecError(f"a NeuralMap edge maps an input block of gd.Gaussian() noise to a data block; {a!r} is a "
                            f"{self.units[a].kind} {self.roles[a]} block (declare it with role='input')")
        if self.units[b].kind not in ("gaussian", "bernoulli"):
            raise SpecError(f"a generator's data block holds real (gd.Gaussian()) or binary (gd.Bernoulli()) values; "
                            f"{b!r} is {self.units[b].kind}")
        name = name or f"G_{a}_{b}"
        return self._add_validated(Edge(name, a, b, pattern))  # the GAN validates networks and shapes

    def generator_edge(self) -> Edge | None:
        """The graph's NeuralMap edge (a GAN's generator), if it has one."""
        return next((e for e in self.edges.values() if isinstance(e.pattern, NeuralMap)), None)

    def transition_edge(self) -> Edge | None:
        """The graph's Transition edge (a chain through time), if it has one."""
        return next((e for e in self.edges.values() if isinstance(e.pattern, Transition)), None)

    def emission_edge(self) -> Edge | None:
        """The graph's Emission edge (a hidden Markov model's observations), if it has one."""
        return next((e for e in self.edges.values() if isinstance(e.pattern, Emission)), None)

    def _check_cpt(self, child: str, parents: list[str], pattern: CPT) -> None:
        """Validate one new CPT in time independent of the graph's size: its shape, rows and values,
        and acyclicity by one reachability search."""
        cards = [self.domain_of(v).cardinality for v in (*parents, child)]
        check_cpt_table(child, parents, cards, pattern.table)
        dag = nx.DiGraph((p, e.b) for e in self.cpt_edges() for p in e.sources)
        for p in parents:
            if dag.has_node(child) and dag.has_node(p) and nx.has_path(dag, child, p):
                path = " -> ".join(nx.shortest_path(dag, child, p))
                raise SpecError(f"P({child}|{','.join(parents)}) would close a directed cycle ({path} -> {child}); a "
                                f"Bayesian network must be acyclic")

    def cpt_edges(self) -> list[Edge]:
        """The CPT edges (a Bayesian network's conditionals), in declaration order."""
        return [e for e in self.edges.values() if isinstance(e.pattern, CPT)]

    def _check_autoregressive(self, name: str, a: str, b: str, pattern: Pattern) -> None:
        """A directed autoregressive edge joins one observed binary block with itself, and is the
        graph's only edge (the conditionals are its whole model)."""
        existing = self.autoregressive_edge()
        if existing is not None:
            raise SpecError(f"edge {name!r}: graph {self.name!r} already has the autoregressive edge {existing.name!r} "
                            f"({existing.pattern.describe()}), which is its whole model; it takes no other edges")
        if self.edges or self.factors or self.couplings or self.fields or len(self.blocks) != 1:
            raise SpecError(f"edge {name!r}: an autoregressive edge ({pattern.describe()}) is a whole model over one "
                            f"block: declare one block, connect it with itself, and add no other edges or factors")
        if a != b:
            raise SpecError(f"edge {name!r}: an autoregressive edge joins a block with itself: connect({a!r}, {a!r}, ...)")
        if self.units[a].kind != "bernoulli" or self.roles[a] != "observed":
            raise SpecError(f"edge {name!r}: autoregressive edges model an observed block of Bernoulli units; {a!r} is "
                            f"{self.units[a].kind} and {self.roles[a]}")
        if self.biases.get(a) is not None:
            raise SpecError(f"edge {name!r}: block {a!r} was given initial bias values, but an autoregressive edge has its "
                            f"own output biases; declare the block with the default bias")

    def _refuse_undirected(self, what: str) -> None:
        self._refuse_if_sealed(what)
        kind = ("an autoregressive edge" if self.autoregressive_edge() is not None else
                "CPT edges (a Bayesian network)" if self.cpt_edges() else
                "a Transition edge (a chain through time)" if self.transition_edge() is not None else
                "a NeuralMap edge (a generator)" if self.generator_edge() is not None else None)
        if kind:
            raise SpecError(f"graph {self.name!r} holds {kind}, so {what} would be ignored by its model; declare "
                            f"undirected factors in a graph without directed edges")

    def add_factor(self, *args: Any, **kwargs: Any) -> str:
        """A factor table of any arity (see :meth:`graphdgm.MarkovNetwork.add_factor`); refused in a
        graph with directed edges."""
        self._refuse_undirected("add_factor")
        return super().add_factor(*args, **kwargs)

    def add_coupling(self, *args: Any, **kwargs: Any) -> str:
        """Pairwise couplings (see :meth:`graphdgm.MarkovNetwork.add_coupling`); refused in a graph
        with directed edges."""
        self._refuse_undirected("add_coupling")
        return super().add_coupling(*args, **kwargs)

    def add_field(self, *args: Any, **kwargs: Any) -> str:
        """Unary fields (see :meth:`graphdgm.MarkovNetwork.add_field`); refused in a graph with
        directed edges."""
        self._refuse_undirected("add_field")
        return super().add_field(*args, **kwargs)

    def autoregressive_edge(self) -> Edge | None:
        """The graph's autoregressive edge, if it has one."""
        return next((e for e in self.edges.values() if isinstance(e.pattern, Autoregressive)), None)

    def family_edge(self) -> Edge | None:
        """The first edge whose pattern makes the graph a family (see :func:`register_family`)."""
        return next((e for e in self.edges.values() if type(e.pattern) in _FAMILIES), None)

    def family_model(self) -> Graph | None:
        """The family this graph's directed edges declare (MADE for a MaskedDense edge, a Bayesian
        network for CPT edges, ...), validated there: the graph itself when its family's
        constructor built it, else that family built from the graph's blocks and edges; None for
        an energy-based graph."""
        e = self.family_edge()
        if e is None:
            return None
        family = _FAMILIES[type(e.pattern)]
        cls = family if isinstance(family, type) else family(self)
        return self if isinstance(self, cls) else cls.from_graph(self)

    def _add_validated(self, edge: Edge) -> str:
        """Add ``edge``, then let the graph's family validate the whole declaration; a refused edge
        leaves the graph unchanged."""
        self.edges[edge.name] = edge
        try:
            self.family_model()
        except SpecError:
            del self.edges[edge.name]
            raise
        return edge.name

    def _seal(self) -> None:
        """Called last by a family constructor: the declaration is complete, its edges derive from
        the family's arguments (:meth:`_derived_edges`), and further blocks, edges and factors are
        refused."""
        self._sealed = True

    def _refuse_if_sealed(self, what: str) -> None:
        if self._sealed:
            raise SpecError(f"{type(self).__name__} {self.name!r} is a complete declaration made by its constructor, so "
                            f"{what} is refused; declare a gd.Graph with the blocks and edges you want instead")

    def _lower_pairs(self, name: str, a: str, b: str, pattern: Pairs | Grid) -> None:
        """Pairs and grids are parametric couplings of the Markov-network layer (one factor group)."""
        oa, ob = self._offsets[a], self._offsets[b]
        if isinstance(pattern, Grid):
            if a != b or len(self.blocks[a].shape) != 2:
                raise SpecError(f"a Grid edge joins a 2-D block with itself; got {a!r}-{b!r} with shape {self.blocks[a].shape}")
            rows, cols = self.blocks[a].shape
            local = grid_edges(rows, cols, periodic=pattern.periodic)
            weight = grid_weights(pattern.coupling, rows, cols, len(local), pattern.periodic)
            kind = pattern.coupling_kind
        else:
            local, weight, kind = pattern.pairs, pattern.weight, pattern.coupling
            na, nb = self.blocks[a].size, self.blocks[b].size
            if local[:, 0].min() < 0 or local[:, 0].max() >= na or local[:, 1].min() < 0 or local[:, 1].max() >= nb:
                raise SpecError(f"edge {name!r}: pair positions must lie in 0..{na - 1} ({a!r}) and 0..{nb - 1} ({b!r})")
        pairs = np.stack([local[:, 0] + oa, local[:, 1] + ob], 1)
        self.add_coupling(pairs, weight, kind=kind, name=name, pattern=pattern.kind)

    # ------------------------------------------------------------ structure
    def blocks_with_role(self, role: str) -> list[str]:
        """Names of the blocks with ``role`` (``"observed"``, ``"latent"`` or ``"input"``), in declaration order."""
        return [b for b in self.blocks if self.roles.get(b, "observed") == role]

    @property
    def observed_blocks(self) -> list[str]:
        """Names of the observed blocks."""
        return self.blocks_with_role("observed")

    @property
    def latent_blocks(self) -> list[str]:
        """Names of the latent blocks."""
        return self.blocks_with_role("latent")

    @property
    def input_blocks(self) -> list[str]:
        """Names of the input (conditioning) blocks."""
        return self.blocks_with_role("input")

    def dense_edges(self) -> list[Edge]:
        """The Dense edges (each lowered to one weight matrix), in declaration order."""
        return [e for e in self.edges.values() if isinstance(e.pattern, Dense)]

    def block_adjacency(self) -> dict[str, set[str]]:
        """Block -> the blocks it shares an edge or factor with (itself when it has internal edges)."""
        adj: dict[str, set[str]] = {b: set() for b in self.blocks}
        for e in self.dense_edges():
            adj[e.a].add(e.b)
            adj[e.b].add(e.a)
        for scope in self.factor_scopes():
            if len(scope) < 2:
                continue
            names = self.blocks_of(np.asarray(scope))
            if len(names) == 1:
                adj[names[0]].add(names[0])
            for x in names:
                adj[x].update(names)
        return adj

    def table_factors(self) -> list:
        """Every factor as an explicit log-table, as for a Markov network; a graph with dense edges
        or block biases (parameters set at compile time) refuses, naming the conversion to use."""
        if self.dense_edges() or self.biases:
            raise SpecError(f"graph {self.name!r} has dense edges or block biases, which are not table factors of the "
                            "declaration; compile it and use model.to_markov_network() (small discrete graphs)")
        return super().table_factors()

    @property
    def graph(self) -> nx.MultiGraph:
        """Block-level graph: block nodes (unit, role) and one node per edge or factor group."""
        g = super().graph
        for name in self.blocks:
            g.nodes[name]["unit"] = repr(self.units[name])
            g.nodes[name]["role"] = self.roles[name]
        for e in self.dense_edges():
            g.add_node(e.name, kind="factor", pattern="dense" if not e.lateral else "dense lateral")
            g.add_edge(e.name, e.a)
            if not e.lateral:
                g.add_edge(e.name, e.b)
        return g

    def __repr__(self) -> str:
        blocks = ", ".join(f"{b} {self.blocks[b].shape} {self.units[b].kind} {self.roles[b]}" for b in self.blocks)
        edges = [f"{','.join(e.sources) if isinstance(e.pattern, CPT) else e.a}"
                 f"{'->' if getattr(e.pattern, 'directed', False) else '-'}{e.b} {e.pattern.describe()}"
                 for e in self.edges.values()]
        if self.factors:
            edges.append(f"{len(self.factors)} table factors")
        return f"{type(self).__name__}({self.name!r}: blocks {blocks}; edges {', '.join(edges) or 'none'})"


GRAPH_CLASSES["graph"] = Graph

__all__ = ["Edge", "GRAPH_CLASSES", "Graph", "ROLES", "register_family"]
