"""Blocks of variables: a single named variable or a shaped layer/plate sharing one domain."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from graphdgm.errors import SpecError
from graphdgm.spec.domains import Domain
from graphdgm.spec.names import check_block_name, format_name


@dataclass(frozen=True)
class Block:
    """A node of a spec graph: ``shape == ()`` is one variable, otherwise a plate of variables.

    >>> from graphdgm.spec.domains import Spin
    >>> Block("x", (2, 2), Spin()).variable_names()
    ['x[0,0]', 'x[0,1]', 'x[1,0]', 'x[1,1]']
    """

    name: str
    shape: tuple[int, ...]
    domain: Domain

    def __post_init__(self) -> None:
        check_block_name(self.name)
        if any((not isinstance(s, int)) or isinstance(s, bool) or s < 1 for s in self.shape):
            raise SpecError(f"block {self.name!r} has shape {self.shape}; every dimension must be a positive int")

    @property
    def size(self) -> int:
        """Number of variables in the block (the product of its shape)."""
        return math.prod(self.shape)

    def indices(self) -> list[tuple[int, ...]]:
        """Every index tuple of the block, in row-major order."""
        return list(itertools.product(*(range(s) for s in self.shape)))

    def variable_names(self) -> list[str]:
        """The name of each variable, e.g. ``"x[0,1]"``, in row-major order."""
        return [format_name(self.name, idx) for idx in self.indices()]

    def flat_offset(self, index: tuple[int, ...]) -> int:
        """Row-major position of ``index`` inside the block."""
        if len(index) != len(self.shape):
            raise SpecError(
                f"block {self.name!r} has shape {self.shape}, so a variable needs {len(self.shape)} "
                f"indices; got {format_name(self.name, index)!r}"
            )
        for i, s in zip(index, self.shape):
            if not 0 <= i < s:
                raise SpecError(f"{format_name(self.name, index)!r} is out of range for block {self.name!r} of shape {self.shape}")
        off = 0
        for i, s in zip(index, self.shape):
            off = off * s + i
        return off
