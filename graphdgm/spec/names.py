"""Indexed variable names: a block ``x`` of shape (4, 4) holds the variables ``x[0,0]`` ... ``x[3,3]``."""
from __future__ import annotations

import re

from graphdgm.errors import SpecError

_NAME = re.compile(r"^\s*([^\[\]\s,]+)\s*(?:\[\s*([0-9,\s]*)\s*\])?\s*$")


def format_name(block: str, index: tuple[int, ...]) -> str:
    """``format_name("x", (3, 4)) == "x[3,4]"``; a scalar block's variable is just its name."""
    return block if not index else f"{block}[{','.join(str(i) for i in index)}]"


def parse_name(name: str) -> tuple[str, tuple[int, ...]]:
    """Split ``"x[3, 4]"`` into ``("x", (3, 4))``.

    >>> parse_name("x[3, 4]")
    ('x', (3, 4))
    """
    m = _NAME.match(name)
    if m is None:
        raise SpecError(f"{name!r} is not a variable name; use a name such as 'a' or an index such as 'x[3,4]'")
    idx = m.group(2)
    if idx is None:
        return m.group(1), ()
    parts = [p for p in idx.replace(" ", "").split(",") if p != ""]
    return m.group(1), tuple(int(p) for p in parts)


def canonical(name: str) -> str:
    """The canonical spelling of a variable name (no spaces inside the brackets)."""
    return format_name(*parse_name(name))
