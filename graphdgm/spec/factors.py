"""Factor declarations: explicit tables of any arity, and parametric pairwise couplings and fields.

All are stored as log-potentials (numpy float64); the model is p(x) ∝ exp(Σ log φ(x)).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COUPLING_KINDS = ("ising", "potts")
FIELD_KINDS = ("ising", "table")


@dataclass(frozen=True)
class TableFactor:
    """log φ(scope) given as a full table, axes in scope order: ``log_table.shape == cards(scope)``."""

    scope: tuple[str, ...]
    log_table: np.ndarray
    name: str


@dataclass(frozen=True)
class CouplingGroup:
    """Pairwise factors of one parametric kind over many variable pairs (a block-level edge).

    ``kind == "ising"``: log φ(x_i, x_j) = w · v(x_i) · v(x_j), with v the domain's values
    (±1 for spins). ``kind == "potts"``: log φ(x_i, x_j) = w · [x_i = x_j].
    ``pairs`` holds global variable indices, shape (E, 2); ``weights`` shape (E,).
    """

    name: str
    kind: str
    pairs: np.ndarray
    weights: np.ndarray
    pattern: str = "pairs"
    blocks: tuple[str, ...] = ()  # every block the pairs touch


@dataclass(frozen=True)
class FieldGroup:
    """Unary factors over many variables.

    ``kind == "ising"``: log φ(x_i) = h_i · v(x_i), ``weights`` shape (n,).
    ``kind == "table"``: log φ(x_i = s) = h[i, s], ``weights`` shape (n, k).
    """

    name: str
    kind: str
    variables: np.ndarray
    weights: np.ndarray
    block: str = ""
    meta: dict = field(default_factory=dict)
