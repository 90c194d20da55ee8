"""A 784x500 RBM declared as a plain graph (two blocks and one dense edge, no RBM constructor)
against today's ``CompiledRBM``: energy of packed states and free energy of visible states, in
one run, interleaved; and the same RBM as a general Markov network (392,000 explicit pairs).

    .venv/bin/python benchmarks/graph_rbm.py [--repeats 30] [--batch 100] [--dtype float32]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

import graphdgm as gd

V, H = 784, 500


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--markov-network", action="store_true", help="also time the 392,000-pair Markov-network form")
    args = ap.parse_args()
    dt = getattr(torch, args.dtype)
    rng = np.random.default_rng(0)
    W, b, c = rng.normal(0, 0.01, (V, H)), rng.normal(0, 0.1, V), rng.normal(0, 0.1, H)
    rbm = gd.compile(gd.RBM(V, H, weights=W, visible_bias=b, hidden_bias=c), dtype=dt)
    graph = None
    if hasattr(gd, "Graph"):  # absent before the graph language: then only CompiledRBM and the anchor are timed
        g = gd.Graph("plain")
        g.block("v", V, gd.Bernoulli(), bias=b)
        g.block("h", H, gd.Bernoulli(), role="latent", bias=c)
        g.connect("v", "h", gd.Dense(W))
        graph = gd.compile(g, dtype=dt)
    Wt, bt, ct = (torch.tensor(a, dtype=dt) for a in (W, b, c))
    x = torch.bernoulli(torch.full((args.batch, V + H), 0.5, dtype=dt), generator=torch.Generator().manual_seed(0))
    v, h = x[:, :V].contiguous(), x[:, V:].contiguous()

    def hand_energy() -> torch.Tensor:  # the anchor: the formulas written directly in torch
        return -(v @ bt) - (h @ ct) - ((v @ Wt) * h).sum(1)

    def hand_free_energy() -> torch.Tensor:
        return -(v @ bt) - torch.nn.functional.softplus(torch.addmm(ct, v, Wt)).sum(1)

    assert torch.allclose(hand_energy(), rbm.energy(x), rtol=1e-4, atol=1e-3)
    if graph is not None:
        assert torch.allclose(graph.energy(x), rbm.energy(x), rtol=1e-4, atol=1e-3)
        assert torch.allclose(graph.free_energy(v), rbm.free_energy(v), rtol=1e-4, atol=1e-3)
    print(f"# {V}x{H} RBM, batch {args.batch}, {args.dtype}; graphdgm {gd.__file__}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    with torch.no_grad():
        rows = []
        for what, f_hand, f_rbm, f_graph in (
                ("energy", hand_energy, lambda: rbm.energy(x), graph and (lambda: graph.energy(x))),
                ("free energy", hand_free_energy, lambda: rbm.free_energy(v), graph and (lambda: graph.free_energy(v)))):
            t_hand, t_rbm, t_graph = [], [], []
            for _ in range(3):  # interleaved rounds
                t_hand.append(timed(f_hand, args.repeats))
                t_rbm.append(timed(f_rbm, args.repeats))
                if f_graph is not None:
                    t_graph.append(timed(f_graph, args.repeats))
            a0, a = statistics.median(t_hand), statistics.median(t_rbm)
            rows.append((what, a, None))
            line = f"{what:12s} hand-written {a0 * 1e3:7.3f} ms   CompiledRBM {a * 1e3:7.3f} ms ({a / a0:4.2f}x hand)"
            if t_graph:
                s = statistics.median(t_graph)
                line += f"   plain graph {s * 1e3:7.3f} ms ({s / a0:4.2f}x hand, {s / a:4.2f}x CompiledRBM)"
            print(line)
        if args.markov_network:
            mn = gd.compile(rbm.to_markov_network(), dtype=dt)
            xl = x.long()
            t_mn = timed(lambda: mn.energy(xl), max(3, args.repeats // 10))
            print(f"{'energy':12s} MarkovNetwork (392,000 pairs) {t_mn * 1e3:8.3f} ms   = {t_mn / rows[0][1]:6.1f}x CompiledRBM")


if __name__ == "__main__":
    main()
