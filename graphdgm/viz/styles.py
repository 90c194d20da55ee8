"""The drawings' shared styles, in one module that imports no drawing module but labels: the font and
its sizes, colours by variable kind, the fills by role (observed shaded, latent white), a
conservative text-width estimate that sizes nodes and titles, and the title label.

Why the font is DejaVu Sans: a renderer lays text out with one font's metrics, a viewer draws it
with whatever font it has. Graphviz-pure measures Helvetica with Helvetica's narrow metrics, and a
viewer without Helvetica (most Linux machines) substitutes a wider sans-serif, so titles clipped
and labels overflowed. DejaVu Sans (metrics close to Verdana's) is about as wide as any common
sans-serif, so :func:`graphdgm.viz.render.render` writes ``font-family="DejaVu Sans,Verdana,
Helvetica,Arial,sans-serif"``: whichever of these a viewer has, the text is no wider than measured.
On top of that, nodes and titles get explicit widths from :func:`text_width` (at least 0.6 em per
character) and every drawing has a pad, so text fits even with a font wider than assumed.
"""
from __future__ import annotations

import textwrap

from graphdgm.spec.domains import Domain
from graphdgm.viz.labels import html_text

COLOURS = {"spin": "#a6cee3", "binary": "#fdbf6f", "categorical": "#b2df8a", "real": "#fb9a99"}
FONT = "DejaVu Sans"
FONT_STACK = "DejaVu Sans,Verdana,Helvetica,Arial,sans-serif"  # what an SVG written by render() asks for
TITLE_SIZE, NODE_SIZE, EDGE_SIZE = 12, 11, 10  # points
OBSERVED, LATENT, INPUT = "#d0d0d0", "white", "#d0d0d0"  # fills: observed shaded grey (pyro, daft)
ROLE_STYLE = {"observed": "filled", "latent": "filled,dashed", "input": "filled,bold"}
ROLE_FILL = {"observed": OBSERVED, "latent": LATENT, "input": INPUT}
PAD = "0.4"  # inches of margin around every drawing
TITLE_CHARS = 56  # title lines wrap at this many characters

_NARROW = set("il.,:;'|!()[]{}1tfjrI ")
_WIDE = set("mwMW@%&")


def text_width(text: str, fontsize: float, bold: bool = False) -> float:
    """A conservative width in points of one line of ``text`` at ``fontsize``: at least 0.6 em a
    character, wider for capitals, digits and m/w (DejaVu Sans is near 0.64 em there).

    >>> text_width("abc", 10), text_width("MW", 10) > 12
    (18.0, True)
    """
    em = sum(0.45 if c in _NARROW else 0.95 if c in _WIDE else 0.72 if c.isupper() else 0.64 if c.isdigit()
             else 0.6 for c in text)
    return max(em, 0.6 * len(text)) * fontsize * (1.1 if bold else 1.0)


def inches(points: float) -> str:
    """Points as a Graphviz length in inches.

    >>> inches(72)
    '1.00'
    """
    return f"{points / 72:.2f}"


def node_size(label: str, fontsize: float = NODE_SIZE, *, round_shape: bool = False) -> dict[str, str]:
    """``width`` and ``height`` (minimums, in inches) for a node whose plain label is ``label``
    (lines split at ``\\n``), so that its text fits even when drawn 0.6 em a character wide.

    >>> node_size("x[0]", 10)
    {'width': '0.56', 'height': '0.31'}
    """
    lines = label.split("\\n")
    text_w, text_h = max(text_width(line, fontsize) for line in lines), 1.2 * fontsize * len(lines)
    w, h = text_w + 16, text_h + 10  # Graphviz's default margins, 8 and 5 pt a side
    if round_shape:  # the text's box inside the ellipse, with room at its corners
        w, h = text_w * 1.2 + 10, text_h * 1.25 + 8
    return {"width": inches(w), "height": inches(h)}


def wrap(text: str, width: int = TITLE_CHARS) -> list[str]:
    """``text`` split into lines of at most ``width`` characters, at spaces where it can.

    >>> wrap("one two three", 8)
    ['one two', 'three']
    """
    return textwrap.wrap(str(text), width, break_long_words=True, break_on_hyphens=False) or [""]


def title_label(heading: str, lines: list[str] = (), swatches: dict[str, str] | None = None) -> str:
    """An HTML-like graph label: ``heading`` bold, then ``lines`` (each wrapped), then an optional
    row of ``swatches`` (text -> fill colour), every cell left-aligned in an explicit width so the
    bounding box holds the text in any viewer font.

    >>> lab = title_label("rbm", ["784 units"])
    >>> lab.startswith("<<table") and "<b>rbm</b>" in lab and 'align="left"' in lab
    True
    """
    head = wrap(heading)
    body = [w for line in lines for w in wrap(line)]
    width = max([text_width(h, TITLE_SIZE, bold=True) for h in head] + [text_width(b, TITLE_SIZE) for b in body])
    cells = list(swatches or {})
    sw = [text_width(c, EDGE_SIZE) + 12 for c in cells]
    total = max(width, sum(sw) + 2 * len(sw)) + 4
    span = f' colspan="{len(cells) + 1}"' if cells else ""  # the swatches, then an empty cell taking the slack
    rows = [f'<tr><td align="left" balign="left" width="{total:.0f}"{span}><b>{html_text(h)}</b></td></tr>' for h in head]
    rows += [f'<tr><td align="left" balign="left" width="{total:.0f}"{span}>{html_text(b)}</td></tr>' for b in body]
    if cells:
        rows.append("<tr>" + "".join(
            f'<td bgcolor="{swatches[c]}" border="1" align="left" width="{w:.0f}"><font point-size="{EDGE_SIZE}">'
            f'{html_text(c)}</font></td>' for c, w in zip(cells, sw)) + f'<td width="{max(total - sum(sw), 1):.0f}"></td></tr>')
    return f'<<table border="0" cellspacing="2" cellpadding="2">{"".join(rows)}</table>>'


def describe_domain(d: Domain) -> str:
    """A domain in words, with its state labels: the tooltip text of a variable or block.

    >>> import graphdgm as gd
    >>> describe_domain(gd.Categorical(2, labels=("no", "yes")))
    'categorical(2) {no, yes}'
    """
    return d.describe() + (" {" + ", ".join(str(s) for s in d.labels) + "}" if d.labels else "")


__all__ = ["COLOURS", "EDGE_SIZE", "FONT", "FONT_STACK", "NODE_SIZE", "OBSERVED", "LATENT", "ROLE_FILL", "ROLE_STYLE",
           "TITLE_SIZE", "describe_domain", "inches", "node_size", "text_width", "title_label", "wrap"]
