"""Names at the edges of a compiled model: variable names and evidence to packed indices."""
from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import numpy as np

from graphdgm.errors import EvidenceError, SpecError, UnknownVariableError
from graphdgm.spec.names import canonical


class NamedVariables:
    """Mixin for compiled models holding ``variables`` (names in packed order), ``index``
    (name -> position) and ``spec`` (the frozen declaration, for block names)."""

    variables: tuple[str, ...]

    def __getstate__(self) -> dict[str, Any]:
        """Picklable and deep-copyable: the read-only ``index`` travels as a plain dict."""
        state = dict(super().__getstate__())
        if isinstance(state.get("index"), MappingProxyType):
            state["index"] = dict(state["index"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if isinstance(state.get("index"), dict):
            state["index"] = MappingProxyType(state["index"])
        super().__setstate__(state)

    @property
    def num_variables(self) -> int:
        """Number of (packed) variables."""
        return len(self.variables)

    def index_of(self, name: str) -> int:
        """Packed index of a variable name (``"x[3, 4]"`` and ``"x[3,4]"`` both work)."""
        i = self.index.get(name) if isinstance(name, str) else None
        if i is None and isinstance(name, str):
            try:
                i = self.index.get(canonical(name))
            except SpecError:
                i = None
        if i is None:
            raise UnknownVariableError(str(name), self.variables)
        return i

    def _is_block(self, name: Any) -> bool:
        return isinstance(name, str) and name in self.spec.blocks and bool(self.spec.blocks[name].shape)

    def resolve(self, names: Any) -> list[int]:
        """Names (or a block name meaning all its variables) to packed indices, in the given order."""
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, (list, tuple, np.ndarray)) and not hasattr(names, "__iter__"):
            raise SpecError(f"variables must be a name such as 'x[0,1]', a block name or a list of names, got {names!r}")
        out: list[int] = []
        for n in names:
            out.extend(self.spec._resolve(n) if self._is_block(n) else [self.index_of(n)])
        if len(set(out)) != len(out):
            raise SpecError(f"variables {list(names)} name a variable twice")
        return out

    def encode_evidence(self, evidence: dict[str, Any] | None) -> dict[int, int]:
        """``{"x[0,0]": +1}`` -> ``{0: 1}`` (packed index -> state index), validated against each
        variable's domain (``self.domains``)."""
        out: dict[int, int] = {}
        for i, label in self._evidence_items(evidence or {}, "state label"):
            if hasattr(label, "item"):
                label = label.item()
            try:
                out[i] = self.domains[i].index(label)
            except SpecError as e:
                raise EvidenceError(f"evidence for {self.variables[i]!r}: {e}") from None
        return out

    def _evidence_items(self, evidence: dict[Any, Any], what: str) -> Iterator[tuple[int, Any]]:
        """(packed index, raw value) pairs from names, block names (one value per variable) or
        packed indices; ``what`` says what a value is, for the error messages."""
        if not isinstance(evidence, dict):
            raise EvidenceError(f"evidence must be a dict of variable name -> {what}, got {type(evidence).__name__}")
        for name, value in evidence.items():
            if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
                if not 0 <= int(name) < self.num_variables:
                    raise EvidenceError(f"evidence index {name} is outside 0..{self.num_variables - 1} (packed variable indices)")
                yield int(name), value
            elif self._is_block(name):
                idx = self.resolve(name)
                vals = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=object).reshape(-1)
                if vals.size != len(idx):
                    raise EvidenceError(f"evidence for block {name!r} has {vals.size} values; the block has {len(idx)} variables")
                yield from zip(idx, vals.tolist())
            else:
                yield self.index_of(name), value
