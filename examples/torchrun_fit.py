"""Data-parallel training with torchrun: an RBM by PCD (the gradient loop) and an HMM by Baum-Welch
(sums over ranks), each rank reading its own shard of the data.

    torchrun --nproc_per_node=2 examples/torchrun_fit.py            # CPU: gloo; GPUs: nccl, one per rank
    torchrun --nproc_per_node=2 examples/torchrun_fit.py --out runs/ddp

Every rank builds the same model (same seed), takes its shard of the data through a
DistributedSampler and calls ``gd.fit`` as a single process would. ``gd.fit`` sees that the ranks
hold different rows and lays them out as each method needs (docs/distributed.md): for PCD it
gathers the shards, so every global batch is split across ranks and the gradients averaged; for
Baum-Welch each rank keeps its sequences and the E-step sums are added over ranks. Both ranks end
with the same parameters, which this script checks and, with ``--out``, writes one file per rank.
Run as a plain script (``python examples/torchrun_fit.py``) it trains on one process.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import graphdgm as gd
from graphdgm.runtime import torch_save_atomic


def bars_and_stripes(n: int, side: int, seed: int) -> torch.Tensor:
    """``n`` binary side x side images, each a random set of full rows or of full columns (n, side²)."""
    g = torch.Generator().manual_seed(seed)
    on = torch.rand(n, side, generator=g) < 0.5  # (n, side): which rows / columns are lit
    rows = on[:, :, None].expand(n, side, side)  # (n, side, side)
    vertical = torch.rand(n, generator=g) < 0.5  # (n,)
    img = torch.where(vertical[:, None, None], rows.transpose(1, 2), rows)
    return img.reshape(n, side * side).to(torch.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--examples", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32, help="rows per rank per step")
    ap.add_argument("--out", type=Path, default=None, help="folder for one parameter file per rank")
    args = ap.parse_args()

    distributed = "WORLD_SIZE" in os.environ or dist.is_initialized()  # set by torchrun
    cuda = torch.cuda.is_available()
    owns_group = distributed and not dist.is_initialized()  # a caller may have started one already
    if owns_group:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)

    # --- an RBM by PCD: mini-batches split across ranks, gradients averaged
    x = bars_and_stripes(args.examples, 4, seed=0)  # the same full data set on every rank ...
    sampler = DistributedSampler(TensorDataset(x), num_replicas=world, rank=rank, shuffle=False) if distributed else None
    loader = DataLoader(TensorDataset(x), batch_size=args.batch_size, sampler=sampler)  # ... of which each reads its shard
    torch.manual_seed(0)  # the same initial weights on every rank (the loop also broadcasts rank 0's)
    rbm = gd.compile(gd.RBM(16, 8), device=device)
    history = gd.fit(rbm, loader, method="pcd", epochs=args.epochs, lr=0.05, seed=0, progress=False)

    # --- an HMM by Baum-Welch: each rank's own sequences, E-step sums added over ranks
    truth = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=1))
    _, sequences = truth.sample(64, 30, seed=0)  # (64, 30) on every rank ...
    hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=2), device=device)  # NCCL sums on the GPU
    em = gd.fit(hmm, sequences[rank::world], method="baum_welch", iterations=10, progress=False)  # ... a shard each

    params = {f"rbm.{k}": v.detach().cpu() for k, v in rbm.state_dict().items()}
    params.update({f"hmm.{k}": v.detach().cpu() for k, v in hmm.state_dict().items()})
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        torch_save_atomic(params, args.out / f"rank{rank}.pt")
    if distributed:  # check: every rank holds rank 0's parameters
        for name, p in params.items():
            ref = p.clone().to(device)
            dist.broadcast(ref, 0)
            if not torch.equal(ref.cpu(), p):
                raise SystemExit(f"rank {rank}: parameter {name} differs from rank 0's")
    if rank == 0:
        print(f"world {world}: RBM pseudo-log-likelihood {history.last['pseudo_log_likelihood']:.4f}, "
              f"HMM log-likelihood {em.last['log_likelihood']:.4f} (all ranks, {len(em) - 1} EM steps); "
              f"parameters identical on every rank")
    if owns_group:
        dist.barrier()  # every rank done before any tears the group down
        dist.destroy_process_group()
        if not cuda:
            # gloo's background threads sometimes abort the interpreter's teardown (SIGABRT, "terminate
            # called without an active exception") after all the work is done: leave without it
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


if __name__ == "__main__":
    main()
