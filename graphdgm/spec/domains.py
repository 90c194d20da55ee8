"""Variable domains: binary {0,1}, spin {-1,+1}, categorical(k) and real."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphdgm.errors import SpecError


@dataclass(frozen=True)
class Domain:
    """The set of values a variable takes.

    ``cardinality`` is the number of states of a discrete domain (``None`` for real), ``labels``
    are the state labels shown to users and ``values`` the numbers the energy uses (for example
    spins -1 and +1).

    >>> Spin().values
    (-1.0, 1.0)
    >>> Categorical(3, labels=("r", "g", "b")).index("g")
    1
    """

    kind: str
    cardinality: int | None
    labels: tuple[Any, ...] = ()
    values: tuple[float, ...] = ()

    @property
    def is_discrete(self) -> bool:
        return self.cardinality is not None

    def index(self, label: Any) -> int:
        """The state index of ``label`` (a label, or an integer index that is in range)."""
        if not self.is_discrete:
            raise SpecError(f"a {self.kind} variable has no discrete states; pass a float value")
        for i, lab in enumerate(self.labels):
            if lab == label or (isinstance(label, str) and str(lab) == label):
                return i
        raise SpecError(
            f"{label!r} is not a state of a {self.describe()} variable; its states are {list(self.labels)}"
        )

    def describe(self) -> str:
        return self.kind if self.kind != "categorical" else f"categorical({self.cardinality})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cardinality": self.cardinality, "labels": list(self.labels)}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Domain":
        kind = d["kind"]
        if kind == "binary":
            return Binary()
        if kind == "spin":
            return Spin()
        if kind == "real":
            return Real()
        if kind == "categorical":
            return Categorical(int(d["cardinality"]), labels=tuple(d.get("labels") or ()) or None)
        raise SpecError(f"unknown domain kind {kind!r}; expected binary, spin, categorical or real")


def Binary() -> Domain:
    """Binary {0, 1}."""
    return Domain("binary", 2, (0, 1), (0.0, 1.0))


def Spin() -> Domain:
    """Spin {-1, +1}."""
    return Domain("spin", 2, (-1, 1), (-1.0, 1.0))


def Categorical(k: int, labels: tuple[Any, ...] | list[Any] | None = None) -> Domain:
    """Categorical with ``k`` states labelled ``0..k-1`` or by ``labels``."""
    if not isinstance(k, int) or k < 1:
        raise SpecError(f"Categorical needs a positive integer number of states, got {k!r}")
    labels = tuple(range(k)) if labels is None else tuple(labels)
    if len(labels) != k:
        raise SpecError(f"Categorical({k}) got {len(labels)} labels {labels!r}; give exactly {k}")
    if len(set(labels)) != k:
        raise SpecError(f"Categorical labels must be distinct, got {labels!r}")
    return Domain("categorical", k, labels, tuple(float(i) for i in range(k)))


def Real() -> Domain:
    """Real-valued (continuous)."""
    return Domain("real", None)
