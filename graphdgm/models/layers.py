"""Shared pieces of layered Boltzmann-machine constructors: layer sizes and units."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphdgm.errors import SpecError
from graphdgm.graph.units import Bernoulli, Unit
from graphdgm.spec.validate import shape_tuple

__all__: list[str] = []  # helpers only; nothing exported as graphdgm.<name>


def layer_shape(size: Any, what: str) -> tuple[int, ...]:
    """A layer's size (an int) or shape (a tuple such as (28, 28)), validated."""
    shape = shape_tuple(size, what)
    if not shape:
        raise SpecError(f"{what} must be a positive size or shape such as 784 or (28, 28), got {size!r}")
    return shape


def layer_unit(unit: Unit | None) -> Unit:
    """A layer's unit type, validated: ``unit``, or :class:`~graphdgm.Bernoulli` when None."""
    unit = Bernoulli() if unit is None else unit
    if not isinstance(unit, Unit):
        raise SpecError(f"a layer's unit must be a unit type such as gd.Bernoulli() or gd.Gaussian(1.0), got {unit!r}")
    return unit


def layer_sizes(layers: Sequence[Any], what: str, minimum: int = 2) -> list[tuple[int, ...]]:
    """The shape of each layer in ``layers`` (at least ``minimum`` sizes or shapes), validated; ``what``
    names the model in errors."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) < minimum:
        raise SpecError(f"{what} needs a list of at least {minimum} layer sizes such as [784, 500, 1000], got {layers!r}")
    return [layer_shape(s, f"{what} layer {i}") for i, s in enumerate(layers)]
