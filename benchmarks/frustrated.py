"""Samplers on frustrated 10x10 spin glasses (couplings N(0, 2), fields N(0, 0.5)), against exact.

For each of three grids: the largest marginal error, seconds and swap rates (or R-hat) of
``backend="auto"`` with exact inference disallowed (the adaptive tempering ladder), of the same
ladder fixed (geometric), and of Swendsen-Wang; 32 chains x 4000 sweeps each, one thread.

    .venv/bin/python benchmarks/frustrated.py [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import graphdgm as gd
from graphdgm.infer.mcmc import ParallelTempering
from graphdgm.spec import grid_edges


def spin_glass(L: int = 10, seed: int = 0) -> gd.MarkovNetwork:
    rng = np.random.default_rng(seed)
    return gd.MarkovNetwork.ising_grid(L, L, coupling=rng.normal(0, 2.0, size=len(grid_edges(L, L))),
                                      field=rng.normal(0, 0.5, size=(L, L)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # the samplers that fail say so in their R-hat, printed below
    print(f"# torch {torch.__version__}, 1 thread; 10x10 spin glasses, couplings N(0, 2), fields N(0, 0.5)")
    for seed in args.seeds:
        model = gd.compile(spin_glass(10, seed))
        exact = gd.query(model).tensor()
        for name, backend in [
            ("auto (adaptive PT)", gd.infer.Auto(allow_exact=False, seed=0)),
            ("PT fixed ladder", gd.infer.Tempering(chains=32, sweeps=4000, num_temps=24, beta_min=0.05, seed=0, adaptive=False)),
            ("swendsen-wang", gd.infer.SwendsenWang(chains=32, sweeps=4000, seed=0)),
        ]:
            t = time.perf_counter()
            got = gd.query(model, backend=backend).tensor()
            seconds = time.perf_counter() - t
            runner = backend.sampler if isinstance(backend, gd.infer.Auto) else backend
            extra = f"R-hat {runner.diagnostics.rhat_max:.3f}"
            if isinstance(runner, gd.infer.Tempering):
                rates = ParallelTempering.swap_rates(runner.last_result.final_state)
                extra += f", swap rates {float(rates.min()):.2f}-{float(rates.max()):.2f}"
            print(f"grid {seed}  {name:18} max error {float((got - exact).abs().max()):.4f}  {seconds:5.1f} s  {extra}",
                  flush=True)


if __name__ == "__main__":
    main()
