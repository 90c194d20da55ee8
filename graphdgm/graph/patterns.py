"""Connectivity patterns of an edge between two blocks (or within one): declarations, no tensors.

- :class:`Dense`: every unit of one block with every unit of the other, one weight matrix
  W (n_a w_a, n_b w_b) in the units' feature space: log φ = f(x_a)ᵀ W f(x_b). Within one block
  (``connect(v, v, Dense())``) it is a lateral coupling: a symmetric matrix with a zero diagonal
  (a semi-restricted Boltzmann machine's visible layer).
- :class:`Pairs`: explicit pairs of units (Ising: w·f(x_i)·f(x_j); Potts: w·[x_i = x_j]).
- :class:`Grid`: pairs at fixed offsets on a 2-D block (the Ising and Potts constructors).

Factor tables of any arity are declared with :meth:`graphdgm.Graph.add_factor`.

Directed patterns make a block's units conditionals rather than energy terms. An autoregressive
edge joins a binary block with itself, p(x) = Π_d p(x_πd | x_π<d), each a pattern of its own:

- :class:`MaskedDense`: masked dense layers, one or several mask sets (MADE);
- :class:`TiedDense`: one hidden layer whose weights are shared by all conditionals (NADE);
- :class:`MaskedConv`: gated masked convolutions over a 2-D block (PixelCNN);
- :class:`RecurrentRows`: a masked input convolution and a Row LSTM down the rows (PixelRNN).

A :class:`CPT` edge is a conditional probability table from parent blocks (any number, or none)
to a child block: a graph of CPT edges is a Bayesian network.

A :class:`Transition` edge joins a discrete block with itself *through time*: the block is the
state at every step of a sequence, p(z_t | z_t-1 .. z_t-k) one table tied across steps (a
Markov chain of order k). An :class:`Emission` edge from that block to another makes the state
hidden and the other block its observation at each step (a hidden Markov model).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdgm.errors import SpecError
from graphdgm.spec.validate import positive_float, real_array


class Pattern:
    """Base class of connectivity patterns."""

    kind = "pattern"

    def describe(self) -> str:
        """A short description for reprs and error messages (the pattern's kind)."""
        return self.kind


class Dense(Pattern):
    """All-to-all weights between two blocks (or laterals within one).

    ``weights``: None (initialised at compile time as N(0, ``init_std``²), from ``seed``), or an
    array of shape (n_a w_a, n_b w_b) or (n_a, n_b) for width-1 units, or (n_a, k, n_b) for a
    softmax block ``a`` (the RBM's layout); ``n`` counts units, ``w`` is 1 or k for softmax.

    >>> Dense(init_std=0.1).describe()
    'dense'
    """

    kind = "dense"

    def __init__(self, weights: Any = None, *, init_std: float = 0.01, seed: int = 0,
                 layout: tuple[int, ...] | None = None) -> None:
        self.weights = None if weights is None else real_array(weights, "Dense weights")
        # the shape of the compiled parameter (default: the given weights' shape, else (rows, cols))
        self.param_shape = tuple(int(s) for s in layout) if layout is not None else (
            None if self.weights is None else tuple(self.weights.shape))
        if self.weights is not None and not np.all(np.isfinite(self.weights)):
            raise SpecError("Dense weights have non-finite entries (NaN or inf); every weight must be a finite number")
        self.init_std = positive_float(init_std, "Dense init_std", allow_zero=True)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise SpecError(f"Dense seed must be an int, got {seed!r}")
        self.seed = int(seed)

    def layout(self, rows: int, cols: int) -> tuple[int, ...]:
        """The compiled parameter's shape: (rows, cols) unless declared otherwise."""
        shape = self.param_shape or (rows, cols)
        if int(np.prod(shape)) != rows * cols:
            raise SpecError(f"Dense layout {shape} does not hold ({rows}, {cols}) weights")
        return shape

    def matrix(self, rows: int, cols: int, sizes: tuple[int, int], what: str) -> np.ndarray | None:
        """The given weights as (rows, cols), or a SpecError naming the shapes accepted: (rows,
        cols), or (n_a, [k_a,] n_b, [k_b]) with a width axis only for softmax sides."""
        if self.weights is None:
            return None
        w = self.weights
        na, nb = sizes
        wa, wb = rows // na, cols // nb
        split = (na, *((wa,) if wa > 1 else ()), nb, *((wb,) if wb > 1 else ()))
        if w.shape not in ((rows, cols), split):
            raise SpecError(f"{what} weights have shape {w.shape}; this edge needs ({rows}, {cols})"
                            + (f" or {split}" if split != (rows, cols) else "")
                            + f" ({na} units x {nb} units; a transposed matrix is not accepted, give W of the first block first)")
        return w.reshape(rows, cols)


class Pairs(Pattern):
    """Explicit pairs ``(i, j)`` of units, ``i`` in the first block and ``j`` in the second, given
    as an int array (E, 2) of flat (row-major) positions or a list of index tuples; ``weight`` a
    number or one per pair. ``kind``: ``"ising"`` (w·f(x_i)·f(x_j)) or ``"potts"`` (w·[x_i = x_j]).

    >>> Pairs([(0, 1), (1, 2)], 0.5).pairs.tolist()
    [[0, 1], [1, 2]]
    """

    kind = "pairs"

    def __init__(self, pairs: Any, weight: Any = 0.0, *, kind: str = "ising") -> None:
        if kind not in ("ising", "potts"):
            raise SpecError(f"Pairs kind {kind!r} is unknown; use 'ising' or 'potts'")
        self.coupling = kind
        try:
            arr = np.asarray(pairs)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu" or len(arr) == 0:
            raise SpecError(f"Pairs needs a non-empty int array (E, 2) of flat unit positions, got {pairs!r}")
        self.pairs = arr.astype(np.int64)
        self.weight = real_array(weight, "Pairs weight")

    def describe(self) -> str:
        """``"ising pairs"`` or ``"potts pairs"``."""
        return f"{self.coupling} pairs"


class Grid(Pattern):
    """Nearest-neighbour pairs on a 2-D block: right and down neighbours (``periodic`` wraps),
    with one ``coupling`` or one per edge, Ising or Potts.

    >>> Grid(0.4).describe()
    'ising grid'
    """

    kind = "grid"

    def __init__(self, coupling: Any = 0.4, *, kind: str = "ising", periodic: bool = False) -> None:
        if kind not in ("ising", "potts"):
            raise SpecError(f"Grid kind {kind!r} is unknown; use 'ising' or 'potts'")
        self.coupling_kind = kind
        self.coupling = real_array(coupling, "Grid coupling")
        self.periodic = bool(periodic)

    def describe(self) -> str:
        """``"ising grid"`` or ``"potts grid"``."""
        return f"{self.coupling_kind} grid"


class Autoregressive(Pattern):
    """Base of the directed patterns within one binary block: x_d depends on the units before d in
    the ordering. ``options`` are the keyword arguments of the family constructor whose operator the
    edge lowers through (registered by that family); ``seed`` initialises the weights."""

    kind = "autoregressive pattern"
    directed = True
    options: dict[str, Any]

    def __init__(self, seed: int = 0, **options: Any) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise SpecError(f"{type(self).__name__} seed must be an int, got {seed!r}")
        self.seed = int(seed)
        self.options = options

    def describe(self) -> str:
        """The kind and the options that are set, e.g. ``"tied dense (hidden 500)"``."""
        args = ", ".join(f"{k} {v}" for k, v in self.options.items() if v is not None and k != "ordering")
        return f"{self.kind} ({args})" if args else self.kind


class MaskedDense(Autoregressive):
    """Masked dense layers (MADE): ``hidden`` sizes, ``masks`` mask sets (order- and
    connectivity-agnostic training when > 1), ``direct`` input-to-output connection, ``ordering``.

    >>> MaskedDense(hidden=[500], direct=True).describe()
    'masked dense (hidden [500], masks 1, direct True)'
    """

    kind = "masked dense"

    def __init__(self, hidden: Sequence[int] | int = (500,), *, masks: int = 1, direct: bool = False,
                 ordering: Any = None, seed: int = 0) -> None:
        super().__init__(seed, hidden=list(hidden) if isinstance(hidden, Sequence) else hidden, masks=masks,
                         direct=direct, ordering=ordering)


class TiedDense(Autoregressive):
    """One hidden layer shared by every conditional, its activation updated one unit at a time
    (NADE): ``hidden`` units, ``ordering``.

    >>> TiedDense(hidden=500).describe()
    'tied dense (hidden 500)'
    """

    kind = "tied dense"

    def __init__(self, hidden: int = 500, *, ordering: Any = None, seed: int = 0) -> None:
        super().__init__(seed, hidden=hidden, ordering=ordering)


class MaskedConv(Autoregressive):
    """Gated masked convolutions over a 2-D block in raster order (PixelCNN): ``channels``,
    ``layers``, ``kernel``, ``first_kernel`` (the mask-A layer), ``gated``.

    >>> MaskedConv(channels=32, layers=5).describe()
    'masked conv (channels 32, layers 5, kernel 3, first_kernel 7, gated True)'
    """

    kind = "masked conv"

    def __init__(self, *, channels: int = 64, layers: int = 7, kernel: int = 3, first_kernel: int = 7,
                 gated: bool = True, seed: int = 0) -> None:
        super().__init__(seed, channels=channels, layers=layers, kernel=kernel, first_kernel=first_kernel, gated=gated)


class RecurrentRows(Autoregressive):
    """A masked input convolution, then Row LSTM layers run down the rows of a 2-D block
    (PixelRNN): ``hidden`` units, ``layers``, state-to-state ``kernel`` width.

    >>> RecurrentRows(hidden=32).describe()
    'recurrent rows (hidden 32, layers 2, kernel 3)'
    """

    kind = "recurrent rows"

    def __init__(self, *, hidden: int = 64, layers: int = 2, kernel: int = 3, seed: int = 0) -> None:
        super().__init__(seed, hidden=hidden, layers=layers, kernel=kernel)


class CPT(Pattern):
    """P(child | parents) as a table of shape (*parent cardinalities, child cardinality), each row
    summing to one: ``g.connect(["rain", "sprinkler"], "wet", CPT(table))``, or
    ``g.connect([], "rain", CPT([0.8, 0.2]))`` for a root. Checked against the blocks at connect.

    >>> CPT([[0.9, 0.1], [0.2, 0.8]]).describe()
    'cpt 2 x 2'
    """

    kind = "cpt"
    directed = True

    def __init__(self, table: Any, *, hidden: Sequence[int] | None = None, seed: int = 0) -> None:
        self.table = real_array(table, "CPT table")
        # a neural CPD: the parents' one-hot states through ``hidden`` tanh layers (weights from ``seed``),
        # tabulated into ``table`` for exact inference; see BayesianNetwork.add_neural_cpd
        self.hidden = None if hidden is None else [int(h) for h in hidden]
        self.seed = int(seed)

    def describe(self) -> str:
        """``"cpt"`` and the table's shape, plus the hidden sizes of a neural CPD."""
        net = f", neural {self.hidden}" if self.hidden is not None else ""
        return "cpt " + " x ".join(str(s) for s in self.table.shape) + net


class Transition(Pattern):
    """p(z_t | previous ``order`` states), one table of shape (S,)*order + (S,) tied through time,
    and the distribution of the first ``order`` states (``initial``, uniform by default).

    >>> Transition([[0.9, 0.1], [0.5, 0.5]]).describe()
    'transition 2 x 2, tied through time'
    """

    kind = "transition"
    directed = True

    def __init__(self, table: Any, *, initial: Any = None, order: int = 1) -> None:
        self.table = real_array(table, "Transition table")
        self.initial = None if initial is None else real_array(initial, "Transition initial distribution")
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise SpecError(f"Transition order must be a positive int, got {order!r}")
        self.order = int(order)

    def describe(self) -> str:
        """``"transition"``, the table's shape and ``"tied through time"``."""
        return "transition " + " x ".join(str(s) for s in self.table.shape) + ", tied through time"


class Emission(Pattern):
    """p(y_t | z_t) from a hidden state to its observation at each step: a ``table`` (S, M) for a
    categorical observation block, ``means`` and ``stds`` (S, D) for a Gaussian one, or one
    density ``models`` spec per state (``gd.MADE``, ``gd.NADE``) for a block of binary units.

    >>> Emission([[0.1, 0.9], [0.8, 0.2]]).describe()
    'emission table 2 x 2'
    """

    kind = "emission"
    directed = True

    def __init__(self, table: Any = None, *, means: Any = None, stds: Any = None, models: Sequence[Any] | None = None) -> None:
        given = [table is not None, means is not None or stds is not None, models is not None]
        if sum(given) != 1:
            raise SpecError("Emission takes one of: a table (states x symbols), means= and stds= (Gaussian), or "
                            "models= (one density spec per state)")
        self.table = None if table is None else real_array(table, "Emission table")
        self.means = None if means is None else real_array(means, "Emission means")
        self.stds = None if stds is None else real_array(stds, "Emission stds")
        self.models = None if models is None else list(models)

    @property
    def emission_kind(self) -> str:
        """``"categorical"`` (a table), ``"gaussian"`` (means and stds) or ``"density"`` (models)."""
        return "categorical" if self.table is not None else "gaussian" if self.means is not None else "density"

    def describe(self) -> str:
        """The emission kind and its size: table shape, number of Gaussian states or of density models."""
        if self.table is not None:
            return "emission table " + " x ".join(str(s) for s in self.table.shape)
        if self.means is not None:
            return f"emission Gaussian {self.means.shape[0]} states"
        return f"emission {len(self.models)} density models"


class NeuralMap(Pattern):
    """x = G(z): a generator network from an input block of noise z to a data block x (a GAN's
    generator; the discriminator, named here too, belongs to the adversarial objective).
    ``options`` are the GAN's: ``generator`` ("mlp", "dcgan"), ``generator_hidden``,
    ``discriminator``, ``discriminator_hidden``, ``channels``, ``latent_distribution``, ``pack``,
    ``batch_norm``.

    >>> NeuralMap(generator_hidden=[64, 64]).describe()
    'neural map (generator mlp [64, 64])'
    """

    kind = "neural map"
    directed = True

    def __init__(self, *, seed: int = 0, **options: Any) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise SpecError(f"NeuralMap seed must be an int, got {seed!r}")
        unknown = set(options) - {"generator", "generator_hidden", "discriminator", "discriminator_hidden", "channels",
                                  "latent_distribution", "pack", "batch_norm"}
        if unknown:
            raise SpecError(f"NeuralMap options {sorted(unknown)} are unknown; it takes generator, generator_hidden, "
                            f"discriminator, discriminator_hidden, channels, latent_distribution, pack, batch_norm")
        self.seed, self.options = int(seed), options

    def describe(self) -> str:
        """``"neural map"`` with the generator's kind and hidden sizes."""
        hidden = self.options.get("generator_hidden", [256, 256])
        return f"neural map (generator {self.options.get('generator', 'mlp')} {list(hidden) if not isinstance(hidden, int) else [hidden]})"


AUTOREGRESSIVE_PATTERNS: dict[str, type] = {c.kind: c for c in (MaskedDense, TiedDense, MaskedConv, RecurrentRows)}


def as_pattern(pattern: Any) -> Pattern:
    """``pattern`` as a :class:`Pattern` instance: an instance unchanged, a pattern class called with no
    arguments; else a SpecError.

    >>> as_pattern(Dense).describe()
    'dense'"""
    if isinstance(pattern, Pattern):
        return pattern
    if isinstance(pattern, type) and issubclass(pattern, Pattern):
        try:
            return pattern()
        except TypeError:
            pass
    raise SpecError(f"an edge needs a pattern such as gd.Dense(), gd.graph.Pairs(pairs, w) or gd.graph.Grid(w); got {pattern!r}")


__all__ = ["AUTOREGRESSIVE_PATTERNS", "Autoregressive", "CPT", "Dense", "Emission", "NeuralMap", "Transition", "Grid", "MaskedConv", "MaskedDense", "Pairs", "Pattern",
           "RecurrentRows", "TiedDense", "as_pattern"]
