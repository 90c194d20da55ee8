"""Greedy layer-wise pre-training of a deep Boltzmann machine (Salakhutdinov and Hinton, 2009).

In a DBM every hidden layer but the top gets input from the layer below *and* the layer above,
while the RBMs of a stack see one side only. So the stack is trained with the missing input
made up by doubling:

- the bottom RBM (v - h1) has two tied copies of v: p(h1 | v) = σ(2 W₁ᵀ v + b), p(v | h1) = σ(W₁ h1 + c);
- the top RBM (h_{L-1} - h_L) has two tied copies of h_L: p(h_{L-1} | h_L) = σ(2 W_L h_L + c);
- the RBMs between are ordinary, and their weights are halved when composed into the DBM
  (Salakhutdinov and Hinton, 2012); the bottom and top weights are used as trained.

Each layer is a two-block :class:`~graphdgm.Graph` (the doubled block has twice the units and
its two halves are tied: their gradients are summed and both take the same step), compiled and
trained with the same CD/PCD code as any graph (:func:`~graphdgm.learn.fit_contrastive`); the
next layer trains on samples of this one's hidden units given its data. A hidden layer's DBM bias
is the mean of its bias as the upper layer of one RBM and as the lower layer of the next (the
top layer's and the visible layer's come from one RBM each).

The layers are found structurally: one observed block and a chain of latent blocks, consecutive
blocks joined by exactly one dense edge, nothing else.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.graph.graph import Graph
from graphdgm.graph.patterns import Dense
from graphdgm.graph.units import Gaussian, Unit
from graphdgm.learn.contrastive_training import as_training_data, fit_contrastive
from graphdgm.learn.graph_contrastive import is_compiled_graph
from graphdgm.learn.history import History
from graphdgm.runtime.random import make_generator
from graphdgm.spec.validate import positive_float, positive_int


def layer_chain(model: torch.nn.Module) -> tuple[list[str], list[tuple[Any, bool]]]:
    """``(blocks, edges)`` of a layered graph: its blocks bottom-up (the observed block first) and,
    per consecutive pair, the dense operator joining them and whether it is stored top-down
    (``op.a`` the upper block). A :class:`CapabilityError` says what breaks the chain.

    >>> import graphdgm as gd
    >>> blocks, edges = layer_chain(gd.compile(gd.DBM([5, 4, 3])))
    >>> blocks, [(op.name, flipped) for op, flipped in edges]
    (['v', 'h1', 'h2'], [('W_v_h1', False), ('W_h1_h2', False)])
    """
    if not is_compiled_graph(model):
        raise CapabilityError(f"DBM pre-training needs a compiled graph (gd.compile(gd.DBM([...]))); got a {type(model).__name__}")
    why = None
    observed = [b for b in model.block_names if model.roles[b] == "observed"]
    if len(model.groups):
        why = "it has pairs / grid / table factors"
    elif any(model.roles[b] == "input" for b in model.block_names):
        why = "it has input blocks"
    elif len(observed) != 1:
        why = f"it has {len(observed)} observed blocks {observed}, not one"
    elif any(op.lateral for op in model.dense):
        why = "it has lateral (within-block) edges"
    if why is None:
        chain, edges = [observed[0]], []
        while True:
            here = chain[-1]
            ops = [op for op in model.dense if here in (op.a, op.b) and (op.b if op.a == here else op.a) not in chain]
            if not ops:
                break
            nxt = {op.b if op.a == here else op.a for op in ops}
            if len(nxt) > 1 or len(ops) > 1:
                why = f"block {here!r} joins {sorted(nxt)} by {len(ops)} edges; a layer chain has one edge to the next layer"
                break
            op = ops[0]
            chain.append(op.b if op.a == here else op.a)
            edges.append((op, op.a != here))
        if why is None and len(chain) != len(model.block_names):
            why = f"blocks {[b for b in model.block_names if b not in chain]} are not on the chain from {observed[0]!r}"
        if why is None and len(model.dense) != len(edges):
            why = "some pair of layers is joined by more than one edge, or a layer skips one"
        if why is None and len(chain) < 2:
            why = "it has no latent layer"
    if why is not None:
        raise CapabilityError(f"DBM pre-training needs a layered graph (an observed block, then latent blocks each joined "
                              f"to the next by one dense edge); this one is not: {why}")
    return chain, edges


def _doubled(unit: Unit) -> Unit:
    """The unit of a block of two tied copies (a per-unit σ repeats)."""
    if isinstance(unit, Gaussian) and isinstance(unit.sigma, tuple):
        return Gaussian(list(unit.sigma) * 2)
    return unit


def _tie_halves(p: torch.Tensor, dim: int) -> None:
    """Two tied copies stored side by side along ``dim``: each half's gradient becomes their sum."""
    def tie(g: torch.Tensor) -> torch.Tensor:
        a, b = g.chunk(2, dim)
        return torch.cat([a + b, a + b], dim)

    p.register_hook(tie)


def _layer_model(model: torch.nn.Module, lower: str, upper: str, double: str | None, init_std: float,
                 seed: int) -> torch.nn.Module:
    """A two-block graph ``x`` (lower layer) - ``y`` (upper, latent) with ``double`` ("x", "y" or
    None) made of two tied copies, compiled like ``model``."""
    from graphdgm.compiler.compile import compile as compile_graph

    ul, uu = model.units[lower], model.units[upper]
    nl, nu = model.ranges[lower][1] - model.ranges[lower][0], model.ranges[upper][1] - model.ranges[upper][0]
    g = make_generator(seed)
    w = init_std * torch.randn(nl * ul.width, nu * uu.width, generator=g, dtype=torch.float64)
    if double == "x":
        w = torch.cat([w, w], 0)
    elif double == "y":
        w = torch.cat([w, w], 1)
    graph = Graph(f"dbm layer {lower}-{upper}")
    graph.block("x", nl * (2 if double == "x" else 1), _doubled(ul) if double == "x" else ul)
    graph.block("y", nu * (2 if double == "y" else 1), _doubled(uu) if double == "y" else uu, role="latent")
    graph.connect("x", "y", Dense(w.numpy()))
    rbm = compile_graph(graph, device=model.values.device, dtype=model.dtype)
    if double is not None:
        _tie_halves(rbm.dense[0].weight, 0 if double == "x" else 1)
        bias = rbm.bias_of(double)
        if bias is not None:
            _tie_halves(bias, 0)
    return rbm


def _half(t: torch.Tensor, doubled: bool, dim: int = 0) -> torch.Tensor:
    return t.chunk(2, dim)[0] if doubled else t


def pretrain_dbm(model: torch.nn.Module, data: Any, *, epochs: int | Sequence[int] = 10, persistent: bool = False,
                 init_std: float = 0.01, seed: int = 0, **options: Any) -> list[History]:
    """Pre-train a compiled DBM (or any layered graph, see :func:`layer_chain`) greedily, bottom
    up, with the doubling trick of the module docstring, and write the weights and biases into
    its dense edges and blocks. ``epochs`` is one number or one per layer; each layer trains by
    CD-k (``persistent=False``, as in the paper: the doubled RBMs learn near-deterministic
    couplings between the copies, which few persistent chains follow badly) or PCD; other
    ``options`` (``lr``, ``batch_size``, ``k``, ``chains``, ``momentum``, ...) go to
    :func:`~graphdgm.learn.fit_contrastive` for every layer. Weights start as N(0, ``init_std``²).
    Returns the layers' histories.

    >>> import torch, graphdgm as gd
    >>> dbm = gd.compile(gd.DBM([6, 4, 3]))
    >>> x = torch.bernoulli(torch.full((64, 6), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    >>> [len(h) for h in pretrain_dbm(dbm, x, epochs=2, batch_size=16, progress=False)]
    [2, 2]
    """
    chain, edges = layer_chain(model)
    L = len(edges)
    if isinstance(epochs, (list, tuple)):
        per_layer = [positive_int(e, f"epochs[{i}]") for i, e in enumerate(epochs)]
    else:
        per_layer = [positive_int(epochs, "epochs")] * L
    if len(per_layer) != L:
        raise SpecError(f"epochs has {len(per_layer)} entries for {L} layers ({chain}); give one number or one per layer")
    init_std = positive_float(init_std, "init_std", allow_zero=True)
    x = as_training_data(model, data)  # (N, n_v)
    g = make_generator(int(seed) + 99, x.device)
    histories, trained = [], []
    for layer, ((lower, upper), ep) in enumerate(zip(zip(chain[:-1], chain[1:]), per_layer)):  # a loop over layers
        double = None if L == 1 else "x" if layer == 0 else "y" if layer == L - 1 else None
        rbm = _layer_model(model, lower, upper, double, init_std, seed + layer)
        xd = torch.cat([x, x], 1) if double == "x" else x
        histories.append(fit_contrastive(rbm, xd, epochs=ep, persistent=persistent, seed=seed + layer, **options))
        trained.append((rbm, double))
        if layer + 1 < L:
            with torch.no_grad():
                x = torch.cat([rbm.sample_units("y", rbm.field("y", {"x": chunk}), g) for chunk in xd.split(10000)])
    _compose(model, chain, edges, trained)
    return histories


@torch.no_grad()
def _compose(model: torch.nn.Module, chain: list[str], edges: list[tuple[Any, bool]], trained: list) -> None:
    """Write the trained layers into the DBM: weights (halved for middle layers), biases averaged."""
    L = len(edges)
    for layer, ((op, flipped), (rbm, double)) in enumerate(zip(edges, trained)):  # a loop over layers
        w = rbm.dense[0].weight
        w = _half(w, double == "x", 0)
        w = _half(w, double == "y", 1)
        if double is None and L > 1:
            w = w / 2
        op.weight.copy_(w.t() if flipped else w)
    for i, block in enumerate(chain):  # a loop over layers
        bias = model.bias_of(block)
        if bias is None:
            continue
        parts = []
        if i > 0:  # the upper block of RBM i-1
            rbm, double = trained[i - 1]
            if rbm.bias_of("y") is not None:
                parts.append(_half(rbm.bias_of("y"), double == "y"))
        if i < L:  # the lower block of RBM i
            rbm, double = trained[i]
            if rbm.bias_of("x") is not None:
                parts.append(_half(rbm.bias_of("x"), double == "x"))
        if parts:
            bias.copy_(torch.stack(parts).mean(0).reshape(bias.shape))


__all__ = ["layer_chain", "pretrain_dbm"]
