"""Hidden Markov models: a first-order :class:`~graphdgm.MarkovChain` over hidden states, each
emitting one observation per step from a categorical table, a diagonal Gaussian, or any density
model over binary vectors (one per state: a MADE, a NADE, ...).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from graphdgm.errors import SpecError
from graphdgm.graph.graph import Edge, Graph, register_family
from graphdgm.graph.patterns import Emission as EmissionEdge, Transition
from graphdgm.graph.units import Bernoulli, Gaussian
from graphdgm.spec.autoregressive import AutoregressiveModel
from graphdgm.spec.domains import Categorical
from graphdgm.spec.markov_chain import MarkovChain, add_chain_cpds, block_states, check_stochastic, encode_labels, state_labels
from graphdgm.spec.validate import positive_int, real_array


class CategoricalEmission:
    """p(y_t = symbol | z_t = state): a table (S, M) whose rows sum to one, over ``symbols``
    (labels; default ``0..M-1``).

    >>> e = CategoricalEmission([[0.9, 0.1], [0.2, 0.8]], symbols=["walk", "shop"])
    >>> e.num_symbols, e.index("shop")
    (2, 1)
    """

    kind = "categorical"

    def __init__(self, table: Any, symbols: Sequence[Any] | None = None) -> None:
        arr = real_array(table, "emission table")
        if arr.ndim != 2:
            raise SpecError(f"emission table needs shape (hidden states, symbols), got {arr.shape}")
        self.symbols = state_labels(arr.shape[1] if symbols is None else symbols, "emission symbols")
        if len(self.symbols) != arr.shape[1]:
            raise SpecError(f"emission table has {arr.shape[1]} columns but {len(self.symbols)} symbols {list(self.symbols)[:6]}; "
                            f"give one symbol per column")
        self.table = check_stochastic(arr, arr.shape, "emission table", "hidden state")
        self._index = {s: i for i, s in enumerate(self.symbols)}

    @property
    def num_symbols(self) -> int:
        """Number of observation symbols M (the table's columns)."""
        return len(self.symbols)

    def index(self, symbol: Any) -> int:
        """The column index of observation ``symbol``; a SpecError naming the known symbols otherwise."""
        from graphdgm.spec.markov_chain import unknown_state_message

        try:
            return self._index[symbol]
        except (KeyError, TypeError):
            raise SpecError(unknown_state_message(symbol, self.symbols, "the emission table", "observation symbol")) from None

    def check(self, num_states: int) -> None:
        """A SpecError unless the table has one row per hidden state (``num_states``)."""
        if self.table.shape[0] != num_states:
            raise SpecError(f"emission table has {self.table.shape[0]} rows; it needs one per hidden state ({num_states})")

    def __repr__(self) -> str:
        return f"CategoricalEmission({self.table.shape[0]} states x {self.num_symbols} symbols)"


class GaussianEmission:
    """p(y_t | z_t = s) = N(means[s], diag(stds[s]^2)) with ``means`` and ``stds`` of shape (S, D)
    (or (S,) for scalar observations, D = 1).

    >>> e = GaussianEmission([0.0, 5.0], [1.0, 2.0])
    >>> e.means.shape, e.dim
    ((2, 1), 1)
    """

    kind = "gaussian"

    def __init__(self, means: Any, stds: Any) -> None:
        m = real_array(means, "emission means")
        s = real_array(stds, "emission stds")
        m = m[:, None] if m.ndim == 1 else m
        s = s[:, None] if s.ndim == 1 else s
        if m.ndim != 2:
            raise SpecError(f"emission means need shape (hidden states, dims) or (hidden states,), got {m.shape}")
        if s.shape != m.shape:
            raise SpecError(f"emission stds have shape {s.shape}; they need the means' shape {m.shape} (diagonal Gaussians)")
        if not np.isfinite(m).all():
            raise SpecError("emission means hold NaN or inf")
        if not np.isfinite(s).all() or (s <= 0).any():
            raise SpecError("emission stds must be finite and > 0 (standard deviations, not variances)")
        self.means, self.stds = m, s

    @property
    def dim(self) -> int:
        """Dimension D of one observation."""
        return self.means.shape[1]

    def check(self, num_states: int) -> None:
        """A SpecError unless the means have one row per hidden state (``num_states``)."""
        if self.means.shape[0] != num_states:
            raise SpecError(f"emission means have {self.means.shape[0]} rows; they need one per hidden state ({num_states})")

    def __repr__(self) -> str:
        return f"GaussianEmission({self.means.shape[0]} states, dim {self.dim})"


class DensityEmission:
    """p(y_t | z_t = s) = p_s(y_t): one density model per hidden state over binary vectors y_t of
    ``dim`` values, each a spec with an exact log-likelihood (``gd.MADE``, ``gd.NADE``, ...), compiled
    with the HMM. The models are trained by EM with a gradient M-step
    (``gd.fit(model, sequences, method="em")``). Give each state's model its own ``seed``: identical
    starting densities are a symmetric fixed point of EM.

    >>> import graphdgm as gd
    >>> e = gd.DensityEmission([gd.MADE(6, hidden=[16], seed=s) for s in range(2)])
    >>> e.dim, len(e.specs)
    (6, 2)
    """

    kind = "density"

    def __init__(self, specs: Sequence[Any]) -> None:
        if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence) or not specs:
            raise SpecError("DensityEmission takes a list of density specs, one per hidden state, e.g. "
                            "[gd.MADE(784, hidden=[500], seed=s) for s in range(S)]")
        dims = []
        for s, spec in enumerate(specs):
            if not isinstance(spec, AutoregressiveModel):  # an exact log p and a sampler over observed units only
                raise SpecError(f"emission model {s} ({type(spec).__name__}) must be a density over binary vectors with an "
                                f"exact log-likelihood: an autoregressive spec such as gd.MADE(dim, hidden=[...]) or "
                                f"gd.NADE(dim, hidden=...)")
            dims.append(int(spec.num_variables))
        if len(set(dims)) > 1:
            raise SpecError(f"every state's emission model must cover the same number of binary values; got sizes {dims}")
        self.specs = list(specs)
        self.dim = dims[0]

    def check(self, num_states: int) -> None:
        """A SpecError unless there is one density model per hidden state (``num_states``)."""
        if len(self.specs) != num_states:
            raise SpecError(f"DensityEmission has {len(self.specs)} models; it needs one per hidden state ({num_states})")

    def __repr__(self) -> str:
        names = sorted({type(s).__name__ for s in self.specs})
        return f"DensityEmission({len(self.specs)} states, {'/'.join(names)} over {self.dim} binary values)"


Emission = Union[CategoricalEmission, GaussianEmission, DensityEmission]


class HiddenMarkovModel(Graph):
    """A hidden Markov model, a graph of a latent state block ``z`` with a
    :class:`~graphdgm.graph.Transition` edge and an :class:`~graphdgm.graph.Emission` edge to the
    observation block ``y``: hidden states z_t form a first-order :class:`~graphdgm.MarkovChain`
    (``self.chain``: ``transition`` (S, S), ``initial`` (S,), default uniform) and each emits an
    observation y_t from ``emission`` (a :class:`CategoricalEmission`, :class:`GaussianEmission` or
    :class:`DensityEmission`).

    >>> import graphdgm as gd
    >>> hmm = gd.HiddenMarkovModel(["rainy", "sunny"], [[0.7, 0.3], [0.4, 0.6]],
    ...                            gd.CategoricalEmission([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]], ["walk", "shop", "clean"]),
    ...                            initial=[0.6, 0.4])
    >>> hmm
    HiddenMarkovModel('hmm': 2 hidden states ['rainy', 'sunny'], CategoricalEmission(2 states x 3 symbols))
    """

    family_tag = "hidden_markov_model"
    default_view = "family"

    def __init__(self, states: Sequence[Any] | int, transition: Any, emission: Emission, initial: Any = None,
                 name: str = "hmm") -> None:
        if not isinstance(emission, (CategoricalEmission, GaussianEmission, DensityEmission)):
            raise SpecError(f"emission must be a gd.CategoricalEmission(table, symbols), gd.GaussianEmission(means, stds) or "
                            f"gd.DensityEmission([one density spec per state]), got {type(emission).__name__}")
        super().__init__(str(name))
        self.chain = MarkovChain(states, transition, initial, order=1, name=f"{self.name}.hidden")
        emission.check(self.chain.num_states)
        self.emission = emission
        self.block("z", (), Categorical(self.num_states, labels=self.states), role="latent", bias=False)
        if isinstance(emission, CategoricalEmission):
            self.block("y", (), Categorical(emission.num_symbols, labels=emission.symbols), bias=False)
        else:
            self.block("y", (emission.dim,), Gaussian() if isinstance(emission, GaussianEmission) else Bernoulli(), bias=False)
        self._seal()

    def _derived_edges(self) -> dict[str, Edge]:
        e = self.emission
        if isinstance(e, CategoricalEmission):
            pattern = EmissionEdge(e.table)
        elif isinstance(e, GaussianEmission):
            pattern = EmissionEdge(means=e.means, stds=e.stds)
        else:
            pattern = EmissionEdge(models=e.specs)
        return {"T_z": Edge("T_z", "z", "z", Transition(self.transition, initial=self.initial)),
                "E_z_y": Edge("E_z_y", "z", "y", pattern)}

    @classmethod
    def from_graph(cls, g: Graph) -> HiddenMarkovModel:
        """The HMM a graph's Transition and Emission edges declare (validated here)."""
        t, e = g.transition_edge(), g.emission_edge()
        if t is None or e is None:
            raise SpecError(f"graph {g.name!r} needs a Transition edge and an Emission edge to be an HMM")
        p = t.pattern
        if p.order != 1:
            raise SpecError(f"an HMM's hidden chain is first order; the Transition edge {t.name!r} has order {p.order}")
        states = block_states(g, t.a)
        S = len(states)
        obs, unit, q = g.blocks[e.b], g.units[e.b], e.pattern
        if q.emission_kind == "categorical":
            if obs.shape not in ((), (1,)) or unit.kind not in ("softmax", "bernoulli"):
                raise SpecError(f"a table emission needs a categorical observation block (shape (), gd.Softmax(M)); "
                                f"{e.b!r} is {obs.shape} {unit.kind}")
            symbols = block_states(g, e.b)
            if q.table.ndim != 2 or q.table.shape[1] != len(symbols):
                raise SpecError(f"the emission table has shape {q.table.shape}; observation block {e.b!r} has "
                                f"{len(symbols)} states, so it needs one column per state: {len(symbols)} columns, shape ({S}, {len(symbols)})")
            emission: Emission = CategoricalEmission(q.table, symbols)
        elif q.emission_kind == "gaussian":
            if unit.kind != "gaussian":
                raise SpecError(f"a Gaussian emission needs a block of gd.Gaussian() units; {e.b!r} is {unit.kind}")
            emission = GaussianEmission(q.means, q.stds)
            if emission.dim != obs.size:
                raise SpecError(f"the Gaussian emission has dimension {emission.dim}; block {e.b!r} has {obs.size} units")
        else:
            if unit.kind != "bernoulli":
                raise SpecError(f"density emissions model binary vectors; block {e.b!r} is {unit.kind}")
            emission = DensityEmission(q.models)
            if emission.dim != obs.size:
                raise SpecError(f"the emission models cover {emission.dim} values; block {e.b!r} has {obs.size} units")
        return cls(states, p.table, emission, initial=p.initial, name=g.name)

    @property
    def states(self) -> tuple[Any, ...]:
        """The hidden states' labels."""
        return self.chain.states

    @property
    def num_states(self) -> int:
        """Number of hidden states S."""
        return self.chain.num_states

    @property
    def transition(self) -> np.ndarray:
        """The transition matrix p(z_t | z_t-1) (S, S), rows summing to one."""
        return self.chain.transition

    @property
    def initial(self) -> np.ndarray:
        """The distribution of the first hidden state (S,)."""
        return self.chain.initial

    def encode(self, observations: Any) -> tuple[np.ndarray, np.ndarray]:
        """Categorical observation label sequences -> (symbol indices (B, T) padded with -1, lengths (B,))."""
        if not isinstance(self.emission, CategoricalEmission):
            raise SpecError("encode maps symbol labels to indices; Gaussian observations are arrays already")
        e = self.emission
        return encode_labels(observations, e._index, e.symbols, f"HMM {self.name!r}", "observation symbol")

    @classmethod
    def random(cls, states: Sequence[Any] | int, *, symbols: Sequence[Any] | int | None = None, dim: int | None = None,
               seed: int = 0, name: str = "hmm") -> HiddenMarkovModel:
        """A starting point for Baum-Welch: Dirichlet(1) rows, and categorical emissions over
        ``symbols`` or Gaussian ones of dimension ``dim`` (means ~ N(0, 1), stds 1).

        >>> import graphdgm as gd
        >>> gd.HiddenMarkovModel.random(3, symbols=["a", "b"], seed=0).emission.table.shape
        (3, 2)
        """
        if (symbols is None) == (dim is None):
            raise SpecError("give exactly one of symbols=... (categorical emissions) or dim=... (Gaussian emissions)")
        rng = np.random.default_rng(seed)
        S = len(state_labels(states))
        trans = rng.dirichlet(np.ones(S), size=S)
        init = rng.dirichlet(np.ones(S))
        if symbols is not None:
            M = len(state_labels(symbols, "symbols"))
            emission: Emission = CategoricalEmission(rng.dirichlet(np.ones(M), size=S), symbols)
        else:
            dim = positive_int(dim, "dim (the size of each Gaussian observation)")
            emission = GaussianEmission(rng.standard_normal((S, dim)), np.ones((S, dim)))
        return cls(states, trans, emission, initial=init, name=name)

    def unroll(self, length: int, name: str | None = None) -> Any:
        """The first ``length`` steps as a :class:`~graphdgm.BayesianNetwork` over ``z[t]`` (hidden)
        and ``y[t]`` (observed), for categorical emissions.

        >>> import graphdgm as gd
        >>> hmm = gd.HiddenMarkovModel.random(2, symbols=3, seed=0)
        >>> bn = hmm.unroll(2)
        >>> bn.variables, bn.parents["y[1]"]
        (['z[0]', 'z[1]', 'y[0]', 'y[1]'], ('z[1]',))
        """
        from graphdgm.spec.bayesian_network import BayesianNetwork
        from graphdgm.spec.domains import Categorical

        if not isinstance(self.emission, CategoricalEmission):
            raise SpecError("unroll builds a discrete Bayesian network, so it needs categorical emissions; a Gaussian "
                            "HMM has real-valued observations")
        length = positive_int(length, "length (time steps to unroll)")
        bn = BayesianNetwork(name or f"{self.name}_unrolled")
        bn.add_block("z", (length,), Categorical(self.num_states, labels=self.states))
        bn.add_block("y", (length,), Categorical(self.emission.num_symbols, labels=self.emission.symbols))
        add_chain_cpds(bn, "z", length, self.initial, self.transition)
        for t in range(length):
            bn.add_cpd(f"y[{t}]", [f"z[{t}]"], self.emission.table)
        return bn

    def __repr__(self) -> str:
        shown = list(self.states[:6]) + (["..."] if self.num_states > 6 else [])
        return f"HiddenMarkovModel({self.name!r}: {self.num_states} hidden states {shown}, {self.emission!r})"


register_family(Transition, lambda g: HiddenMarkovModel if g.emission_edge() is not None else MarkovChain)

__all__ = ["CategoricalEmission", "DensityEmission", "Emission", "GaussianEmission", "HiddenMarkovModel"]
