"""Block Gibbs sampling and inpainting for layered Boltzmann models: an RBM (two blocks, one dense
edge, fused conditionals) and a DBN (Gibbs in the top RBM, then a downward pass; inpainting by
up-down sweeps, an approximate conditional sampler). These are the models' ``sample`` and
``inpaint`` methods by capability.
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.compiler.methods import model_method
from graphdgm.errors import EvidenceError
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_int



@model_method("sample", {"visible_hidden", "sample"})
@torch.no_grad()
def sample_rbm(model: Any, n: int, steps: int = 1000, *, evidence: dict[str, Any] | None = None, seed: int | torch.Generator = 0,
           init: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` visible samples (n, V) after ``steps`` Gibbs sweeps from random states (or ``init``),
    with any visible units clamped by ``evidence`` (a value, or one value per sample).

    >>> import graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(6, 4))
    >>> x = rbm.sample(5, steps=10, evidence={"v[0]": 1})
    >>> x.shape, bool((x[:, 0] == 1).all())
    (torch.Size([5, 6]), True)
    """
    n, steps = positive_int(n, "n (the number of samples)"), positive_int(steps, "steps (Gibbs sweeps)", minimum=0)
    g = make_generator(seed, model.weight.device)
    clamp = model.visible_clamp(evidence, n)
    if init is None:
        h = (torch.rand(n, model.H, generator=g, dtype=model.dtype, device=model.weight.device) < 0.5).to(model.dtype)
        v = model.sample_visible(h, g)
    else:
        v = torch.as_tensor(init, dtype=model.dtype, device=model.weight.device).reshape(n, model.V)
    if clamp is not None:
        v = torch.where(clamp[0], clamp[1], v)
    return model.gibbs(v, steps, g, clamp)


@model_method("inpaint", {"visible_hidden"})
@torch.no_grad()
def inpaint_rbm(model: Any, v: Any, known: Any, *, steps: int = 1000, seed: int | torch.Generator = 0) -> torch.Tensor:
    """Fill in the unknown visible units of ``v`` (B, V) by Gibbs sampling with the ``known``
    units (mask (V,) or (B, V)) clamped; returns (B, V)."""
    steps = positive_int(steps, "steps (Gibbs sweeps)", minimum=0)
    v = torch.as_tensor(v, dtype=model.dtype, device=model.weight.device).reshape(-1, model.V)
    known = torch.as_tensor(known, dtype=torch.bool, device=v.device)
    if known.shape not in ((model.V,), tuple(v.shape)):
        raise EvidenceError(f"known has shape {tuple(known.shape)}; give a mask of shape ({model.V},) or {tuple(v.shape)}")
    g = make_generator(seed, v.device)
    return model.gibbs(v, steps, g, (known, v))



@model_method("sample", {"layerwise", "sample"})
@torch.no_grad()
def sample_dbn(model: Any, n: int, steps: int = 1000, *, seed: int | torch.Generator = 0, means: bool = False,
           evidence: dict[str, Any] | None = None) -> torch.Tensor:
    """``n`` visible samples: ``steps`` Gibbs sweeps in the top RBM, then one downward pass.
    With ``evidence`` on visible units, :func:`inpaint_dbn` from random fills."""
    n, steps = positive_int(n, "n (the number of samples)"), positive_int(steps, "steps (Gibbs sweeps)", minimum=0)
    g = make_generator(seed, model.top.weight.device)
    if evidence:
        clamp = model.rbms[0].visible_clamp(evidence, n)
        v = torch.where(clamp[0], clamp[1], (torch.rand(n, model.V, generator=g, dtype=model.dtype, device=clamp[1].device) < 0.5).to(model.dtype))
        return inpaint_dbn(model, v, clamp[0], steps=steps, seed=g)
    if len(model.rbms) == 1:
        return model.top.sample(n, steps=steps, seed=g)
    top_v = model.top.sample(n, steps=steps, seed=g)  # (n, H_{L-1})
    return model.down(top_v, g, means)


@model_method("inpaint", {"layerwise"})
@torch.no_grad()
def inpaint_dbn(model: Any, v: Any, known: Any, *, steps: int = 200, seed: int | torch.Generator = 0) -> torch.Tensor:
    """Fill in unknown visible units by alternating an upward sample, one top-RBM Gibbs sweep and a
    downward pass, with the ``known`` units (mask (V,) or (B, V)) clamped each time (an
    approximate conditional sampler: the recognition pass is not the exact posterior)."""
    steps = positive_int(steps, "steps (up-down sweeps)", minimum=0)
    g = make_generator(seed, model.top.weight.device)
    v = torch.as_tensor(v, dtype=model.dtype, device=model.top.weight.device).reshape(-1, model.V)
    known = torch.as_tensor(known, dtype=torch.bool, device=v.device)
    if known.shape not in ((model.V,), tuple(v.shape)):
        raise EvidenceError(f"known has shape {tuple(known.shape)}; give a mask of shape ({model.V},) or {tuple(v.shape)}")
    fixed = v.clone()
    for _ in range(steps):  # a loop over up-down sweeps
        hs = model.up(v, g, sample=True)
        top_v = model.top.gibbs(hs[-2] if len(hs) > 1 else v, 1, g)
        v = model.down(top_v, g) if len(model.rbms) > 1 else top_v
        v = torch.where(known, fixed, v)
    return v


__all__ = ["inpaint_dbn", "inpaint_rbm", "sample_dbn", "sample_rbm"]
