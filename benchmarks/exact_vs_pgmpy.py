"""All single-variable marginals of binary Ising grids: graphdgm's exact backend vs pgmpy.

Grids with random couplings N(0, 0.5) and fields N(0, 0.2) (seed 0). pgmpy's VariableElimination
answers one query per variable (its joint=False path would build the full joint); graphdgm
answers all marginals in one pass. Both run in this process; the ratio is pgmpy / graphdgm.
"cold" includes compiling and planning (elimination-order search); "warm" reuses the plan.

    .venv/bin/python benchmarks/exact_vs_pgmpy.py            # 5x5, 8x8, 10x10, 15x15 (+ 20x20 graphdgm only)
    .venv/bin/python benchmarks/exact_vs_pgmpy.py --sizes 5 8 --pgmpy-max 8
"""
from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import torch

import graphdgm as gd
from graphdgm.spec import grid_edges


def ising(L: int) -> gd.MarkovNetwork:
    rng = np.random.default_rng(0)
    J = rng.normal(0.0, 0.5, size=len(grid_edges(L, L)))
    h = rng.normal(0.0, 0.2, size=(L, L))
    return gd.MarkovNetwork.ising_grid(L, L, coupling=J, field=h)


def time_graphdgm(mn: gd.MarkovNetwork, device: str) -> tuple[float, float, gd.infer.Marginals, object]:
    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    t = time.perf_counter()
    model = gd.compile(mn, device=device)
    result = gd.query(model)
    sync()
    cold = time.perf_counter() - t
    t = time.perf_counter()
    result = gd.query(model)
    sync()
    warm = time.perf_counter() - t
    plan = next(iter(model._exact_plans.values()))
    return cold, warm, result, plan


def time_pgmpy(mn: gd.MarkovNetwork) -> tuple[float, dict[str, np.ndarray]]:
    from pgmpy.inference import VariableElimination

    from graphdgm.io import to_pgmpy

    net = to_pgmpy(mn)
    t = time.perf_counter()
    ve = VariableElimination(net)
    out = {}
    for v in mn.variables:
        f = ve.query([v], show_progress=False)
        out[v] = f.values / f.values.sum()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 8, 10, 15, 20])
    ap.add_argument("--pgmpy-max", type=int, default=15, help="largest side length pgmpy is run on")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, device {args.device}")
    print(f"{'grid':>6} {'width':>5} {'order':>16} {'graphdgm cold s':>15} {'warm s':>8} {'pgmpy s':>9} {'ratio cold':>10} {'ratio warm':>10} {'max |dp|':>9}")
    for L in args.sizes:
        mn = ising(L)
        cold, warm, ours, plan = time_graphdgm(mn, args.device)
        if L <= args.pgmpy_max:
            pg, theirs = time_pgmpy(mn)
            err = max(float(np.abs(ours[v].probs.cpu().numpy() - theirs[v]).max()) for v in mn.variables)
            print(f"{L:>3}x{L:<2} {plan.order.width:>5} {plan.order.heuristic:>16} {cold:>15.3f} {warm:>8.3f} {pg:>9.2f} {pg / cold:>10.1f} {pg / warm:>10.1f} {err:>9.1e}")
        else:
            print(f"{L:>3}x{L:<2} {plan.order.width:>5} {plan.order.heuristic:>16} {cold:>15.3f} {warm:>8.3f} {'-':>9} {'-':>10} {'-':>10} {'-':>9}")


if __name__ == "__main__":
    main()
