"""Matplotlib pictures of training and inference: ``plot_history``, ``plot_samples``,
``plot_inpainting``, ``plot_marginals_grid``. Each returns a ``matplotlib.figure.Figure`` made
without pyplot (so a notebook shows it once, as the cell's value, and scripts call ``fig.savefig``);
matplotlib is imported inside the functions, so graphdgm imports without it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from graphdgm.errors import CapabilityError, SpecError

_SKIP = ("epoch", "iteration", "seconds", "lr", "examples")  # bookkeeping columns, not curves


def _figure(figsize: tuple[float, float]) -> Any:
    """A pyplot-free Figure; in a notebook, make sure figures display (PNG) when no formatter does."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise CapabilityError("graphdgm.viz plots need matplotlib: pip install matplotlib") from e
    fig = Figure(figsize=figsize, layout="constrained")
    from graphdgm.runtime.progress import in_notebook

    if in_notebook():
        _register_figure_display(fig)
    return fig


def _register_figure_display(fig: Any) -> None:
    """Show Figures as PNG in this IPython kernel unless a PNG or SVG formatter already does."""
    from IPython import get_ipython
    from IPython.core.pylabtools import select_figure_formats

    shell = get_ipython()
    formatters = shell.display_formatter.formatters
    for mime in ("image/png", "image/svg+xml"):
        try:
            formatters[mime].lookup(fig)
            return
        except KeyError:
            pass
    select_figure_formats(shell, {"png"})


def _as_array(x: Any, what: str = "the values") -> np.ndarray:
    """``x`` (a tensor, an array or nested lists of numbers) as a float64 numpy array; anything else
    is a SpecError naming ``what`` and its type."""
    try:
        a = torch.as_tensor(x).detach().to("cpu", torch.float64).numpy() if not isinstance(x, np.ndarray) else x.astype(float)
    except (TypeError, ValueError, RuntimeError):
        raise SpecError(f"{what} must be a tensor or an array of numbers, got {type(x).__name__}") from None
    if not np.isfinite(a).all():
        raise SpecError(f"{what} hold NaN or inf; plot finite values")
    return a


def plot_history(history: Any, metrics: Sequence[str] | None = None, ax: Any = None) -> Any:
    """Training curves: each of ``metrics`` (default: every numeric figure but epoch, seconds and
    lr) against the epoch, one panel each; with ``ax`` all curves go on that axes.

    >>> from graphdgm.learn.history import History
    >>> fig = plot_history(History([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]))
    >>> [a.get_title() for a in fig.axes]
    ['loss']
    """
    records = list(getattr(history, "records", history))
    if not records:
        raise SpecError("plot_history: the history is empty; train for at least one epoch first")
    keys = list(dict.fromkeys(k for r in records for k in r))
    numeric = [k for k in keys if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in records)]
    if metrics is None:
        metrics = [k for k in numeric if k not in _SKIP] or [k for k in numeric if k not in ("epoch", "iteration")]
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in keys]
    if unknown:
        raise SpecError(f"plot_history: no {unknown} in this history; it records {keys}")
    xkey = next((k for k in ("epoch", "iteration") if k in keys), None)
    x = [r.get(xkey, i + 1) if xkey else i + 1 for i, r in enumerate(records)]

    def curve(axes: Any, name: str) -> None:
        pts = [(xi, r.get(name)) for xi, r in zip(x, records) if isinstance(r.get(name), (int, float))]
        axes.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if len(pts) < 30 else None, label=name)

    if ax is not None:
        for name in metrics:
            curve(ax, name)
        ax.set_xlabel(xkey or "step")
        ax.legend()
        return ax.figure
    n = max(len(metrics), 1)
    fig = _figure((min(4.0 * n, 16.0), 3.0))
    for k, name in enumerate(metrics):
        axes = fig.add_subplot(1, n, k + 1)
        curve(axes, name)
        axes.set_title(name)
        axes.set_xlabel(xkey or "step")
    return fig


def _grid(images: Any, shape: tuple[int, int], ncols: int | None) -> np.ndarray:
    from graphdgm.viz.images import image_grid

    return image_grid(images, shape, ncols) / 255.0


def plot_samples(images: Any, shape: tuple[int, int], title: str | None = None, ncols: int | None = None) -> Any:
    """A grid of samples (N, h*w) or (N, h, w), values in [0, 1], with an optional title.

    >>> fig = plot_samples(torch.rand(6, 16), (4, 4), title="RBM samples", ncols=3)
    >>> fig.axes[0].get_title()
    'RBM samples'
    """
    shape = _check_shape(shape, images)
    n = int(torch.as_tensor(images).shape[0])
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    tile = min(0.9, 10.0 / ncols)  # inches per picture, at most 10 inches across
    fig = _figure((max(2.0, tile * ncols), max(1.5, tile * nrows * shape[0] / shape[1]) + (0.4 if title else 0.0)))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(_grid(images, shape, ncols), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def _check_shape(shape: Any, images: Any) -> tuple[int, int]:
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise SpecError(f"shape must be (height, width) of one image, got {shape!r}")
    h, w = int(shape[0]), int(shape[1])
    x = torch.as_tensor(_as_array(images, "images"))
    if x.dim() < 1 or x[0].numel() != h * w:
        raise SpecError(f"images of shape {tuple(x.shape)} do not hold {h}x{w} pictures; pass (N, {h * w}) or (N, {h}, {w})")
    return h, w


def _boundary(mask: np.ndarray) -> list[list[tuple[float, float]]]:
    """Pixel-edge segments between known (True) and unknown pixels of one (h, w) mask."""
    segs = []
    rows, cols = np.nonzero(mask[:, 1:] != mask[:, :-1])  # vertical edges, between columns c and c+1
    segs += [[(c + 0.5, r - 0.5), (c + 0.5, r + 0.5)] for r, c in zip(rows, cols)]
    rows, cols = np.nonzero(mask[1:, :] != mask[:-1, :])  # horizontal edges, between rows r and r+1
    segs += [[(c - 0.5, r + 0.5), (c + 0.5, r + 0.5)] for r, c in zip(rows, cols)]
    return segs


def plot_inpainting(observed: Any, mask: Any, filled: Any, shape: tuple[int, int], *, title: str | None = None,
                    color: str = "red", max_examples: int = 8) -> Any:
    """Inpainting, one column per example: the given pixels on top (the unknown part tinted), the
    filled-in picture below; a ``color`` line marks the edge between the given and the filled part.
    ``mask`` (N, h*w) or one (h*w,) mask for all: True (1) where the pixel was given.

    >>> x = torch.rand(2, 16); known = torch.arange(16) < 8
    >>> fig = plot_inpainting(x, known, torch.rand(2, 16), (4, 4))
    >>> len(fig.axes), len(fig.axes[1].collections)  # 2 examples x (given, filled); the marker line
    (4, 1)
    """
    from matplotlib.collections import LineCollection

    h, w = _check_shape(shape, observed)
    obs = _as_array(observed).reshape(-1, h, w)
    out = _as_array(filled).reshape(-1, h, w)
    m = _as_array(mask).astype(bool)
    m = np.broadcast_to(m.reshape(-1, h, w), obs.shape) if m.size in (h * w, obs.size) else None
    if m is None or out.shape != obs.shape:
        raise SpecError(f"plot_inpainting: observed {obs.shape}, mask {np.shape(mask)} and filled {np.shape(filled)} "
                        f"must all hold the same {h}x{w} pictures (one mask of {h * w} is shared by all)")
    n = min(len(obs), max_examples)
    fig = _figure((1.6 * n + 0.4, 3.6))
    for k in range(n):  # a loop over examples, for drawing
        top = fig.add_subplot(2, n, k + 1)
        given = np.ma.masked_array(obs[k], mask=~m[k])
        top.imshow(given, cmap=_tinted_gray(), vmin=0, vmax=1, interpolation="nearest")
        bottom = fig.add_subplot(2, n, n + k + 1)
        bottom.imshow(out[k], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        bottom.add_collection(LineCollection(_boundary(m[k]), colors=color, linewidths=2))
        for a in (top, bottom):
            a.set_xticks([])
            a.set_yticks([])
        if k == 0:
            top.set_ylabel("given")
            bottom.set_ylabel("filled")
    if title:
        fig.suptitle(title)
    return fig


def _tinted_gray() -> Any:
    import matplotlib

    return matplotlib.colormaps["gray"].with_extremes(bad="#f4c7c3")  # the unknown part: a pale red


def plot_marginals_grid(marginals: Any, shape: tuple[int, int], state: Any = 1, *, title: str | None = None) -> Any:
    """A heat map of P(x = ``state``) for a grid model: ``marginals`` a query result (variables in
    row-major grid order) or a tensor (V,) of probabilities or (V, K) of state probabilities
    (then column ``state``), shown as a ``shape`` image with a colour bar.

    >>> import graphdgm as gd
    >>> m = gd.query(gd.MarkovNetwork.ising_grid(2, 3, coupling=0.2, field=0.3))
    >>> fig = plot_marginals_grid(m, (2, 3))
    >>> fig.axes[0].images[0].get_array().shape
    (2, 3)
    """
    if hasattr(marginals, "values") and hasattr(marginals, "__getitem__") and not torch.is_tensor(marginals):
        p = np.array([float(m[state]) for m in marginals.values()])  # m[state] matches the label (1, or "1")
    else:
        t = _as_array(marginals, "plot_marginals_grid: marginals")
        p = t if t.ndim == 1 else t[:, int(state)]
    h, w = int(shape[0]), int(shape[1])
    if p.size != h * w:
        raise SpecError(f"plot_marginals_grid: {p.size} marginals do not fill a {h}x{w} grid; pass the grid's shape")
    fig = _figure((0.4 * w + 1.6, 0.4 * h + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(p.reshape(h, w), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=f"P(x={state})")
    ax.set_title(title or f"P(x={state})")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


__all__ = ["plot_history", "plot_inpainting", "plot_marginals_grid", "plot_samples"]
