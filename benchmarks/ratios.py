"""Every headline ratio against its anchor, measured in one run on one machine (about 8 minutes):

- exact marginals of 15x15 and 20x20 Ising grids vs pgmpy's VariableElimination (pgmpy in a child
  process with a budget; where it is stopped, its time is a lower bound and its pace is shown);
- block Gibbs vs a hand-written checkerboard sampler (128x128, 64 chains, float32);
- an RBM CD-1 epoch on MNIST (784x500, batch 100) vs a hand-written torch loop and scikit-learn;
- the same epoch vs the machine's matmul floor: the five matrix products CD-1 needs per batch,
  timed alone on preallocated tensors (no sampling, no sigmoid, no update), printed in this run.

    .venv/bin/python benchmarks/ratios.py [--data ../shared/data] [--pgmpy-budget 60]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import exact_vs_pgmpy  # noqa: E402
import gibbs_throughput  # noqa: E402
import rbm_throughput  # noqa: E402

import graphdgm as gd  # noqa: E402
from graphdgm.data import find_binarized_mnist, load_binarized_mnist  # noqa: E402
from graphdgm.infer.mcmc import BlockGibbs  # noqa: E402

V, H, B = rbm_throughput.V, rbm_throughput.H, rbm_throughput.B


def exact_rows(budget: float) -> list[str]:
    rows = []
    for L in (15, 20):
        cold, warm, result, plan = exact_vs_pgmpy.time_graphdgm(exact_vs_pgmpy.ising(L), "cpu")
        t_pg, answers = exact_vs_pgmpy.time_pgmpy(L, budget)
        done = len(answers)
        if done == L * L:
            rows.append(f"exact {L}x{L} (width {plan.order.width}) | graphdgm {warm:.3f} s warm, {cold:.3f} s cold | "
                        f"pgmpy {t_pg:.1f} s | {t_pg / warm:.0f}x warm, {t_pg / cold:.0f}x cold")
        else:
            pace = f"; at its pace all {L * L} would take ~{budget * L * L / done:.0f} s" if done else ""
            rows.append(f"exact {L}x{L} (width {plan.order.width}) | graphdgm {warm:.3f} s warm, {cold:.3f} s cold | "
                        f"pgmpy >= {budget:.0f} s ({done} of {L * L} queries answered{pace}) | "
                        f">= {budget / warm:.0f}x warm, >= {budget / cold:.0f}x cold")
        if done:
            worst = max(float(np.abs(np.asarray(result[k].probs) - v).max()) for k, v in answers.items())
            rows[-1] += f" | max |dp| {worst:.1e}"
    return rows


def gibbs_row(seconds: float) -> str:
    L, C = 128, 64
    model = gd.compile(gd.MarkovNetwork.ising_grid(L, L, coupling=gibbs_throughput.J, field=gibbs_throughput.H, periodic=True),
                       dtype=torch.float32)
    kernel = BlockGibbs()
    state = kernel.init(model, C, generator=torch.Generator().manual_seed(0))
    t_gd, _ = gibbs_throughput.timed(lambda: kernel.sample(state), lambda: None, seconds)
    hand = gibbs_throughput.Checkerboard(L, C, "cpu", torch.float32, torch.Generator().manual_seed(0))
    t_hand, _ = gibbs_throughput.timed(hand.sweep, lambda: None, seconds)
    return (f"block Gibbs {L}x{L}, {C} chains | graphdgm {L * L * C / t_gd:.3e} upd/s | hand checkerboard "
            f"{L * L * C / t_hand:.3e} upd/s | {t_hand / t_gd:.2f}x")


def matmul_floor(n: int, dtype: torch.dtype) -> float:
    """Seconds for the five products of CD-1 over ``n`` images in batches of B, tensors preallocated."""
    g = torch.Generator().manual_seed(0)
    v = torch.rand(B, V, generator=g, dtype=dtype)
    h = torch.rand(B, H, generator=g, dtype=dtype)
    W = torch.rand(V, H, generator=g, dtype=dtype)
    out_h, out_v, out_w = torch.empty(B, H, dtype=dtype), torch.empty(B, V, dtype=dtype), torch.empty(V, H, dtype=dtype)
    batches = n // B
    for _ in range(20):  # warm-up
        torch.mm(v, W, out=out_h)
    t = time.perf_counter()
    for _ in range(batches):
        torch.mm(v, W, out=out_h)  # p(h | v0)
        torch.mm(h, W.t(), out=out_v)  # p(v | h0)
        torch.mm(v, W, out=out_h)  # p(h | v1)
        torch.mm(v.t(), h, out=out_w)  # positive statistics
        torch.mm(v.t(), h, out=out_w)  # negative statistics
    return time.perf_counter() - t


def rbm_rows(data: str | None, epochs: int) -> list[str]:
    if find_binarized_mnist(data) is None:
        return ["RBM rows skipped: binarized MNIST not found (give --data or set GRAPHDGM_DATA)"]
    dt = torch.float32
    x = load_binarized_mnist("train", data, dtype=dt)
    epochs_of, _ = rbm_throughput.contenders(x, dt)
    short = {"hand-written torch": "hand", "graphdgm": "graphdgm", "scikit-learn": "sklearn"}
    times: dict[str, list[float]] = {"hand": [], "graphdgm": [], "sklearn": [], "floor": []}
    for e in range(epochs):  # interleaved, so drift hits every method alike
        for k, epoch in epochs_of.items():
            times[short[k]].append(epoch(e))
        times["floor"].append(matmul_floor(len(x), dt))
    m = {k: min(v) for k, v in times.items()}
    return [
        f"RBM CD-1 epoch ({len(x)} images, {V}x{H}, batch {B}, float32, best of {epochs}) | graphdgm {m['graphdgm']:.2f} s | "
        f"hand-written {m['hand']:.2f} s, scikit-learn {m['sklearn']:.2f} s | {m['hand'] / m['graphdgm']:.2f}x the hand loop, "
        f"{m['sklearn'] / m['graphdgm']:.2f}x scikit-learn",
        f"RBM CD-1 epoch vs the matmul floor | graphdgm {m['graphdgm']:.2f} s | five products alone {m['floor']:.2f} s | "
        f"the epoch is {m['graphdgm'] / m['floor']:.2f}x the floor",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="folder or file of binarized_mnist.npz (default: $GRAPHDGM_DATA)")
    ap.add_argument("--pgmpy-budget", type=float, default=60.0, help="seconds pgmpy gets per grid")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per Gibbs measurement")
    args = ap.parse_args()
    with open("/proc/loadavg") if os.path.exists("/proc/loadavg") else open(os.devnull) as f:
        load = f.read().split()[:3]
    print(f"# graphdgm {gd.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, load {' '.join(load)}")
    print("what | graphdgm | anchor | ratio")
    for row in [*exact_rows(args.pgmpy_budget), gibbs_row(args.seconds), *rbm_rows(args.data, args.epochs)]:
        print(row, flush=True)


if __name__ == "__main__":
    main()
