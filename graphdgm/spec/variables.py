"""Named blocks of variables in packed order: the variable half shared by every spec."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import networkx as nx
import numpy as np

from graphdgm.errors import SpecError, UnknownVariableError
from graphdgm.spec.blocks import Block
from graphdgm.spec.domains import Domain
from graphdgm.spec.names import check_block_name, parse_name
from graphdgm.spec.validate import check_variable_count, shape_tuple


class VariableBlocks:
    """Blocks (single variables or shaped plates ``x[i,j]``) packed in declaration order.

    >>> import graphdgm as gd
    >>> v = VariableBlocks("demo")
    >>> v._declare_block("x", (2, 2), gd.Binary()), v.index_of("x[1,0]"), v._resolve("x")
    ('x', 2, [0, 1, 2, 3])
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.blocks: dict[str, Block] = {}
        self._offsets: dict[str, int] = {}
        self._num_vars = 0
        self._names_cache: list[str] | None = None

    def pair_indices(self, pairs: Any, what: str) -> np.ndarray:
        """Name pairs or an int array (E, 2) of packed indices -> validated packed indices (E, 2);
        ``what`` ("coupling", "quadratic") names the pairs in errors.

        >>> import graphdgm as gd
        >>> v = VariableBlocks("demo"); _ = v._declare_block("x", 3, gd.Binary())
        >>> v.pair_indices([("x[0]", "x[2]")], "coupling").tolist()
        [[0, 2]]
        """
        if isinstance(pairs, np.ndarray) and pairs.dtype.kind in "iu":
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                raise SpecError(f"{what} pairs as an index array need shape (E, 2), got {pairs.shape}")
            idx = pairs.astype(np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= self._num_vars):
                raise SpecError(f"{what} pairs index outside 0..{self._num_vars - 1} (packed variable indices)")
            return idx
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, (list, tuple, np.ndarray)):
            raise SpecError(f"{what} pairs must be a list of (name, name) pairs or an int array (E, 2), got {pairs!r}")
        rows = []
        for p in pairs:
            if not isinstance(p, (list, tuple, np.ndarray)) or len(p) != 2:
                raise SpecError(f"{what} pair {p!r} is not a pair of variable names such as ('x[0]', 'x[1]')")
            rows.append([self.index_of(p[0]), self.index_of(p[1])])
        return np.array(rows, dtype=np.int64).reshape(-1, 2)

    def _declare_block(self, name: str, shape: Sequence[int] | int, domain: Domain) -> str:
        check_block_name(name)
        shape = shape_tuple(shape, f"block {name!r} shape")
        if not isinstance(domain, Domain):
            raise SpecError(f"block {name!r}: domain must be a Domain such as gd.Spin() or gd.Categorical(3), got {domain!r}")
        if name in self.blocks:
            raise SpecError(f"duplicate block name {name!r}; every block and variable needs its own name")
        block = Block(name, shape, domain)
        check_variable_count(self._num_vars + block.size, f"block {name!r} of shape {shape}")
        self.blocks[name] = block
        self._offsets[name] = self._num_vars
        self._num_vars += block.size
        self._names_cache = None
        return name

    @property
    def num_variables(self) -> int:
        """Total number of variables over all blocks."""
        return self._num_vars

    def offset(self, block: str) -> int:
        """Packed index of the first variable of ``block``."""
        if block not in self._offsets:
            raise SpecError(f"{block!r} is not a block; blocks are {list(self.blocks)}")
        return self._offsets[block]

    @property
    def variables(self) -> list[str]:
        """All variable names, in packed order (blocks in declaration order, row-major inside)."""
        if self._names_cache is None:
            self._names_cache = [n for b in self.blocks.values() for n in b.variable_names()]
        return list(self._names_cache)

    def index_of(self, name: str) -> int:
        """Global packed index of a variable name such as ``"x[3,4]"``."""
        try:
            block_name, idx = parse_name(name)
        except (SpecError, TypeError):
            raise UnknownVariableError(str(name), self.variables) from None
        block = self.blocks.get(block_name)
        if block is None or len(idx) != len(block.shape):
            raise UnknownVariableError(str(name), self.variables)
        try:
            return self._offsets[block_name] + block.flat_offset(idx)
        except SpecError:
            raise UnknownVariableError(str(name), self.variables) from None

    def block_of(self, name: str) -> Block:
        """The :class:`Block` holding variable ``name`` (e.g. ``"x[3,4]"``, or a scalar block's name);
        an UnknownVariableError otherwise."""
        block_name, _ = parse_name(name)
        if block_name not in self.blocks:
            raise UnknownVariableError(name, self.variables)
        return self.blocks[block_name]

    def blocks_of(self, indices: np.ndarray) -> tuple[str, ...]:
        """Names of the blocks holding the given packed variable indices, in declaration order."""
        offsets = np.array([self._offsets[b] for b in self.blocks])
        hit = set((np.searchsorted(offsets, np.asarray(indices).reshape(-1), side="right") - 1).tolist())
        return tuple(b for i, b in enumerate(self.blocks) if i in hit)

    def domain_of(self, name: str) -> Domain:
        """The domain of variable ``name`` (that of its block)."""
        return self.block_of(name).domain

    def domains(self) -> list[Domain]:
        """Domain of every variable in packed order."""
        return [b.domain for b in self.blocks.values() for _ in range(b.size)]

    def _resolve(self, names: Iterable[str] | str) -> list[int]:
        """Variable names, or a block name standing for all its variables, to packed indices."""
        if isinstance(names, str):
            if names in self.blocks and self.blocks[names].shape:
                off = self._offsets[names]
                return list(range(off, off + self.blocks[names].size))
            return [self.index_of(names)]
        if not isinstance(names, (list, tuple, np.ndarray)):
            raise SpecError(f"expected a variable name, a block name or a list of names, got {names!r}")
        return [self.index_of(n) for n in names]

    def _block_graph(self) -> nx.MultiGraph:
        """The block nodes (kind='block') of a spec's block-level graph; specs add their factors."""
        g = nx.MultiGraph(name=self.name)
        for b in self.blocks.values():
            g.add_node(b.name, kind="block", shape=b.shape, domain=b.domain.describe())
        return g
