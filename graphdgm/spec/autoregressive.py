"""Neural autoregressive models over binary images or vectors, declared as DAGs.

Each family is a :class:`~graphdgm.Graph`: one block ``x`` of binary variables and one
autoregressive edge on it (``MaskedDense``, ``TiedDense``, ``MaskedConv``, ``RecurrentRows``) with
an ordering: p(x) = Π_d p(x_πd | x_π<d). ``gd.MADE(784, hidden=[500])`` and the graph
``g.connect(x, x, gd.graph.MaskedDense(hidden=[500]))`` declare the same model.
NADE and MADE take any ordering (natural by default); PixelCNN and PixelRNN use the raster order
of a 2-D image. A spec only declares the architecture; :func:`graphdgm.compile` builds the torch
network (weights initialised from ``seed``) with exact ``log_prob`` and sampling.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Edge, Graph, register_family
from graphdgm.graph.patterns import Autoregressive, MaskedConv, MaskedDense, RecurrentRows, TiedDense
from graphdgm.graph.units import Bernoulli
from graphdgm.spec.validate import positive_int, shape_tuple


def _shape(x: Any) -> tuple[int, ...]:
    """A positive size or shape; never truncates (``(2.7, 3)`` is an error, not ``(2, 3)``)."""
    if isinstance(x, str) or getattr(x, "ndim", None) == 0 or not (isinstance(x, Sequence) or hasattr(x, "__len__")):
        return shape_tuple(x, "shape (a positive size such as 784 or a shape such as (28, 28))")
    shape = shape_tuple(tuple(x), f"shape {tuple(x)!r}")  # any sequence (a range, a 1-D tensor) as before
    if not shape:
        raise SpecError(f"shape must be a positive size or shape such as 784 or (28, 28), got {x!r}")
    return shape


def _positive(x: Any, what: str) -> int:
    return positive_int(x, what)


class AutoregressiveModel(Graph):
    """Base of the neural autoregressive families: a graph of one block ``x`` of binary units and
    one autoregressive edge ``AR_x`` on it, with an ordering."""

    def __init__(self, shape: int | Sequence[int], *, ordering: Sequence[int] | str | None = None,
                 seed: int = 0, name: str = "ar") -> None:
        super().__init__(name)
        self.shape = _shape(shape)
        self.block("x", self.shape, Bernoulli())
        D = self.num_variables
        if ordering is None or (isinstance(ordering, str) and ordering == "natural"):
            order = np.arange(D)
        elif isinstance(ordering, str) and ordering == "random":
            order = np.random.default_rng(seed).permutation(D)
        elif isinstance(ordering, str):
            raise SpecError(f"ordering must be 'natural', 'random' or a permutation of 0..{D - 1}, got {ordering!r}")
        else:
            order = np.asarray(ordering, dtype=np.int64).reshape(-1)
            if order.shape != (D,) or not np.array_equal(np.sort(order), np.arange(D)):
                raise SpecError(f"ordering must be a permutation of 0..{D - 1} (one entry per variable of x, "
                                f"shape {self.shape}); got {len(order)} entries")
        self.ordering = order
        self.seed = int(seed)

    def _pattern(self) -> Autoregressive:
        raise NotImplementedError

    def _declare_edge(self) -> None:
        """Called last by each constructor: the graph is complete, its edge made from the arguments."""
        self._seal()

    def _derived_edges(self) -> dict[str, Edge]:
        return {"AR_x": Edge("AR_x", "x", "x", self._pattern())}

    @classmethod
    def from_graph(cls, g: Graph) -> AutoregressiveModel:
        """The family declared by graph ``g``'s autoregressive edge (validated here)."""
        e = g.autoregressive_edge()
        if e is None:
            raise SpecError(f"graph {g.name!r} has no autoregressive edge")
        return cls(g.blocks[e.a].shape, **e.pattern.options, seed=e.pattern.seed, name=g.name)

    @property
    def num_pixels(self) -> int:
        """Number of binary variables (pixels) in the block."""
        return self.num_variables

    def variable_dag(self, limit: int = 64) -> nx.DiGraph:
        """The full DAG over variables (every x_<d -> x_d edge), for small models only."""
        D = self.num_variables
        if D > limit:
            raise SpecError(f"the variable-level DAG of {D} variables has {D * (D - 1) // 2} edges; draw the "
                            f"block view instead (view='layers'), or raise limit above {D}")
        g = nx.DiGraph()
        names = self.variables
        order = [names[i] for i in self.ordering]
        g.add_nodes_from(order)
        for d, v in enumerate(order):
            for u in order[:d]:
                g.add_edge(u, v)
        return g

    @property
    def layers(self) -> list[tuple[str, str]]:
        """(name, size description) of the network's layers, input to output (for drawings)."""
        raise NotImplementedError

    @property
    def graph(self) -> nx.DiGraph:
        """Block level: the input block, the network's layers, and the conditionals p(x_d | x_<d)."""
        g = nx.DiGraph()
        prev = None
        for n, size in self.layers:
            g.add_node(n, size=size)
            if prev is not None:
                g.add_edge(prev, n)
            prev = n
        return g

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}: x {self.shape}, {self._arch()})"

    def _arch(self) -> str:
        return ""


class NADE(AutoregressiveModel):
    """The neural autoregressive distribution estimator (Larochelle and Murray 2011): one hidden
    layer whose weights are shared across conditionals, so log p(x) costs O(DH).

    h_d = σ(c + W_{:, <d} x_<d),  p(x_d = 1 | x_<d) = σ(b_d + V_d · h_d).

    >>> import graphdgm as gd
    >>> gd.NADE((28, 28), hidden=500)
    NADE('nade': x (28, 28), 500 hidden)
    """

    family_tag = "nade"
    default_view = "family"

    def __init__(self, shape: int | Sequence[int], hidden: int = 500, *, ordering: Any = None, seed: int = 0,
                 name: str = "nade") -> None:
        super().__init__(shape, ordering=ordering, seed=seed, name=name)
        self.hidden = _positive(hidden, "hidden")
        self._declare_edge()

    def _pattern(self) -> Autoregressive:
        return TiedDense(hidden=self.hidden, ordering=self.ordering, seed=self.seed)

    @property
    def layers(self) -> list[tuple[str, str]]:
        """(name, size) of each stage, input to conditionals, for the block-level graph and drawings."""
        return [("x", f"{self.shape}"), ("h_d (shared W)", f"{self.hidden}"), ("p(x_d | x_<d)", f"{self.num_variables}")]

    def _arch(self) -> str:
        return f"{self.hidden} hidden"


class MADE(AutoregressiveModel):
    """The masked autoencoder for distribution estimation (Germain et al. 2015): an MLP whose weight
    masks make output d depend only on inputs before d in the ordering.

    ``masks > 1`` trains order- and connectivity-agnostically (a new ordering and connectivity
    for each mask, cycled during training) and averages the masks' probabilities at test time
    (the mask ensemble). With ``masks=1`` the ordering is ``ordering`` (natural by default).

    >>> import graphdgm as gd
    >>> gd.MADE(784, hidden=[500], masks=32)
    MADE('made': x (784,), hidden [500], 32 masks)
    """

    family_tag = "made"
    default_view = "family"

    def __init__(self, shape: int | Sequence[int], hidden: Sequence[int] | int = (500,), *, masks: int = 1,
                 ordering: Any = None, direct: bool = False, seed: int = 0, name: str = "made") -> None:
        super().__init__(shape, ordering=ordering, seed=seed, name=name)
        hidden = list(hidden) if isinstance(hidden, Sequence) and not isinstance(hidden, str) else [hidden]
        if not hidden:
            raise SpecError("MADE needs at least one hidden layer, e.g. hidden=[500]")
        self.hidden = [_positive(h, "each hidden layer size") for h in hidden]
        self.num_masks = _positive(masks, "masks")
        self.direct = bool(direct)
        if self.num_variables < 2:
            raise SpecError("MADE needs at least 2 variables")
        self._declare_edge()

    def _pattern(self) -> Autoregressive:
        return MaskedDense(hidden=self.hidden, masks=self.num_masks, direct=self.direct, ordering=self.ordering,
                           seed=self.seed)

    def masks(self, k: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
        """Mask ``k``: (ordering (D,), [M_1 (D, H1), ..., M_out (H_L, D)]) as 0/1 arrays, where
        M[i, j] = 1 lets unit i feed unit j. Degrees follow the MADE paper: input d has degree
        pos(d) (its 1-based position in the ordering), a hidden unit of degree m sees units of
        degree <= m, and output d sees hidden units of degree < pos(d), so output d depends only on
        the inputs before d."""
        D = self.num_variables
        rng = np.random.default_rng([self.seed, int(k)])
        order = self.ordering if k == 0 else rng.permutation(D)
        deg_in = np.empty(D, dtype=np.int64)
        deg_in[order] = np.arange(1, D + 1)  # the position (1-based) of each variable in the ordering
        mats, prev = [], deg_in
        for h in self.hidden:
            lo = int(prev.min()) if prev is not deg_in else 1
            if k == 0 and self.num_masks == 1:  # deterministic degrees spread evenly over lo..D-1
                deg = lo + (np.arange(h) * (D - lo)) // h
            else:
                deg = rng.integers(lo, D, size=h)  # in [lo, D-1]
            mats.append((prev[:, None] <= deg[None, :]).astype(np.float32))
            prev = deg
        mats.append((prev[:, None] < deg_in[None, :]).astype(np.float32))
        return order, mats

    @property
    def layers(self) -> list[tuple[str, str]]:
        """(name, size) of the input, each masked hidden layer and the conditionals."""
        return [("x", f"{self.shape}")] + [(f"h{i + 1} (masked)", str(h)) for i, h in enumerate(self.hidden)] + \
            [("p(x_d | x_<d)", str(self.num_variables))]

    def _arch(self) -> str:
        return f"hidden {self.hidden}, {self.num_masks} mask{'s' if self.num_masks > 1 else ''}" + (", direct" if self.direct else "")


def _image_shape(shape: Any, what: str) -> tuple[int, int]:
    s = _shape(shape)
    if len(s) != 2:
        raise SpecError(f"{what} models a 2-D image; give shape=(rows, cols) such as (28, 28), got {s}")
    return s  # type: ignore[return-value]


class PixelCNN(AutoregressiveModel):
    """Gated PixelCNN (van den Oord et al. 2016) over a binary image in raster order: vertical and
    horizontal stacks of masked convolutions (no blind spot), gated tanh·σ units, residual and skip
    connections, and a 1x1 head giving one Bernoulli logit per pixel.

    >>> import graphdgm as gd
    >>> gd.PixelCNN((28, 28), channels=32, layers=5)
    PixelCNN('pixelcnn': x (28, 28), 5 gated layers x 32 channels, kernel 3)
    """

    family_tag = "pixelcnn"
    default_view = "family"

    def __init__(self, shape: Sequence[int] = (28, 28), *, channels: int = 64, layers: int = 7, kernel: int = 3,
                 first_kernel: int = 7, gated: bool = True, seed: int = 0, name: str = "pixelcnn") -> None:
        super().__init__(_image_shape(shape, "PixelCNN"), seed=seed, name=name)
        self.channels = _positive(channels, "channels")
        self.num_layers = _positive(layers, "layers")
        self.kernel = _positive(kernel, "kernel")
        self.first_kernel = _positive(first_kernel, "first_kernel")
        if self.kernel % 2 == 0 or self.first_kernel % 2 == 0:
            raise SpecError(f"kernel sizes must be odd, got kernel={kernel}, first_kernel={first_kernel}")
        self.gated = bool(gated)
        self._declare_edge()

    def _pattern(self) -> Autoregressive:
        return MaskedConv(channels=self.channels, layers=self.num_layers, kernel=self.kernel,
                          first_kernel=self.first_kernel, gated=self.gated, seed=self.seed)

    @property
    def layers(self) -> list[tuple[str, str]]:
        """(name, description) of the input, the mask-A convolution, the masked stack and the 1x1 head."""
        kind = "gated" if self.gated else "masked"
        return [("x", f"{self.shape}"), ("masked conv A", f"{self.first_kernel}x{self.first_kernel}, {self.channels} ch"),
                (f"{self.num_layers} {kind} layers", f"{self.kernel}x{self.kernel} v+h stacks, {self.channels} ch"),
                ("1x1 head", "logit per pixel")]

    def _arch(self) -> str:
        return f"{self.num_layers} {'gated' if self.gated else 'masked'} layers x {self.channels} channels, kernel {self.kernel}"


class PixelRNN(AutoregressiveModel):
    """PixelRNN with Row LSTM layers (van den Oord et al. 2016): each layer runs an LSTM down the
    rows, with a masked 1-D input-to-state convolution along the row and a 1-D state-to-state
    convolution over the previous row; residual connections and a 1x1 head.

    >>> import graphdgm as gd
    >>> gd.PixelRNN((28, 28), hidden=32, layers=2)
    PixelRNN('pixelrnn': x (28, 28), 2 Row LSTM layers x 32 units)
    """

    family_tag = "pixelrnn"
    default_view = "family"

    def __init__(self, shape: Sequence[int] = (28, 28), *, hidden: int = 64, layers: int = 2, kernel: int = 3,
                 seed: int = 0, name: str = "pixelrnn") -> None:
        super().__init__(_image_shape(shape, "PixelRNN"), seed=seed, name=name)
        self.hidden = _positive(hidden, "hidden")
        self.num_layers = _positive(layers, "layers")
        self.kernel = _positive(kernel, "kernel")
        if self.kernel % 2 == 0:
            raise SpecError(f"kernel must be odd, got {kernel}")
        self._declare_edge()

    def _pattern(self) -> Autoregressive:
        return RecurrentRows(hidden=self.hidden, layers=self.num_layers, kernel=self.kernel, seed=self.seed)

    @property
    def layers(self) -> list[tuple[str, str]]:
        """(name, description) of the input, the mask-A convolution, the Row LSTM layers and the 1x1 head."""
        return [("x", f"{self.shape}"), ("masked conv A", f"7x7, {2 * self.hidden} ch"),
                (f"{self.num_layers} Row LSTM layers", f"{self.hidden} units, kernel {self.kernel}"),
                ("1x1 head", "logit per pixel")]

    def _arch(self) -> str:
        return f"{self.num_layers} Row LSTM layers x {self.hidden} units"


for _pattern_type, _family in ((TiedDense, NADE), (MaskedDense, MADE), (MaskedConv, PixelCNN), (RecurrentRows, PixelRNN)):
    register_family(_pattern_type, _family)
