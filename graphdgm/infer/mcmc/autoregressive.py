"""Conditional sampling of autoregressive models by independence Metropolis-Hastings.

An autoregressive model samples exactly in one ancestral pass when the evidence is a prefix of its
ordering. For other evidence (the left half of an image, scattered pixels) the proposal is an
ancestral pass with the evidence written in as it is reached: q(x_U) = Π_{u free} p(x_u | x_<u).
The target p(x_U | x_O) ∝ q(x_U) · Π_{o observed} p(x_o | x_<o), so the acceptance ratio is the
ratio of those evidence likelihoods w(x) and the chain targets the exact conditional.
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError
from graphdgm.infer.mcmc.backends import _ChainBackend
from graphdgm.infer.mcmc.kernel import ChainState, make_generator


class AutoregressiveIndependence:
    """Independence MH kernel for compiled autoregressive models (NADE, MADE, PixelCNN, PixelRNN).

    >>> import torch, graphdgm as gd
    >>> from graphdgm.infer.mcmc import sample_chains
    >>> made = gd.compile(gd.MADE(5, hidden=[8]))
    >>> r = sample_chains(made, AutoregressiveIndependence(), chains=16, sweeps=20, evidence={4: 1}, seed=0)
    >>> float(r.marginals()[4, 1])
    1.0
    """

    def init(self, model: torch.nn.Module, chains: int, evidence: dict[int, Any] | None = None,
             generator: torch.Generator | int | None = None) -> ChainState:
        if "autoregressive" not in getattr(model, "capabilities", ()):
            raise CapabilityError(f"AutoregressiveIndependence needs an autoregressive model (NADE, MADE, PixelCNN, "
                                  f"PixelRNN); a {type(model).__name__} has none. Use BlockGibbs for Markov networks")
        g = make_generator(generator, model.device)
        mask = torch.zeros(model.D, dtype=torch.bool, device=model.device)
        vals = torch.zeros(int(chains), model.D, dtype=model.dtype, device=model.device)
        for i, s in (evidence or {}).items():
            mask[int(i)], vals[:, int(i)] = True, float(s)
        with torch.no_grad():
            return self.start(model, model._ancestral(vals, mask, g), mask, g)

    @torch.no_grad()
    def start(self, model: torch.nn.Module, x: torch.Tensor, known: torch.Tensor, g: torch.Generator) -> ChainState:
        """A state from chains x (C, D) whose ``known`` entries (mask (D,) or (C, D)) are evidence."""
        return ChainState(x, g, extra={"model": model, "mask": known, "w": model._evidence_weight(x, known)},
                          accepted=torch.zeros((), dtype=torch.float64, device=x.device))

    @torch.no_grad()
    def sample(self, state: ChainState) -> ChainState:
        model, mask, g = state.extra["model"], state.extra["mask"], state.generator
        prop = model._ancestral(state.x, mask, g)
        w_new = model._evidence_weight(prop, mask)
        u = torch.rand(w_new.shape, generator=g, device=w_new.device, dtype=w_new.dtype)
        acc = u.log() < (w_new - state.extra["w"])
        state.x = torch.where(acc[:, None], prop, state.x)
        state.extra["w"] = torch.where(acc, w_new, state.extra["w"])
        state.accepted += acc.sum()
        state.proposed += acc.numel()
        return state

    def packed(self, state: ChainState) -> torch.Tensor:
        return state.x.long()

    def log_potential(self, state: ChainState) -> torch.Tensor:
        with torch.no_grad():
            return state.extra["model"].log_prob(state.x).to(torch.float64)

    def acceptance_rate(self, state: ChainState) -> float:
        return float(state.accepted) / max(float(state.proposed), 1.0)


class AutoregressiveMH(_ChainBackend):
    """``gd.query(model, evidence, backend=gd.infer.AutoregressiveMH(chains=256, sweeps=200))``:
    marginals of an autoregressive model under any evidence, by the independence kernel."""

    name = "ar_mh"
    requires = frozenset({"autoregressive"})

    def kernel(self) -> AutoregressiveIndependence:
        return AutoregressiveIndependence()

    def map(self, model, evidence, variables):  # noqa: D102
        raise CapabilityError("backend 'ar_mh' gives marginals and samples; for the MAP state of a small model use "
                              "backend='exact' (enumeration)")

    def log_partition(self, model, evidence):  # noqa: D102
        raise CapabilityError("an autoregressive model is normalised (log Z = 0); for log p(evidence) of a small model "
                              "use backend='exact'")
