"""Spin updates per second of block Gibbs on periodic Ising grids, three ways in one run:

- graphdgm's generic chromatic block Gibbs (``gd.infer.mcmc.BlockGibbs``) on the compiled spec,
- a hand-written torch checkerboard sampler for the same grid (the anchor: what torch does on this
  machine when one writes the loop for exactly this model), and
- pgmpy's ``GibbsSampling`` where it can be built at all (small grids; it tabulates every
  variable's transition over all other variables, 2^(n-1) entries, in a child process with a
  time budget).

Printed ratios are graphdgm / anchor measured in this run. float32 throughout (the anchor's
natural choice); ``--dtype float64`` times graphdgm's default precision.

    .venv/bin/python benchmarks/gibbs_throughput.py
    .venv/bin/python benchmarks/gibbs_throughput.py --sizes 32 128 --device cuda
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import torch

import graphdgm as gd
from graphdgm.infer.mcmc import BlockGibbs

CHAINS = {32: 1024, 128: 64, 512: 4}
J, H = 0.3, 0.05


class Checkerboard:
    """Hand-written Gibbs for a periodic L×L Ising grid in ±1 spins, the two sublattices stored apart.

    ``black[i, j]`` is site (i, 2j + i%2) and ``white[i, j]`` site (i, 2j + 1 - i%2), so every
    neighbour sum is four shifted views of the other sublattice and nothing is computed twice.
    """

    def __init__(self, L: int, chains: int, device: str, dtype: torch.dtype, g: torch.Generator) -> None:
        assert L % 2 == 0
        shape = (chains, L, L // 2)
        self.black = torch.randint(0, 2, shape, generator=g, device=device).to(dtype) * 2 - 1
        self.white = torch.randint(0, 2, shape, generator=g, device=device).to(dtype) * 2 - 1
        self.even_row = (torch.arange(L, device=device) % 2 == 0)[None, :, None]  # (1, L, 1)
        self.g = g

    def _neighbours(self, other: torch.Tensor, shift_even: int) -> torch.Tensor:
        up_down = other.roll(1, 1) + other.roll(-1, 1)
        side = torch.where(self.even_row, other.roll(shift_even, 2), other.roll(-shift_even, 2))
        return up_down + other + side

    def sweep(self) -> None:
        for name, other, shift in (("black", "white", 1), ("white", "black", -1)):
            field = J * self._neighbours(getattr(self, other), shift) + H  # (C, L, L/2)
            p_up = torch.sigmoid(2 * field)
            u = torch.rand(p_up.shape, generator=self.g, device=p_up.device, dtype=p_up.dtype)
            setattr(self, name, torch.where(u < p_up, 1.0, -1.0).to(p_up.dtype))

    def magnetisation(self) -> float:
        return float((self.black.mean() + self.white.mean()) / 2)


def timed(step, sync, min_seconds: float) -> tuple[float, int]:
    for _ in range(3):
        step()  # warm-up
    sync()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        if n % 5 == 0:
            sync()
            if time.perf_counter() - t0 > min_seconds:
                return (time.perf_counter() - t0) / n, n


def pgmpy_worker(L: int, seconds: float) -> None:
    """Child process: build pgmpy's GibbsSampling for an L×L grid and time samples (one = one sweep)."""
    import warnings

    warnings.filterwarnings("ignore")
    from pgmpy.sampling import GibbsSampling

    from graphdgm.io import to_pgmpy

    mn = gd.MarkovNetwork.ising_grid(L, L, coupling=J, field=H)
    t = time.perf_counter()
    sampler = GibbsSampling(to_pgmpy(mn))
    build = time.perf_counter() - t
    size = 50
    while True:
        t = time.perf_counter()
        sampler.sample(size=size, seed=0)
        dt = time.perf_counter() - t
        if dt > seconds / 4 or size > 10**6:
            break
        size *= 4
    print(json.dumps({"build_s": build, "samples_per_s": size / dt, "n": L * L}), flush=True)


def pgmpy_rate(L: int, budget: float) -> dict | None:
    try:
        out = subprocess.run([sys.executable, __file__, "--pgmpy-worker", str(L)], capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return None
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[32, 128, 512])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds per measurement")
    ap.add_argument("--pgmpy-sizes", type=int, nargs="*", default=[3, 4, 10])
    ap.add_argument("--pgmpy-budget", type=float, default=60.0)
    ap.add_argument("--pgmpy-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pgmpy_worker:
        pgmpy_worker(args.pgmpy_worker, 2.0)
        return
    dtype = getattr(torch, args.dtype)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    dev_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    print(f"# device {args.device} ({dev_name}), torch {torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}")
    print(f"{'grid':>9} {'chains':>6} {'graphdgm upd/s':>15} {'hand upd/s':>12} {'ratio':>6}  notes")
    rows = []
    for L in args.sizes:
        C = CHAINS.get(L, max(1, 2**20 // (L * L)))
        g = torch.Generator(device=args.device).manual_seed(0)
        model = gd.compile(gd.MarkovNetwork.ising_grid(L, L, coupling=J, field=H, periodic=True), device=args.device, dtype=dtype)
        kernel = BlockGibbs()
        state = kernel.init(model, C, generator=g)
        t_gd, _ = timed(lambda: kernel.sample(state), sync, args.seconds)
        hand = Checkerboard(L, C, args.device, dtype, torch.Generator(device=args.device).manual_seed(0))
        t_hand, _ = timed(hand.sweep, sync, args.seconds)
        m_gd = float(kernel.packed(state).double().mean() * 2 - 1)
        rate_gd, rate_hand = L * L * C / t_gd, L * L * C / t_hand
        rows.append((L, C, rate_gd, rate_hand))
        print(f"{L:>4}x{L:<4} {C:>6} {rate_gd:>15.3e} {rate_hand:>12.3e} {rate_gd / rate_hand:>6.2f}  "
              f"magnetisation graphdgm {m_gd:+.3f} hand {hand.magnetisation():+.3f}", flush=True)
    best_gd = max(r[2] for r in rows) if rows else float("nan")
    for L in args.pgmpy_sizes:
        res = pgmpy_rate(L, args.pgmpy_budget)
        if res is None:
            print(f"pgmpy {L}x{L}: GibbsSampling did not finish building/sampling within {args.pgmpy_budget:.0f} s")
        elif "error" in res:
            print(f"pgmpy {L}x{L}: failed: {res['error'][:160]}")
        else:
            upd = res["samples_per_s"] * res["n"]
            print(f"pgmpy {L}x{L}: build {res['build_s']:.2f} s, {res['samples_per_s']:.0f} samples/s = {upd:.3e} spin upd/s; "
                  f"graphdgm best / pgmpy = {best_gd / upd:.0f}x")


if __name__ == "__main__":
    main()
