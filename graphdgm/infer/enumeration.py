"""Exact sums over a compiled graph's free blocks: enumerate a few, sum the rest out analytically.

Given values for some blocks (data, inputs), log Σ exp(log_potential) over the other blocks is
computed by choosing the cheapest set E of free blocks to enumerate such that every other free
block sums out in closed form given E (its unit's log-normaliser; see
:meth:`graphdgm.compiler.graph.CompiledGraph.summable`) and no two of those share an edge. For an
RBM this enumerates the smaller layer and sums out the other; for a three-layer DBM it enumerates
the middle layer; Gaussian blocks are always integrated, never enumerated. The joint states of E
are visited in chunks, each chunk one batched call, so memory stays bounded.

>>> import torch, graphdgm as gd
>>> model = gd.compile(gd.DBM([4, 3, 2], init_std=0.5))
>>> v = torch.tensor([[0., 1., 1., 0.]], dtype=torch.float64)
>>> ll = exact_log_likelihood(model, v)
>>> bool(torch.isclose(ll, -exact_free_energy(model, v) - exact_log_partition(model)).all())
True
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import torch

from graphdgm.errors import CapabilityError, InferenceError, SpecError

MAX_ENUMERATED_BITS = 26.0  # 2^26 joint states of the enumerated blocks at most
_CHUNK_ELEMENTS = 2**22  # rows x variables per batched call


def enumeration_plan(model: torch.nn.Module, clamped: set[str]) -> tuple[list[str], list[str]]:
    """``(enumerated, summed)``: the free blocks to enumerate and those summed out analytically,
    choosing the fewest enumerated states (in log2) over all valid splits."""
    free = [b for b in model.block_names if b not in clamped]
    if len(free) > 16:
        raise CapabilityError(f"exact enumeration chooses among the free blocks' subsets; {len(free)} free blocks is too many")
    adj = model.spec.block_adjacency()
    best: tuple[float, list[str], list[str]] | None = None
    for r in range(len(free) + 1):
        for enum in itertools.combinations(free, r):
            rest = [b for b in free if b not in enum]
            if any(not model.summable(b) for b in rest):
                continue
            if any(adj[a] & (set(rest) - {a}) for a in rest):
                continue
            if any(not model.units[b].discrete for b in enum):
                continue
            bits = sum((model.ranges[b][1] - model.ranges[b][0]) * math.log2(model.units[b].cardinality) for b in enum)
            if best is None or bits < best[0]:
                best = (bits, list(enum), rest)
    if best is None:
        raise CapabilityError("no exact split of this graph's free blocks: a Gaussian block has internal edges or factor tables")
    return best[1], best[2]


def log_sum_over_free(model: torch.nn.Module, clamped: dict[str, torch.Tensor], *,
                      max_bits: float = MAX_ENUMERATED_BITS) -> torch.Tensor:
    """log Σ_{free blocks} exp(log_potential) (B,), the blocks in ``clamped`` ({block: (B, n_b)})
    fixed; B = 1 when nothing is clamped."""
    enum, _ = enumeration_plan(model, set(clamped))
    bits = sum((model.ranges[b][1] - model.ranges[b][0]) * math.log2(model.units[b].cardinality) for b in enum)
    if bits > max_bits:
        sizes = {b: model.ranges[b][1] - model.ranges[b][0] for b in enum}
        raise InferenceError(f"exact enumeration would visit 2^{bits:.0f} joint states of blocks {sizes} (limit 2^{max_bits:.0f}); "
                             "use backend='ais' for log Z, or a smaller model")
    dev, dtype = model.values.device, model.dtype
    B = next(iter(clamped.values())).shape[0] if clamped else 1
    cards = torch.cat([torch.full((model.ranges[b][1] - model.ranges[b][0],), model.units[b].cardinality, dtype=torch.long)
                       for b in enum]) if enum else torch.zeros(0, dtype=torch.long)
    total_states = int(torch.prod(cards.to(torch.float64)).item()) if enum else 1
    strides = torch.ones(len(cards), dtype=torch.long)
    for i in range(len(cards) - 2, -1, -1):
        strides[i] = strides[i + 1] * cards[i + 1]
    chunk = max(1, _CHUNK_ELEMENTS // max(B * model.num_variables, 1))
    out = torch.full((B,), -math.inf, dtype=dtype, device=dev)
    for start in range(0, total_states, chunk):  # a loop over chunks of joint states, each one batched call
        ids = torch.arange(start, min(start + chunk, total_states))
        states = ((ids[:, None] // strides) % cards).to(dtype).to(dev) if enum else torch.zeros(len(ids), 0, dtype=dtype, device=dev)
        S = len(ids)
        xs = {b: x.repeat_interleave(S, 0) for b, x in clamped.items()}
        col = 0
        for b in enum:
            n = model.ranges[b][1] - model.ranges[b][0]
            xs[b] = states[:, col: col + n].repeat(B, 1)
            col += n
        lp = model.clamped_log_marginal(xs, batch=B * S)
        out = torch.logaddexp(out, torch.logsumexp(lp.view(B, S), 1))
    return out


def _clamp(model: torch.nn.Module, data: Any, roles: tuple[str, ...], what: str) -> dict[str, torch.Tensor]:
    if data is None:
        return {}
    xs = model.given(data, what=what, roles=roles)
    wanted = [b for b in model.block_names if model.roles[b] in roles]
    missing = [b for b in wanted if b not in xs]
    if missing:
        raise SpecError(f"{what} needs values for blocks {missing}")
    return {b: xs[b] for b in wanted}


def exact_log_partition(model: torch.nn.Module, inputs: Any = None) -> torch.Tensor:
    """log Z by enumeration (0-d), or log Z(u) per row (B,) for a graph with input blocks, whose
    values ``inputs`` gives (a tensor for one input block, else a dict by name)."""
    needs = [b for b in model.block_names if model.roles[b] == "input"]
    if needs and inputs is None:
        raise SpecError(f"this graph is conditional on its input blocks {needs}: log Z depends on them; pass inputs=")
    clamped = _clamp(model, inputs, ("input",), "inputs") if needs else {}
    out = log_sum_over_free(model, clamped)
    return out if needs else out[0]


def exact_free_energy(model: torch.nn.Module, data: Any) -> torch.Tensor:
    """F(data) = -log Σ_latent exp(log_potential) (B,) by enumeration where needed, given the
    observed and input blocks (a tensor for a single one, else a dict by name)."""
    return -log_sum_over_free(model, _clamp(model, data, ("observed", "input"), "free-energy data"))


def exact_log_likelihood(model: torch.nn.Module, data: Any) -> torch.Tensor:
    """log p(observed | inputs) per row (B,): -F - log Z, both exact."""
    xs = _clamp(model, data, ("observed", "input"), "log-likelihood data")
    inputs = {b: x for b, x in xs.items() if model.roles[b] == "input"}
    log_z = log_sum_over_free(model, inputs)
    return log_sum_over_free(model, xs) - (log_z if inputs else log_z[0])


__all__ = ["enumeration_plan", "exact_free_energy", "exact_log_likelihood", "exact_log_partition", "log_sum_over_free"]
