"""Data-parallel training: two gloo ranks, each a half of every batch, gradients all-reduced."""
from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import graphdgm as gd
from conftest import exit_worker, init_gloo
from graphdgm.learn import ContrastiveDivergence


def _data() -> torch.Tensor:
    return torch.bernoulli(torch.full((32, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(0))


def _worker(rank: int, world: int, out_dir: str) -> None:
    init_gloo(rank, world, out_dir)
    try:
        torch.set_num_threads(1)
        model = gd.compile(gd.RBM(6, 4))
        gd.fit(model, _data(), method="cd", epochs=1, batch_size=16, lr=0.1, weight_decay=0.0, progress=False,
               monitor_size=0, distributed=True)
        torch.save({k: v.detach() for k, v in model.state_dict().items()}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_two_ranks_take_the_averaged_gradient_step(tmp_path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    s0, s1 = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    for k in s0:
        assert torch.equal(s0[k], s1[k]), f"{k} differs between ranks"
    # the same step by hand: each rank's CD-1 gradient on its half of the one global batch, averaged
    x = _data()
    model = gd.compile(gd.RBM(6, 4)).init_visible_bias(x)
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(0))
    grads = []
    for rank in (0, 1):
        model.zero_grad()
        ContrastiveDivergence(model, 1, seed=1000 * rank).loss(x[perm[rank::2]]).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for n in start:
        expected = start[n] - 0.1 * (grads[0][n] + grads[1][n]) / 2
        assert torch.allclose(s0[n], expected, atol=1e-12), n


def test_distributed_training_without_a_process_group_is_a_clear_error() -> None:
    with pytest.raises(gd.GraphdgmError, match="init_process_group"):
        gd.fit(gd.compile(gd.RBM(4, 2)), torch.zeros(8, 4), distributed=True, progress=False)


def _mle_worker(rank: int, world: int, out_dir: str) -> None:
    init_gloo(rank, world, out_dir)
    try:
        torch.set_num_threads(1)
        model = gd.compile(gd.MADE(6, hidden=[8]), dtype=torch.float64)
        gd.fit(model, _data(), method="mle", epochs=1, batch_size=16, lr=0.01, optimizer="sgd", progress=False,
               distributed=True)
        torch.save({k: v.detach() for k, v in model.state_dict().items()}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_two_ranks_maximum_likelihood_step_is_the_averaged_gradient(tmp_path) -> None:
    mp.spawn(_mle_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    s0, s1 = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    for k in s0:
        assert torch.equal(s0[k], s1[k]), f"{k} differs between ranks"
    x = _data()
    model = gd.compile(gd.MADE(6, hidden=[8]), dtype=torch.float64)
    model.init_visible_bias(x)
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(0))
    model.zero_grad()
    (-model.log_prob(x[perm]).mean()).backward()  # the mean over equal halves = the mean of the halves' means
    for n, p in model.named_parameters():
        assert torch.allclose(s0[n], start[n] - 0.01 * p.grad, atol=1e-12), n
