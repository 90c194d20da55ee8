"""Chains across processes: two gloo ranks gather their statistics into one result."""
from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import graphdgm as gd
from conftest import exit_worker, init_gloo
from graphdgm.infer.mcmc import BlockGibbs, sample_chains


def _worker(rank: int, world: int, out_dir: str) -> None:
    init_gloo(rank, world, out_dir)
    try:
        torch.set_num_threads(1)
        model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.2))
        r = sample_chains(model, BlockGibbs(), chains=64, sweeps=300, seed=0, keep=[0], distributed=True)
        torch.save({"counts": r.counts, "chains": r.chains, "samples": r.samples, "rhat": r.rhat}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_two_gloo_ranks_gather_chains(tmp_path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    assert r0["chains"] == 128 and r0["samples"].shape == (300, 128, 1)
    assert torch.equal(r0["counts"], r1["counts"]) and torch.equal(r0["samples"], r1["samples"])
    # the two ranks drew different chains (seed + rank) ...
    assert not torch.equal(r0["samples"][:, :64], r0["samples"][:, 64:])
    # ... and the pooled marginals match exact inference
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.2))
    exact = gd.query(model).tensor()
    got = r0["counts"] / r0["counts"].sum(1, keepdim=True)
    assert float((got - exact).abs().max()) < 0.03
    assert float(r0["rhat"].max()) < 1.05


def test_distributed_without_a_process_group_is_a_clear_error() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    with pytest.raises(gd.SpecError, match="init_process_group"):
        sample_chains(model, BlockGibbs(), chains=2, sweeps=4, distributed=True)
