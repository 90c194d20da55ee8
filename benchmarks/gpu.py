"""The GPU figures in one run: one table, printed and written to a file.

On one device (CUDA when present), in about 8 minutes in all:

- block Gibbs throughput on large periodic Ising grids (spin flips per nanosecond);
- loopy BP on a 1000x1000 grid (time to converge);
- one RBM CD-1 epoch on binarized MNIST (784x500, batch 100);
- exact marginals of a 20x20 grid (all 400, one elimination pass);
- a PixelCNN trained for a fixed number of minutes, then its exact test NLL (nats per image).

``--quick`` runs every part at tiny sizes in seconds, on any device (the test suite runs it on
the CPU so that the script cannot rot). Without the shared MNIST files the RBM and PixelCNN rows
use scikit-learn's 8x8 digits, binarized and upsampled to 28x28, and say so.

    .venv/bin/python benchmarks/gpu.py                        # CUDA if present, else CPU
    .venv/bin/python benchmarks/gpu.py --quick --device cpu --out /tmp/gpu_quick.md
    make gpu
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import torch

import graphdgm as gd
from graphdgm.infer.mcmc import BlockGibbs
from graphdgm.infer.variational import FactorTables, belief_propagation

ROOT = Path(__file__).resolve().parents[1]


def sync_for(device: str):
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def gibbs_rows(device: str, sizes: list[int], seconds: float) -> list[tuple]:
    """Spin flips per ns of graphdgm's block Gibbs: L*L*chains site updates per sweep."""
    sync, rows = sync_for(device), []
    for L in sizes:
        chains = max(1, 2 ** 24 // (L * L)) if device.startswith("cuda") else max(1, 2 ** 18 // (L * L))
        model = gd.compile(gd.MarkovNetwork.ising_grid(L, L, coupling=0.3, field=0.05, periodic=True), device=device,
                           dtype=torch.float32)
        kernel = BlockGibbs()
        state = kernel.init(model, chains, generator=torch.Generator(device=device).manual_seed(0))
        for _ in range(3):
            kernel.sample(state)
        sync()
        n, t0 = 0, time.perf_counter()
        while True:
            kernel.sample(state)
            n += 1
            if n % 5 == 0:
                sync()
                if time.perf_counter() - t0 > seconds:
                    break
        per_sweep = (time.perf_counter() - t0) / n
        flips_ns = L * L * chains / per_sweep / 1e9
        rows.append(("block Gibbs", f"{L}x{L} grid, {chains} chains", "spin flips / ns", f"{flips_ns:.3g}", per_sweep * n))
    return rows


def bp_row(device: str, L: int) -> tuple:
    """Loopy BP to tol 1e-6 on an L x L ferromagnetic grid (coupling 0.3, field 0.1)."""
    sync = sync_for(device)
    t = time.perf_counter()
    model = gd.compile(gd.MarkovNetwork.ising_grid(L, L, coupling=0.3, field=0.1), device=device)
    sync()
    t_compile = time.perf_counter() - t
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = belief_propagation(FactorTables.from_model(model), tol=1e-6, max_iters=500)
    sync()
    dt = time.perf_counter() - t
    state = f"converged in {r.iterations} iterations" if r.converged else f"not converged after {r.iterations}"
    return ("loopy BP", f"{L}x{L} grid ({state}; compile {t_compile:.1f} s)", "seconds to converge", f"{dt:.3g}", dt + t_compile)


def binary_images(split: str, limit: int | None, data: str | None, quick: bool) -> tuple[torch.Tensor, str]:
    """Binarized MNIST (the shared files) or, without them, scikit-learn's digits upsampled to 28x28."""
    if not quick:
        try:
            from graphdgm.data import load_binarized_mnist

            x = load_binarized_mnist(split, data)
            return (x if limit is None else x[:limit]), "binarized MNIST"
        except (FileNotFoundError, OSError, ValueError):
            pass
    from sklearn.datasets import load_digits

    d = torch.tensor(load_digits().data, dtype=torch.float64) / 16.0  # (1797, 64)
    img = torch.nn.functional.interpolate(d.reshape(-1, 1, 8, 8), size=(28, 28), mode="bilinear").reshape(-1, 784)
    x = (img > 0.5).double()
    cut = int(0.8 * len(x))
    x = x[:cut] if split == "train" else x[cut:]
    return (x if limit is None else x[:limit]), "scikit-learn digits (binarized, 28x28)"


def rbm_row(device: str, quick: bool, data: str | None) -> tuple:
    x, source = binary_images("train", 2000 if quick else None, data, quick)
    hidden = 16 if quick else 500
    model = gd.compile(gd.RBM(784, hidden), device=device, dtype=torch.float32)
    x = x.to(device=device, dtype=torch.float32)
    gd.fit(model, x[:200], method="cd", k=1, epochs=1, batch_size=100, lr=0.05, progress=False, monitor_size=0)  # warm-up
    hist = gd.fit(model, x, method="cd", k=1, epochs=1, batch_size=100, lr=0.05, weight_decay=0.0, progress=False,
                  monitor_size=0, seed=0)
    s = float(hist["seconds"][0])
    return ("RBM CD-1", f"784x{hidden}, batch 100, {len(x)} images of {source}", "seconds / epoch", f"{s:.3g}", s)


def exact_row(device: str, L: int) -> tuple:
    sync = sync_for(device)
    model = gd.compile(gd.MarkovNetwork.ising_grid(L, L, coupling=0.3, field=0.1), device=device)
    t = time.perf_counter()
    m = gd.query(model)
    sync()
    cold = time.perf_counter() - t
    t = time.perf_counter()
    m = gd.query(model)
    sync()
    warm = time.perf_counter() - t
    total = float(m.tensor().sum())
    assert math.isclose(total, L * L, rel_tol=1e-9), total  # every marginal sums to one
    return ("exact marginals", f"{L}x{L} grid, all {L * L} (cold {cold:.2f} s incl. planning)", "seconds (warm)", f"{warm:.3g}",
            cold + warm)


def pixelcnn_row(device: str, minutes: float, quick: bool, data: str | None) -> tuple:
    from graphdgm.learn.maximum_likelihood import mean_nll

    train, source = binary_images("train", 1000 if quick else None, data, quick)
    test, _ = binary_images("test", 200 if quick else None, data, quick)
    spec = gd.PixelCNN((28, 28), channels=4 if quick else 32, layers=2 if quick else 5, seed=0)
    model = gd.compile(spec, device=device)
    t0, budget_s = time.perf_counter(), 60 * minutes

    def budget(epoch: int, record: dict) -> bool:
        return time.perf_counter() - t0 + record["seconds"] < budget_s  # no epoch past the budget

    hist = gd.fit(model, train.to(device), method="mle", epochs=10_000, batch_size=100, lr=1e-3, callbacks=[budget],
                  progress=False, seed=0)
    trained = time.perf_counter() - t0
    model.eval()
    nll = mean_nll(model, test.to(device), batch_size=500)
    return ("PixelCNN", f"{len(hist)} epochs in {trained / 60:.1f} min on {len(train)} images of {source}; "
            f"test {len(test)} images", "test NLL (nats)", f"{nll:.2f}", time.perf_counter() - t0)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, seconds: a smoke test on any device")
    ap.add_argument("--pixelcnn-minutes", type=float, default=4.0)
    ap.add_argument("--gibbs-sizes", type=int, nargs="*", default=None)
    ap.add_argument("--data", default=None, help="folder with the binarized MNIST files (default $GRAPHDGM_DATA)")
    ap.add_argument("--out", default=str(ROOT / "out" / "gpu_figures.md"))
    args = ap.parse_args()
    dev = args.device
    name = torch.cuda.get_device_name(dev) if dev.startswith("cuda") else (platform.processor() or platform.machine())
    quick = args.quick
    t_all = time.perf_counter()
    rows = []
    rows += gibbs_rows(dev, args.gibbs_sizes or ([16, 32] if quick else [1024, 2048, 4096]), 0.3 if quick else 10.0)
    rows.append(bp_row(dev, 12 if quick else 1000))
    rows.append(rbm_row(dev, quick, args.data))
    rows.append(exact_row(dev, 6 if quick else 20))
    rows.append(pixelcnn_row(dev, 0.05 if quick else args.pixelcnn_minutes, quick, args.data))
    total = time.perf_counter() - t_all
    head = (f"device {dev} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
            f"{', quick sizes' if quick else ''}; {total:.0f} s in all")
    lines = [f"# graphdgm GPU figures: {head}", "", "| task | setting | measure | value | seconds |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} | {e:.1f} |" for a, b, c, d, e in rows]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    write_atomically(Path(args.out), text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
