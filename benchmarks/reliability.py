"""The reliability issue's reproducers, run against the current library: each line prints what a
user now gets where graphdgm used to answer wrongly without a word, plus the cost of the
variational restarts against a single start in the same run.

    .venv/bin/python benchmarks/reliability.py
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd
import torch

import graphdgm as gd
from graphdgm.errors import ConvergenceWarning


def caught(fn):
    """Run ``fn``; return its value and whether it raised a ConvergenceWarning."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, any(issubclass(x.category, ConvergenceWarning) for x in w)


def main() -> None:
    torch.set_num_threads(1)
    grid = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1))
    up = gd.query(grid, ["x[1,1]"], evidence={"x[0,0]": 1})["x[1,1]"][1]
    down = gd.query(grid, ["x[1,1]"], evidence={"x[0,0]": -1})["x[1,1]"][1]
    print(f"exact plans: P(x[1,1]=+1 | x[0,0]=+1) = {up:.4f}, then | x[0,0]=-1 = {down:.4f} (right: 0.5150)")

    strong = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    r, warned = caught(lambda: gd.query(strong, ["x[3,3]"], evidence={"x[0,0]": 1}, backend=gd.infer.Gibbs()))
    print(f"Gibbs, 8x8 grid at J=5: P = {r['x[3,3]'][1]:.3f} (exact 1.000), warned: {warned}, R-hat max {r.diagnostics.rhat_max}")

    rng = np.random.default_rng(0)
    mn = gd.MarkovNetwork()
    mn.add_block("x", (10, 10), gd.Spin())
    pairs = gd.grid_edges(10, 10)
    mn.add_coupling(pairs, rng.normal(0, 2, len(pairs)))
    frustrated = gd.compile(mn)
    r, warned = caught(lambda: gd.query(frustrated, backend=gd.infer.Gibbs()))
    err = float((r.tensor() - gd.query(frustrated).tensor()).abs().max())
    print(f"Gibbs, frustrated 10x10 grid (couplings N(0, 2)): largest error {err:.3f}, warned: {warned}, "
          f"R-hat max {r.diagnostics.rhat_max:.1f}")

    exact = float(gd.log_partition(strong).detach())
    mf, w_mf = caught(lambda: float(gd.log_partition(strong, backend="mean_field")))
    bp, w_bp = caught(lambda: float(gd.log_partition(strong, backend="bp")))
    print(f"zero-field 8x8 grid at J=5: exact log Z {exact:.2f}; mean field {mf:.2f} (symmetric point: "
          f"{64 * math.log(2):.2f}), warned: {w_mf}; BP {bp:.2f}, warned: {w_bp}")

    bn = gd.BayesianNetwork("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("rain", [], [0.2, 0.8])
    bn.add_cpd("sprinkler", ["rain"], [[0.6, 0.4], [0.99, 0.01]])
    bn.add_cpd("wet", ["rain", "sprinkler"], [[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]])
    data = gd.compile(bn).sample(20000, seed=0).numpy()
    frame = pd.DataFrame(data, columns=["rain", "sprinkler", "wet"])[["wet", "sprinkler", "rain"]]
    learner = gd.compile(bn)
    history = gd.fit(learner, frame)
    print(f"Bayesian network fitted from reordered columns: P(rain) = {gd.query(learner, ['rain'])['rain'][1]:.3f} "
          f"(true 0.800); fit returned a {type(history).__name__}")

    big = gd.compile(gd.MarkovNetwork.ising_grid(200, 200, coupling=0.3, field=0.1))
    for label, backend in (("default restarts", gd.infer.BeliefPropagation()), ("restarts=1", gd.infer.BeliefPropagation(restarts=1))):
        gd.query(big, ["x[3,4]"], backend=backend)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            gd.query(big, ["x[3,4]"], backend=backend)
            times.append(time.perf_counter() - t)
        print(f"BP on a 200x200 grid, {label}: {min(times):.3f} s per query ({backend.diagnostics.restarts} runs)")


if __name__ == "__main__":
    main()
