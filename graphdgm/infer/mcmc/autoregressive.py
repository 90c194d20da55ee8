"""Conditional sampling of autoregressive models by independence Metropolis-Hastings.

An autoregressive model samples exactly in one ancestral pass when the evidence is a prefix of its
ordering. For other evidence (the left half of an image, scattered pixels) the proposal is an
ancestral pass with the evidence written in as it is reached: q(x_U) = Π_{u free} p(x_u | x_<u).
The target p(x_U | x_O) ∝ q(x_U) · Π_{o observed} p(x_o | x_<o), so the acceptance ratio is the
ratio of those evidence likelihoods w(x) and the chain targets the exact conditional.

A MADE with several masks is the uniform mixture 1/M Σ_k p_k of its masks. The proposal is then
the mixture's sampler (a mask uniformly, then its ancestral pass with the evidence written in),
q(x_U) = 1/M Σ_k q_k(x_U), and the weight is π/q = Σ_k p_k(x) / Σ_k q_k(x_U): the chain targets
the mixture's conditional, the density ``log_prob`` gives. An independence chain whose proposals
are almost never accepted stays at its first draw; :func:`warn_if_low_acceptance` says so.
"""
from __future__ import annotations

import warnings

from typing import Any

import torch

from graphdgm.errors import CapabilityError, ConvergenceWarning
from graphdgm.infer.autoregressive_ancestral import log_weight, propose
from graphdgm.infer.mcmc.backends import ChainBackend
from graphdgm.infer.mcmc.kernel import ChainState
from graphdgm.runtime.random import make_generator


LOW_ACCEPTANCE = 0.01  # below this rate an independence chain has barely moved from its first draw


def warn_if_low_acceptance(rate: float, steps: int, *, where: str, threshold: float = LOW_ACCEPTANCE) -> bool:
    """Warn (:class:`~graphdgm.errors.ConvergenceWarning`) when an independence MH chain accepted
    fewer than ``threshold`` of its proposals over the last half of its ``steps`` steps (a stuck
    chain still accepts its first few records, so the whole-run rate hides it); returns whether it
    warned.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_if_low_acceptance(0.002, 200, where="MADE.sample")
    True
    >>> "0.2%" in str(w[0].message)
    True
    """
    if rate >= threshold:
        return False
    warnings.warn(
        f"{where}: the independence Metropolis-Hastings chains accepted {rate:.1%} of their proposals over the "
        f"last half of their {steps} steps (below {threshold:.0%}): they are stuck, and the samples may be far "
        f"from p(x | evidence). The evidence is unlikely under the ancestral proposal: raise steps (e.g. steps="
        f"{max(10 * steps, 1000)}), give evidence on a prefix of the ordering (exact in one pass), or for a "
        f"small model use backend='exact'",
        ConvergenceWarning, stacklevel=3,
    )
    return True


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
        """A fresh state of ``chains`` chains, each started at an ancestral draw with ``evidence`` (packed
        index -> state) clamped; raises CapabilityError for a model without an ordering.
        """
        if "ordering" not in getattr(model, "capabilities", ()):
            raise CapabilityError(f"AutoregressiveIndependence needs an autoregressive model (NADE, MADE, PixelCNN, "
                                  f"PixelRNN); a {type(model).__name__} has none. Use BlockGibbs for Markov networks")
        g = make_generator(generator, model.device)
        mask = torch.zeros(model.D, dtype=torch.bool, device=model.device)
        vals = torch.zeros(int(chains), model.D, dtype=model.dtype, device=model.device)
        for i, s in (evidence or {}).items():
            mask[int(i)], vals[:, int(i)] = True, float(s)
        with torch.no_grad():
            return self.start(model, propose(model, vals, mask, g), mask, g)

    @torch.no_grad()
    def start(self, model: torch.nn.Module, x: torch.Tensor, known: torch.Tensor, g: torch.Generator) -> ChainState:
        """A state from chains x (C, D) whose ``known`` entries (mask (D,) or (C, D)) are evidence."""
        return ChainState(x, g, extra={"model": model, "mask": known, "w": log_weight(model, x, known), "trace": []},
                          accepted=torch.zeros((), dtype=torch.float64, device=x.device))

    @torch.no_grad()
    def sample(self, state: ChainState) -> ChainState:
        """One independence-MH step of every chain: propose a fresh ancestral draw (evidence clamped) and
        accept it with probability min(1, w(new) / w(old)), w = p / q.
        """
        model, mask, g = state.extra["model"], state.extra["mask"], state.generator
        prop = propose(model, state.x, mask, g)  # (C, D): the mixture's ancestral draw, evidence clamped
        w_new = log_weight(model, prop, mask)  # (C,) log π/q
        u = torch.rand(w_new.shape, generator=g, device=w_new.device, dtype=w_new.dtype)
        acc = u.log() < (w_new - state.extra["w"])
        state.x = torch.where(acc[:, None], prop, state.x)
        state.extra["w"] = torch.where(acc, w_new, state.extra["w"])
        state.accepted += acc.sum()
        state.proposed += acc.numel()
        state.extra["trace"].append(acc.sum())  # per-step acceptances (device scalars: no sync here)
        return state

    def packed(self, state: ChainState) -> torch.Tensor:
        """The chains' current states (C, D) long, in the model's variable order."""
        return state.x.long()

    def log_potential(self, state: ChainState) -> torch.Tensor:
        """log p(x) of each chain's state, (C,) float64."""
        with torch.no_grad():
            return state.extra["model"].log_prob(state.x).to(torch.float64)

    def acceptance_rate(self, state: ChainState) -> float:
        """Accepted / proposed over the whole run."""
        return float(state.accepted) / max(float(state.proposed), 1.0)

    def late_acceptance_rate(self, state: ChainState) -> float:
        """Accepted / proposed over the last half of the steps: what :func:`warn_if_low_acceptance` judges."""
        trace = state.extra["trace"]
        if not trace:
            return 1.0
        late = trace[len(trace) // 2:]
        return float(torch.stack(late).sum()) / (len(late) * state.x.shape[0])


class AutoregressiveMH(ChainBackend):
    """``gd.query(model, evidence, backend=gd.infer.AutoregressiveMH(chains=256, sweeps=200))``:
    marginals of an autoregressive model under any evidence, by the independence kernel."""

    name = "ar_mh"
    requires = frozenset({"ordering"})

    def kernel(self) -> AutoregressiveIndependence:
        """A fresh :class:`AutoregressiveIndependence` kernel."""
        return AutoregressiveIndependence()

    def run(self, model: torch.nn.Module, evidence: dict[int, Any] | None = None, keep: Any = None):  # noqa: D102
        """Run the chains as :meth:`ChainBackend.run`, then warn when the late acceptance rate is low."""
        result = super().run(model, evidence, keep)  # the whole-run rate is last_result.acceptance
        kernel = AutoregressiveIndependence()
        warn_if_low_acceptance(kernel.late_acceptance_rate(result.final_state), len(result.final_state.extra["trace"]),
                               where="backend 'ar_mh'")
        return result

    def map(self, model, evidence, variables):  # noqa: D102
        """Not answered: raises CapabilityError (use backend='exact' for the MAP state of a small model)."""
        raise CapabilityError("backend 'ar_mh' gives marginals and samples; for the MAP state of a small model use "
                              "backend='exact' (enumeration)")

    def log_partition(self, model, evidence):  # noqa: D102
        """Not answered: raises CapabilityError (the model is normalised; backend='exact' gives log p(evidence))."""
        raise CapabilityError("an autoregressive model is normalised (log Z = 0); for log p(evidence) of a small model "
                              "use backend='exact'")
