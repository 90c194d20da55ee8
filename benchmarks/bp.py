"""Loopy belief propagation on Ising grids: seconds per iteration, time to converge, and error
against exact inference where exact is feasible; pgmpy's BeliefPropagation as the anchor.

Two models per size: "ferro" (coupling 0.3, field 0.1) and "random" (couplings N(0, 0.5),
fields N(0, 0.2), seed 0, as in exact_vs_pgmpy.py). Parallel (flooding) schedule, tolerance
1e-6 on the largest message change, float64. Compile time is reported apart from BP time.
pgmpy's BeliefPropagation is a junction-tree method (exact); it runs in a child process with a
time budget, as in the other benchmarks.

    .venv/bin/python benchmarks/bp.py
    .venv/bin/python benchmarks/bp.py --sizes 10 100 --device cuda
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

import graphdgm as gd
from graphdgm.infer.variational import FactorTables, belief_propagation
from graphdgm.spec import grid_edges

EXACT_UP_TO = 20  # exact marginals are feasible (seconds) up to 20x20


def ising(L: int, kind: str) -> gd.MarkovNetwork:
    if kind == "ferro":
        return gd.MarkovNetwork.ising_grid(L, L, coupling=0.3, field=0.1)
    rng = np.random.default_rng(0)
    return gd.MarkovNetwork.ising_grid(L, L, coupling=rng.normal(0, 0.5, size=len(grid_edges(L, L))),
                                      field=rng.normal(0, 0.2, size=(L, L)))


def pgmpy_worker(L: int) -> None:
    warnings.filterwarnings("ignore")
    from pgmpy.inference import BeliefPropagation

    from graphdgm.io import to_pgmpy

    net = to_pgmpy(ising(L, "ferro"))
    t = time.perf_counter()
    BeliefPropagation(net).calibrate()
    print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)


def pgmpy_time(L: int, budget: float) -> str:
    try:
        out = subprocess.run([sys.executable, __file__, "--pgmpy-worker", str(L)], capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return f"not done within {budget:.0f} s"
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if lines:
        return f"{json.loads(lines[-1])['seconds']:.2f} s"
    if out.returncode < 0:
        return f"killed by signal {-out.returncode} (out of memory?)"
    lines = out.stderr.strip().splitlines() or ["no output"]
    err = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1])
    return f"failed: {err.strip()[:160]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 20, 100, 1000])
    ap.add_argument("--models", nargs="*", default=["ferro", "random"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--pgmpy-sizes", type=int, nargs="*", default=[8, 10])
    ap.add_argument("--pgmpy-budget", type=float, default=120.0)
    ap.add_argument("--pgmpy-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pgmpy_worker:
        pgmpy_worker(args.pgmpy_worker)
        return
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.machine()
    print(f"# device {args.device} ({dev}), torch {torch.__version__}, {torch.get_num_threads()} threads, float64")
    print(f"{'model':>6} {'grid':>9} {'compile s':>9} {'iters':>5} {'s/iter':>9} {'converge s':>10} {'MAE vs exact':>12} {'|dlogZ|':>8}")
    for kind in args.models:
        for L in args.sizes:
            t = time.perf_counter()
            model = gd.compile(ising(L, kind), device=args.device)
            sync()
            t_compile = time.perf_counter() - t
            t = time.perf_counter()
            tables = FactorTables.from_model(model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = belief_propagation(tables, tol=1e-6, max_iters=500)
            sync()
            t_bp = time.perf_counter() - t
            mae = dz = "-"
            if L <= EXACT_UP_TO:
                exact = gd.query(model).tensor()
                mae = f"{float((r.marginals - exact).abs().mean()):.2e}"
                dz = f"{abs(float(r.log_z) - float(gd.log_partition(model).detach())):.3f}"
            conv = f"{t_bp:.3f}" if r.converged else f"no ({t_bp:.1f})"
            print(f"{kind:>6} {L:>4}x{L:<4} {t_compile:>9.2f} {r.iterations:>5} {t_bp / r.iterations:>9.4f} {conv:>10} {mae:>12} {dz:>8}",
                  flush=True)
    for L in args.pgmpy_sizes:
        print(f"pgmpy BeliefPropagation.calibrate() on the {L}x{L} ferro grid: {pgmpy_time(L, args.pgmpy_budget)}", flush=True)


if __name__ == "__main__":
    main()
