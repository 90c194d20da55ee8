"""Query results: tensors underneath, variable names and state labels on top, pandas on request."""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import torch

from graphdgm.errors import InferenceError

if TYPE_CHECKING:
    from graphdgm.infer.diagnostics import Diagnostics


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


@dataclass(frozen=True)
class ContinuousMarginal:
    """p(x_v) for one real variable, summarised by ``mean`` and ``std``; ``samples`` (S,) when the
    backend sampled (then ``quantile`` works). A clamped variable has its value as mean and std 0.

    >>> import torch
    >>> m = ContinuousMarginal("x", 0.5, 2.0, torch.tensor([0.0, 1.0, 2.0]))
    >>> m, m.quantile(0.5)
    (p(x): mean 0.5, std 2, 3 samples, 1.0)
    """

    variable: str
    mean: float
    std: float
    samples: torch.Tensor | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", float(self.mean))
        object.__setattr__(self, "std", float(self.std))
        if self.samples is not None:
            object.__setattr__(self, "samples", torch.as_tensor(self.samples).detach().reshape(-1))

    def quantile(self, q: float | Any) -> float | torch.Tensor:
        """The empirical ``q``-quantile of the samples (a float, or a tensor for several q)."""
        if self.samples is None:
            raise InferenceError(
                f"the marginal of {self.variable!r} carries no samples (an analytic answer); its quantiles "
                "follow from mean and std when it is Gaussian"
            )
        qs = torch.as_tensor(q, dtype=self.samples.dtype)
        out = torch.quantile(self.samples, qs)
        return float(out) if out.dim() == 0 else out

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}

    def __repr__(self) -> str:
        extra = f", {len(self.samples)} samples" if self.samples is not None else ""
        return f"p({self.variable}): mean {self.mean:.4g}, std {self.std:.4g}{extra}"


Marginal = Union[DiscreteMarginal, ContinuousMarginal]


class Marginals(Mapping[str, Marginal]):
    """Single-variable marginals by name; ``to_pandas()`` gives one row per (variable, state) for
    discrete marginals and one row per variable (``variable, mean, std``) for continuous ones.
    ``diagnostics``: how far an approximate backend's answer can be trusted (None for exact ones)."""

    def __init__(self, items: list[Marginal], diagnostics: "Diagnostics | None" = None) -> None:
        self._items = {m.variable: m for m in items}
        self.diagnostics = diagnostics

    def __getitem__(self, name: str) -> Marginal:
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

    def _continuous(self) -> bool:
        kinds = {isinstance(m, ContinuousMarginal) for m in self._items.values()}
        if len(kinds) > 1:
            raise InferenceError("these marginals mix discrete and continuous variables; read them one by one")
        return kinds == {True}

    def tensor(self) -> torch.Tensor:
        """Discrete: (V, kmax) probabilities in result order, padded with zeros past each cardinality.
        Continuous: (V, 2) rows of (mean, std)."""
        if self._continuous():
            return torch.tensor([[m.mean, m.std] for m in self._items.values()], dtype=torch.float64)
        k = max(len(m.labels) for m in self._items.values())
        rows = [torch.nn.functional.pad(m.probs, (0, k - len(m.labels))) for m in self._items.values()]
        return torch.stack(rows)

    def to_pandas(self) -> Any:
        import pandas as pd

        if self._continuous():
            rows = [(m.variable, m.mean, m.std) for m in self._items.values()]
            return pd.DataFrame(rows, columns=["variable", "mean", "std"])
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
    diagnostics: "Diagnostics | None" = field(default=None, compare=False)  # approximate backends only

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
    """The most probable assignment: ``assignment[name]`` is a state label (a float for a real
    variable); ``state`` the packed state indices (n,) of every variable (real values, float, for a
    continuous model); ``log_score`` the unnormalised log-probability of the assignment (for a
    marginal MAP, of the queried variables with the rest summed out or integrated out)."""

    assignment: dict[str, Any]
    state: torch.Tensor
    log_score: float
    diagnostics: "Diagnostics | None" = field(default=None, compare=False)  # approximate backends only

    def __getitem__(self, name: str) -> Any:
        return self.assignment[name]

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self.assignment.items()), columns=["variable", "state"])
