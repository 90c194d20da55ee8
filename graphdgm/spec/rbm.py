"""Restricted Boltzmann machines and deep belief networks, declared as layers.

An RBM is two blocks (visible and hidden layers) and one dense edge between them: a 784x500 RBM
is two nodes, not 392,000 edges. A DBN is a stack of layers whose adjacent pairs are RBMs. A spec
only declares; :func:`graphdgm.compile` lowers it to torch with freshly initialised or given weights.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.spec.domains import Binary, Categorical, Domain, Real
from graphdgm.spec.validate import check_table_entries, positive_float, positive_int, real_array, shape_tuple
from graphdgm.graph.graph import Edge, Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Bernoulli, Gaussian, Softmax

VISIBLE_TYPES = ("bernoulli", "gaussian", "categorical")


def _visible_domain(visible_type: str, categories: int | None) -> Domain:
    if visible_type == "bernoulli":
        return Binary()
    if visible_type == "gaussian":
        return Real()
    if visible_type == "categorical":
        if categories is None:
            raise SpecError("a categorical (softmax) visible layer needs categories=k with k >= 2, e.g. RBM(10, 8, visible_type='categorical', categories=5)")
        return Categorical(positive_int(categories, "RBM categories (states of each softmax visible unit)", minimum=2))
    raise SpecError(f"unknown visible_type {visible_type!r}; use one of {VISIBLE_TYPES}")


def _shape(x: Any, what: str) -> tuple[int, ...]:
    shape = shape_tuple(x, what)
    if not shape:
        raise SpecError(f"{what} must be a positive size or shape such as 784 or (28, 28), got {x!r}")
    return shape


def _optional_array(x: Any, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    if x is None:
        return None
    a = real_array(x, what)
    if a.shape != shape:
        raise SpecError(f"{what} has shape {a.shape}; this RBM needs {shape}")
    if not np.isfinite(a).all():
        raise SpecError(f"{what} has non-finite entries (NaN or inf); every parameter must be a finite number")
    return a


class RBM(Graph):
    """A restricted Boltzmann machine: a visible layer ``v`` and a hidden layer ``h`` of binary units,
    fully connected between the layers and not within them.

    E(v, h) = -vᵀWh - bᵀv - cᵀh for Bernoulli visible units; ``visible_type="gaussian"`` gives
    E = Σ (v_i - b_i)²/(2σ_i²) - Σ (v_i/σ_i) W_ij h_j - cᵀh (unit σ unless ``sigma`` is given),
    and ``"categorical"`` gives softmax visible units with ``categories`` states each (one-hot
    inside). Parameters left as ``None`` are initialised at compile time: W ~ N(0, ``init_std``²),
    biases zero (or set the visible bias from data with :meth:`CompiledRBM.init_visible_bias`).

    >>> import graphdgm as gd
    >>> rbm = gd.RBM(visible=(28, 28), hidden=500)
    >>> rbm
    RBM('rbm': visible v (28, 28) bernoulli, hidden h (500,), 392000 weights)
    >>> rbm.num_variables, list(rbm.blocks)
    (1284, ['v', 'h'])
    """

    family_tag = "rbm"
    default_view = "family"

    def __init__(
        self,
        visible: int | Sequence[int],
        hidden: int,
        *,
        visible_type: str = "bernoulli",
        categories: int | None = None,
        weights: Any = None,
        visible_bias: Any = None,
        hidden_bias: Any = None,
        sigma: Any = None,
        init_std: float = 0.01,
        seed: int = 0,
        name: str = "rbm",
        visible_name: str = "v",
        hidden_name: str = "h",
    ) -> None:
        super().__init__(name)
        if not isinstance(visible_type, str):
            raise SpecError(f"unknown visible_type {visible_type!r}; use one of {VISIBLE_TYPES}")
        self.visible_type = visible_type
        self.visible_shape = _shape(visible, "visible")
        self.hidden_shape = _shape(hidden, "hidden")
        if len(self.hidden_shape) != 1:
            raise SpecError(f"hidden must be a number of units, got shape {self.hidden_shape}")
        dom = _visible_domain(self.visible_type, categories)
        self.categories = dom.cardinality if self.visible_type == "categorical" else None
        V, H = int(np.prod(self.visible_shape)), self.hidden_shape[0]
        k = (self.categories,) if self.categories else ()
        check_table_entries((V, *k, H), f"RBM {name!r} weight matrix")
        self.weights = _optional_array(weights, (V, *k, H), "weights")
        self.visible_bias = _optional_array(visible_bias, (V, *k), "visible_bias")
        self.hidden_bias = _optional_array(hidden_bias, (H,), "hidden_bias")
        if sigma is not None and self.visible_type != "gaussian":
            raise SpecError("sigma is the standard deviation of Gaussian visible units; use visible_type='gaussian'")
        if sigma is not None:
            s = real_array(sigma, "sigma")
            if s.size not in (1, V):
                raise SpecError(f"sigma has shape {s.shape}; give a scalar or one value per visible unit, shape ({V},)")
            sigma = np.broadcast_to(s.reshape(-1), (V,)).copy()
        self.sigma = _optional_array(sigma, (V,), "sigma")
        if self.sigma is not None and (self.sigma <= 0).any():
            raise SpecError("sigma must be positive for every visible unit")
        self.init_std = positive_float(init_std, "init_std", allow_zero=True)
        self.seed = positive_int(seed, "seed", minimum=0)
        # the graph: two blocks and one dense edge
        if self.visible_type == "gaussian":
            unit = Gaussian(1.0 if self.sigma is None else tuple(float(x) for x in self.sigma))
        elif self.visible_type == "categorical":
            unit = Softmax(self.categories)
        else:
            unit = Bernoulli()
        self.visible_name = self.block(visible_name, self.visible_shape, unit,
                                       bias=True if self.visible_bias is None else self.visible_bias)
        self.hidden_name = self.block(hidden_name, self.hidden_shape, Bernoulli(), role="latent",
                                      bias=True if self.hidden_bias is None else self.hidden_bias)
        self.connect(self.visible_name, self.hidden_name, Dense(self.weights, init_std=self.init_std, seed=self.seed,
                                                                layout=(V, *k, H)), name="W")

    @classmethod
    def from_graph(cls, g: Graph) -> RBM:
        """The RBM a graph of two blocks and one dense edge declares (validated here): the visible
        unit type, weights, biases, σ, init_std and seed are read from the blocks and the edge."""
        dense = g.dense_edges()
        if len(g.blocks) != 2 or len(dense) != 1 or dense[0].lateral or len(g.edges) != 1:
            raise SpecError(f"an RBM is two blocks joined by one dense edge; graph {g.name!r} has blocks "
                            f"{list(g.blocks)} and edges {list(g.edges)}")
        e = dense[0]
        v, h, unit = e.a, e.b, g.units[e.a]
        kind = {"gaussian": "gaussian", "softmax": "categorical"}.get(unit.kind, "bernoulli")
        sigma = getattr(unit, "sigma", None)
        return cls(g.blocks[v].shape, g.blocks[h].size, visible_type=kind,
                   categories=getattr(unit, "k", None) if kind == "categorical" else None,
                   weights=e.pattern.weights, visible_bias=g.biases.get(v), hidden_bias=g.biases.get(h),
                   sigma=None if not isinstance(sigma, tuple) else sigma, init_std=e.pattern.init_std,
                   seed=e.pattern.seed, name=g.name, visible_name=v, hidden_name=h)

    @property
    def num_visible(self) -> int:
        """Number of visible units (the product of ``visible_shape``)."""
        return int(np.prod(self.visible_shape))

    @property
    def num_hidden(self) -> int:
        """Number of hidden units."""
        return self.hidden_shape[0]

    @property
    def graph(self) -> nx.MultiGraph:
        """Two block nodes and one dense weight edge: the RBM's bipartite graph at block level."""
        g = self._block_graph()
        g.add_edge(self.visible_name, self.hidden_name, kind="dense", name="W", count=self.num_visible * self.num_hidden)
        return g

    def to_markov_network(self, weights: Any = None, visible_bias: Any = None, hidden_bias: Any = None) -> Any:
        """The same model as a :class:`~graphdgm.MarkovNetwork` of pairwise factors (Bernoulli visible
        units only), for exact or message-passing inference and pgmpy export of small RBMs.
        Parameters default to the spec's own (which must then be given)."""
        from graphdgm.spec.markov_network import MarkovNetwork

        if self.visible_type != "bernoulli":
            raise SpecError("to_markov_network covers Bernoulli-Bernoulli RBMs; this one has "
                            f"{self.visible_type} visible units")
        W = self.weights if weights is None else np.asarray(weights, dtype=np.float64)
        b = self.visible_bias if visible_bias is None else np.asarray(visible_bias, dtype=np.float64)
        c = self.hidden_bias if hidden_bias is None else np.asarray(hidden_bias, dtype=np.float64)
        if W is None or b is None or c is None:
            raise SpecError("to_markov_network needs weights and biases: give them here or in the spec, "
                            "or call model.to_markov_network() on a compiled RBM")
        V, H = self.num_visible, self.num_hidden
        mn = MarkovNetwork(self.name)
        mn.add_block(self.visible_name, self.visible_shape, Binary())
        mn.add_block(self.hidden_name, self.hidden_shape, Binary())
        vi, hj = np.meshgrid(np.arange(V), V + np.arange(H), indexing="ij")
        pairs = np.stack([vi.ravel(), hj.ravel()], 1)  # (V H, 2) packed indices
        mn.add_coupling(pairs, np.asarray(W, dtype=np.float64).reshape(V * H), kind="ising", name="W")  # log φ = W_ij v_i h_j
        mn.add_field(self.visible_name, np.asarray(b, dtype=np.float64).reshape(V), kind="ising", name="b")
        mn.add_field(self.hidden_name, np.asarray(c, dtype=np.float64).reshape(H), kind="ising", name="c")
        return mn

    def __repr__(self) -> str:
        kind = self.visible_type + (f"({self.categories})" if self.categories else "")
        return (f"RBM({self.name!r}: visible {self.visible_name} {self.visible_shape} {kind}, "
                f"hidden {self.hidden_name} {self.hidden_shape}, {self.num_visible * self.num_hidden * (self.categories or 1)} weights)")


class DBN(Graph):
    """A deep belief network: layers ``v, h1, ..., hL``; the top two form an undirected RBM, the
    others a directed sigmoid belief net pointing down. Each adjacent pair is an :class:`RBM`
    (``self.rbms``), trained greedily layer by layer with :func:`graphdgm.learn.fit_layerwise`.

    >>> import graphdgm as gd
    >>> dbn = gd.DBN([784, 500, 2000])
    >>> [str(r) for r in dbn.rbms]
    ["RBM('dbn.0': visible v (784,) bernoulli, hidden h1 (500,), 392000 weights)", "RBM('dbn.1': visible h1 (500,) bernoulli, hidden h2 (2000,), 1000000 weights)"]
    """

    family_tag = "dbn"
    default_view = "family"

    def __init__(self, layers: Sequence[int | Sequence[int]], *, visible_type: str = "bernoulli",
                 categories: int | None = None, init_std: float = 0.01, seed: int = 0, name: str = "dbn") -> None:
        super().__init__(name)
        if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)):
            raise SpecError(f"DBN layers must be a list of layer sizes such as [784, 500, 2000], got {layers!r}")
        if len(layers) < 2:
            raise SpecError(f"a DBN needs at least two layers (visible and one hidden), got {list(layers)}")
        self.layer_names = ["v"] + [f"h{i}" for i in range(1, len(layers))]
        shapes = [_shape(s, f"layer {i}") for i, s in enumerate(layers)]
        self.rbms: list[RBM] = []
        for i in range(len(layers) - 1):
            self.rbms.append(RBM(
                shapes[i], int(np.prod(shapes[i + 1])), visible_type=visible_type if i == 0 else "bernoulli",
                categories=categories if i == 0 else None, init_std=init_std, seed=positive_int(seed, "seed", minimum=0) + i,
                name=f"{name}.{i}", visible_name=self.layer_names[i], hidden_name=self.layer_names[i + 1],
            ))
        self.block("v", shapes[0], self.rbms[0].units["v"], bias=False)  # the biases live in the layers' RBMs
        for n, s in zip(self.layer_names[1:], shapes[1:]):
            self.block(n, (int(np.prod(s)),), Bernoulli(), role="latent", bias=False)
        self.visible_type = visible_type
        self._seal()

    def _derived_edges(self) -> dict[str, Any]:
        """One dense edge per layer pair, the layer RBM's own (its weights, init_std and seed)."""
        return {f"W{i + 1}": Edge(f"W{i + 1}", r.visible_name, r.hidden_name, r.edges["W"].pattern)
                for i, r in enumerate(self.rbms)}

    @property
    def generative_edges(self) -> frozenset[str]:
        """The edges below the top pair: directed (top-down) in the generative model."""
        return frozenset(f"W{i + 1}" for i in range(len(self.rbms) - 1))

    @classmethod
    def from_graph(cls, g: Graph) -> DBN:
        """The DBN a chain of layer blocks joined by dense edges declares (validated here)."""
        names = list(g.blocks)
        edges = list(g.edges.values())
        if len(edges) != len(names) - 1 or any(not isinstance(e.pattern, Dense) or (e.a, e.b) != (names[i], names[i + 1])
                                               for i, e in enumerate(edges)):
            raise SpecError(f"a DBN is a chain of layers joined by dense edges; graph {g.name!r} has blocks {names} and "
                            f"edges {[(e.a, e.b) for e in edges]}")
        unit = g.units[names[0]]
        kind = {"gaussian": "gaussian", "softmax": "categorical"}.get(unit.kind, "bernoulli")
        layers = [g.blocks[names[0]].shape] + [g.blocks[n].size for n in names[1:]]
        first = edges[0].pattern
        return cls(layers, visible_type=kind, categories=getattr(unit, "k", None) if kind == "categorical" else None,
                   init_std=first.init_std, seed=first.seed, name=g.name)

    @property
    def graph(self) -> nx.MultiGraph:
        """Layer nodes; directed edges (``directed=True``) below the top pair, undirected at the top."""
        g = self._block_graph()
        top = len(self.rbms) - 1
        for i, r in enumerate(self.rbms):
            g.add_edge(r.visible_name, r.hidden_name, kind="dense", name=f"W{i + 1}", directed=i < top,
                       count=r.num_visible * r.num_hidden)
        return g

    def __repr__(self) -> str:
        sizes = "-".join(str(b.size) for b in self.blocks.values())
        return f"DBN({self.name!r}: {sizes}, {self.visible_type} visible)"
