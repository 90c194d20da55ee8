"""A griffe extension for the API reference: docstring examples (``>>>`` lines and their output)
are wrapped in ``pycon`` fences, so Markdown does not read ``x[0][1]`` in them as a link.

Loaded by mkdocstrings (``extensions: [docs/site/hooks/doctest_fences.py]`` in ``mkdocs.yml``);
the site's pages never import it.
"""
from __future__ import annotations

import re
from typing import Any

import griffe

_PROMPT = re.compile(r"^(\s*)>>>( |$)")


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>``/``...`` lines and the output lines after it in a ``pycon`` fence.

    >>> print(fence_doctests("Use it:\\n\\n>>> f([1][0])\\n1\\n\\nDone."))
    Use it:
    <BLANKLINE>
    ```pycon
    >>> f([1][0])
    1
    ```
    <BLANKLINE>
    Done.
    """
    out: list[str] = []
    lines = text.split("\n")
    i, in_fence = 0, False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else _PROMPT.match(line)
        if m is None:
            out.append(line)
            i += 1
            continue
        indent = m.group(1)
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctest examples of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
