"""How good are a generative model's samples, when it has no likelihood to ask (a GAN)?

``mode_coverage`` for the 2-D mixtures that test mode collapse; ``kernel_mmd`` (a two-sample
distance with a Gaussian kernel) and ``knn_precision_recall`` (Kynkäänniemi et al. 2019) for
images against held-out data. All batched tensor code, on any device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from graphdgm.errors import SpecError


def _points(x: Any, what: str) -> torch.Tensor:
    t = torch.as_tensor(x.detach() if hasattr(x, "detach") else x)
    if t.dim() < 2 or t.shape[0] == 0:
        raise SpecError(f"{what} has shape {tuple(t.shape)}; give (examples, ...) with at least one example")
    t = t.reshape(t.shape[0], -1).to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise SpecError(f"{what} holds NaN or inf")
    return t


@dataclass(frozen=True)
class ModeCoverage:
    """``modes_covered`` of ``num_modes``; ``high_quality`` is the fraction of samples within
    3 standard deviations of some mode; ``counts`` (K,) the high-quality samples per mode."""

    modes_covered: int
    num_modes: int
    high_quality: float
    counts: torch.Tensor
    min_count: int

    def __str__(self) -> str:
        return f"{self.modes_covered}/{self.num_modes} modes, {100 * self.high_quality:.1f}% high-quality samples"


def mode_coverage(samples: Any, centers: Any, std: float, *, min_count: int | None = None) -> ModeCoverage:
    """Modes covered and the high-quality fraction of 2-D (or any-D) samples of a Gaussian mixture.

    A sample is high-quality when it lies within 3 ``std`` (Euclidean distance) of its nearest
    centre; a mode is covered when at least ``min_count`` high-quality samples fall on it (default:
    a fifth of its fair share, 0.2 N / K, so 20 of 2500 samples for 25 modes).

    >>> import torch
    >>> c = torch.tensor([[0.0, 0.0], [5.0, 0.0]])
    >>> m = mode_coverage(torch.tensor([[0.0, 0.01], [0.02, 0.0], [9.0, 9.0]]), c, 0.1)
    >>> m.modes_covered, round(m.high_quality, 3)
    (1, 0.667)
    """
    x, c = _points(samples, "samples"), _points(centers, "centers").to(torch.float64)
    if x.shape[1] != c.shape[1]:
        raise SpecError(f"samples have {x.shape[1]} coordinates but centers have {c.shape[1]}")
    c = c.to(x.device)
    dist, nearest = torch.cdist(x, c).min(dim=1)  # (N,), (N,)
    good = dist <= 3 * float(std)
    counts = torch.bincount(nearest[good], minlength=len(c))  # (K,)
    need = max(1, round(0.2 * len(x) / len(c))) if min_count is None else int(min_count)
    return ModeCoverage(int((counts >= need).sum()), len(c), float(good.double().mean()), counts.cpu(), need)


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.pow(2).sum(1)[:, None] + b.pow(2).sum(1)[None, :] - 2 * a @ b.T).clamp_min(0)  # (Na, Nb)


def kernel_mmd(x: Any, y: Any, *, bandwidth: float | None = None) -> float:
    """The unbiased estimate of the squared maximum mean discrepancy between samples ``x`` (N, ...)
    and ``y`` (M, ...) with a Gaussian kernel exp(-||a - b||² / (2 σ²)) (Gretton et al. 2012); σ is
    the median pairwise distance of the pooled samples unless given. Near 0 when the two sets come
    from one distribution; larger is worse.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.randn(200, 3, generator=g), torch.randn(200, 3, generator=g)
    >>> abs(kernel_mmd(a, b)) < 0.02 < kernel_mmd(a, b + 1)
    True
    """
    a, b = _points(x, "x"), _points(y, "y")
    if a.shape[1] != b.shape[1]:
        raise SpecError(f"x has {a.shape[1]} features per example but y has {b.shape[1]}")
    if len(a) < 2 or len(b) < 2:
        raise SpecError("kernel_mmd needs at least 2 examples in each set")
    b = b.to(a.device)
    daa, dbb, dab = _sq_dists(a, a), _sq_dists(b, b), _sq_dists(a, b)
    if bandwidth is None:
        pooled = torch.cat([daa.flatten(), dbb.flatten(), dab.flatten()])
        bandwidth = float(pooled[pooled > 0].median().sqrt()) if bool((pooled > 0).any()) else 1.0
    s = 2 * float(bandwidth) ** 2
    kaa, kbb, kab = torch.exp(-daa / s), torch.exp(-dbb / s), torch.exp(-dab / s)
    n, m = len(a), len(b)
    term_a = (kaa.sum() - kaa.diagonal().sum()) / (n * (n - 1))
    term_b = (kbb.sum() - kbb.diagonal().sum()) / (m * (m - 1))
    return float(term_a + term_b - 2 * kab.mean())


def knn_precision_recall(real: Any, fake: Any, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): precision is the fraction of ``fake``
    examples inside the k-nearest-neighbour ball of some ``real`` example (sample quality); recall
    the fraction of real examples inside some fake example's ball (coverage of the data).

    >>> import torch
    >>> real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> knn_precision_recall(real, torch.tensor([[0.5], [0.7]]), k=1)  # good samples, one mode only
    (1.0, 0.0)
    """
    r, f = _points(real, "real"), _points(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise SpecError(f"real has {r.shape[1]} features per example but fake has {f.shape[1]}")
    if not 1 <= int(k) < min(len(r), len(f)):
        raise SpecError(f"k must be between 1 and {min(len(r), len(f)) - 1} (fewer than each set's size), got {k}")
    f = f.to(r.device)

    def radii(a: torch.Tensor) -> torch.Tensor:  # distance to the k-th nearest other example, (N,)
        return _sq_dists(a, a).sqrt().kthvalue(int(k) + 1, dim=1).values

    d_fr = _sq_dists(f, r).sqrt()  # (F, R)
    precision = (d_fr <= radii(r)[None, :]).any(1).double().mean()
    recall = (d_fr.T <= radii(f)[None, :]).any(1).double().mean()
    return float(precision), float(recall)
