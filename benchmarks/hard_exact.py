"""Hard exact instances: spin-glass grids and pedigree networks within a memory budget (12 GiB default).

Every instance runs in its own process (so its peak memory is its own): plan (order search and
slicing), then exact log Z (grids) or log P(evidence) (pedigrees), then the same with a second,
different elimination order (the frontier swept from the other end on grids, plain min-fill or
min-degree on pedigrees, each sliced to the same budget), and the
relative difference of the two answers. Printed per instance: the induced width and largest table
before slicing (the best order found for the whole problem) and after (what every slice runs),
the number of slices, the seconds, and the peak resident memory.

    .venv/bin/python benchmarks/hard_exact.py                   # every instance, 12 GiB
    .venv/bin/python benchmarks/hard_exact.py --only grid20 ped28a --budget-gib 4

"min-fill" is the width plain min-fill finds; "width" is the best order found before slicing ->
the width every slice runs at. A problem that needs more than the default 1024 slices is refused
with the "too wide" error, which is printed.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time

import torch

import graphdgm as gd

INSTANCES = {  # name: (kind, arguments)
    "grid20": ("grid", dict(side=20, coupling_std=1.0, field_std=0.1, seed=0)),
    "grid25": ("grid", dict(side=25, coupling_std=1.0, field_std=0.1, seed=0)),
    "ped28a": ("pedigree", dict(individuals=28, loci=4, founders=4, alleles=(2, 2), seed=0)),
    "ped28b": ("pedigree", dict(individuals=28, loci=4, founders=4, alleles=(2, 2), seed=12)),
    "ped30": ("pedigree", dict(individuals=30, loci=4, founders=4, alleles=(2, 2), seed=3)),
}


def build(name: str) -> tuple[torch.nn.Module, dict[str, int]]:
    kind, args = INSTANCES[name]
    if kind == "grid":
        return gd.compile(gd.data.spin_glass_grid(**args)), {}
    bn, evidence = gd.data.pedigree_network(**args)
    return gd.compile(bn), evidence


def other_heuristic(first: str) -> str:
    """A second elimination order to check the first's answer with: the frontier swept from the other
    end for a frontier order, else plain min-fill (or min-degree when the first was min-fill)."""
    return {"cuthill_mckee": "reverse_cuthill_mckee", "reverse_cuthill_mckee": "cuthill_mckee",
            "bfs": "cuthill_mckee", "min_fill": "min_degree"}.get(first, "min_fill")


def one(name: str, budget_gib: float) -> dict:
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    model, evidence = build(name)
    ev = {model.variables.index(k): v for k, v in evidence.items()}
    budget = int(budget_gib * 2 ** 30)
    min_fill = gd.infer.Exact(heuristic="min_fill", max_table_log2=1e9).plan(model, ev).order
    exact = gd.infer.Exact(memory_budget=budget)  # at most 1024 slices, the default
    t = time.perf_counter()
    try:
        plan = exact.plan(model, ev)
    except gd.InferenceError as e:
        return {"name": name, "variables": model.num_variables, "min_fill_width": min_fill.width, "refused": str(e)}
    t_plan = time.perf_counter() - t
    before = plan.order if plan.slicing is None else plan.slicing.before
    with torch.no_grad():
        t = time.perf_counter()
        log_z = float(exact.log_partition(model, ev))
        t_run = time.perf_counter() - t
        second = gd.infer.Exact(memory_budget=budget, heuristic=other_heuristic(before.heuristic))
        plan2 = second.plan(model, ev)
        t = time.perf_counter()
        log_z2 = float(second.log_partition(model, ev))
        t_run2 = time.perf_counter() - t
    return {
        "name": name, "variables": model.num_variables, "evidence": len(ev), "min_fill_width": min_fill.width, "table_limit_log2": exact.table_log2(model),
        "width_before": before.width, "log2_table_before": round(before.log2_max_table, 2),
        "width_after": plan.order.width, "log2_table_after": round(plan.order.log2_max_table, 2),
        "slices": 1 if plan.slicing is None else plan.slicing.num_slices, "heuristic": before.heuristic,
        "log2_work": round(plan.order.log2_work, 1),
        "plan_s": round(t_plan, 2), "solve_s": round(t_run, 2), "log_z": log_z,
        "second_slices": 1 if plan2.slicing is None else plan2.slicing.num_slices, "second_s": round(t_run2, 2),
        "second_heuristic": second.heuristic,
        "rel_diff": abs(log_z - log_z2) / max(abs(log_z), 1e-300),
        "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=list(INSTANCES), choices=list(INSTANCES))
    ap.add_argument("--budget-gib", type=float, default=12.0)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.budget_gib)))
        return
    print(f"# graphdgm {gd.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, budget {args.budget_gib:g} GiB")
    print(f"{'instance':8} {'vars':>5} {'min-fill':>8} {'width':>11} {'log2 table':>12} {'slices':>6} {'log2 work':>9} {'plan s':>7} {'solve s':>8} "
          f"{'log Z / log P(e)':>18} {'2nd order':>21} {'rel diff':>9} {'peak GiB':>8}")
    for name in args.only:
        out = subprocess.run([sys.executable, __file__, "--one", name, "--budget-gib", str(args.budget_gib)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name:8} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if "refused" in r:
            print(f"{r['name']:8} {r['variables']:5d} {r['min_fill_width']:8d} refused: {r['refused'].split(': ', 1)[1][:230]}")
            continue
        print(f"{r['name']:8} {r['variables']:5d} {r['min_fill_width']:8d} {r['width_before']:>4d} -> {r['width_after']:<3d} "
              f"{r['log2_table_before']:>5.1f}->{r['log2_table_after']:<5.1f} {r['slices']:6d} {r['log2_work']:9.1f} {r['plan_s']:7.2f} "
              f"{r['solve_s']:8.2f} {r['log_z']:18.10f} {r['second_heuristic'][:12]:>12} {r['second_slices']:>4d} sl. {r['rel_diff']:9.1e} {r['peak_gib']:8.2f}",
              flush=True)


if __name__ == "__main__":
    main()
