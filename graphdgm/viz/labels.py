"""The one place where text from a spec (variable, block, state and model names) enters DOT.

Every drawing passes user text through :func:`dot_text` (plain ``label=``, ``tooltip=`` and graph
names) or :func:`html_text` (inside ``<...>`` HTML-like labels), and uses generated node ids
(``v0``, ``b1``, ...) or :func:`node_id` rather than raw names, so that a variable called ``<b>x</b>``, ``a"b``, ``a\\``
or ``a:b`` is drawn literally and never breaks the DOT source (``:`` would start a port).
"""
from __future__ import annotations

import html

import graphviz


def dot_text(value: object) -> str:
    """``value`` as a plain DOT string shown literally: backslashes doubled, ``<...>`` not HTML
    (quotes are escaped when graphviz quotes the attribute).

    >>> g = graphviz.Graph("t"); g.node("v0", label=dot_text('<b>"x"\\\\'))
    >>> print(g.source.splitlines()[1].strip())
    v0 [label="<b>\\"x\\"\\\\"]
    """
    return graphviz.escape(str(value))


def dot_lines(*lines: object) -> str:
    """``lines`` as one plain DOT label, each shown literally and centred on its own line.

    >>> dot_lines("v", "<b>")
    'v\\\\n<b>'
    """
    return "\\n".join(dot_text(line) for line in lines)


def html_text(value: object) -> str:
    """``value`` escaped for the inside of an HTML-like label (``&``, ``<``, ``>``, quotes).

    >>> html_text("<b>x</b>")
    '&lt;b&gt;x&lt;/b&gt;'
    """
    return html.escape(str(value), quote=True)


def node_id(name: str, index: int, prefix: str = "v") -> str:
    """A DOT node id for a named node: the escaped name itself, so the source stays readable, unless
    it holds ``:``, which an edge statement would read as a port; then ``prefix`` + ``index``.

    >>> node_id("rain", 0), node_id("a:b", 3)
    ('rain', 'v3')
    """
    return f"{prefix}{index}" if ":" in name else dot_text(name)


__all__ = ["dot_lines", "dot_text", "html_text", "node_id"]
