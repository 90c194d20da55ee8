"""Query results: tensors underneath, variable names and state labels on top, pandas on request."""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Union

import torch

from graphdgm.errors import CapabilityError, InferenceError, SpecError

if TYPE_CHECKING:
    from graphdgm.infer.diagnostics import Diagnostics

SHOWN = 4  # entries a repr lists before "... (N variables)"
HTML_ROWS = 20  # rows an HTML table shows before "... (N rows)"


def _fmt(value: Any) -> str:
    """A number or label, short: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _html_table(title: str, header: Sequence[Any], rows: Sequence[Sequence[Any]], total: int | None = None,
                note: str = "") -> str:
    """A small HTML table (at most ``HTML_ROWS`` rows, then a line saying how many there were)."""
    total = len(rows) if total is None else total
    head = "".join(f"<th>{escape(_fmt(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows[:HTML_ROWS])
    more = f"<p>... ({total} rows, {min(len(rows), HTML_ROWS)} shown)</p>" if total > min(len(rows), HTML_ROWS) else ""
    extra = f"<p>{escape(note)}</p>" if note else ""
    return (f"<div><b>{escape(title)}</b><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"{more}{extra}</div>")


def _diagnostics_note(diagnostics: Any) -> str:
    return f"diagnostics: {diagnostics!r}" if diagnostics is not None else ""


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
        """State label -> probability, as plain Python floats."""
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
        """``{"mean": ..., "std": ...}`` as plain Python floats."""
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

    def to_pandas(self, wide: bool = False) -> Any:
        """Discrete: one row per (variable, state), columns ``variable, state, probability``; with
        ``wide=True`` one row per variable and one column per state label (NaN past a variable's
        states). Continuous: one row per variable, columns ``variable, mean, std``.

        >>> m = Marginals([DiscreteMarginal("a", (0, 1), torch.tensor([0.25, 0.75]))])
        >>> m.to_pandas(wide=True).loc["a", 1]
        np.float64(0.75)
        """
        import pandas as pd

        if self._continuous():
            rows = [(m.variable, m.mean, m.std) for m in self._items.values()]
            return pd.DataFrame(rows, columns=["variable", "mean", "std"])
        if wide:
            table = {m.variable: dict(zip(m.labels, m.probs.tolist())) for m in self._items.values()}
            frame = pd.DataFrame.from_dict(table, orient="index")
            frame.index.name, frame.columns.name = "variable", "state"
            return frame
        rows = [(m.variable, lab, float(p)) for m in self._items.values() for lab, p in zip(m.labels, m.probs.tolist())]
        return pd.DataFrame(rows, columns=["variable", "state", "probability"])

    def __repr__(self) -> str:
        shown = list(self._items.values())[:SHOWN]
        more = f"; ... ({len(self._items)} variables)" if len(self._items) > SHOWN else ""
        return "Marginals(" + "; ".join(map(repr, shown)) + more + ")"

    def _repr_html_(self) -> str:
        items = list(self._items.values())
        title = f"Marginals of {len(items)} variables"
        note = _diagnostics_note(self.diagnostics)
        if not items:
            return _html_table(title, [], [], note=note)
        if self._continuous():
            return _html_table(title, ["variable", "mean", "std"], [(m.variable, m.mean, m.std) for m in items[:HTML_ROWS]],
                               len(items), note)
        first = items[0].labels
        if all(m.labels == first for m in items):  # one column per state
            rows = [(m.variable, *m.probs.tolist()) for m in items[:HTML_ROWS]]
            return _html_table(title, ["variable", *[f"P({lab})" for lab in first]], rows, len(items), note)
        rows = [(m.variable, ", ".join(f"{lab}: {p:.4g}" for lab, p in zip(m.labels, m.probs.tolist())))
                for m in items[:HTML_ROWS]]
        return _html_table(title, ["variable", "probabilities"], rows, len(items), note)


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
        """A pandas DataFrame with one row per joint state: a column per variable (its label) and
        ``probability``. Needs pandas.
        """
        import pandas as pd

        rows = [(*combo, float(self.probs[tuple(i for i, _ in enum)]))
                for enum in itertools.product(*(list(enumerate(l)) for l in self.labels))
                for combo in [tuple(lab for _, lab in enum)]]
        return pd.DataFrame(rows, columns=[*self.variables, "probability"])

    def _rows(self, limit: int) -> list[tuple[Any, ...]]:
        """The first ``limit`` (labels..., probability) rows, in table order."""
        combos = itertools.islice(itertools.product(*(list(enumerate(l)) for l in self.labels)), limit)
        return [(*(lab for _, lab in enum), float(self.probs[tuple(i for i, _ in enum)])) for enum in combos]

    def __repr__(self) -> str:
        shape = "x".join(str(len(l)) for l in self.labels)
        best = tuple(int(i) for i in torch.unravel_index(torch.argmax(self.probs), self.probs.shape))
        mode = ", ".join(f"{v}={self.labels[k][i]}" for k, (v, i) in enumerate(zip(self.variables, best)))
        names = ", ".join(self.variables[:SHOWN]) + (f", ... ({len(self.variables)} variables)" if len(self.variables) > SHOWN else "")
        return f"JointDistribution(p({names}): {shape} table, most probable {mode}: {float(self.probs[best]):.4g})"

    def _repr_html_(self) -> str:
        return _html_table(f"Joint distribution of {', '.join(self.variables)}", [*self.variables, "probability"],
                           self._rows(HTML_ROWS), self.probs.numel(), _diagnostics_note(self.diagnostics))


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
        """The assignment as a pandas Series: index ``variable``, values the states (name ``state``).

        >>> MAPResult({"a": 1, "b": 0}, torch.tensor([1, 0]), -0.5).to_pandas().to_dict()
        {'a': 1, 'b': 0}
        """
        import pandas as pd

        series = pd.Series(self.assignment, name="state", dtype=object if not self.assignment else None)
        series.index.name = "variable"
        return series

    def __repr__(self) -> str:
        """A summary line with the first few states.

        >>> MAPResult({f"x{i}": i % 2 for i in range(256)}, torch.zeros(256), -3.0)
        MAPResult(log_score=-3, x0=0, x1=1, x2=0, x3=1, ... (256 variables))
        """
        items = list(self.assignment.items())
        body = ", ".join(f"{k}={_fmt(v)}" for k, v in items[:SHOWN])
        more = f", ... ({len(items)} variables)" if len(items) > SHOWN else ""
        return f"MAPResult(log_score={self.log_score:.4g}, {body}{more})"

    def _repr_html_(self) -> str:
        items = list(self.assignment.items())
        note = "; ".join(filter(None, [f"log score {self.log_score:.6g}", _diagnostics_note(self.diagnostics)]))
        return _html_table(f"MAP assignment of {len(items)} variables", ["variable", "state"], items[:HTML_ROWS],
                           len(items), note)


class Samples:
    """Draws of named variables: ``values`` (S, n) for independent draws, or (C, S, n) for C
    chains of S draws each (MCMC); entries are state indices, or reals for real variables.
    ``samples["x"]`` is (S,) or (C, S); ``to_pandas()`` one column per variable (rows by
    ``(chain, draw)`` when there are chains); ``to_arviz()`` an ``arviz.InferenceData`` (chains only).

    >>> s = Samples(("a", "b"), torch.tensor([[0, 1], [1, 1], [0, 0]]))
    >>> s, s["b"].tolist()
    (Samples(3 draws of 2 variables: a, b), [1, 1, 0])
    """

    def __init__(self, variables: Sequence[str], values: torch.Tensor, diagnostics: "Diagnostics | None" = None) -> None:
        values = torch.as_tensor(values).detach()
        variables = tuple(variables)
        if values.dim() not in (2, 3) or values.shape[-1] != len(variables):
            raise SpecError(f"Samples: values must be (draws, variables) or (chains, draws, variables) with "
                            f"{len(variables)} variables last, got shape {tuple(values.shape)}; reshape the draws")
        self.variables = variables
        self.values = values
        self.diagnostics = diagnostics

    @classmethod
    def from_chains(cls, result: Any) -> "Samples":
        """The kept draws of an MCMC run (``sample_chains(..., keep=[...])``), as (C, S, k) samples."""
        if getattr(result, "samples", None) is None:
            raise InferenceError("this chain result stores no draws: run it with keep=[...] or keep='all'")
        names = [result.variables[i] for i in result.kept]
        return cls(names, result.samples.permute(1, 0, 2), getattr(result, "diagnostics", None))  # (S, C, k) -> (C, S, k)

    @property
    def chains(self) -> int | None:
        """The number of chains, or None for independent draws."""
        return int(self.values.shape[0]) if self.values.dim() == 3 else None

    @property
    def draws(self) -> int:
        """The number of draws (per chain, when there are chains)."""
        return int(self.values.shape[-2])

    def __len__(self) -> int:
        return self.draws * (self.chains or 1)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.variables:
            raise KeyError(f"no samples of {name!r}; these samples hold {list(self.variables)[:6]}")
        return self.values[..., self.variables.index(name)]

    def tensor(self) -> torch.Tensor:
        """The draws (S, n), chains concatenated."""
        return self.values.reshape(-1, len(self.variables))

    def to_pandas(self) -> Any:
        """A DataFrame with one column per variable and one row per draw (index ``(chain, draw)`` with chains)."""
        import pandas as pd

        frame = pd.DataFrame(self.tensor().cpu().numpy(), columns=list(self.variables))
        if self.chains is not None:
            frame.index = pd.MultiIndex.from_product([range(self.chains), range(self.draws)], names=["chain", "draw"])
        else:
            frame.index.name = "draw"
        return frame

    def to_arviz(self) -> Any:
        """An ``arviz.InferenceData`` whose posterior holds one (chain, draw) array per variable, for
        arviz's R-hat, ESS and trace plots. Needs chains and the optional ``arviz`` package."""
        if self.chains is None:
            raise CapabilityError("to_arviz needs draws from chains, values (chains, draws, variables); these are "
                                  f"{self.draws} independent draws: use to_pandas(), or sample with MCMC chains")
        try:
            import arviz as az
        except ImportError as e:
            raise CapabilityError("to_arviz needs the optional arviz package: pip install arviz") from e
        values = self.values.cpu().numpy()  # (C, S, n)
        return az.from_dict(posterior={v: values[..., i] for i, v in enumerate(self.variables)})

    def _summary(self) -> str:
        chains = f" x {self.chains} chains" if self.chains is not None else ""
        names = ", ".join(self.variables[:SHOWN]) + (f", ... ({len(self.variables)} variables)"
                                                     if len(self.variables) > SHOWN else "")
        return f"{self.draws} draws{chains} of {len(self.variables)} variables: {names}"

    def __repr__(self) -> str:
        return f"Samples({self._summary()})"

    def _repr_html_(self) -> str:
        cols = list(self.variables[:12])
        flat = self.tensor()[:5, :12].tolist()
        rows = [(k, *row) for k, row in enumerate(flat)]
        note = "; ".join(filter(None, [f"{len(self.variables) - len(cols)} more variables not shown"
                                       if len(self.variables) > len(cols) else "", _diagnostics_note(self.diagnostics)]))
        return _html_table(f"Samples: {self._summary()}", ["draw", *cols], rows, len(self), note)
