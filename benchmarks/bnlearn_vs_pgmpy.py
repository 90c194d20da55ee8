"""Exact queries on the bnlearn networks that ship inside pgmpy: graphdgm against pgmpy's
VariableElimination in the same run.

For every discrete network ``pgmpy.utils.get_example_model`` loads offline, 20 random queries
(3 query variables, 5 evidence variables whose states come from a forward sample, so that
P(e) > 0) and 20 log P(e). pgmpy answers a query with ``query(Q, e, joint=False)`` (it prunes
barren and d-separated variables first, then contracts with opt_einsum's greedy path). pgmpy has
no call for P(e) itself; it is computed by the chain rule, log P(e1) + log P(e2 | e1) + ... (five
pruned queries). graphdgm answers with ``gd.query`` and ``gd.log_partition`` (log Z given the
evidence, which is log P(e) for a Bayesian network). Every query is a new query shape, so
graphdgm's time includes its planning (its plan cache is cleared before each repeat). Times are
the best of 3 runs of the 20 queries; the ratio is pgmpy / graphdgm; errors are the largest absolute differences over all answers.

    .venv/bin/python benchmarks/bnlearn_vs_pgmpy.py                       # every network
    .venv/bin/python benchmarks/bnlearn_vs_pgmpy.py --networks asia alarm munin
"""
from __future__ import annotations

import argparse
import math
import platform
import time
import warnings

import numpy as np
import torch

import graphdgm as gd
from graphdgm.io import bayesian_network_from_pgmpy, pgmpy_names

NETWORKS = ("asia", "cancer", "earthquake", "sachs", "survey", "alarm", "barley", "child", "insurance", "mildew",
            "water", "hailfinder", "hepar2", "win95pts", "andes", "diabetes", "link", "munin1", "munin2", "munin3",
            "munin4", "pathfinder", "pigs", "munin")


def make_queries(model: torch.nn.Module, count: int, seed: int) -> list[tuple[list[int], dict[int, int]]]:
    """``count`` (query variables, evidence) pairs: 3 query and 5 evidence variables, distinct (fewer
    evidence variables in a network of under 8), the evidence at the states of a forward sample."""
    rng = np.random.default_rng(seed)
    x = gd.sample(model, count, seed=seed).cpu().numpy()
    n = model.num_variables
    out = []
    for r in range(count):
        vs = rng.choice(n, size=min(8, n), replace=False).tolist()
        out.append((vs[:3], {v: int(x[r, v]) for v in vs[3:]}))
    return out


def clear_plans(model: torch.nn.Module) -> None:
    """Forget graphdgm's elimination plans for ``model`` (its compiled structure stays), so that
    every repeat plans every query again, as a first run does."""
    from graphdgm.infer.exact import backend
    backend._PLANS.clear(model)


def timed(fn, repeats: int, fresh=None):
    """The best wall time of ``repeats`` runs of ``fn()`` (each after ``fresh()``), and its result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        if fresh is not None:
            fresh()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS))
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs (graphdgm replans in every run)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # get_example_model is deprecated for load_model, which downloads
    from pgmpy.inference import VariableElimination
    from pgmpy.utils import get_example_model

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}; "
          f"{args.queries} queries (3 query, 5 evidence variables) and {args.queries} log P(e) per network")
    print(f"{'network':>11} {'vars':>5} | {'graphdgm s':>10} {'pgmpy s':>9} {'ratio':>7} {'max |dp|':>9} | "
          f"{'graphdgm s':>10} {'pgmpy s':>9} {'ratio':>7} {'|d log P(e)|':>12}")
    for name in args.networks:
        try:
            net = get_example_model(name)
        except Exception as e:  # a network this pgmpy cannot load offline
            print(f"{name:>11} not loaded: {e}")
            continue
        for cpd in net.get_cpds():  # the same model on both sides: graphdgm normalises every CPT row on input,
            cpd.normalize(inplace=True)  # and a BIF file's rows sum to 1 only to ~1e-9
        names = pgmpy_names(net)
        model = gd.compile(bayesian_network_from_pgmpy(net))
        back = {names[k]: k for k in names}
        pg_name = [back[v] for v in model.variables]
        queries = make_queries(model, args.queries, args.seed)
        ve = VariableElimination(net)

        def labels(ev: dict[int, int]) -> dict:
            return {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}

        def pg_labels(ev: dict[int, int]) -> dict:
            return {pg_name[v]: net.get_cpds(pg_name[v]).state_names[pg_name[v]][s] for v, s in ev.items()}

        def graphdgm_queries():
            return [gd.query(model, [model.variables[v] for v in q], labels(ev)) for q, ev in queries]

        def graphdgm_lpe():
            return [float(gd.log_partition(model, labels(ev))) for _, ev in queries]

        def pgmpy_queries():
            return [ve.query([pg_name[v] for v in q], evidence=pg_labels(ev), joint=False, show_progress=False)
                    for q, ev in queries]

        def pgmpy_lpe():  # the chain rule: log P(e1) + log P(e2 | e1) + ...
            out = []
            for _, ev in queries:
                items, total = list(pg_labels(ev).items()), 0.0
                for i, (v, s) in enumerate(items):
                    f = ve.query([v], evidence=dict(items[:i]), joint=True, show_progress=False)
                    total += math.log(float(f.values[f.state_names[v].index(s)]))
                out.append(total)
            return out

        g_query, ours = timed(graphdgm_queries, args.repeats, fresh=lambda: clear_plans(model))
        g_lpe, our_lpe = timed(graphdgm_lpe, args.repeats, fresh=lambda: clear_plans(model))
        p_query, theirs = timed(pgmpy_queries, args.repeats)
        p_lpe, their_lpe = timed(pgmpy_lpe, args.repeats)

        err = 0.0
        for (q, _), m, th in zip(queries, ours, theirs):
            for v in q:
                f = th[pg_name[v]]
                p_pg = np.asarray(f.values, dtype=np.float64)
                order = [f.state_names[pg_name[v]].index(lab) for lab in model.state_labels(v)]
                err = max(err, float(np.abs(m[model.variables[v]].probs.cpu().numpy() - p_pg[order]).max()))
        lerr = max(abs(a - b) for a, b in zip(our_lpe, their_lpe))
        print(f"{name:>11} {model.num_variables:>5} | {g_query:>10.3f} {p_query:>9.3f} {p_query / g_query:>6.1f}x {err:>9.1e} | "
              f"{g_lpe:>10.3f} {p_lpe:>9.3f} {p_lpe / g_lpe:>6.1f}x {lerr:>12.1e}", flush=True)


if __name__ == "__main__":
    main()
