"""The UAI competition file formats: models (MARKOV / BAYES) and evidence.

Model file: a preamble ``MARKOV`` or ``BAYES``; the number of variables; their cardinalities; the
number of functions; each function's scope (its size, then variable indices, in any order); then,
for each function, the number of entries followed by the entries. The table follows the scope as
listed, the LAST listed variable changing fastest (C order). Whitespace is free: tokens may be spread
over lines arbitrarily. In a ``BAYES`` file the last variable of each scope is the child and the
table is its CPT; it is read as a factor (the product of the CPTs is the joint).

Evidence file: ``k  v1 s1  v2 s2 ...`` (old format) or a sample count first, ``N`` then ``N`` such
records (newer format; the first record is used).

UAI keeps only cardinalities: variable names, block shapes, domain kinds and state labels are lost
on :func:`write_uai`, and :func:`read_uai` names the variables ``v0``, ``v1``, ... with
``Categorical(card)`` domains.
"""
from __future__ import annotations

import math
import os
import pathlib
from typing import Any, Union

import numpy as np

from graphdgm.errors import EvidenceError, FormatError, SpecError
from graphdgm.runtime import atomic_write_text
from graphdgm.spec.domains import Categorical
from graphdgm.spec.markov_network import MarkovNetwork

Source = Union[str, os.PathLike]
PREAMBLES = ("MARKOV", "BAYES")
CPT_TOLERANCE = 1e-6


def _read_text(source: Source | bytes) -> tuple[str, str]:
    """The text of ``source`` and a short description of where it came from.

    ``source`` is a path, a file's text (a string with a newline; ``""`` is empty text) or its
    bytes. Bytes that are not UTF-8 and sources of other types are a :class:`FormatError`; a path
    that is not a file is a ``FileNotFoundError``.
    """
    if isinstance(source, (bytes, bytearray)):
        return _decode(bytes(source), "<bytes>"), "<bytes>"
    if isinstance(source, str) and ("\n" in source or not source.strip()):
        return source, "<text>"  # an empty string is empty text, not the current folder
    if not isinstance(source, (str, os.PathLike)):
        raise FormatError(f"a UAI source is a path, the file's text or its bytes; got {type(source).__name__}")
    path = pathlib.Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} is not a file (to pass a file's text, give a string containing a newline)")
    return _decode(path.read_bytes(), str(path)), str(path)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FormatError(f"{where} line {line}: byte {data[e.start]:#04x} at offset {e.start} is not UTF-8 text; "
                          "UAI files are plain ASCII (numbers and MARKOV/BAYES)") from None


class _Tokens:
    """Whitespace-separated tokens with their line numbers, read front to back."""

    def __init__(self, text: str, where: str) -> None:
        self.items = [(tok, n) for n, line in enumerate(text.splitlines(), 1) for tok in line.split()]
        self.pos = 0
        self.where = where

    def __len__(self) -> int:
        return len(self.items)

    def at(self) -> str:
        """Where the next token is, for messages."""
        if self.pos < len(self.items):
            return f"{self.where} line {self.items[self.pos][1]}"
        return f"{self.where} end of file"

    def next(self, what: str, need: int | None = None) -> str:
        """The next token; ``need`` is how many tokens the file must hold in all, when known."""
        if self.pos >= len(self.items):
            total = f"; the header says the file holds {need} tokens but it has only {len(self.items)}" if need else ""
            raise FormatError(f"truncated file {self.where}: expected {what} after token {len(self.items)}{total}")
        tok, _ = self.items[self.pos]
        self.pos += 1
        return tok

    def int(self, what: str, lo: int = 0, need: int | None = None) -> int:
        line = self.at()
        tok = self.next(what, need)
        try:
            val = int(tok)
        except ValueError:
            kind = "a number but not an integer" if _is_float(tok) else "a non-numeric token"
            raise FormatError(f"{line}: expected {what} (an integer) but found {tok!r}, {kind}") from None
        if val < lo:
            raise FormatError(f"{line}: {what} must be >= {lo}, got {val}")
        return val

    def floats(self, n: int, what: str, need: int | None = None) -> np.ndarray:
        line = self.at()
        if self.pos + n > len(self.items):
            self.pos = len(self.items)
            self.next(f"{n} entries of {what}", need)
        toks = [t for t, _ in self.items[self.pos : self.pos + n]]
        self.pos += n
        try:
            return np.array([float(t) for t in toks], dtype=np.float64)
        except ValueError:
            bad = next(t for t in toks if not _is_float(t))
            raise FormatError(f"{line}: {what} holds the non-numeric token {bad!r}; expected a number") from None

    def expect_end(self, after: str) -> None:
        if self.pos < len(self.items):
            tok, n = self.items[self.pos]
            extra = len(self.items) - self.pos
            raise FormatError(f"{self.where} line {n}: trailing junk {tok!r} ({extra} extra tokens) after {after}")


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def read_uai(source: Source) -> MarkovNetwork:
    """Read a UAI ``MARKOV`` or ``BAYES`` model file (a path, or the file's text if it has a newline).

    >>> mn = read_uai("MARKOV\\n2\\n2 3\\n1\\n2 1 0\\n6 1 2 3 4 5 6\\n")
    >>> mn.variables, mn.factors[0].scope
    (['v0', 'v1'], ('v1', 'v0'))
    >>> float(np.exp(mn.factors[0].log_table[2, 1]))   # v1=2, v0=1: entry 2*2+1
    6.0
    """
    text, where = _read_text(source)
    tok = _Tokens(text, where)
    line = tok.at()
    word = tok.next("the preamble MARKOV or BAYES")
    kind = word.upper()
    if kind not in PREAMBLES:
        raise FormatError(f"{line}: unknown preamble {word!r}; a UAI model file starts with MARKOV or BAYES")
    n = tok.int("the number of variables")
    cards = [tok.int(f"the cardinality of variable {i} (of {n})", lo=1) for i in range(n)]
    m = tok.int("the number of functions")
    scopes: list[list[int]] = []
    for f in range(m):
        line = tok.at()
        size = tok.int(f"the scope size of function {f}", lo=1)
        scope = [tok.int(f"variable {j} of the scope of function {f}") for j in range(size)]
        bad = [v for v in scope if v >= n]
        if bad:
            raise FormatError(f"{line}: function {f} has variable index {bad[0]} out of range; the file declares {n} variables (0..{n - 1})")
        if len(set(scope)) != len(scope):
            raise FormatError(f"{line}: function {f} lists a variable twice in its scope {scope}")
        scopes.append(scope)
    need = tok.pos + sum(1 + math.prod(cards[v] for v in s) for s in scopes)
    mn = MarkovNetwork(name=pathlib.Path(where).stem if where != "<text>" else "uai")
    for i, k in enumerate(cards):
        try:
            mn.add_variable(f"v{i}", Categorical(k))
        except SpecError as e:
            raise FormatError(f"{where}: the cardinality of variable {i}: {e}") from None
    for f, scope in enumerate(scopes):
        shape = tuple(cards[v] for v in scope)
        line = tok.at()
        count = tok.int(f"the number of entries of function {f}", need=need)
        if count != math.prod(shape):
            raise FormatError(
                f"{line}: function {f} over variables {scope} has {count} entries but its scope cardinalities "
                f"{list(shape)} need {math.prod(shape)} (their product)"
            )
        table = tok.floats(count, f"the table of function {f}", need=need).reshape(shape)
        _check_table(table, f, scope, line, bayes=kind == "BAYES")
        try:
            mn.add_factor([f"v{v}" for v in scope], table)
        except SpecError as e:
            raise FormatError(f"{line}: function {f}: {e}") from None
    tok.expect_end(f"the {m} function tables")
    return mn


def _check_table(table: np.ndarray, f: int, scope: list[int], line: str, *, bayes: bool) -> None:
    if not np.all(np.isfinite(table)):
        raise FormatError(f"{line}: function {f} has a non-finite entry (nan or inf); entries must be finite numbers >= 0")
    if np.any(table < 0):
        raise FormatError(f"{line}: function {f} has a negative entry ({table.min():g}); entries must be >= 0")
    if bayes:
        sums = table.sum(axis=-1)
        bad = np.argwhere(np.abs(sums - 1.0) > CPT_TOLERANCE)
        if len(bad):
            row = tuple(int(i) for i in bad[0])
            raise FormatError(
                f"{line}: BAYES function {f} (CPT of variable {scope[-1]} given {scope[:-1]}) has a row that sums to "
                f"{sums[row]:.10g}, not 1 (parent states {list(row)}); each CPT row must sum to 1 within {CPT_TOLERANCE:g}"
            )


def write_uai(spec: MarkovNetwork, path: Source | None = None) -> str:
    """Write ``spec`` as a UAI ``MARKOV`` file (returns the text; also writes it when ``path`` is given).

    Variables are numbered in ``spec.variables`` order; every factor of ``spec.table_factors()``
    (couplings and fields expanded) becomes one function. Names and state labels are lost, and
    log-potentials below about -745 underflow to 0 (UAI stores plain potentials).

    >>> import graphdgm as gd
    >>> mn = gd.MarkovNetwork()
    >>> mn.add_variable("a", gd.Categorical(2))
    'a'
    >>> mn.add_factor(["a"], [0.0, 2.5])
    'f0'
    >>> print(write_uai(mn), end="")
    MARKOV
    1
    2
    1
    1 0
    <BLANKLINE>
    2
    0.0 2.5
    """
    cards = []
    for name, d in zip(spec.variables, spec.domains()):
        if not d.is_discrete:
            raise SpecError(f"UAI holds discrete variables only; {name!r} is {d.describe()}")
        cards.append(d.cardinality)
    factors = spec.table_factors()
    lines = ["MARKOV", str(len(cards)), " ".join(map(str, cards)), str(len(factors))]
    lines += [" ".join(map(str, [len(f.scope), *(spec.index_of(v) for v in f.scope)])) for f in factors]
    for f in factors:
        with np.errstate(over="ignore"):
            vals = np.exp(np.asarray(f.log_table, dtype=np.float64)).ravel()
        if not np.all(np.isfinite(vals)):
            raise SpecError(f"factor {f.name!r} has a log-potential above {np.log(np.finfo(np.float64).max):.1f}, which overflows in UAI's plain potentials")
        lines += ["", str(vals.size), " ".join(repr(float(x)) for x in vals)]
    text = "\n".join(lines) + "\n"
    if path is not None:
        atomic_write_text(path, text)
    return text


def read_evidence(source: Source, spec: MarkovNetwork | None = None) -> dict[int, int]:
    """Read a UAI evidence file into ``{variable index: state index}``.

    Accepts ``k v1 s1 ... vk sk`` and the newer ``N`` + ``N`` records (the first record is used).
    With ``spec`` given, indices and states are checked against its variables (EvidenceError).

    >>> read_evidence("2 0 1 3 0\\n")
    {0: 1, 3: 0}
    >>> read_evidence("1\\n1 4 2\\n")
    {4: 2}
    """
    text, where = _read_text(source)
    tok = _Tokens(text, where)
    if len(tok) == 0:
        evid: dict[int, int] = {}
    else:
        first = tok.int("the number of observed variables (or of samples)")
        if len(tok) == 1 + 2 * first:  # old format: exactly one record
            tok.pos = 0
            evid = _read_record(tok, "the evidence")
        else:  # newer format: a sample count, then records
            evid = {}
            for s in range(first):
                rec = _read_record(tok, f"evidence sample {s}")
                evid = rec if s == 0 else evid
            tok.expect_end(f"{first} evidence samples")
    if spec is not None:
        _check_evidence(spec, evid)
    return evid


def _read_record(tok: _Tokens, what: str) -> dict[int, int]:
    k = tok.int(f"the number of observed variables in {what}")
    out: dict[int, int] = {}
    for j in range(k):
        line = tok.at()
        v = tok.int(f"variable {j} of {what} ({k} pairs 'variable state')")
        s = tok.int(f"the state of variable {v} in {what}")
        if out.get(v, s) != s:
            raise EvidenceError(f"{line}: {what} gives variable {v} two states, {out[v]} and {s}")
        out[v] = s
    return out


def _check_evidence(spec: MarkovNetwork, evid: dict[int, int]) -> None:
    doms = spec.domains()
    for v, s in evid.items():
        if not 0 <= v < len(doms):
            raise EvidenceError(f"evidence on variable index {v}, but the model has {len(doms)} variables (0..{len(doms) - 1})")
        k = doms[v].cardinality
        if k is None:
            raise EvidenceError(f"evidence on variable {v} ({spec.variables[v]!r}), which is real-valued; UAI evidence is discrete")
        if not 0 <= s < k:
            raise EvidenceError(f"evidence gives variable {v} ({spec.variables[v]!r}) state {s}, but it has {k} states (0..{k - 1})")


def write_evidence(evidence: dict[int, int], path: Source | None = None, *, samples_header: bool = False) -> str:
    """Write ``{variable index: state index}`` as a UAI evidence file; returns the text.

    ``samples_header=True`` writes the newer format with a leading sample count of 1.

    >>> write_evidence({0: 1, 3: 0})
    '2 0 1 3 0\\n'
    >>> write_evidence({2: 1}, samples_header=True)
    '1\\n1 2 1\\n'
    """
    pairs = []
    for v, s in evidence.items():
        if int(v) != v or int(s) != s or v < 0 or s < 0:
            raise EvidenceError(f"evidence must map variable indices to state indices (ints >= 0), got {v!r}: {s!r}")
        pairs += [int(v), int(s)]
    text = ("1\n" if samples_header else "") + " ".join(map(str, [len(evidence), *pairs])) + "\n"
    if path is not None:
        atomic_write_text(path, text)
    return text


def evidence_to_names(spec: MarkovNetwork, evid: dict[int, int]) -> dict[str, Any]:
    """Turn ``{variable index: state index}`` into ``{variable name: state label}`` for ``spec``.

    >>> import graphdgm as gd
    >>> mn = gd.MarkovNetwork()
    >>> mn.add_block("x", (2,), gd.Spin())
    'x'
    >>> evidence_to_names(mn, {1: 0})
    {'x[1]': -1}
    """
    _check_evidence(spec, evid)
    names, doms = spec.variables, spec.domains()
    return {names[v]: doms[v].labels[s] for v, s in evid.items()}


__all__ = ["read_uai", "write_uai", "read_evidence", "write_evidence", "evidence_to_names"]
