"""Query results: tensors underneath, variable names and state labels on top, pandas on request."""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class DiscreteMarginal:
    """p(x_v) for one variable: ``probs[i]`` is the probability of state ``labels[i]``."""

    variable: str
    labels: tuple[Any, ...]
    probs: torch.Tensor

    def __getitem__(self, label: Any) -> float:
        for i, lab in enumerate(self.labels):
            if lab == label or str(lab) == str(label):
                return float(self.probs[i])
        raise KeyError(f"{label!r} is not a state of {self.variable!r}; states are {list(self.labels)}")

    def to_dict(self) -> dict[Any, float]:
        return {lab: float(p) for lab, p in zip(self.labels, self.probs.tolist())}

    def __repr__(self) -> str:
        body = ", ".join(f"{lab}: {p:.4g}" for lab, p in zip(self.labels, self.probs.tolist()))
        return f"P({self.variable}) = {{{body}}}"


class Marginals(Mapping[str, DiscreteMarginal]):
    """Single-variable marginals by name; ``to_pandas()`` gives one row per (variable, state)."""

    def __init__(self, items: list[DiscreteMarginal]) -> None:
        self._items = {m.variable: m for m in items}

    def __getitem__(self, name: str) -> DiscreteMarginal:
        if name not in self._items:
            from graphdgm.spec.names import canonical
            try:
                name = canonical(name)
            except Exception:  # noqa: BLE001 - keep the KeyError below
                pass
        if name not in self._items:
            raise KeyError(f"no marginal for {name!r}; this result holds {list(self._items)[:6]}")
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def tensor(self) -> torch.Tensor:
        """(V, kmax) probabilities in result order, padded with zeros past each cardinality."""
        k = max(len(m.labels) for m in self._items.values())
        rows = [torch.nn.functional.pad(m.probs, (0, k - len(m.labels))) for m in self._items.values()]
        return torch.stack(rows)

    def to_pandas(self) -> Any:
        import pandas as pd

        rows = [(m.variable, lab, float(p)) for m in self._items.values() for lab, p in zip(m.labels, m.probs.tolist())]
        return pd.DataFrame(rows, columns=["variable", "state", "probability"])

    def __repr__(self) -> str:
        shown = list(self._items.values())[:4]
        more = f", ... ({len(self._items)} variables)" if len(self._items) > 4 else ""
        return "Marginals(" + "; ".join(map(repr, shown)) + more + ")"


@dataclass(frozen=True)
class JointDistribution:
    """p(variables) as a tensor with one axis per variable; index it with state labels."""

    variables: tuple[str, ...]
    labels: tuple[tuple[Any, ...], ...]
    probs: torch.Tensor

    def __getitem__(self, states: Any) -> float:
        states = states if isinstance(states, tuple) else (states,)
        idx = []
        for v, labs, s in zip(self.variables, self.labels, states):
            matches = [i for i, lab in enumerate(labs) if lab == s or str(lab) == str(s)]
            if not matches:
                raise KeyError(f"{s!r} is not a state of {v!r}; states are {list(labs)}")
            idx.append(matches[0])
        return float(self.probs[tuple(idx)])

    def to_pandas(self) -> Any:
        import pandas as pd

        rows = [(*combo, float(self.probs[tuple(i for i, _ in enum)]))
                for enum in itertools.product(*(list(enumerate(l)) for l in self.labels))
                for combo in [tuple(lab for _, lab in enum)]]
        return pd.DataFrame(rows, columns=[*self.variables, "probability"])


@dataclass(frozen=True)
class MAPResult:
    """The most probable assignment: ``assignment[name]`` is a state label; ``state`` the packed
    state indices (n,) of every variable; ``log_score`` the unnormalised log-probability of the
    assignment (for a marginal MAP, of the queried variables with the rest summed out)."""

    assignment: dict[str, Any]
    state: torch.Tensor
    log_score: float

    def __getitem__(self, name: str) -> Any:
        return self.assignment[name]

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self.assignment.items()), columns=["variable", "state"])
