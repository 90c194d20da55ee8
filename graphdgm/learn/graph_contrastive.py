"""CD-k and PCD with latent blocks on any compiled graph (a DBM, SRBM, CRBM, Gaussian RBM, ...).

Training is stated as *which blocks are clamped in which phase*:

- **Positive phase**: the data clamps the observed and input blocks. Of the latent blocks, a set
  R that sums out in closed form given the rest (each block's units independent given its
  neighbours, no two of R adjacent) is summed out of the free energy; the others, A, are handled
  by the ``positive`` option: ``"mean_field"`` (default: fixed-point iterations of a factorised q
  over all latent blocks, then A's mean features stand in for its states), ``"gibbs"`` (A sampled
  with the data clamped) or ``"exact"`` (A enumerated: the exact posterior expectation, tiny
  models only). R and A come from :func:`graphdgm.infer.enumeration.enumeration_plan`: for an RBM,
  SRBM, CRBM or Gaussian RBM A is empty (the positive phase is exact); for a three-layer DBM one
  hidden layer is summed out and the other is mean-field-updated.
- **Negative phase**: chains over every non-input block, block Gibbs through the model's sampler
  blocks (:attr:`CompiledGraph.blocks`) in batch-first form (one matrix product per dense edge
  per block); CD-k starts them from the batch, PCD keeps them between updates. Input blocks stay
  clamped to the batch's inputs, so a conditional model (a CRBM) trains by CD-k: persistent chains
  cannot follow a different input per batch.

The surrogate loss is ``mean F_R(positive) - mean F_R(negative)`` with the same R, where F_R is
minus the log-potential with R summed out. At the mean-field fixed point μ the gradient of
F_R(v, μ) (μ held fixed) equals the usual mean-field gradient E_q[∂ log φ]: the summed blocks'
posterior means given μ are their fixed-point means.
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.enumeration import enumeration_plan, log_sum_over_free
from graphdgm.learn.examples import example_matrix
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_float, positive_int

POSITIVE_PHASES = ("mean_field", "gibbs", "exact")


def is_compiled_graph(model: Any) -> bool:
    """True for a model with the compiled graph's block interface (split, join, clamped sums)."""
    return all(hasattr(model, a) for a in ("split", "join", "clamped_log_marginal", "ranges", "roles"))


def trains_by_blocks(model: Any) -> bool:
    """True when CD trains ``model`` through :class:`GraphChains`: a compiled graph with latent or
    input blocks, or one of dense edges only (a graph of pairs / table factors with every block
    observed is a Markov network, trained on its full states). A graph that offers its own layer
    conditionals (``free_energy_and_logits`` and ``gibbs``: a two-layer graph, the RBM) keeps that
    path, whose gradient is closed-form and whose first product CD shares with its first sweep."""
    if not is_compiled_graph(model) or (hasattr(model, "free_energy_and_logits") and hasattr(model, "gibbs")):
        return False
    return bool({"latent", "inputs"} & set(model.capabilities)) or not len(model.groups)


def clamped_blocks(model: torch.nn.Module) -> list[str]:
    """The blocks data clamps: the observed and input blocks, in block order."""
    return [b for b in model.block_names if model.roles[b] in ("observed", "input")]


def graph_training_data(model: torch.nn.Module, data: Any, what: str = "training data") -> torch.Tensor:
    """Data for a compiled graph (a tensor for its single observed/input block, else a dict by
    block name, one entry per observed and input block) packed as (N, m): the clamped blocks'
    columns side by side in block order, validated against each block's unit.

    >>> import torch, graphdgm as gd
    >>> crbm = gd.compile(gd.CRBM(2, 3, 2))
    >>> graph_training_data(crbm, {"u": torch.ones(4, 2), "v": torch.zeros(4, 3)}).shape
    torch.Size([4, 5])
    """
    wanted = clamped_blocks(model)
    if not isinstance(data, dict):
        if len(wanted) != 1:
            raise SpecError(f"{what}: this graph has {len(wanted)} observed/input blocks {wanted}; give a dict "
                            f"{{block name: tensor}} with one entry for each")
        data = {wanted[0]: data}
    latent = [b for b in data if b in model.roles and model.roles[b] == "latent"]
    if latent:
        raise SpecError(f"{what}: blocks {latent} are latent (never observed); give data only for {wanted}")
    missing = [b for b in wanted if b not in data]
    if missing:
        raise SpecError(f"{what} needs an entry for every observed and input block; missing {missing} (blocks "
                        f"{wanted})")
    checked = {}
    for b in wanted:
        n = model.ranges[b][1] - model.ranges[b][0]
        checked[b] = example_matrix(data[b], n, f"{what} for block {b!r}", "(examples, units)",
                                    f"block {b!r} needs (examples, {n}), one column per unit")
    xs = model.given(checked, what=what)
    return torch.cat([xs[b] for b in wanted], 1)  # (N, m)


class GraphChains:
    """Positive and negative phases of CD/PCD on a :class:`~graphdgm.compiler.graph.CompiledGraph`.

    Batches are packed clamped rows (B, m) (see :func:`graph_training_data`); chains are packed
    full states (C, n). ``positive``: how latent blocks that do not sum out are handled (see the
    module docstring); ``mean_field_steps``: the fixed-point iterations (or the clamped Gibbs
    sweeps for ``positive="gibbs"``); ``damping``: the weight of the old means in the update of a
    latent block with internal edges (blocks without them take the exact coordinate-ascent step,
    which never oscillates).

    >>> import torch, graphdgm as gd
    >>> dbm = gd.compile(gd.DBM([4, 3, 2], init_std=0.5))
    >>> ph = GraphChains(dbm)
    >>> ph.summed, ph.approximated
    (['h1'], ['h2'])
    >>> x = torch.bernoulli(torch.full((5, 4), 0.5, dtype=torch.float64))
    >>> ph.data_free_energy(x)[0].shape
    torch.Size([5])
    """

    def __init__(self, model: torch.nn.Module, *, positive: str = "mean_field", mean_field_steps: int = 10,
                 damping: float = 0.5, generator: torch.Generator | None = None) -> None:
        if positive not in POSITIVE_PHASES:
            raise SpecError(f"positive={positive!r} is unknown; use one of {POSITIVE_PHASES}")
        if len(model.groups):
            raise CapabilityError("contrastive divergence with latent or input blocks runs on dense edges; this graph also has "
                                  "pairs / grid / table factors. Declare the couplings as gd.Dense() edges, or train a fully "
                                  "observed Markov network without latent or input blocks")
        self.model, self.positive = model, positive
        self.generator = generator if generator is not None else make_generator(0, model.values.device)
        self.mean_field_steps = positive_int(mean_field_steps, "mean_field_steps")
        self.damping = positive_float(damping, "damping", allow_zero=True)
        if self.damping >= 1:
            raise SpecError(f"damping must lie in [0, 1), got {damping!r}")
        self.clamped = clamped_blocks(model)
        self.inputs = [b for b in model.block_names if model.roles[b] == "input"]
        self.latent = [b for b in model.block_names if model.roles[b] == "latent"]
        approximated, summed = enumeration_plan(model, set(self.clamped))
        self.approximated, self.summed = approximated, summed
        self.internal = {b for b in model.block_names if b in model.neighbours(b)}
        self._steps = self._sampler_steps()

    # ------------------------------------------------------------ structure
    def _sampler_steps(self) -> list[tuple[str, torch.Tensor | None, torch.Tensor | None]]:
        """Per sampler block: (declared block, local unit rows, feature rows); rows None = whole block."""
        model = self.model
        out = []
        for idx in model.blocks:
            first = int(idx[0])
            name = next(b for b, (lo, hi) in model.ranges.items() if lo <= first < hi)
            lo, hi = model.ranges[name]
            if len(idx) == hi - lo:
                out.append((name, None, None))
                continue
            rows = (idx - lo).to(model.values.device)
            w = model.units[name].width
            feat = (rows[:, None] * w + torch.arange(w, device=rows.device)).reshape(-1)  # (m w,)
            out.append((name, rows, feat))
        return out

    def split_batch(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Packed clamped rows (B, m) -> {clamped block: (B, n_b)}."""
        out, col = {}, 0
        for b in self.clamped:
            n = self.model.ranges[b][1] - self.model.ranges[b][0]
            out[b] = batch[:, col: col + n]
            col += n
        return out

    # --------------------------------------------------------------- energy
    def relaxed_log_marginal(self, states: dict[str, torch.Tensor], means: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """log-potential with the summed blocks R summed out (B,), the other blocks given as states
        or (discrete blocks only) as mean features ``means``, whose own term is linear in them."""
        model, means = self.model, means or {}
        B = next(iter(states.values())).shape[0]
        feats = {b: model.features(b, x) for b, x in states.items()}
        feats.update(means)
        total = torch.zeros(B, dtype=model.dtype, device=model.values.device)
        for b, x in states.items():  # a loop over blocks
            if model.bias_of(b) is not None:
                total = total + model.own(b, x)
        for b, m in means.items():
            if model.bias_of(b) is not None:
                total = total + m @ model.bias_of(b)
        for op in model.dense:  # one product per edge
            if op.a in feats and op.b in feats:
                total = total + op.log_potential(feats[op.a], feats[op.b])
        for r in self.summed:
            total = total + model.log_normaliser(r, model.field(r, {}, features=feats, batch=B))
        return total

    def data_free_energy(self, batch: torch.Tensor) -> tuple[torch.Tensor, None]:
        """F_R of the batch (B,), latent blocks in A handled by the positive-phase option."""
        xs = self.split_batch(batch)
        if not self.approximated:
            return -self.relaxed_log_marginal(xs), None
        if self.positive == "exact":
            return -log_sum_over_free(self.model, xs), None
        if self.positive == "gibbs":
            with torch.no_grad():
                states = self.start(xs, self.generator)
                free = set(self.latent)
                for _ in range(self.mean_field_steps):  # a loop over sweeps
                    self.sweep(states, free, self.generator)
            return -self.relaxed_log_marginal({b: states[b] for b in (*self.clamped, *self.approximated)}), None
        means = self.mean_field(xs)
        return -self.relaxed_log_marginal(xs, {b: means[b] for b in self.approximated}), None

    def free_energy(self, chains: torch.Tensor) -> torch.Tensor:
        """F_R of packed chain states (C, n) (B,): the summed blocks R summed out."""
        xs = self.model.split(chains)
        return -self.relaxed_log_marginal({b: x for b, x in xs.items() if b not in self.summed})

    # ----------------------------------------------------------- mean field
    @torch.no_grad()
    def mean_field(self, xs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fixed-point mean features of every latent block given the clamped ``xs``: a bottom-up
        start (each block from its already known neighbours), then ``mean_field_steps`` sweeps of
        block updates (damped for blocks with internal edges)."""
        model = self.model
        B = next(iter(xs.values())).shape[0]
        feats = {b: model.features(b, x) for b, x in xs.items()}
        for _ in range(self.mean_field_steps + 1):  # a loop over fixed-point sweeps
            for b in self.latent:
                known = {c: f for c, f in feats.items() if c != b or b in self.internal}
                new = model.mean_features(b, self._field(b, known, B))
                if b in feats and b in self.internal:
                    new = self.damping * feats[b] + (1 - self.damping) * new
                feats[b] = new
        return {b: feats[b] for b in self.latent}

    def _field(self, block: str, feats: dict[str, torch.Tensor], B: int) -> torch.Tensor:
        """Dense input to ``block`` from the neighbours present in ``feats`` (B, n_b w_b)."""
        model = self.model
        out = None
        for op in model.dense:
            if block not in (op.a, op.b):
                continue
            other = op.b if op.a == block else op.a
            if other not in feats:
                continue
            m = op.message(feats[other], block)
            out = m if out is None else out + m
        if out is None:
            n = (model.ranges[block][1] - model.ranges[block][0]) * model.units[block].width
            out = torch.zeros(B, n, dtype=model.dtype, device=model.values.device)
        return out

    # ---------------------------------------------------------- block Gibbs
    @torch.no_grad()
    def sweep(self, states: dict[str, torch.Tensor], free: set[str], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One block-Gibbs sweep in place over the sampler blocks inside ``free`` blocks; blocks
        absent from ``states`` are left out of every field (used for a bottom-up start)."""
        model = self.model
        lateral = {op.name: op.matrix() + op.matrix().t() for op in model.dense if op.lateral}
        feats: dict[str, torch.Tensor] = {}
        for name, rows, feat_rows in self._steps:  # a loop over sampler blocks
            if name not in free:
                continue
            field = None
            for op in model.dense:  # the edges into this block: one product each
                if name not in (op.a, op.b):
                    continue
                other = op.b if op.a == name else op.a
                if other not in states:
                    continue
                f = feats.get(other)
                if f is None:
                    f = feats[other] = model.features(other, states[other])  # (C, n_o w_o)
                if op.lateral:
                    W = lateral[op.name] if feat_rows is None else lateral[op.name][:, feat_rows]
                    m = f @ W
                elif op.a == name:
                    m = f @ (op.weight.t() if feat_rows is None else op.weight[feat_rows].t())
                else:
                    m = f @ (op.weight if feat_rows is None else op.weight[:, feat_rows])
                field = m if field is None else field + m
            C = next(iter(states.values())).shape[0]
            unit = model.units[name]
            bias, scale = model.natural_bias(name), model.scale_of(name)
            if rows is not None:
                bias = bias[feat_rows] if unit.discrete else bias[rows]
                scale = None if scale is None else scale[rows]
            if field is None:
                field = torch.zeros(C, bias.shape[0], dtype=model.dtype, device=model.values.device)
            new = unit.sample(field, bias, scale, generator)  # (C, m)
            if rows is None:
                states[name] = new
            else:
                if name not in states:
                    n = model.ranges[name][1] - model.ranges[name][0]
                    states[name] = torch.zeros(C, n, dtype=model.dtype, device=model.values.device)
                states[name][:, rows] = new  # the caller's own copy (start / run clone)
            feats.pop(name, None)
        return states

    @torch.no_grad()
    def start(self, xs: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """States with ``xs`` clamped and every other block drawn bottom-up, each sampler block from
        the neighbours already drawn."""
        states = {b: x.clone() for b, x in xs.items()}
        return self.sweep(states, {b for b in self.model.block_names if b not in xs}, generator)

    def chains_from(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Packed chain states (B, n) started from the batch: its clamped values, the rest drawn."""
        return self.model.join(self.start(self.split_batch(batch), generator))

    def run(self, chains: torch.Tensor, steps: int, generator: torch.Generator, hint: Any = None) -> torch.Tensor:
        """``steps`` sweeps over every non-input block of packed chains (C, n) -> (C, n)."""
        states = {b: x.clone() for b, x in self.model.split(chains).items()}
        free = {b for b in self.model.block_names if self.model.roles[b] != "input"}
        for _ in range(int(steps)):  # a loop over sweeps
            self.sweep(states, free, generator)
        return self.model.join(states)


__all__ = ["GraphChains", "POSITIVE_PHASES", "clamped_blocks", "graph_training_data", "is_compiled_graph", "trains_by_blocks"]
