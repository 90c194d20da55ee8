"""Indexed variable names: a block ``x`` of shape (4, 4) holds the variables ``x[0,0]`` ... ``x[3,3]``.

A block name is any non-empty string without whitespace, square brackets or commas: exactly the
strings :func:`parse_name` reads back, so every declared name can be queried as it is shown.
Other labels (networkx tuple nodes, pgmpy names with spaces) go through :func:`safe_name` first.
"""
from __future__ import annotations

import re

from graphdgm.errors import SpecError

_NAME = re.compile(r"^\s*([^\[\]\s,]+)\s*(?:\[\s*([0-9,\s]*)\s*\])?\s*$")


_FORBIDDEN = re.compile(r"[\[\]\s,]")


def check_block_name(name: object, what: str = "block") -> str:
    """``name`` if it is a usable block or variable name; else a SpecError saying what is allowed.

    >>> check_block_name("<b>x</b>")
    '<b>x</b>'
    >>> check_block_name("a b")
    Traceback (most recent call last):
    ...
    graphdgm.errors.SpecError: block name 'a b' contains ' ' at position 1; a name is any non-empty string without whitespace, square brackets [ ] or commas (they mark indices such as 'x[3,4]'); e.g. 'a_b'
    """
    if not isinstance(name, str) or not name:
        raise SpecError(f"{what} name {name!r} must be a non-empty string such as 'x' or 'rain'")
    bad = _FORBIDDEN.search(name)
    if bad:
        raise SpecError(
            f"{what} name {name!r} contains {bad.group()!r} at position {bad.start()}; a name is any non-empty string "
            "without whitespace, square brackets [ ] or commas (they mark indices such as 'x[3,4]'); "
            f"e.g. {safe_name(name)!r}"
        )
    return name


def safe_name(label: object) -> str:
    """A valid block name for any label: runs of whitespace, brackets and commas become ``_``.

    >>> safe_name("a b"), safe_name((0, 1)), safe_name("[]")
    ('a_b', '0_1', 'var')
    """
    text = label if isinstance(label, str) else str(label)
    return re.sub(r"[\[\]\s,()]+", "_", text).strip("_") or "var"


def format_name(block: str, index: tuple[int, ...]) -> str:
    """``format_name("x", (3, 4)) == "x[3,4]"``; a scalar block's variable is just its name."""
    return block if not index else f"{block}[{','.join(str(i) for i in index)}]"


def parse_name(name: str) -> tuple[str, tuple[int, ...]]:
    """Split ``"x[3, 4]"`` into ``("x", (3, 4))``.

    >>> parse_name("x[3, 4]")
    ('x', (3, 4))
    """
    m = _NAME.match(name) if isinstance(name, str) else None
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
