"""The Markov network / factor graph spec: blocks of variables joined by factors.

A spec only declares; :func:`graphdgm.compile` lowers it to torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.spec.domains import Domain, Spin
from graphdgm.spec.factors import COUPLING_KINDS, FIELD_KINDS, CouplingGroup, FieldGroup, TableFactor
from graphdgm.spec.names import canonical, check_block_name, format_name, parse_name, safe_name
from graphdgm.spec.validate import check_table_entries, positive_int, real_array, shape_tuple
from graphdgm.spec.variables import VariableBlocks


_as_float_array = real_array  # every table and weight is read by one checker (no complex, no strings)


class MarkovNetwork(VariableBlocks):
    """An undirected graphical model declared as blocks of variables and factors.

    >>> import graphdgm as gd
    >>> mn = gd.MarkovNetwork()
    >>> mn.add_variable("a", gd.Categorical(3))
    'a'
    >>> mn.add_block("x", (2,), gd.Binary())
    'x'
    >>> mn.add_factor(["a", "x[0]"], [[1, 2], [3, 4], [5, 6]])
    'f0'
    >>> mn.add_coupling([("x[0]", "x[1]")], 0.5)
    'J0'
    >>> mn.num_variables
    3
    """

    def __init__(self, name: str = "markov_network") -> None:
        super().__init__(name)
        self.factors: list[TableFactor] = []
        self.couplings: list[CouplingGroup] = []
        self.fields: list[FieldGroup] = []

    # ----------------------------------------------------------------- variables
    def add_block(self, name: str, shape: Sequence[int] | int, domain: Domain) -> str:
        """Declare a plate of variables ``name[i,j,...]`` of the given shape, all in ``domain``."""
        return self._declare_block(name, shape, domain)

    def add_variable(self, name: str, domain: Domain) -> str:
        """Declare a single variable (a block of shape ``()``)."""
        return self.add_block(name, (), domain)

    def cardinalities(self) -> list[int]:
        """The number of states of every variable in packed order; a SpecError for real variables."""
        out = []
        for d in self.domains():
            if d.cardinality is None:
                raise SpecError("cardinalities are defined only for discrete variables")
            out.append(d.cardinality)
        return out

    # ------------------------------------------------------------------ factors
    def add_factor(
        self,
        scope: Sequence[str],
        table: Any = None,
        *,
        log_table: Any = None,
        name: str | None = None,
    ) -> str:
        """Add a table factor φ(scope); ``table`` holds potentials (≥ 0), or give ``log_table``.

        The table's axes follow ``scope``: ``table[i, j]`` is φ(scope[0]=i, scope[1]=j).
        """
        if isinstance(scope, str):
            scope = [scope]
        if not isinstance(scope, (list, tuple)) or not all(isinstance(s, str) for s in scope):
            raise SpecError(f"a factor's scope is a list of variable names such as ['a', 'x[0]'], got {scope!r}")
        for s in scope:
            self.index_of(s)  # an unparsable or undeclared name is an UnknownVariableError naming it
        scope = tuple(canonical(s) for s in scope)
        if len(scope) == 0:
            raise SpecError("a factor needs at least one variable in its scope")
        if len(set(scope)) != len(scope):
            raise SpecError(f"factor scope {list(scope)} repeats a variable; each variable may appear once")
        cards = []
        for v in scope:
            self.index_of(v)  # raises UnknownVariableError
            d = self.domain_of(v)
            if not d.is_discrete:
                raise SpecError(f"table factor over {v!r}: {v!r} is real-valued; tables need discrete variables")
            cards.append(d.cardinality)
        name = name or f"f{len(self.factors)}"
        if not isinstance(name, str) or not name:
            raise SpecError(f"factor name {name!r} must be a non-empty string")
        check_table_entries(cards, f"factor {name!r} over {list(scope)}")
        if any(f.name == name for f in self.factors):
            raise SpecError(f"duplicate factor name {name!r}")
        if (table is None) == (log_table is None):
            raise SpecError(f"factor {name!r} over {list(scope)}: give exactly one of table= or log_table=")
        if table is not None:
            arr = _as_float_array(table, f"factor {name!r} table")
            self._check_shape(name, scope, cards, arr)
            if not np.all(np.isfinite(arr)):
                raise SpecError(f"factor {name!r} over {list(scope)} has non-finite potentials (NaN or inf); potentials must be finite and >= 0")
            if np.any(arr < 0):
                raise SpecError(f"factor {name!r} over {list(scope)} has negative potentials (min {arr.min():g}); potentials must be >= 0 (use log_table= for log-potentials)")
            with np.errstate(divide="ignore"):
                log_arr = np.log(arr)
        else:
            log_arr = _as_float_array(log_table, f"factor {name!r} log_table")
            self._check_shape(name, scope, cards, log_arr)
            if np.any(np.isnan(log_arr)) or np.any(log_arr == np.inf):
                raise SpecError(f"factor {name!r} over {list(scope)} has NaN or +inf log-potentials; use finite values (-inf marks an impossible state)")
        if np.all(log_arr == -np.inf):
            raise SpecError(f"factor {name!r} over {list(scope)} is zero everywhere, so every state is impossible")
        self.factors.append(TableFactor(scope, log_arr.copy(), name))
        return name

    @staticmethod
    def _check_shape(name: str, scope: tuple[str, ...], cards: list[int], arr: np.ndarray) -> None:
        if tuple(arr.shape) != tuple(cards):
            raise SpecError(
                f"factor {name!r} over {list(scope)} needs a table of shape {tuple(cards)} "
                f"(the cardinalities in scope order) but got shape {tuple(arr.shape)}; "
                "reorder the scope or transpose the table"
            )

    def add_coupling(
        self,
        pairs: Sequence[tuple[str, str]] | np.ndarray,
        weight: Any,
        *,
        kind: str = "ising",
        name: str | None = None,
        pattern: str = "pairs",
    ) -> str:
        """Add parametric pairwise factors over many pairs at once.

        ``kind="ising"``: log φ = w·v(x_i)·v(x_j) (v = ±1 for spins, 0/1 for binary);
        ``kind="potts"``: log φ = w·[x_i = x_j]. ``weight`` is a scalar or one value per pair.
        ``pairs`` is a list of name pairs or an integer array (E, 2) of packed indices.
        """
        if kind not in COUPLING_KINDS:
            raise SpecError(f"coupling kind {kind!r} is unknown; use one of {COUPLING_KINDS}")
        idx = self.pair_indices(pairs, "coupling")
        if len(idx) == 0:
            raise SpecError("add_coupling needs at least one pair")
        if np.any(idx[:, 0] == idx[:, 1]):
            bad = self.variables[int(idx[idx[:, 0] == idx[:, 1]][0, 0])]
            raise SpecError(f"coupling of {bad!r} with itself; a pairwise factor needs two different variables")
        doms = self.domains()
        for col in (0, 1):
            if any(not doms[i].is_discrete for i in idx[:, col]):
                raise SpecError("couplings are defined for discrete variables; a real variable was given")
        w = _as_float_array(weight, f"coupling {name or ''} weight")
        if w.ndim == 0:
            w = np.full(len(idx), float(w))
        w = w.reshape(-1) if w.size == len(idx) else w
        if w.shape != (len(idx),):
            raise SpecError(f"coupling weight has shape {w.shape}; give a scalar or one value per pair, shape ({len(idx)},)")
        if not np.all(np.isfinite(w)):
            raise SpecError("coupling weights must be finite (got NaN or inf)")
        name = name or f"J{len(self.couplings)}"
        blocks = self.blocks_of(np.unique(idx))
        self.couplings.append(CouplingGroup(name, kind, idx, w.copy(), pattern, blocks))
        return name

    def add_field(
        self,
        variables: Sequence[str] | str,
        weight: Any,
        *,
        kind: str | None = None,
        name: str | None = None,
    ) -> str:
        """Add unary factors: ``kind="ising"`` gives log φ = h·v(x) (one value per variable);
        ``kind="table"`` gives log φ(x=s) = h[i, s] (shape (n, k)). A block name means all its variables.
        """
        idx = np.array(self._resolve(variables), dtype=np.int64)
        if len(idx) == 0:
            raise SpecError("add_field needs at least one variable (a name, a list of names or a block name)")
        all_doms = self.domains()
        doms = [all_doms[i] for i in idx]
        if any(not d.is_discrete for d in doms):
            raise SpecError("fields are defined for discrete variables; a real variable was given")
        w = _as_float_array(weight, "field weight")
        if kind is None:
            kind = "table" if (w.ndim >= 1 and w.shape[-1] == doms[0].cardinality and w.size == len(idx) * doms[0].cardinality and w.size != len(idx)) else "ising"
        if kind not in FIELD_KINDS:
            raise SpecError(f"field kind {kind!r} is unknown; use one of {FIELD_KINDS}")
        if kind == "ising":
            if w.ndim == 0:
                w = np.full(len(idx), float(w))
            if w.size != len(idx):
                raise SpecError(f"ising field has {w.size} values for {len(idx)} variables; give a scalar or shape ({len(idx)},)")
            w = w.reshape(-1)
        else:
            k = doms[0].cardinality
            if any(d.cardinality != k for d in doms):
                raise SpecError("a table field needs variables of one cardinality; add one field per cardinality")
            if w.ndim == 1 and w.shape == (k,):
                w = np.broadcast_to(w, (len(idx), k))
            if w.size != len(idx) * k:
                raise SpecError(f"table field needs shape ({len(idx)}, {k}) (variables, states), got {w.shape}")
            w = w.reshape(len(idx), k)
        if not np.all(np.isfinite(w)):
            raise SpecError("field weights must be finite (got NaN or inf)")
        name = name or f"h{len(self.fields)}"
        block = variables if isinstance(variables, str) and variables in self.blocks else ""
        self.fields.append(FieldGroup(name, kind, idx, np.array(w, dtype=np.float64), block))
        return name

    def table_factors(self) -> list[TableFactor]:
        """Every factor as an explicit log-table (couplings and fields expanded), for I/O and checks.

        This walks factors one by one in numpy; compiled models never use it on a hot path.

        >>> import graphdgm as gd
        >>> [f.log_table.shape for f in gd.MarkovNetwork.ising_grid(1, 2, field=0.1).table_factors()]
        [(2, 2), (2,), (2,)]
        """
        names = self.variables
        doms = self.domains()
        out = list(self.factors)
        for c in self.couplings:
            for e, (a, b) in enumerate(c.pairs):
                da, db = doms[int(a)], doms[int(b)]
                if c.kind == "ising":
                    t = c.weights[e] * np.outer(da.values, db.values)
                else:
                    t = c.weights[e] * np.equal.outer(np.arange(da.cardinality), np.arange(db.cardinality)).astype(np.float64)
                out.append(TableFactor((names[int(a)], names[int(b)]), t, f"{c.name}[{e}]"))
        for fg in self.fields:
            for j, i in enumerate(fg.variables):
                d = doms[int(i)]
                t = fg.weights[j] * np.asarray(d.values) if fg.kind == "ising" else np.asarray(fg.weights[j])
                out.append(TableFactor((names[int(i)],), np.array(t, dtype=np.float64), f"{fg.name}[{j}]"))
        return out

    # ----------------------------------------------------------------- graphs
    def factor_scopes(self) -> list[tuple[int, ...]]:
        """Packed-index scope of every factor (tables, couplings, fields), one entry per factor."""
        scopes = [tuple(self.index_of(v) for v in f.scope) for f in self.factors]
        for c in self.couplings:
            scopes.extend((int(a), int(b)) for a, b in c.pairs)
        for fg in self.fields:
            scopes.extend((int(i),) for i in fg.variables)
        return scopes

    def variable_graph(self) -> nx.Graph:
        """The Markov graph: one node per variable, an edge where two variables share a factor."""
        names = self.variables
        g = nx.Graph()
        g.add_nodes_from(names)
        for scope in self.factor_scopes():
            for i in range(len(scope)):
                for j in range(i + 1, len(scope)):
                    g.add_edge(names[scope[i]], names[scope[j]])
        return g

    @property
    def graph(self) -> nx.MultiGraph:
        """Block-level graph: block nodes (kind='block') and factor-group nodes (kind='factor')."""
        g = self._block_graph()
        for f in self.factors:
            g.add_node(f.name, kind="factor", pattern="table", arity=len(f.scope))
            for v in dict.fromkeys(parse_name(v)[0] for v in f.scope):
                g.add_edge(f.name, v)
        for c in self.couplings:
            g.add_node(c.name, kind="factor", pattern=f"{c.kind} {c.pattern}", count=len(c.pairs))
            for b in dict.fromkeys(c.blocks):
                g.add_edge(c.name, b)
        for fg in self.fields:
            g.add_node(fg.name, kind="factor", pattern=f"{fg.kind} field", count=len(fg.variables))
            for b in self.blocks_of(fg.variables):
                g.add_edge(fg.name, b)
        return g

    def _repr_svg_(self) -> str | None:
        """The drawing (``gd.draw(self)``) as SVG, so that a notebook shows it, rendered by system
        Graphviz or the bundled graphviz-pure; ``None`` (the text repr is shown) when neither can.

        >>> svg = MarkovNetwork.ising_grid(2, 2)._repr_svg_()
        >>> svg is None or "<svg" in svg
        True
        """
        from graphdgm.viz.notebook import notebook_svg

        return notebook_svg(self)

    def __repr__(self) -> str:
        return (
            f"MarkovNetwork({self.name!r}: {self.num_variables} variables in {len(self.blocks)} blocks, "
            f"{len(self.factors)} table factors, {sum(len(c.pairs) for c in self.couplings)} couplings, "
            f"{sum(len(f.variables) for f in self.fields)} unary fields)"
        )

    # ----------------------------------------------------------- constructors
    @classmethod
    def ising_grid(
        cls,
        rows: int,
        cols: int,
        coupling: Any = 0.4,
        field: Any = 0.0,
        *,
        periodic: bool = False,
        domain: Domain | None = None,
        name: str = "x",
    ) -> "MarkovNetwork":
        """An Ising model on a rows×cols grid: p(x) ∝ exp(Σ J_ij x_i x_j + Σ h_i x_i), x_i ∈ {-1,+1}.

        ``coupling`` is a scalar, one value per edge (in :func:`grid_edges` order) or a pair of arrays
        (horizontal (rows, cols-1), vertical (rows-1, cols)); ``field`` a scalar or shape (rows, cols).

        >>> import graphdgm as gd
        >>> gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1).num_variables
        9
        """
        rows, cols = positive_int(rows, "ising_grid rows"), positive_int(cols, "ising_grid cols")
        mn = cls(name=f"ising_{rows}x{cols}")
        mn.add_block(name, (rows, cols), domain or Spin())
        edges = grid_edges(rows, cols, periodic=periodic)
        weights = grid_weights(coupling, rows, cols, len(edges), periodic)
        if len(edges):  # a 1x1 grid has no edges
            mn.add_coupling(edges, weights, kind="ising", name="J", pattern="grid")
        f = _as_float_array(field, "field")
        if f.ndim == 0 and float(f) == 0.0:
            return mn
        mn.add_field(name, f.reshape(-1) if f.ndim else f, kind="ising", name="h")
        return mn

    @classmethod
    def potts_grid(
        cls, rows: int, cols: int, k: int, coupling: Any = 0.5, field: Any = None, *, periodic: bool = False, name: str = "x"
    ) -> "MarkovNetwork":
        """A k-state Potts model on a grid: p(x) ∝ exp(Σ J_ij [x_i = x_j] + Σ h_i(x_i)).

        ``field`` is None, shape (k,) shared by all sites, or shape (rows, cols, k).

        >>> import graphdgm as gd
        >>> gd.MarkovNetwork.potts_grid(2, 3, k=3).num_variables
        6
        """
        from graphdgm.spec.domains import Categorical

        rows, cols = positive_int(rows, "potts_grid rows"), positive_int(cols, "potts_grid cols")
        k = positive_int(k, "potts_grid k (states per site)", minimum=2)
        mn = cls(name=f"potts{k}_{rows}x{cols}")
        mn.add_block(name, (rows, cols), Categorical(k))
        edges = grid_edges(rows, cols, periodic=periodic)
        weights = grid_weights(coupling, rows, cols, len(edges), periodic)
        if len(edges):  # a 1x1 grid has no edges
            mn.add_coupling(edges, weights, kind="potts", name="J", pattern="grid")
        if field is not None:
            f = _as_float_array(field, "field")
            if f.ndim == 3 and f.shape != (rows, cols, k):
                raise SpecError(f"potts_grid field needs shape ({k},) or ({rows}, {cols}, {k}), got {f.shape}")
            mn.add_field(name, f.reshape(-1, k) if f.ndim == 3 else f, kind="table", name="h")
        return mn

    @classmethod
    def from_networkx(
        cls,
        graph: nx.Graph,
        domain: Domain | None = None,
        *,
        coupling: Any = None,
        kind: str = "ising",
        name: str = "markov_network",
        block: str = "v",
    ) -> "MarkovNetwork":
        """Build from a networkx graph: one variable per node, one pairwise factor per edge.

        Node attributes: ``domain`` (a Domain; else ``domain`` argument, default Spin), ``field``
        (ising field h) or ``table`` (unary potentials). Edge attributes: ``table`` (a potential
        table, axes in (u, v) order), else ``weight`` (a coupling of ``kind``), else ``coupling``.

        Variable names: when the nodes are tuples of non-negative ints filling a whole grid (as in
        ``nx.grid_2d_graph``) and share one domain, they become one block ``block`` and node
        ``(i, j)`` is the variable ``"v[i,j]"``. Otherwise each node is named ``str(node)``, with
        whitespace, brackets and commas replaced by ``_`` (``"a b"`` -> ``"a_b"``, ``(0, 1)`` ->
        ``"0_1"``) and a suffix ``_2``, ``_3`` ... where two nodes would collide.
        :func:`variable_names_of` gives the mapping.

        >>> import networkx as nx, graphdgm as gd
        >>> gd.MarkovNetwork.from_networkx(nx.cycle_graph(4), coupling=0.3).num_variables
        4
        >>> gd.MarkovNetwork.from_networkx(nx.grid_2d_graph(2, 2), coupling=0.3).variables
        ['v[0,0]', 'v[0,1]', 'v[1,0]', 'v[1,1]']
        """
        if not isinstance(graph, nx.Graph):
            raise SpecError(f"from_networkx needs a networkx graph, got {type(graph).__name__}")
        mn = cls(name=name)
        doms = {n: data.get("domain", domain or Spin()) for n, data in graph.nodes(data=True)}
        label, shape = variable_names_of(graph, block)
        if shape is not None and len(set(doms.values())) == 1:
            mn.add_block(block, shape, next(iter(doms.values())))
        else:
            label, _ = variable_names_of(graph, None)
            for n in graph.nodes:
                mn.add_variable(label[n], doms[n])
        pairs, weights = [], []
        for u, v, data in graph.edges(data=True):
            if "table" in data:
                mn.add_factor([label[u], label[v]], data["table"], name=f"f[{label[u]},{label[v]}]")
            else:
                w = data.get("weight", coupling)
                if w is None:
                    raise SpecError(f"edge ({u!r}, {v!r}) has no 'table' or 'weight' attribute and no coupling= was given")
                pairs.append((label[u], label[v]))
                weights.append(w)
        if pairs:
            mn.add_coupling(pairs, real_array(weights, "networkx edge weights"), kind=kind, name="J", pattern="graph")
        for n, data in graph.nodes(data=True):
            if "table" in data:
                mn.add_factor([label[n]], data["table"], name=f"f[{label[n]}]")
            elif "field" in data:
                mn.add_field([label[n]], real_array(data["field"], f"node {n!r} field").reshape(-1), kind="ising", name=f"h[{label[n]}]")
        return mn


def variable_names_of(graph: nx.Graph, block: str | None = "v") -> tuple[dict[Any, str], tuple[int, ...] | None]:
    """The spec variable name of every node of ``graph``, as :meth:`MarkovNetwork.from_networkx` names them,
    and the block shape when the nodes are int tuples filling a grid (``None`` otherwise, or when
    ``block`` is ``None``).

    >>> import networkx as nx
    >>> variable_names_of(nx.grid_2d_graph(1, 2))
    ({(0, 0): 'v[0,0]', (0, 1): 'v[0,1]'}, (1, 2))
    >>> variable_names_of(nx.Graph([("a b", "a_b")]))
    ({'a b': 'a_b_2', 'a_b': 'a_b'}, None)
    """
    nodes = list(graph.nodes)

    def grid_index(n: Any) -> bool:
        return isinstance(n, tuple) and len(n) > 0 and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i >= 0 for i in n)

    if block is not None and nodes and all(grid_index(n) for n in nodes) and len({len(n) for n in nodes}) == 1:
        check_block_name(block)
        shape = tuple(max(int(n[d]) for n in nodes) + 1 for d in range(len(nodes[0])))
        if int(np.prod(shape)) == len(nodes):
            return {n: format_name(block, tuple(int(i) for i in n)) for n in nodes}, shape
    valid = {}
    for n in nodes:
        s = n if isinstance(n, str) else str(n)
        try:
            valid[n] = check_block_name(s)
        except SpecError:
            valid[n] = None
    used = {s for s in valid.values() if s is not None}
    names: dict[Any, str] = {}
    for n in nodes:
        if valid[n] is not None:
            names[n] = valid[n]
            continue
        base = safe_name(n)
        cand, k = base, 2
        while cand in used:
            cand, k = f"{base}_{k}", k + 1
        used.add(cand)
        names[n] = cand
    return names, None


def grid_edges(rows: int, cols: int, *, periodic: bool = False) -> np.ndarray:
    """Edges of a rows×cols grid as packed indices (E, 2): horizontal edges row-major, then vertical.

    >>> grid_edges(2, 2).tolist()
    [[0, 1], [2, 3], [0, 2], [1, 3]]
    """
    rows, cols = positive_int(rows, "grid rows"), positive_int(cols, "grid cols")
    ids = np.arange(rows * cols).reshape(rows, cols)
    h = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1)
    v = np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], 1)
    parts = [h, v]
    if periodic:
        if cols > 2:
            parts.append(np.stack([ids[:, -1], ids[:, 0]], 1))
        if rows > 2:
            parts.append(np.stack([ids[-1, :], ids[0, :]], 1))
    return np.concatenate(parts).astype(np.int64)


def grid_weights(coupling: Any, rows: int, cols: int, n_edges: int, periodic: bool) -> np.ndarray:
    """One coupling per grid edge (n_edges,), in :func:`grid_edges` order, from a scalar, ``n_edges``
    values, or (non-periodic) a (horizontal (rows, cols-1), vertical (rows-1, cols)) pair.

    >>> grid_weights(0.5, 2, 2, 4, periodic=False).tolist()
    [0.5, 0.5, 0.5, 0.5]"""
    if isinstance(coupling, tuple) and len(coupling) == 2 and not periodic:
        hz = _as_float_array(coupling[0], "horizontal coupling")
        vt = _as_float_array(coupling[1], "vertical coupling")
        if hz.shape != (rows, cols - 1) or vt.shape != (rows - 1, cols):
            raise SpecError(
                f"grid couplings (horizontal, vertical) need shapes ({rows}, {cols - 1}) and ({rows - 1}, {cols}), "
                f"got {hz.shape} and {vt.shape}"
            )
        return np.concatenate([hz.ravel(), vt.ravel()])
    w = _as_float_array(coupling, "coupling")
    if w.ndim == 0:
        return np.full(n_edges, float(w))
    if w.size != n_edges:
        raise SpecError(f"grid coupling needs a scalar or {n_edges} values (one per edge, grid_edges order), got shape {w.shape}")
    return w.reshape(-1)


__all__ = ["MarkovNetwork", "grid_edges", "format_name", "variable_names_of"]
