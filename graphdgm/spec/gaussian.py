"""The Gaussian Markov network spec: real variables in information form.

p(x) ∝ exp(-½ xᵀ Λ x + ηᵀ x), declared term by term: ``add_quadratic`` adds to the precision Λ,
``add_linear`` to the potential η. A spec only declares; :func:`graphdgm.compile` lowers it to torch.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError
from graphdgm.spec.domains import Real
from graphdgm.spec.validate import real_array
from graphdgm.spec.variables import VariableBlocks


@dataclass(frozen=True)
class QuadraticGroup:
    """Quadratic terms over many pairs: pair (u, v), u ≠ v, adds -w·x_u·x_v to log p (Λ_uv = Λ_vu += w);
    pair (u, u) adds -½·w·x_u² (Λ_uu += w). ``pairs`` (E, 2) packed indices, ``weights`` (E,)."""

    name: str
    pairs: np.ndarray
    weights: np.ndarray
    blocks: tuple[str, ...] = ()  # every block the pairs touch


@dataclass(frozen=True)
class LinearGroup:
    """Linear terms: variable u adds +w·x_u to log p (η_u += w). ``variables`` (m,), ``weights`` (m,)."""

    name: str
    variables: np.ndarray
    weights: np.ndarray
    block: str = ""  # the block name when the group was declared over a whole block


_as_float_array = real_array  # one checker for every array: no complex, no strings


class GaussianMarkovNetwork(VariableBlocks):
    """A Gaussian Markov network: real variables with p(x) ∝ exp(-½ xᵀ Λ x + ηᵀ x).

    Variables are declared like those of a :class:`~graphdgm.MarkovNetwork` (single names or blocks
    ``x[0]``, ``x[1,2]``), all with domain ``Real()``. Λ and η are sums of declared terms.

    >>> import graphdgm as gd
    >>> g = gd.GaussianMarkovNetwork()
    >>> g.add_block("x", 3)
    'x'
    >>> g.add_quadratic([("x[0]", "x[0]"), ("x[1]", "x[1]"), ("x[2]", "x[2]")], 2.0)
    'Q0'
    >>> g.add_quadratic("x[0]", "x[1]", 0.5)
    'Q1'
    >>> g.add_linear("x", [1.0, 0.0, -1.0])
    'L0'
    >>> g.precision_matrix().tolist()
    [[2.0, 0.5, 0.0], [0.5, 2.0, 0.0], [0.0, 0.0, 2.0]]
    """

    def __init__(self, name: str = "gaussian_markov_network") -> None:
        super().__init__(name)
        self.quadratics: list[QuadraticGroup] = []
        self.linears: list[LinearGroup] = []

    # ----------------------------------------------------------------- variables
    def add_block(self, name: str, shape: Sequence[int] | int) -> str:
        """Declare a plate of real variables ``name[i,j,...]`` of the given shape."""
        return self._declare_block(name, shape, Real())

    def add_variable(self, name: str) -> str:
        """Declare a single real variable (a block of shape ``()``)."""
        return self.add_block(name, ())

    # ------------------------------------------------------------------- terms
    def add_quadratic(self, u: Any, v: Any = None, weight: Any = None, *, name: str | None = None) -> str:
        """Add quadratic terms to the precision Λ: ``add_quadratic("a", "b", w)`` or, vectorised,
        ``add_quadratic([("a", "b"), ("b", "c")], [w1, w2])`` (pairs may also be an int array (E, 2)
        of packed indices; a scalar weight is shared by all pairs).

        A pair u ≠ v adds the log-potential -w·x_u·x_v (Λ_uv and Λ_vu each grow by w); a pair u = u
        adds -½·w·x_u² (Λ_uu grows by w). Returns the group's name.
        """
        if isinstance(u, str):
            if not isinstance(v, str) or weight is None:
                raise SpecError(f"add_quadratic({u!r}, ...) needs a second variable name and a weight: add_quadratic('a', 'b', 0.3)")
            pairs, w = [(u, v)], weight
        else:
            if isinstance(u, tuple) and len(u) == 2 and all(isinstance(x, str) for x in u):
                u = [u]  # one pair given as a tuple
            if v is not None and weight is not None:
                raise SpecError("add_quadratic(pairs, weights): give the weights once, positionally or as weight=")
            pairs, w = u, (v if weight is None else weight)
            if w is None:
                raise SpecError("add_quadratic(pairs, weights) needs weights: a scalar or one per pair")
        idx = self.pair_indices(pairs, "quadratic")
        if len(idx) == 0:
            raise SpecError("add_quadratic needs at least one pair")
        w = self._weights(w, len(idx), "pair")
        self._check_finite(w, idx, "quadratic weight")
        name = self._group_name(name, "Q", self.quadratics)
        self.quadratics.append(QuadraticGroup(name, idx, w, self.blocks_of(np.unique(idx))))
        return name

    def add_linear(self, u: Any, weight: Any, *, name: str | None = None) -> str:
        """Add linear terms +w·x_u to log p (η_u grows by w). ``u`` is a name, a list of names or a
        block name (all its variables); ``weight`` a scalar or one value per variable. Returns the group's name.
        """
        idx = np.asarray(self._resolve(u), dtype=np.int64)
        if len(idx) == 0:
            raise SpecError("add_linear needs at least one variable")
        w = self._weights(weight, len(idx), "variable")
        self._check_finite(w, idx[:, None], "linear weight")
        name = self._group_name(name, "L", self.linears)
        block = u if isinstance(u, str) and u in self.blocks and self.blocks[u].shape else ""
        self.linears.append(LinearGroup(name, idx, w, block))
        return name

    @staticmethod
    def _weights(weight: Any, count: int, what: str) -> np.ndarray:
        w = _as_float_array(weight, "weight")
        if w.ndim == 0:
            return np.full(count, float(w))
        if w.size != count:
            raise SpecError(f"weight has shape {w.shape}; give a scalar or one value per {what}, shape ({count},)")
        return w.reshape(-1).copy()

    def _check_finite(self, w: np.ndarray, idx: np.ndarray, what: str) -> None:
        bad = np.flatnonzero(~np.isfinite(w))
        if len(bad):
            names = self.variables
            where = tuple(names[int(i)] for i in idx[bad[0]])
            where_s = repr(where[0]) if len(where) == 1 else repr(where)
            raise SpecError(f"{what} for {where_s} is {w[bad[0]]}; weights must be finite numbers")

    @staticmethod
    def _group_name(name: str | None, prefix: str, groups: list[Any]) -> str:
        name = name or f"{prefix}{len(groups)}"
        if any(g.name == name for g in groups):
            raise SpecError(f"duplicate term group name {name!r}")
        return name

    # ------------------------------------------------------------- parameters
    def quadratic_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """All quadratic terms as ``(pairs (E, 2), weights (E,))``, in declaration order."""
        if not self.quadratics:
            return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
        return np.concatenate([g.pairs for g in self.quadratics]), np.concatenate([g.weights for g in self.quadratics])

    def linear_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """All linear terms as ``(variables (m,), weights (m,))``, in declaration order."""
        if not self.linears:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate([g.variables for g in self.linears]), np.concatenate([g.weights for g in self.linears])

    def precision_matrix(self) -> np.ndarray:
        """The dense precision Λ (n, n), summed from the quadratic terms (symmetric by construction)."""
        n = self._num_vars
        lam = np.zeros((n, n))
        pairs, w = self.quadratic_terms()
        off = pairs[:, 0] != pairs[:, 1]
        np.add.at(lam, (pairs[:, 0], pairs[:, 1]), w)  # Λ_uv += w (and Λ_uu += w on the diagonal)
        np.add.at(lam, (pairs[off, 1], pairs[off, 0]), w[off])  # Λ_vu += w
        return lam

    def potential_vector(self) -> np.ndarray:
        """The potential η (n,), summed from the linear terms."""
        eta = np.zeros(self._num_vars)
        var, w = self.linear_terms()
        np.add.at(eta, var, w)
        return eta

    # ----------------------------------------------------------------- graphs
    def variable_graph(self) -> nx.Graph:
        """The Markov graph: one node per variable, an edge per declared coupling u ≠ v."""
        names = self.variables
        g = nx.Graph()
        g.add_nodes_from(names)
        pairs, _ = self.quadratic_terms()
        off = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
        g.add_edges_from((names[int(a)], names[int(b)]) for a, b in off)
        return g

    @property
    def graph(self) -> nx.MultiGraph:
        """Block-level graph: block nodes (kind='block') and term-group nodes (kind='factor')."""
        g = self._block_graph()
        for q in self.quadratics:
            g.add_node(q.name, kind="factor", pattern="quadratic", count=len(q.pairs))
            for b in q.blocks:
                g.add_edge(q.name, b)
        for lg in self.linears:
            g.add_node(lg.name, kind="factor", pattern="linear", count=len(lg.variables))
            for b in self.blocks_of(lg.variables):
                g.add_edge(lg.name, b)
        return g

    def __repr__(self) -> str:
        return (
            f"GaussianMarkovNetwork({self.name!r}: {self.num_variables} variables in {len(self.blocks)} blocks, "
            f"{sum(len(q.pairs) for q in self.quadratics)} quadratic terms, "
            f"{sum(len(lg.variables) for lg in self.linears)} linear terms)"
        )

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_precision(
        cls,
        precision: Any,
        potential: Any = None,
        names: Sequence[str] | str | None = None,
        *,
        name: str = "gaussian_markov_network",
    ) -> "GaussianMarkovNetwork":
        """Build from a dense symmetric precision Λ (n, n) and optional potential η (n,).

        ``names`` is ``None`` (a block ``x`` of n variables), a block name, or one name per variable.
        Only the non-zero entries of Λ's upper triangle become terms.

        >>> import numpy as np, graphdgm as gd
        >>> g = gd.GaussianMarkovNetwork.from_precision(np.array([[2.0, -0.5], [-0.5, 1.0]]), [1.0, 0.0])
        >>> g.variables, g.precision_matrix()[0, 1], g.potential_vector().tolist()
        (['x[0]', 'x[1]'], np.float64(-0.5), [1.0, 0.0])
        """
        lam = _as_float_array(precision, "precision")
        if lam.ndim != 2 or lam.shape[0] != lam.shape[1] or lam.shape[0] == 0:
            raise SpecError(f"precision must be a square matrix (n, n) with n >= 1, got shape {lam.shape}")
        n = lam.shape[0]
        if not np.all(np.isfinite(lam)):
            i, j = np.argwhere(~np.isfinite(lam))[0]
            raise SpecError(f"precision[{i}, {j}] is {lam[i, j]}; entries must be finite")
        if not np.allclose(lam, lam.T, rtol=1e-10, atol=1e-12):
            i, j = np.unravel_index(np.argmax(np.abs(lam - lam.T)), lam.shape)
            raise SpecError(
                f"precision must be symmetric: precision[{i}, {j}] = {lam[i, j]:g} but precision[{j}, {i}] = {lam[j, i]:g}; "
                "pass (P + P.T) / 2"
            )
        gmn = cls(name=name)
        if names is None or isinstance(names, str):
            gmn.add_block(names or "x", n)
        else:
            names = list(names)
            if len(names) != n:
                raise SpecError(f"names has {len(names)} entries for a precision of shape ({n}, {n}); give one name per row")
            for v in names:
                gmn.add_variable(v)
        iu, ju = np.triu_indices(n)
        keep = lam[iu, ju] != 0
        pairs = np.stack([iu[keep], ju[keep]], 1).astype(np.int64)  # (E, 2), i <= j
        if len(pairs):
            gmn.add_quadratic(pairs, lam[iu[keep], ju[keep]], name="Q")
        if potential is not None:
            eta = _as_float_array(potential, "potential")
            if eta.shape not in ((n,), (n, 1)):
                raise SpecError(f"potential must have shape ({n},) to match the precision, got {eta.shape}")
            eta = eta.reshape(-1)
            nz = np.flatnonzero(eta != 0)
            if not np.all(np.isfinite(eta)):
                nz = np.arange(n)  # let add_linear name the non-finite variable
            if len(nz):
                names_all = gmn.variables
                gmn.add_linear([names_all[i] for i in nz], eta[nz], name="L")
        return gmn


__all__ = ["GaussianMarkovNetwork", "LinearGroup", "QuadraticGroup"]
