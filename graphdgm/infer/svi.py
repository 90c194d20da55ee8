"""Stochastic variational inference: a compiled model lowered to a Pyro program, a guide fitted by
``pyro.infer.SVI``, and the fitted guide read back as marginals, a MAP state and a bound on log Z.

The lowering, for the free variables ``x`` (the evidence is clamped into the full state):

- a real-valued model (capability ``"continuous"``): ``x ~ ImproperUniform(reals^m)`` (log-density
  0) and ``pyro.factor(-energy(x))``; the guide is Pyro's ``AutoNormal`` or ``AutoMultivariateNormal``.
- a discrete model (capability ``"discrete"``): ``x_i ~ Categorical(uniform over its k_i states)``
  and ``pyro.factor(log_potential(x))``; the guide is mean field, q(x) = Π_i Categorical(x_i;
  softmax(logits_i)), one learnable (m, kmax) logits table with the states past each cardinality
  masked out.

Bound. Pyro's ELBO of that program is E_q[log prior(x) + log p̃(x) − log q(x)]. The flat prior's
log-density is 0 and the uniform prior's is −Σ_i log k_i, so E_q[log p̃(x)] + H(q) — the bound on
log Z = log Σ_x p̃(x) (or ∫ for real x) — is Pyro's ELBO plus log Π_i k_i for a discrete model and
Pyro's ELBO itself for a continuous one. ``last_losses`` and ``last_elbo`` carry that correction.

Gradients. Continuous guides are reparameterised (pathwise gradients). For the categorical guide
the loss is ``Trace_ELBO`` (score-function gradients, ``num_particles`` particles vectorised in one
batch per step). ``TraceEnum_ELBO`` was not chosen: enumerating a vector (or plated) site
enumerates all its variables *together* (every x_i taking the same value), which is only right
when the downstream cost factorises over them, and ``log_potential(x)`` couples every variable;
exact enumeration of the joint needs one site and one tensor dimension per variable (kmax^m
entries), which serves only toy models that the exact backend answers anyway. The score
function's noise is tamed by (i) the learning rate decaying geometrically to lr/10 over the run
(Pyro's ``ClippedAdam``, which also clips each gradient entry to ±10) and (ii) averaging the guide
parameters over the last half of the steps (Polyak averaging) before they are read. Both apply to
the continuous guides too.

``last_elbo`` is *not* an average of the training losses: after the fit the ELBO is re-estimated
with many particles at the averaged guide parameters (10 batches; ``last_elbo_stderr`` is the
standard error across them). Hard zeros of a discrete model (log φ = −inf) enter the program as
the finite log-potential −(100 + log Π_i k_i), so that a sample hitting one gives a large finite
loss rather than NaN, and all such states together add at most e^−100 to Z: the value is a bound
on log(Z + e^−100). Mean field fitted by score-function gradients copes poorly with hard zeros (the rare
forbidden samples dominate the noise); for such models prefer backend='exact' or a message-passing
backend.

Side effects. Pyro keeps parameters in a global param store: each run clears it, fits, reads what it
needs and puts the caller's param store contents back (the same tensors, by name). Each run forks
torch's global generator, seeds the fork with ``seed`` and restores the caller's state on exit. The
model's own parameters are frozen while the guide is fitted (no gradients accumulate in them); the
bound returned by :meth:`SVI.log_partition` is then evaluated with them live, so it is
differentiable in the model's parameters at the fitted guide.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from graphdgm.infer.diagnostics import PerThread
from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.diagnostics import Diagnostics
from graphdgm.infer.options import check_integer
from graphdgm.infer.packed_state import insert_evidence, model_device, model_float_dtype, packed_evidence
from graphdgm.infer.results import ContinuousMarginal
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import seeded_global_rng

GUIDES = ("auto", "normal", "mvn")
AUTO_MVN_LIMIT = 200  # guide="auto": a full-covariance guide up to this many free variables
FINAL_LR_FRACTION = 0.1  # the learning rate decays geometrically to lr·0.1 over the run
AVERAGED_FRACTION = 0.5  # guide parameters are averaged over the last half of the steps
EVAL_BATCHES = 10  # the final ELBO: this many batches of vectorised particles ...
EVAL_STATE_BUDGET = 2**18  # ... each of about this many (particle, variable) entries, 64..1000 particles
HARD_ZERO_MARGIN = 100.0  # a log-potential of −inf enters as −(this + log #states): adds ≤ e^−100 to Z


@dataclass(frozen=True)
class SVIFit:
    """A fitted guide, read back: ``free`` are the free variables' packed indices (the guide's
    order); a continuous model gives ``mean`` and ``std`` (m,), a discrete one ``probs`` (m, kmax)
    (zero past each cardinality); ``elbo`` is the bound on log Z (0-d, differentiable in the model's
    parameters) and ``elbo_stderr`` its Monte-Carlo standard error."""

    free: tuple[int, ...]
    evidence: dict[int, Any]
    elbo: torch.Tensor
    elbo_stderr: float
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    probs: torch.Tensor | None = None


@dataclass
class _Program:
    """A model lowered to Pyro: ``model`` and ``guide`` callables over the site ``"x"``, the
    constant ``offset`` that turns Pyro's ELBO into the bound on log Z, and ``read`` (guide -> fit)."""

    model: Callable[[], None]
    guide: Callable[[], None]
    offset: float
    read: Callable[[], dict[str, torch.Tensor]]


class SVI:
    """Stochastic variational inference with Pyro (``pyro.infer.SVI``) on a compiled model.

    ``steps`` optimiser steps of Adam at learning rate ``lr`` (decaying to lr/10), ``num_particles``
    Monte-Carlo particles per step; ``guide`` for a real-valued model is ``"normal"``
    (``AutoNormal``, mean field), ``"mvn"`` (``AutoMultivariateNormal``, full covariance) or
    ``"auto"`` (mvn up to 200 free variables, else normal); a discrete model always gets a
    mean-field categorical guide. After every run ``last_losses`` holds the loss per step (−ELBO
    estimates, offset so that −loss estimates the bound on log Z) and ``last_elbo`` the final bound,
    re-estimated with many particles (see the module docstring). Approximate: marginals are the
    guide's, and :meth:`log_partition` is a lower bound on log Z.

    >>> import graphdgm as gd
    >>> from graphdgm.infer.svi import SVI
    >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0.3], [0.3, 1.0]], [0.5, 0.0]))
    >>> svi = SVI(steps=300, lr=0.05, guide="normal", num_particles=4)
    >>> fit = svi.fit(model, {"x[1]": 0.0})  # exact posterior: mean 0.5, std 1
    >>> abs(float(fit.mean[0]) - 0.5) < 0.1, abs(float(fit.std[0]) - 1.0) < 0.1, len(svi.last_losses)
    (True, True, 300)
    >>> svi.last_elbo <= float(model.log_partition({"x[1]": 0.0})) + 1e-3  # a lower bound on log Z
    True
    """

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    name = "svi"
    requires = frozenset({"energy"})
    approximate = True

    def __init__(
        self,
        steps: int = 2000,
        lr: float = 0.02,
        guide: str = "auto",
        num_particles: int = 1,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        _check_count("steps", steps, "the number of optimiser steps; 2000 is the default, 500 suits a small model")
        _check_count("num_particles", num_particles, "Monte-Carlo particles per step; 1 for continuous, 8-64 for discrete models")
        check_integer("seed", seed, 0)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0.0 < float(lr) < math.inf):
            raise SpecError(f"SVI lr={lr!r} must be a positive finite number (0.02 is a fair start; 0.05 for small models)")
        if guide not in GUIDES:
            raise SpecError(
                f"SVI guide={guide!r} is not a guide name; use one of {list(GUIDES)} ('normal' = AutoNormal, "
                "'mvn' = AutoMultivariateNormal, 'auto' picks by size); a discrete model always gets a mean-field categorical guide"
            )
        self.steps, self.lr, self.guide, self.num_particles = int(steps), float(lr), guide, int(num_particles)
        self.seed, self.progress = int(seed), bool(progress)
        self.last_losses: list[float] = []  # per step, filled by every run
        self.last_elbo: float | None = None  # the final bound on log Z, filled by every run
        self.last_elbo_stderr: float | None = None
        self.diagnostics: Diagnostics | None = None  # of the latest run: see :func:`svi_diagnostics`

    # ------------------------------------------------------------------- fit
    def fit(self, model: torch.nn.Module, evidence: dict[Any, Any] | None = None) -> SVIFit:
        """Fit the guide to p(x_free | evidence) and read it back (see :class:`SVIFit`); sets
        ``last_losses``, ``last_elbo`` and ``last_elbo_stderr``.

        ``evidence`` maps names (or packed indices) to values: real numbers for a continuous model;
        state labels by name, or state indices by packed index, for a discrete one.
        """
        continuous = _is_continuous(model)
        if not continuous and self.guide != "auto":
            raise CapabilityError(
                f"SVI guide={self.guide!r} is a Gaussian guide for real-valued models; a discrete model gets the "
                "mean-field categorical guide: use SVI(guide='auto')"
            )
        ev = packed_evidence(model, evidence)
        if not continuous:
            ev = {i: int(s) for i, s in ev.items()}
        free = tuple(i for i in range(model.num_variables) if i not in ev)
        if not free:
            return self._nothing_to_fit(model, ev, continuous)
        device = model_device(model)
        with seeded_global_rng(self.seed, device), _fresh_param_store():
            lower = _continuous_program if continuous else _discrete_program
            program = lower(model, list(free), ev, self._guide_kind(len(free)))
            with _frozen(model):
                self.last_losses = self._optimise(program)
            read = program.read()
            elbo, stderr = self._final_elbo(program, model.num_variables)
        self.last_elbo, self.last_elbo_stderr = float(elbo.detach()), stderr
        self.diagnostics = svi_diagnostics(self.last_losses, self.last_elbo, stderr)
        return SVIFit(free, ev, elbo, stderr, **read)

    def _guide_kind(self, m: int) -> str:
        if self.guide == "auto":
            return "mvn" if m <= AUTO_MVN_LIMIT else "normal"
        return self.guide

    def _optimise(self, program: _Program) -> list[float]:
        """Run ``steps`` SVI steps; average the guide's (unconstrained) parameters over the last half."""
        import pyro

        lrd = FINAL_LR_FRACTION ** (1.0 / self.steps)
        optim = pyro.optim.ClippedAdam({"lr": self.lr, "lrd": lrd})
        loss = pyro.infer.Trace_ELBO(num_particles=self.num_particles, vectorize_particles=True, max_plate_nesting=0)
        svi = pyro.infer.SVI(program.model, program.guide, optim, loss)
        store = pyro.get_param_store()
        start, sums, count = int(self.steps * (1 - AVERAGED_FRACTION)), {}, 0
        losses = []
        for step in progress_bar(range(self.steps), self.progress, desc="svi", total=self.steps):
            losses.append(float(svi.step()) - program.offset)
            if step >= start:
                for name, p in store.named_parameters():  # unconstrained leaves
                    sums[name] = sums.get(name, 0.0) + p.detach()
                count += 1
        with torch.no_grad():
            for name, p in store.named_parameters():
                p.copy_(sums[name] / count)
        return losses

    def _final_elbo(self, program: _Program, n: int) -> tuple[torch.Tensor, float]:
        """The bound on log Z at the fitted guide: EVAL_BATCHES batches of vectorised particles,
        their mean (0-d, differentiable in the model's parameters) and standard error."""
        import pyro

        particles = max(64, min(1000, EVAL_STATE_BUDGET // n))
        loss = pyro.infer.Trace_ELBO(num_particles=particles, vectorize_particles=True, max_plate_nesting=0)
        values = torch.stack([-loss.differentiable_loss(program.model, program.guide) for _ in range(EVAL_BATCHES)])  # (B,)
        stderr = float(values.detach().std() / math.sqrt(EVAL_BATCHES))
        return values.mean() + program.offset, stderr

    def _nothing_to_fit(self, model: torch.nn.Module, ev: dict[int, Any], continuous: bool) -> SVIFit:
        """Every variable clamped: log Z is the log-potential of the one state, exactly."""
        dtype = model_float_dtype(model) if continuous else torch.long
        state = insert_evidence(torch.empty(1, 0, dtype=dtype, device=model_device(model)), ev, model.num_variables)  # (1, n)
        elbo = model.log_potential(state)[0]  # ()
        self.last_losses, self.last_elbo, self.last_elbo_stderr = [], float(elbo.detach()), 0.0
        self.diagnostics = Diagnostics("svi", True, iterations=0, details={"note": "every variable clamped: exact"})
        empty = torch.empty(0, dtype=model_float_dtype(model), device=model_device(model))
        if continuous:
            return SVIFit((), ev, elbo, 0.0, mean=empty, std=empty)
        return SVIFit((), ev, elbo, 0.0, probs=empty.reshape(0, int(model.max_card)))

    # --------------------------------------------------------------- queries
    def marginals(self, model: torch.nn.Module, variables: Sequence[int], evidence: dict[int, Any]) -> list[Any]:
        """The guide's marginals: ``ContinuousMarginal(name, mean, std)`` per variable of a real
        model (a clamped one: its value, std 0), or a 1-D probability tensor per variable of a
        discrete model (a clamped one: one-hot)."""
        fit = self.fit(model, evidence)
        col = {v: k for k, v in enumerate(fit.free)}
        if _is_continuous(model):
            return [
                ContinuousMarginal(model.variables[v], fit.evidence[v], 0.0) if v not in col
                else ContinuousMarginal(model.variables[v], float(fit.mean[col[v]]), float(fit.std[col[v]]))
                for v in variables
            ]
        out = []
        for v in variables:
            k = int(model.cards[v])
            if v in col:
                out.append(fit.probs[col[v], :k])  # (k,)
            else:
                hot = torch.nn.functional.one_hot(torch.tensor(fit.evidence[v], device=fit.probs.device), k)  # (k,)
                out.append(hot.to(fit.probs.dtype))
        return out

    def map(
        self, model: torch.nn.Module, evidence: dict[int, Any], variables: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The guide's most probable state (n,), clamped values inserted, and its log score.

        Continuous: the guide's mean, log score −energy. Discrete: each free variable's most
        probable state under the mean-field guide, log score the log-potential. An approximation
        of the MAP, not an optimum; a marginal MAP (``variables``) is not estimated.
        """
        if variables is not None:
            raise CapabilityError(
                f"backend {self.name!r} does not estimate a marginal MAP over a subset of variables; omit variables= "
                "for the joint MAP, or use backend='exact' (discrete) / backend='gaussian' (Gaussian)"
            )
        fit = self.fit(model, evidence)
        best = fit.mean if _is_continuous(model) else fit.probs.argmax(-1)  # (m,)
        state = insert_evidence(best.detach()[None], fit.evidence, model.num_variables)[0]  # (n,)
        with torch.no_grad():
            return state, model.log_potential(state[None])[0]

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, Any]) -> torch.Tensor:
        """A *lower bound* on log Z (the ELBO E_q[log p̃(x)] + H(q) at the fitted guide), a 0-d
        tensor, differentiable in the model's parameters; ``last_elbo_stderr`` is its Monte-Carlo
        standard error. Not log Z itself: the gap is KL(q ‖ p) ≥ 0."""
        return self.fit(model, evidence).elbo


# ----------------------------------------------------------------- lowering
def _continuous_program(model: torch.nn.Module, free: list[int], ev: dict[int, float], guide: str) -> _Program:
    """x ~ flat prior on R^m, factor −energy(x with evidence); an AutoNormal / AutoMultivariateNormal guide."""
    import pyro
    import pyro.distributions as dist
    from pyro.infer.autoguide import AutoMultivariateNormal, AutoNormal, init_to_value

    n, m = model.num_variables, len(free)
    dtype, device = model_float_dtype(model), model_device(model)

    def pyro_model() -> None:
        x = pyro.sample("x", dist.ImproperUniform(dist.constraints.real, (), (m,)))  # (m,) or (P, m)
        full = insert_evidence(x.reshape(-1, m), ev, n)  # (B, n)
        pyro.factor("log_potential", -model.energy(full).reshape(x.shape[:-1]))  # () or (P,)

    init = init_to_value(values={"x": torch.zeros(m, dtype=dtype, device=device)})
    if guide == "mvn":
        auto = AutoMultivariateNormal(pyro_model, init_loc_fn=init)

        def read() -> dict[str, torch.Tensor]:
            q = auto.get_posterior()
            return {"mean": q.loc.detach(), "std": q.variance.sqrt().detach()}  # (m,), (m,)
    else:
        auto = AutoNormal(pyro_model, init_loc_fn=init)

        def read() -> dict[str, torch.Tensor]:
            return {"mean": auto.locs.x.detach(), "std": auto.scales.x.detach()}  # (m,), (m,)

    auto()  # create the guide's parameters now, in the fresh param store
    return _Program(pyro_model, auto, 0.0, read)


def _discrete_program(model: torch.nn.Module, free: list[int], ev: dict[int, int], guide: str) -> _Program:
    """x_i ~ uniform over its k_i states, factor log_potential(x with evidence); a mean-field
    categorical guide with logits (m, kmax), masked past each cardinality (``guide`` is unused)."""
    import pyro
    import pyro.distributions as dist

    n, m, kmax = model.num_variables, len(free), int(model.max_card)
    dtype, device = model_float_dtype(model), model_device(model)
    cards = model.cards[free].to(device)  # (m,)
    valid = torch.arange(kmax, device=device)[None, :] < cards[:, None]  # (m, kmax)
    uniform = torch.zeros(m, kmax, dtype=dtype, device=device).masked_fill(~valid, -math.inf)  # (m, kmax)
    log_states = float(torch.log(cards.to(dtype)).sum())  # log Π_i k_i, the uniform prior's normaliser
    hard_zero = -(HARD_ZERO_MARGIN + log_states)

    def pyro_model() -> None:
        x = pyro.sample("x", dist.Categorical(logits=uniform).to_event(1))  # (m,) or (P, m) state indices
        full = insert_evidence(x.reshape(-1, m), ev, n)  # (B, n)
        log_p = model.log_potential(full).clamp(min=hard_zero)  # (B,)
        pyro.factor("log_potential", log_p.reshape(x.shape[:-1]))  # () or (P,)

    def mean_field() -> None:
        logits = pyro.param("logits", lambda: torch.zeros(m, kmax, dtype=dtype, device=device))  # (m, kmax)
        pyro.sample("x", dist.Categorical(logits=logits.masked_fill(~valid, -math.inf)).to_event(1))

    def read() -> dict[str, torch.Tensor]:
        logits = pyro.param("logits").detach().masked_fill(~valid, -math.inf)  # (m, kmax)
        return {"probs": torch.softmax(logits, -1)}  # (m, kmax)

    mean_field()  # create the logits now, in the fresh param store
    return _Program(pyro_model, mean_field, log_states, read)


def svi_diagnostics(losses: list[float], elbo: float, elbo_stderr: float) -> Diagnostics:
    """Whether the optimisation had levelled off: the mean loss of the last tenth of the steps is
    not below that of the tenth before by more than three standard errors (no warning is raised:
    a stochastic loss makes this a rough check; read ``diagnostics`` and ``last_losses``).

    >>> svi_diagnostics([10.0 - 0.01 * i for i in range(100)], -0.5, 0.01).converged
    False
    """
    n = len(losses)
    w = max(n // 10, 5)
    details = {"elbo": elbo, "elbo_stderr": elbo_stderr, "steps": n}
    if n < 2 * w:
        return Diagnostics("svi", True, iterations=n, details=details)
    a = torch.tensor(losses[-2 * w: -w], dtype=torch.float64)
    b = torch.tensor(losses[-w:], dtype=torch.float64)
    drop = float(a.mean() - b.mean())
    se = float((a.var() / w + b.var() / w).sqrt())
    ok = not drop > 3 * se + 1e-9
    messages = () if ok else (
        f"SVI was still improving at its last step (the loss fell by {drop:.3g} ± {se:.2g} over the last tenth of "
        f"{n} steps): the bound and the guide may be loose; raise steps or lr.",)
    return Diagnostics("svi", ok, iterations=n, messages=messages, details={**details, "late_drop": drop, "late_drop_se": se})


# ----------------------------------------------------------------- context
def _check_count(what: str, value: Any, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"SVI {what}={value!r} must be an integer >= 1 ({hint})")


def _is_continuous(model: torch.nn.Module) -> bool:
    caps = getattr(model, "capabilities", frozenset())
    if "continuous" in caps:
        return True
    if "discrete" in caps:
        return False
    raise CapabilityError(
        f"backend 'svi' lowers a model with capability 'continuous' (energy over reals) or 'discrete' "
        f"(log_potential over state indices); a {type(model).__name__} has {sorted(caps)}"
    )


@contextlib.contextmanager
def _fresh_param_store() -> Iterator[None]:
    """An empty Pyro param store for the run; the caller's parameters (the same tensors) come back on exit."""
    import pyro

    store = pyro.get_param_store()
    saved = store.get_state()
    store.clear()
    try:
        yield
    finally:
        store.clear()
        store.set_state(saved)


@contextlib.contextmanager
def _frozen(model: torch.nn.Module) -> Iterator[None]:
    """Switch off gradients of the model's parameters while the guide is fitted; restore the flags."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def register() -> None:
    """Register :class:`SVI` as backend ``"svi"`` (idempotent)."""
    from graphdgm.infer.registry import register_backend

    register_backend(SVI.name, SVI, overwrite=True)


__all__ = ["SVI", "register"]
