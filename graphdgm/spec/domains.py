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
        """Whether the domain has finitely many states (all kinds but real)."""
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
        """The kind, with the cardinality for categorical domains: ``"categorical(3)"``."""
        return self.kind if self.kind != "categorical" else f"categorical({self.cardinality})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (kind, cardinality, labels); :meth:`from_dict` inverts it."""
        return {"kind": self.kind, "cardinality": self.cardinality, "labels": list(self.labels)}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Domain":
        """The domain described by ``d`` (a :meth:`to_dict` result), or a SpecError for an unknown kind."""
        if not isinstance(d, dict) or "kind" not in d:
            raise SpecError(f"a domain is a dict with a 'kind' (binary, spin, categorical or real), got {d!r}")
        kind = d["kind"]
        if kind == "binary":
            return Binary()
        if kind == "spin":
            return Spin()
        if kind == "real":
            return Real()
        if kind == "categorical":
            labels = d.get("labels") or None
            return Categorical(d.get("cardinality"), labels=tuple(labels) if isinstance(labels, (list, tuple)) else labels)
        raise SpecError(f"unknown domain kind {kind!r}; expected binary, spin, categorical or real")


def Binary() -> Domain:
    """Binary {0, 1}."""
    return Domain("binary", 2, (0, 1), (0.0, 1.0))


def Spin() -> Domain:
    """Spin {-1, +1}."""
    return Domain("spin", 2, (-1, 1), (-1.0, 1.0))


def Categorical(k: int, labels: tuple[Any, ...] | list[Any] | None = None) -> Domain:
    """Categorical with ``k`` states labelled ``0..k-1`` or by ``labels``."""
    from graphdgm.spec.validate import MAX_CARDINALITY, positive_int

    k = positive_int(k, "Categorical(k): the number of states k")
    if k > MAX_CARDINALITY:
        raise SpecError(f"Categorical({k:,}) has more than {MAX_CARDINALITY:,} states, the limit for one discrete variable "
                        "(a table over it alone would hold every state); bin the values or model them as Real()")
    if labels is not None and (isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__")):
        raise SpecError(f"Categorical({k}) labels must be a tuple or list of {k} distinct labels, got {labels!r}")
    labels = tuple(range(k)) if labels is None else tuple(labels)
    if len(labels) != k:
        raise SpecError(f"Categorical({k}) got {len(labels)} labels {labels!r}; give exactly {k}")
    try:
        distinct = len(set(labels))
    except TypeError:
        raise SpecError(f"Categorical({k}) labels must be hashable (strings or numbers), got {labels!r}") from None
    if distinct != k:
        raise SpecError(f"Categorical labels must be distinct, got {labels!r}")
    return Domain("categorical", k, labels, tuple(float(i) for i in range(k)))


def Real() -> Domain:
    """Real-valued (continuous)."""
    return Domain("real", None)
