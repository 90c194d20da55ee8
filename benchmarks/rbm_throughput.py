"""Seconds per epoch of CD-1 on binarized MNIST (784 x 500, batch 100): graphdgm's generic CD
(autograd of the free-energy difference, through the shared training loop) against a plain
hand-written torch CD-1 loop and scikit-learn's BernoulliRBM, all in this run, interleaved.

    .venv/bin/python benchmarks/rbm_throughput.py [--epochs 3] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch

import graphdgm as gd
from graphdgm.data import load_binarized_mnist

V, H, B = 784, 500, 100


def hand_written_epoch(x: torch.Tensor, W, b, c, dW, db, dc, g: torch.Generator, lr=0.05, mom=0.9) -> None:
    """The practical limit: CD-1 with manual momentum SGD, five products per batch."""
    perm = torch.randperm(len(x), generator=g)
    for i in range(0, len(x), B):
        v0 = x[perm[i:i + B]]
        ph0 = torch.sigmoid(torch.addmm(c, v0, W))  # (B, H)
        h0 = (torch.rand(ph0.shape, generator=g) < ph0).to(v0.dtype)
        v1 = (torch.rand(v0.shape, generator=g) < torch.sigmoid(torch.addmm(b, h0, W.t()))).to(v0.dtype)
        ph1 = torch.sigmoid(torch.addmm(c, v1, W))
        gW = (v0.t() @ ph0 - v1.t() @ ph1) / B
        dW.mul_(mom).add_(gW, alpha=lr)
        db.mul_(mom).add_(v0.mean(0) - v1.mean(0), alpha=lr)
        dc.mul_(mom).add_(ph0.mean(0) - ph1.mean(0), alpha=lr)
        W += dW
        b += db
        c += dc


def contenders(x: torch.Tensor, dt: torch.dtype) -> tuple[dict[str, Callable[[int], float]], torch.nn.Module]:
    """One epoch of each CD-1 implementation, as ``epoch(e) -> seconds``, each on its own fresh
    784 x 500 model (hand-written torch, graphdgm, scikit-learn), and graphdgm's model."""
    from sklearn.neural_network import BernoulliRBM

    x_np = x.numpy()
    g = torch.Generator().manual_seed(0)
    W = 0.01 * torch.randn(V, H, generator=g, dtype=dt)
    b, c = torch.zeros(V, dtype=dt), torch.zeros(H, dtype=dt)
    dW, db, dc = torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)
    model = gd.compile(gd.RBM(V, H), dtype=dt)
    skl = BernoulliRBM(n_components=H, batch_size=B, learning_rate=0.05, n_iter=1, random_state=0)

    def hand(e: int) -> float:
        t = time.perf_counter()
        hand_written_epoch(x, W, b, c, dW, db, dc, g)
        return time.perf_counter() - t

    def graphdgm(e: int) -> float:
        hist = gd.fit(model, x, method="cd", k=1, epochs=1, batch_size=B, lr=0.05, weight_decay=0.0, momentum_warmup=0,
                      seed=e, progress=False, monitor_size=0, init_visible_bias=False)
        return hist["seconds"][0]  # the epoch itself, as for the others (no data checks)

    def sklearn(e: int) -> float:
        t = time.perf_counter()
        skl.fit(x_np)  # n_iter=1: one epoch
        return time.perf_counter() - t

    return {"hand-written torch": hand, "graphdgm": graphdgm, "scikit-learn": sklearn}, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs timed per method (median reported)")
    ap.add_argument("--data", default=None, help="folder or file of binarized_mnist.npz (default: $GRAPHDGM_DATA)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    dt = getattr(torch, args.dtype)
    x = load_binarized_mnist("train", args.data, dtype=dt)
    print(f"# CD-1, {V}x{H}, batch {B}, {len(x)} images, {args.dtype}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")

    epochs, model = contenders(x, dt)
    times: dict[str, list[float]] = {k: [] for k in epochs}
    for e in range(args.epochs):  # interleaved, so drift hits every method alike
        for k, epoch in epochs.items():
            times[k].append(epoch(e))
    med = {k: statistics.median(v) for k, v in times.items()}
    hand = med["hand-written torch"]
    print("| method | s / epoch (median of %d) | speed vs hand-written |" % args.epochs)
    print("| --- | --- | --- |")
    for k, s in med.items():
        print(f"| {k} | {s:.2f} | {hand / s:.2f}x |")
    print(f"graphdgm vs hand-written: {hand / med['graphdgm']:.2f}x (target >= 0.9); "
          f"vs scikit-learn: {med['scikit-learn'] / med['graphdgm']:.2f}x faster")
    with torch.no_grad():
        err = float(((model.reconstruct(x[:1000]) - x[:1000]) ** 2).sum(1).mean())
    print(f"sanity: graphdgm's reconstruction error after {args.epochs} epochs: {err:.1f} pixels^2 per image")


if __name__ == "__main__":
    main()
