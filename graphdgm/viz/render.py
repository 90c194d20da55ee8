"""Render DOT drawings to files without needing Graphviz's ``dot`` to be installed.

The renderer is Graphviz's ``dot`` when it is on ``PATH``, else ``graphviz-pure`` (a pure-Rust,
dot-compatible renderer installed with graphdgm). ``graphviz-pure`` 0.2 writes ``svg``, ``png``,
``jpg``/``jpeg`` and the text formats (``dot``, ``xdot``, ``json``, ``plain``, ``canon``) but not
``pdf``, ``ps`` or ``gif``; for those install Graphviz.

An SVG asks for ``DejaVu Sans, Verdana, Helvetica, Arial, sans-serif`` (see
:mod:`graphdgm.viz.styles` for why), and every drawing is a :class:`Drawing` or
:class:`DirectedDrawing`, which a notebook shows through :func:`svg`, no system Graphviz needed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Union

import graphviz

from graphdgm.errors import GraphdgmError, SpecError
from graphdgm.runtime import atomic_write_bytes
from graphdgm.viz.styles import FONT_STACK

_FONT_FAMILY = re.compile(rb'font-family="DejaVu ?Sans[^"]*"')
DotLike = Union[graphviz.Graph, graphviz.Digraph, str]
_INSTALL_HINT = (
    "install Graphviz so that its `dot` command is on PATH (https://graphviz.org/download/), "
    "or `pip install graphviz-pure` (a pure-Rust renderer, no system packages needed)"
)


def find_renderer() -> list[str] | None:
    """The command that renders DOT: system ``dot``, else ``graphviz-pure``, else ``None``.

    ``graphviz-pure`` is looked up on ``PATH`` and next to ``sys.executable`` (a venv's ``bin``).

    >>> cmd = find_renderer()
    >>> cmd is None or Path(cmd[0]).name.split(".")[0] in ("dot", "graphviz-pure")
    True
    """
    dot = shutil.which("dot")
    if dot:
        return [dot]
    pure = shutil.which("graphviz-pure")
    if pure:
        return [pure]
    bindir = Path(sys.executable).parent
    for name in ("graphviz-pure", "graphviz-pure.exe"):
        cand = bindir / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return [str(cand)]
    return None


def _run(graph: DotLike, fmt: str, what: str) -> bytes:
    """The renderer's output for ``graph`` as ``fmt``; SVG with the font stack (styles.FONT_STACK)."""
    source = graph if isinstance(graph, str) else graph.source
    engine = getattr(graph, "engine", None) or "dot"
    cmd = find_renderer()
    if cmd is None:
        raise GraphdgmError(f"cannot render {what}: no Graphviz renderer found; {_INSTALL_HINT}")
    try:
        proc = subprocess.run(
            [*cmd, f"-T{fmt}", f"-K{engine}"], input=source.encode("utf-8"), capture_output=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GraphdgmError(f"running {cmd[0]!r} to render {what} failed: {e}") from None
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}, no output"
        hint = ""
        if "graphviz-pure" in Path(cmd[0]).name and "not recognized" in err:
            hint = f" (graphviz-pure writes svg, png and jpg; for {fmt} install Graphviz's `dot`)"
        raise GraphdgmError(f"{Path(cmd[0]).name} could not render {what} as {fmt!r}: {err}{hint}")
    if fmt == "svg":  # measured with DejaVu Sans; let a viewer without it fall back to a font no wider
        return _FONT_FAMILY.sub(f'font-family="{FONT_STACK}"'.encode(), proc.stdout)
    return proc.stdout


def svg(graph: DotLike) -> str:
    """``graph`` (a drawing or DOT text) rendered as SVG text, by system ``dot`` or ``graphviz-pure``.

    >>> svg("graph { a -- b }").lstrip()[:5] in ("<?xml", "<svg ") if find_renderer() else True
    True
    """
    if not isinstance(graph, (str, graphviz.Graph, graphviz.Digraph)):
        raise SpecError(f"svg() takes a drawing (gd.viz.draw(spec)) or DOT text, got {type(graph).__name__}")
    return _run(graph, "svg", "the drawing").decode("utf-8")


def render(graph: DotLike, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write ``graph`` (a ``graphviz.Graph``/``Digraph`` or DOT text) to ``path``; returns the path.

    ``format`` defaults to the file suffix (``.svg``, ``.png``, ...; ``svg`` when there is none).
    Raises :class:`~graphdgm.errors.GraphdgmError` when no renderer is found or rendering fails.

    >>> import tempfile, graphviz
    >>> g = graphviz.Graph("ab"); g.edge("a", "b")
    >>> out = Path(tempfile.mkdtemp()) / "ab.svg"
    >>> render(g, out).read_text()[:5] in ("<?xml", "<svg ") if find_renderer() else True
    True
    """
    if not isinstance(graph, (str, graphviz.Graph, graphviz.Digraph)):
        raise SpecError(f"render/save take a drawing (gd.viz.draw(spec)) or DOT text, got {type(graph).__name__}")
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise SpecError(f"render/save need a file path such as 'model.svg', got {path!r}")
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if not fmt.isalnum():
        raise SpecError(f"format {fmt!r} is not a Graphviz output format; use e.g. 'svg', 'png' or 'dot'")
    data = _run(graph, fmt, repr(path.name))
    try:
        atomic_write_bytes(path, data)  # a failed or killed save leaves any previous drawing intact
    except OSError as e:
        raise GraphdgmError(f"cannot write the drawing to {str(path)!r}: {e.strerror or e}") from None
    return path


class _ShownInNotebooks:
    """Mixin: a notebook renders the drawing with :func:`svg` (no system Graphviz needed)."""

    source: str

    def _repr_svg_(self) -> str | None:
        try:
            return svg(self)  # type: ignore[arg-type]
        except GraphdgmError:  # no renderer: the notebook shows the DOT text
            return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, str]:
        shown = self._repr_svg_()
        return {"image/svg+xml": shown} if shown is not None else {"text/plain": self.source}


class Drawing(_ShownInNotebooks, graphviz.Graph):
    """An undirected drawing (a ``graphviz.Graph``) that a notebook shows with graphdgm's renderer.

    >>> Drawing("g")._repr_mimebundle_().keys() <= {"image/svg+xml", "text/plain"}
    True
    """


class DirectedDrawing(_ShownInNotebooks, graphviz.Digraph):
    """A directed drawing (a ``graphviz.Digraph``) that a notebook shows with graphdgm's renderer."""


def save(graph: DotLike, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Same as :func:`render`: ``gd.viz.save(gd.viz.draw(spec), "model.svg")``.

    Prefer it to ``graph.render()``, which needs Graphviz's ``dot`` executable.

    >>> import tempfile, graphviz
    >>> out = Path(tempfile.mkdtemp()) / "ab.svg"
    >>> save("graph { a -- b }", out).exists() if find_renderer() else True
    True
    """
    return render(graph, path, format)
