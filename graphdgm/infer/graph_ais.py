"""Annealed importance sampling for the log-partition function of any two-colourable graph.

Following Salakhutdinov and Murray (2008), generalised from the RBM to blocks of any unit type:

- the free (non-input) blocks are two-coloured; one colour class ``X`` is *sampled*, the other
  ``S`` is *summed out* analytically (each of its blocks' unit log-normaliser), so the walk runs on
  p*_β(x_X) and its weights have lower variance than annealing the joint;
- the base (β = 0) makes every block independent with base biases b_A (zeros: uniform discrete
  units; or the data's marginals); Gaussian blocks keep the target's bias, so only their linear
  part is annealed. Its log Z_A and draws are exact;
- p_β ∝ exp((1-β)·base + β·target): every dense field is scaled by β and every bias interpolated,
  b_β = b_A + β (b - b_A). Each temperature costs one product per dense edge and direction, with
  all runs (and, for a conditional graph, all input rows) in one batch.

Input blocks are conditioning: log Z(u) is estimated for every input row at once.

>>> import torch, graphdgm as gd
>>> from graphdgm.infer.enumeration import exact_log_partition
>>> model = gd.compile(gd.DBM([5, 4, 3], init_std=0.5))
>>> r = graph_ais(model, runs=100, betas=500)
>>> abs(float(r.log_z) - float(exact_log_partition(model))) < 0.05
True
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from graphdgm.compiler.colouring import two_colouring
from graphdgm.errors import CapabilityError, ConvergenceWarning, SpecError
from graphdgm.infer.diagnostics import Diagnostics, PerThread, warn_if_unconverged
from graphdgm.infer.mcmc.ais import AIS_ESS_FRACTION, ais_diagnostics
from graphdgm.infer.options import check_count, check_threshold
from graphdgm.runtime.progress import progress_bar
from graphdgm.runtime.random import make_generator

Tensor = torch.Tensor


def salakhutdinov_murray_betas(device: torch.device | str | None = None) -> Tensor:
    """The published 14,501 inverse temperatures: steps of 1e-3 to 0.5, 1e-4 to 0.9, 1e-5 to 1.

    >>> b = salakhutdinov_murray_betas(); len(b), float(b[0]), float(b[-1])
    (14501, 0.0, 1.0)
    """
    return torch.cat([torch.linspace(0, 0.5, 501, dtype=torch.float64)[:-1],
                      torch.linspace(0.5, 0.9, 4001, dtype=torch.float64)[:-1],
                      torch.linspace(0.9, 1.0, 10001, dtype=torch.float64)]).to(device)


def ais_betas(betas: Tensor | str | int, device: torch.device | str | None = None) -> Tensor:
    """``"salakhutdinov_murray"``, a step count (a schedule of the same shape with that many
    steps), or a rising tensor from 0 to 1 -> inverse temperatures (T+1,) float64.

    >>> ais_betas(4).shape
    torch.Size([5])
    """
    if isinstance(betas, str):
        if betas != "salakhutdinov_murray":
            raise SpecError(f"unknown AIS schedule {betas!r}; use 'salakhutdinov_murray', a step count or a tensor")
        b = salakhutdinov_murray_betas(device)
    elif isinstance(betas, (int, np.integer)) and not isinstance(betas, bool):
        steps = check_count("graph_ais", "betas", betas)
        full = salakhutdinov_murray_betas()
        b = torch.quantile(full, torch.linspace(0, 1, steps + 1, dtype=torch.float64)).to(device)
    else:
        b = torch.as_tensor(betas, dtype=torch.float64, device=device)
    if b.dim() != 1 or len(b) < 2 or float(b[0]) != 0.0 or float(b[-1]) != 1.0 or bool((b[1:] < b[:-1]).any()):
        raise SpecError("betas must rise from 0.0 to 1.0 (at least two values)")
    return b


# ------------------------------------------------------------------ structure
@dataclass(frozen=True)
class AISSplit:
    """Which free blocks the walk samples and which it sums out (no edge inside either class)."""

    sampled: tuple[str, ...]
    summed: tuple[str, ...]
    inputs: tuple[str, ...]


def ais_split(model: torch.nn.Module) -> AISSplit:
    """Two-colour the free blocks of a compiled graph; sample the class without Gaussian blocks
    (when only one has them), else the one with fewer units.

    >>> import graphdgm as gd
    >>> ais_split(gd.compile(gd.DBM([5, 4, 3])))
    AISSplit(sampled=('h1',), summed=('v', 'h2'), inputs=())
    """
    if not hasattr(model, "summable") or not hasattr(model, "block_names"):
        raise CapabilityError(f"graph AIS needs a compiled gd.Graph; a {type(model).__name__} is not one "
                              "(use backend='ais', the generic annealer, for Markov networks)")
    inputs = tuple(b for b in model.block_names if model.roles[b] == "input")
    free = [b for b in model.block_names if model.roles[b] != "input"]
    bad = [b for b in free if not model.summable(b)]
    if bad:
        raise CapabilityError(f"graph AIS sums one colour class out analytically, so every free block must meet the rest "
                              f"only through dense edges; blocks {bad} have internal edges or factor tables. "
                              "Use backend='ais' (the generic annealer over every variable) instead")
    adj = model.spec.block_adjacency()
    idx = {b: i for i, b in enumerate(free)}
    edges = np.array([(idx[a], idx[c]) for a in free for c in adj[a] if c in idx and idx[a] < idx[c]],
                     dtype=np.int64).reshape(-1, 2)
    colour = two_colouring(len(free), edges)
    if colour is None:
        raise CapabilityError(f"graph AIS needs the free blocks {free} to two-colour (no odd cycle of dense edges "
                              "among them); use backend='ais' (the generic annealer) instead")
    classes = [[b for b in free if colour[idx[b]] == c] for c in (0, 1)]
    gauss = [any(not model.units[b].discrete for b in cls) for cls in classes]
    size = [sum(model.ranges[b][1] - model.ranges[b][0] for b in cls) for cls in classes]
    pick = (1 if gauss[0] else 0) if gauss[0] != gauss[1] else (1 if size[1] < size[0] else 0)
    return AISSplit(tuple(classes[pick]), tuple(classes[1 - pick]), inputs)


def by_block(model: torch.nn.Module, data: Any, role: str, what: str) -> dict[str, Any]:
    """``data`` as ``{block: values}``: a dict as given, a tensor for the graph's one ``role`` block."""
    if isinstance(data, dict):
        return data
    blocks = [b for b in model.block_names if model.roles[b] == role]
    if len(blocks) != 1:
        raise SpecError(f"{what}: this graph has {len(blocks)} {role} blocks {blocks}; give a dict {{block name: tensor}}")
    return {blocks[0]: data}


def base_biases(model: torch.nn.Module, base_data: Any = None, base_bias: dict[str, Tensor] | None = None, *,
                smoothing: float = 5e-3, posterior_rows: int = 10_000) -> dict[str, Tensor]:
    """The base distribution's bias b_A per free block: ``base_bias[block]`` if given, else the
    marginals of ``base_data`` for an observed block, else (when ``base_data`` gives every
    observed and input block) for a latent block the marginals of one draw from its mean-field
    posterior for each of up to ``posterior_rows`` evenly spaced rows of ``base_data`` (fixed
    seed), else zeros (uniform discrete units).
    Gaussian blocks always keep the target's bias.

    A base close to the target is what keeps AIS honest on a trained deep model: on a 784-500-1000
    DBM a uniform base for the latent layers gave log Ẑ 52 nats below the estimate from the
    posterior-marginal base, with one run holding all the weight.

    >>> import torch, graphdgm as gd
    >>> dbm = gd.compile(gd.DBM([6, 4, 3], init_std=0.5))
    >>> v = torch.bernoulli(torch.full((50, 6), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> sorted(b for b, bias in base_biases(dbm, v).items() if bool((bias != 0).any()))
    ['h1', 'h2', 'v']
    """
    data = model.given(by_block(model, base_data, "observed", "base_data"), what="base_data") if base_data is not None else {}
    posterior: dict[str, Tensor] = {}
    latent = [b for b in model.block_names if model.roles[b] == "latent" and model.units[b].discrete
              and not (base_bias is not None and b in base_bias)]
    given_all = all(b in data for b in model.block_names if model.roles[b] != "latent")
    if latent and data and given_all and all(model.summable(b) for b in model.block_names if model.roles[b] == "latent"):
        n = len(next(iter(data.values())))
        if n:
            rows = torch.linspace(0, n - 1, min(n, int(posterior_rows)), device=next(iter(data.values())).device).long()
            _, fields = mean_field_posterior(model, {b: x[rows] for b, x in data.items()}, steps=30)
            g = make_generator(0, model.values.device)
            posterior = {b: model.units[b].sample(fields[b], model.natural_bias(b).detach(), model.scale_of(b), g)
                         for b in latent if b in fields}
    out = {}
    for b in model.block_names:
        if model.roles[b] == "input":
            continue
        target = model.natural_bias(b).detach()
        unit = model.units[b]
        if not unit.discrete:
            out[b] = target
        elif base_bias is not None and b in base_bias:
            given = torch.as_tensor(base_bias[b], dtype=model.dtype, device=target.device)
            if given.numel() != target.numel():
                raise SpecError(f"base_bias for block {b!r} has {given.numel()} entries; the block's bias has {target.numel()}")
            out[b] = given.reshape(target.shape)
        elif b in data and len(data[b]):
            out[b] = unit.init_bias(data[b], eps=smoothing).reshape(target.shape).to(target)
        elif b in posterior:
            out[b] = unit.init_bias(posterior[b], eps=smoothing).reshape(target.shape).to(target)
        else:
            out[b] = torch.zeros_like(target)
    return out


def clamped_terms(model: torch.nn.Module, xs: dict[str, Tensor]) -> Tensor:
    """The log-potential terms that involve only the blocks in ``xs`` (B,) (the model's own
    :meth:`~graphdgm.compiler.graph.CompiledGraph.given_log_potential`)."""
    return model.given_log_potential(xs)


def _fields(model: torch.nn.Module, to: tuple[str, ...], feats: dict[str, Tensor], base: dict[str, Tensor]) -> dict[str, Tensor]:
    """``base[b]`` plus the dense edges' input to each block in ``to`` from the blocks in ``feats``."""
    out = {b: base[b] for b in to}
    for op in model.dense:  # one product per edge
        for blk, other in ((op.a, op.b), (op.b, op.a)):
            if blk in out and other in feats and not op.lateral:
                out[blk] = out[blk] + op.message(feats[other], blk)
    return out


# --------------------------------------------------------------------- result
@dataclass(frozen=True)
class GraphAISResult:
    """log Ẑ (0-d, or (B,) per input row) with its standard error (delta method, same shape);
    ``log_z_bounds`` = log(r̂ ∓ 3σ̂) as in Salakhutdinov and Murray; ``log_weights`` (R,) or
    (B, R); ``samples`` the sampled colour's final states {block: (R, n_b) or (B, R, n_b)}."""

    log_z: Tensor
    stderr: Tensor
    log_z_bounds: tuple[Tensor, Tensor]
    log_weights: Tensor
    samples: dict[str, Tensor]
    split: AISSplit
    diagnostics: Diagnostics | None = field(default=None, compare=False)

    @property
    def effective_sample_size(self) -> float:
        """The smallest (Σ w)² / Σ w² of the importance weights over the input rows."""
        return float(row_ess(self.log_weights.reshape(-1, self.log_weights.shape[-1])).min())


def row_ess(log_weights: Tensor) -> Tensor:
    """Kish's effective sample size of each row of log importance weights (B, R) -> (B,); 0 for a
    row that is all -inf.

    >>> row_ess(torch.tensor([[0.0, 0.0], [0.0, -1e9]])).tolist()
    [2.0, 1.0]
    """
    w = torch.softmax(log_weights.to(torch.float64), -1)
    return torch.nan_to_num(1.0 / (w**2).sum(-1), nan=0.0)


# ---------------------------------------------------------------------- AIS
def _inputs(model: torch.nn.Module, split: AISSplit, inputs: Any) -> dict[str, Tensor]:
    if not split.inputs:
        if inputs is not None:
            raise SpecError("inputs= is for graphs with input blocks; this graph has none")
        return {}
    if inputs is None:
        raise SpecError(f"this graph is conditional on its input blocks {list(split.inputs)}: log Z depends on them; "
                        "pass inputs= (a tensor for one input block, else a dict by block name)")
    xs = model.given(by_block(model, inputs, "input", "inputs"), what="inputs")
    extra = [b for b in xs if b not in split.inputs]
    missing = [b for b in split.inputs if b not in xs]
    if extra or missing:
        raise SpecError(f"inputs must give exactly the input blocks {list(split.inputs)}; missing {missing}, not inputs {extra}")
    return xs


@torch.no_grad()
def graph_ais(
    model: torch.nn.Module,
    runs: int = 100,
    betas: Tensor | str | int = "salakhutdinov_murray",
    *,
    inputs: Any = None,
    base_data: Any = None,
    base_bias: dict[str, Tensor] | None = None,
    seed: int | torch.Generator = 0,
    progress: bool | None = None,
    ess_fraction: float | None = AIS_ESS_FRACTION,
) -> GraphAISResult:
    """Estimate log Z of a compiled graph (log Z(u) per row of ``inputs`` for a conditional graph)
    by AIS from a product-of-marginals base, one colour class summed out (see the module docstring).

    ``betas``: ``"salakhutdinov_murray"`` (14,500 steps), a step count, or a rising tensor 0..1.
    ``base_data``: data for the observed blocks whose marginals set the base biases (recommended
    for trained models); ``base_bias``: explicit base biases by block. An effective sample size
    below ``ess_fraction`` · ``runs`` (or below 10) on any input row is a
    :class:`~graphdgm.errors.ConvergenceWarning` (None: never).

    >>> import graphdgm as gd
    >>> from graphdgm.infer.enumeration import exact_log_partition
    >>> crbm = gd.compile(gd.CRBM(2, 4, 3, init_std=0.5))
    >>> u = torch.tensor([[0., 1.], [1., 1.]], dtype=torch.float64)
    >>> r = graph_ais(crbm, runs=100, betas=300, inputs=u)
    >>> bool(((r.log_z - exact_log_partition(crbm, {"u": u})).abs() < 0.05).all())
    True
    """
    runs = check_count("graph_ais", "runs", runs)
    ess_fraction = check_threshold("graph_ais", "ess_fraction", ess_fraction, 0.0, 1.0)
    split = ais_split(model)
    if model.dtype != torch.float64:  # the whole walk in float64, the model left as it is
        model = copy.deepcopy(model).to(torch.float64)
    dev, dt = model.values.device, model.dtype
    b = ais_betas(betas, dev)
    u = _inputs(model, split, inputs)
    B = next(iter(u.values())).shape[0] if u else 1
    R = runs
    g = make_generator(seed, dev)
    units, scale = model.units, model.scale_of
    free = split.sampled + split.summed
    bias_a = base_biases(model, base_data, base_bias)  # b_A per free block
    delta = {k: model.natural_bias(k).detach() - bias_a[k] for k in free}  # b - b_A
    width = {k: (model.ranges[k][1] - model.ranges[k][0]) * units[k].width for k in free}
    # fields from the inputs (fixed): (B R, n_b w_b) per free block; constant terms of the inputs
    u_rows = {k: x.repeat_interleave(R, 0) for k, x in u.items()}
    zeros = {k: torch.zeros(B * R, width[k], dtype=dt, device=dev) for k in free}
    a_in = _fields(model, free, {k: model.features(k, x) for k, x in u_rows.items()}, zeros)
    const_u = clamped_terms(model, u) if u else torch.zeros(1, dtype=dt, device=dev)  # (B,)
    log_z_a = sum((units[k].log_normaliser(torch.zeros(1, width[k], dtype=dt, device=dev), bias_a[k], scale(k))[0]
                   for k in free), torch.zeros((), dtype=dt, device=dev))

    def draw(blocks: tuple[str, ...], fields: dict[str, Tensor], beta: float) -> dict[str, Tensor]:
        return {k: units[k].sample(beta * fields[k], bias_a[k] + beta * delta[k], scale(k), g) for k in blocks}

    def sampled_terms(x: dict[str, Tensor]) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """own_A(x) and D(x) = own(x) - own_A(x) + input fields · f(x) of the sampled colour, and f(x)."""
        f = {k: model.features(k, v) for k, v in x.items()}
        own_a = torch.zeros(B * R, dtype=dt, device=dev)
        d = torch.zeros(B * R, dtype=dt, device=dev)
        for k, v in x.items():  # a loop over blocks
            oa = units[k].own(v, bias_a[k], scale(k))
            own_a = own_a + oa
            d = d + units[k].own(v, bias_a[k] + delta[k], scale(k)) - oa + (a_in[k] * f[k]).sum(-1)
        return own_a, d, f

    def log_p(beta: float, own_a: Tensor, d: Tensor, a_s: dict[str, Tensor]) -> Tensor:
        """log p*_β(x_X) (B R,): the summed colour's log-normalisers at fields β·a and biases b_β."""
        out = own_a + beta * d
        for k in split.summed:
            out = out + units[k].log_normaliser(beta * a_s[k], bias_a[k] + beta * delta[k], scale(k))
        return out

    x = draw(split.sampled, zeros, 0.0)  # exact draws from the base
    own_a, d, fx = sampled_terms(x)
    a_s = _fields(model, split.summed, fx, a_in)
    lp = log_p(0.0, own_a, d, a_s)
    log_w = torch.zeros(B * R, dtype=torch.float64, device=dev)
    temps = b.tolist()  # read once: no device sync per step
    for t in progress_bar(range(1, len(temps)), progress, desc="graph AIS"):  # a loop over temperatures
        bt = temps[t]
        log_w += log_p(bt, own_a, d, a_s) - lp  # p*_t(x) / p*_{t-1}(x)
        s = draw(split.summed, a_s, bt)  # s ~ p_t(s | x)
        x = draw(split.sampled, _fields(model, split.sampled, {k: model.features(k, v) for k, v in s.items()}, a_in), bt)
        own_a, d, fx = sampled_terms(x)
        a_s = _fields(model, split.summed, fx, a_in)
        lp = log_p(bt, own_a, d, a_s)
    log_w = torch.nan_to_num(log_w, nan=float("-inf")).view(B, R)
    log_mean = torch.logsumexp(log_w, 1) - math.log(R)  # (B,)
    w = torch.exp(log_w - log_mean[:, None])  # weights relative to their row's mean
    sd = w.std(1, unbiased=True) / math.sqrt(R) if R > 1 else torch.full((B,), float("inf"), dtype=dt, device=dev)
    log_z = log_mean + log_z_a + const_u
    lo = torch.where(3 * sd < 1, log_z + torch.log1p(-(3 * sd).clamp_max(1 - 1e-12)), torch.full_like(log_z, float("-inf")))
    hi = log_z + torch.log1p(3 * sd)
    worst = int(row_ess(log_w).argmin())
    diagnostics = warn_if_unconverged(ais_diagnostics(
        log_w[worst], ess_fraction, "graph_ais", hint="more temperatures (betas), more runs, or base_data for the base"))
    samples = {k: v.view(B, R, -1) for k, v in x.items()}
    if not u:
        log_z, sd, lo, hi, log_w = log_z[0], sd[0], lo[0], hi[0], log_w[0]
        samples = {k: v[0] for k, v in samples.items()}
    return GraphAISResult(log_z, sd, (lo, hi), log_w, samples, split, diagnostics)


# ------------------------------------------------------------ log-likelihood
def _data_blocks(model: torch.nn.Module, data: Any, what: str) -> dict[str, Tensor]:
    """Data for every observed and input block, ``{block: (B, n_b)}``."""
    wanted = [b for b in model.block_names if model.roles[b] != "latent"]
    xs = model.given(data if isinstance(data, dict) or len(wanted) != 1 else {wanted[0]: data}, what=what)
    missing = [b for b in wanted if b not in xs]
    if missing:
        raise SpecError(f"{what} needs values for every observed and input block; missing {missing}")
    if next(iter(xs.values())).shape[0] == 0:
        raise SpecError(f"{what} is empty: give at least one example")
    return xs


@torch.no_grad()
def mean_field_posterior(model: torch.nn.Module, xs: dict[str, Tensor], *, steps: int = 50, tol: float = 1e-7,
                         start: str = "bottom_up") -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Fully factorised q(latent | xs) by block coordinate ascent: ``(means, fields)``, each latent
    block's mean features E_q[f] (B, n w) and the field that gives them (its natural parameter
    less the bias). Every latent block must meet the rest only through dense edges.

    ``start``: ``"bottom_up"`` (default, as in training) sets each latent block in order from the
    clamped blocks and the latent blocks already set; ``"clamped"`` sets every latent block from
    the clamped blocks alone. Coordinate ascent finds a local optimum only, and on a strongly
    coupled DBM the two starts can end tens of nats apart (the clamped start lets the top layer's
    prior drive the middle one)."""
    if start not in ("bottom_up", "clamped"):
        raise SpecError(f"start={start!r} is unknown; use 'bottom_up' or 'clamped'")
    latent = [b for b in model.block_names if model.roles[b] == "latent"]
    bad = [b for b in latent if not model.summable(b)]
    if bad:
        raise CapabilityError(f"the mean-field bound updates whole latent blocks at once; blocks {bad} have internal "
                              "edges or factor tables")
    feats = {b: model.features(b, x) for b, x in xs.items()}
    B = next(iter(xs.values())).shape[0]
    zero = {b: torch.zeros(B, (model.ranges[b][1] - model.ranges[b][0]) * model.units[b].width, dtype=model.dtype,
                           device=model.values.device) for b in latent}
    if start == "clamped":
        fields = _fields(model, tuple(latent), feats, zero)  # clamped neighbours only
        means = {b: model.mean_features(b, fields[b]) for b in latent}
    else:
        fields, means = {}, {}
        for b in latent:  # a loop over blocks: each from the clamped and the latent blocks already set
            fields[b] = _fields(model, (b,), {**feats, **means}, zero)[b]
            means[b] = model.mean_features(b, fields[b])
    for _ in range(int(steps)):  # coordinate ascent: each block's update cannot lower the bound
        change = 0.0
        for b in latent:  # a loop over blocks
            fields[b] = model.field(b, xs, features={**feats, **means}, batch=B)
            new = model.mean_features(b, fields[b])
            change = max(change, float((new - means[b]).abs().max()))
            means[b] = new
        if change < tol:
            break
    return means, fields


def graph_log_likelihood_bound(model: torch.nn.Module, data: Any, log_z: Tensor | float, *,
                               mean_field_steps: int = 50, samples: int = 0,
                               seed: int | torch.Generator = 0) -> Tensor:
    """A lower bound on log p(observed | inputs) per example (B,), q the mean-field posterior over
    the latent blocks (:func:`mean_field_posterior`, run from both of its starts; each example
    keeps the start with the higher bound). ``log_z``: 0-d, or (B,) per example's inputs.

    ``samples=0`` (default): the variational bound E_q[log p*(v, h)] + H(q) - log Z, exact and
    deterministic: dense edges join different blocks, which q makes independent, so
    E_q[f_a W f_b] = μ_a W μ_b; each block's E_q[own] + H(q) is its log-normaliser less field · mean.

    ``samples=K > 0``: the importance-weighted bound log (1/K) Σ_k p*(v, h_k) / q(h_k) - log Z
    (Burda, Grosse and Salakhutdinov's bound, tighter as K grows and never looser than the
    variational one in expectation), with the largest latent blocks that meet only sampled or
    clamped ones summed out exactly (a DBM's top layer given the one below) and the others drawn
    from q. Stochastic: a lower bound in expectation, reproducible by ``seed``.

    >>> import torch, graphdgm as gd
    >>> from graphdgm.infer.enumeration import exact_log_likelihood, exact_log_partition
    >>> dbm = gd.compile(gd.DBM([5, 4, 3], init_std=0.5))
    >>> v = torch.tensor([[1., 0., 1., 1., 0.]], dtype=torch.float64)
    >>> log_z = exact_log_partition(dbm)
    >>> mf = graph_log_likelihood_bound(dbm, v, log_z)
    >>> bool((mf <= exact_log_likelihood(dbm, v) + 1e-9).all())
    True
    >>> iw = graph_log_likelihood_bound(dbm, v, log_z, samples=2000)
    >>> bool((mf - 1e-3 <= iw).all() and (iw <= exact_log_likelihood(dbm, v) + 1e-2).all())
    True
    """
    samples = check_count("graph_log_likelihood_bound", "samples", samples, minimum=0)
    xs = _data_blocks(model, data, "log-likelihood data")
    with torch.no_grad():
        clamped = clamped_terms(model, xs)  # own terms, edges and factors among the clamped blocks
        best, best_means = None, None
        for start in ("bottom_up", "clamped"):  # two local optima; each gives a valid bound, keep the higher
            means, fields = mean_field_posterior(model, xs, steps=mean_field_steps, start=start)
            total = clamped
            feats = {**{b: model.features(b, x) for b, x in xs.items()}, **means}
            for op in model.dense:  # edges that touch a latent block: E_q = μ_a W μ_b
                if op.a in means or op.b in means:
                    total = total + op.log_potential(feats[op.a], feats[op.b])
            for b, mu in means.items():  # E_q[own_b] + H(q_b) = A(field) - field · μ
                total = total + model.log_normaliser(b, fields[b]) - (fields[b] * mu).sum(-1)
            if best is None:
                best, best_fields = total, fields
            else:
                better = total > best
                best = torch.where(better, total, best)
                best_fields = {b: torch.where(better[:, None], f, best_fields[b]) for b, f in fields.items()}
        if samples:
            best = _importance_weighted(model, xs, best_fields, samples, seed)
    return best - torch.as_tensor(log_z, dtype=best.dtype, device=best.device)


def _summed_latent(model: torch.nn.Module, latent: list[str]) -> list[str]:
    """Latent blocks to sum out exactly in the importance-weighted bound: largest first, each
    summable and sharing no edge with one already chosen."""
    adj = model.spec.block_adjacency()
    chosen: list[str] = []
    for b in sorted(latent, key=lambda b: -(model.ranges[b][1] - model.ranges[b][0])):
        if model.summable(b) and b not in adj[b] and not any(c in adj[b] for c in chosen):
            chosen.append(b)
    return chosen


def _importance_weighted(model: torch.nn.Module, xs: dict[str, Tensor], fields: dict[str, Tensor], samples: int,
                         seed: int | torch.Generator) -> Tensor:
    """log (1/K) Σ_k p*(xs, h_k) / q(h_k) (B,): q's blocks drawn, the summed ones summed out."""
    latent = [b for b in model.block_names if model.roles[b] == "latent"]
    summed = _summed_latent(model, latent)
    drawn = [b for b in latent if b not in summed]
    continuous = [b for b in drawn if not model.units[b].discrete]
    if continuous:
        raise CapabilityError(f"the importance-weighted bound draws blocks {drawn} from q, and {continuous} are real-valued; "
                              "use samples=0 (the variational bound)")
    g = make_generator(seed, model.values.device)
    logits = {b: torch.log_softmax(model.state_logits(b, fields[b]), -1) for b in drawn}  # (B, n_b, k)
    acc = None
    for _ in range(samples):  # a loop over importance samples; each is one batched pass
        h = {b: model.units[b].sample(fields[b], model.natural_bias(b), model.scale_of(b), g) for b in drawn}
        log_q = sum((lg.gather(-1, h[b].long()[..., None])[..., 0].sum(-1) for b, lg in logits.items()),
                    torch.zeros((), dtype=model.dtype, device=model.values.device))
        lw = model.clamped_log_marginal({**xs, **h}) - log_q
        acc = lw[None] if acc is None else torch.logaddexp(acc, lw[None])
    return acc[0] - math.log(samples)


@dataclass(frozen=True)
class GraphLikelihood:
    """Mean log p(observed | inputs) over the data (nats per example), ``per_example`` (B,), whether
    it is a variational lower bound (latent blocks that do not sum out exactly), and the AIS run."""

    log_likelihood: float
    per_example: Tensor
    is_bound: bool
    ais: GraphAISResult
    log_z_floor: float | None = None


@torch.no_grad()
def log_z_floor(model: torch.nn.Module, xs: Any, split: AISSplit, seed: int = 0) -> float | None:
    """An exact lower bound on log Z: log Σ p*(x_X) over the distinct states of the sampled colour
    class X (the other blocks summed out) that the data suggest, observed blocks as given and latent
    ones drawn from their mean-field posterior. None when X has continuous blocks or the graph has
    inputs (log Z then depends on them).

    >>> import torch, graphdgm as gd
    >>> from graphdgm.infer.enumeration import exact_log_partition
    >>> dbm = gd.compile(gd.DBM([5, 4, 3], init_std=0.5))
    >>> v = torch.bernoulli(torch.full((20, 5), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> log_z_floor(dbm, {"v": v}, ais_split(dbm)) <= float(exact_log_partition(dbm))
    True
    """
    xs = _data_blocks(model, xs, "log-Z floor data")  # shapes, values and emptiness checked, naming the block
    if split.inputs or any(not model.units[b].discrete for b in split.sampled):
        return None
    g = make_generator(seed, model.values.device)
    latent = [b for b in split.sampled if b not in xs]
    _, fields = mean_field_posterior(model, xs) if latent else ({}, {})
    states = {b: xs[b] if b in xs else model.units[b].sample(fields[b], model.natural_bias(b), model.scale_of(b), g)
              for b in split.sampled}
    joined = torch.unique(torch.cat([states[b] for b in split.sampled], 1), dim=0)  # (U, n_X) distinct states
    cols = np.cumsum([0] + [states[b].shape[1] for b in split.sampled])
    distinct = {b: joined[:, cols[i]:cols[i + 1]] for i, b in enumerate(split.sampled)}
    return float(torch.logsumexp(model.clamped_log_marginal(distinct), 0))


def graph_log_likelihood(model: torch.nn.Module, data: Any, *, runs: int = 100,
                         betas: Tensor | str | int = "salakhutdinov_murray", base_data: Any = None, seed: int = 0,
                         mean_field_steps: int = 50, bound_samples: int = 0, progress: bool | None = None,
                         ess_fraction: float | None = AIS_ESS_FRACTION) -> GraphLikelihood:
    """log p(observed | inputs) of a compiled graph: -F(data) - log Ẑ when every latent block sums
    out (``free_energy``), else a lower bound (:func:`graph_log_likelihood_bound`: the variational
    one, or with ``bound_samples=K`` the importance-weighted one); log Ẑ by :func:`graph_ais` (per
    distinct input row for a conditional graph; base rates from ``base_data``, default ``data``,
    the latent blocks' from its mean-field posterior).

    >>> import torch, graphdgm as gd
    >>> from graphdgm.infer.enumeration import exact_log_likelihood
    >>> rbm = gd.compile(gd.DBM([6, 3], init_std=0.5))
    >>> v = torch.bernoulli(torch.full((20, 6), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> r = graph_log_likelihood(rbm, v, runs=100, betas=500)
    >>> abs(r.log_likelihood - float(exact_log_likelihood(rbm, v).mean())) < 0.05, r.is_bound
    (True, False)
    """
    xs = _data_blocks(model, data, "log-likelihood data")
    inputs = {b: x for b, x in xs.items() if model.roles[b] == "input"}
    observed = {b: x for b, x in xs.items() if model.roles[b] == "observed"}
    base = observed if base_data is None else base_data
    if inputs:  # one AIS row per distinct input configuration
        joined = torch.cat([inputs[b] for b in sorted(inputs)], 1)
        uniq, which = torch.unique(joined, dim=0, return_inverse=True)
        cols = np.cumsum([0] + [inputs[b].shape[1] for b in sorted(inputs)])
        rows = {b: uniq[:, cols[i]:cols[i + 1]] for i, b in enumerate(sorted(inputs))}
        ais = graph_ais(model, runs, betas, inputs=rows, base_data=base, seed=seed, progress=progress, ess_fraction=ess_fraction)
        log_z = ais.log_z[which]
    else:
        ais = graph_ais(model, runs, betas, base_data=base, seed=seed, progress=progress, ess_fraction=ess_fraction)
        log_z = ais.log_z
    floor = None if inputs else log_z_floor(model, xs, ais.split, seed)
    if floor is not None and float(log_z) < floor:
        warnings.warn(f"AIS log Z = {float(log_z):.2f} lies below an exact lower bound on log Z ({floor:.2f}: p* summed "
                      f"over the states of {list(ais.split.sampled)} that the data suggest), so the estimate is too low and "
                      "the log-likelihood too high. Use more temperatures (betas) and runs, or base_data for the base",
                      ConvergenceWarning, stacklevel=2)
    exact_f = "free_energy" in model.capabilities
    with torch.no_grad():
        per = (model.clamped_log_marginal(xs) - log_z) if exact_f else \
            graph_log_likelihood_bound(model, xs, log_z, mean_field_steps=mean_field_steps, samples=bound_samples, seed=seed)
    return GraphLikelihood(float(per.mean()), per.detach(), not exact_f, ais, floor)


# ------------------------------------------------------------------ backend
class GraphAIS:
    """``gd.log_partition(model, backend="graph_ais")``: log Z of a compiled graph by
    :func:`graph_ais`; evidence may give only the input blocks (all of them), giving log Z(u).

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.DBM([5, 4, 3], init_std=0.5))
    >>> lz = gd.log_partition(model, backend=GraphAIS(runs=100, betas=500))
    >>> abs(float(lz) - float(gd.log_partition(model))) < 0.05
    True
    """

    diagnostics = PerThread()  # each thread reads its own latest run's checks
    last_result = PerThread()

    name = "graph_ais"
    requires = frozenset({"energy", "blocks"})
    approximate = True

    def __init__(self, runs: int = 100, betas: Tensor | str | int = "salakhutdinov_murray", *, base_data: Any = None,
                 seed: int = 0, progress: bool | None = None, ess_fraction: float | None = AIS_ESS_FRACTION) -> None:
        self.runs = check_count("GraphAIS", "runs", runs)
        self.betas = ais_betas(betas)  # validated now; reused for every call
        self.base_data, self.seed, self.progress = base_data, check_count("GraphAIS", "seed", seed, minimum=0), progress
        self.ess_fraction = check_threshold("GraphAIS", "ess_fraction", ess_fraction, 0.0, 1.0)
        self.last_result: GraphAISResult | None = None
        self.diagnostics: Diagnostics | None = None

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, Any]) -> Tensor:
        """log Z estimated by the graph's AIS (evidence on input blocks only: log Z given the inputs);
        keeps the run in ``last_result`` and ``diagnostics``.
        """
        split = ais_split(model)
        ranges = {b: model.ranges[b] for b in split.inputs}
        others = sorted(i for i in evidence if not any(a <= i < e for a, e in ranges.values()))
        if others:
            raise CapabilityError(f"graph AIS estimates log Z (given the input blocks only); evidence on "
                                  f"{[model.variables[i] for i in others]} is not supported: use backend='ais' or 'exact'")
        inputs = None
        if split.inputs:
            inputs = {b: torch.tensor([[float(evidence[i]) for i in range(a, e)]], dtype=model.dtype) for b, (a, e) in ranges.items()}
        r = graph_ais(model, self.runs, self.betas, inputs=inputs, base_data=self.base_data, seed=self.seed,
                      progress=self.progress, ess_fraction=self.ess_fraction)
        self.last_result, self.diagnostics = r, r.diagnostics
        return r.log_z[0] if r.log_z.dim() else r.log_z


__all__ = ["AISSplit", "GraphAIS", "GraphAISResult", "GraphLikelihood", "ais_betas", "ais_split", "base_biases", "row_ess",
           "graph_ais", "graph_log_likelihood", "graph_log_likelihood_bound", "log_z_floor", "mean_field_posterior",
           "salakhutdinov_murray_betas"]
