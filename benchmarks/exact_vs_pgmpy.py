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
import json
import platform
import queue
import subprocess
import sys
import threading
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
    plan = gd.infer.Exact().plan(model, {}, indicators=tuple(range(model.num_variables)))  # the plan gd.query(model) used
    return cold, warm, result, plan


def pgmpy_worker(L: int) -> None:
    """Child process: one pgmpy query per variable, one JSON line per answer (name, probs, seconds)."""
    warnings.filterwarnings("ignore")
    from pgmpy.inference import VariableElimination

    from graphdgm.io import to_pgmpy

    mn = ising(L)
    net = to_pgmpy(mn)
    print(json.dumps(["ready", [], 0.0]), flush=True)  # imports done: the parent's clock starts now
    t = time.perf_counter()
    ve = VariableElimination(net)
    for v in mn.variables:
        f = ve.query([v], show_progress=False)
        print(json.dumps([v, (f.values / f.values.sum()).tolist(), time.perf_counter() - t]), flush=True)


def time_pgmpy(L: int, budget: float) -> tuple[float, dict[str, np.ndarray]]:
    """pgmpy's VariableElimination (default 'greedy' order), one query per variable, in a child
    process so that a runaway query (minutes inside one numpy einsum) can be stopped at ``budget``
    seconds. Returns pgmpy's own elapsed time and the marginals it answered (maybe not all)."""
    child = subprocess.Popen([sys.executable, __file__, "--pgmpy-worker", str(L)], stdout=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in child.stdout], daemon=True).start()
    out, elapsed = {}, 0.0
    try:
        lines.get(timeout=120)  # the "ready" line: pgmpy imported and the network built
    except queue.Empty:
        child.kill()
        raise RuntimeError("the pgmpy worker did not start within 120 s") from None
    start = time.perf_counter()
    while True:
        left = budget - (time.perf_counter() - start)
        try:
            line = lines.get(timeout=max(left, 0.01))
        except queue.Empty:
            if child.poll() is not None or left <= 0:
                break
            continue
        name, probs, elapsed = json.loads(line)
        out[name] = np.array(probs)
        if len(out) == L * L:
            break
    child.kill()
    child.wait()
    if len(out) < L * L:
        elapsed = budget  # it was still working when stopped
    return elapsed, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 8, 10, 15, 20])
    ap.add_argument("--pgmpy-max", type=int, default=15, help="largest side length pgmpy is run on")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--pgmpy-worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--pgmpy-budget", type=float, default=150.0,
                    help="seconds pgmpy may spend on one grid; past it the time is a lower bound")
    args = ap.parse_args()
    if args.pgmpy_worker:
        return pgmpy_worker(args.pgmpy_worker)
    warnings.filterwarnings("ignore")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, device {args.device}")
    print(f"{'grid':>6} {'width':>5} {'order':>16} {'graphdgm cold s':>15} {'warm s':>8} {'pgmpy s':>9} {'ratio cold':>10} {'ratio warm':>10} {'max |dp|':>9}")
    for L in args.sizes:
        mn = ising(L)
        cold, warm, ours, plan = time_graphdgm(mn, args.device)
        if L <= args.pgmpy_max:
            pg, theirs = time_pgmpy(L, args.pgmpy_budget)
            err = max((float(np.abs(ours[v].probs.cpu().numpy() - theirs[v]).max()) for v in theirs), default=float("nan"))
            done = len(theirs) == len(mn.variables)
            mark = "" if done else ">="
            print(f"{L:>3}x{L:<2} {plan.order.width:>5} {plan.order.heuristic:>16} {cold:>15.3f} {warm:>8.3f} "
                  f"{mark + format(pg, '.2f'):>9} {mark + format(pg / cold, '.1f'):>10} {mark + format(pg / warm, '.1f'):>10} {err:>9.1e}")
            if not done:
                msg = f"       pgmpy answered {len(theirs)} of {len(mn.variables)} queries in the {args.pgmpy_budget:.0f} s budget"
                if theirs:
                    est = pg * len(mn.variables) / len(theirs)
                    msg += f"; at that pace all would take ~{est:.0f} s (ratio ~{est / cold:.0f} cold, ~{est / warm:.0f} warm)"
                print(msg)
        else:
            print(f"{L:>3}x{L:<2} {plan.order.width:>5} {plan.order.heuristic:>16} {cold:>15.3f} {warm:>8.3f} {'-':>9} {'-':>10} {'-':>10} {'-':>9}")


if __name__ == "__main__":
    main()
