"""Autoregressive sampling speed: PixelCNN and PixelRNN with cached rows (the vertical stack, the
LSTM states) against a full forward pass per pixel (the anchor, the same model in the same run),
and NADE / MADE sampling times (for before/after comparisons of a code change, run this script
from both checkouts with ``PYTHONPATH``).

    .venv/bin/python benchmarks/ar_sampling.py --threads 1
    .venv/bin/python benchmarks/ar_sampling.py --quick          # tiny sizes, seconds

Untrained models (sampling cost does not depend on the weights' values), 28x28 images.
"""
from __future__ import annotations

import argparse
import time
import types

import torch

import graphdgm as gd
from graphdgm.compiler import CompiledAutoregressive


def timed(fn, repeats: int) -> float:
    """The best of ``repeats`` wall times of ``fn()`` (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="8x8 images, small models: a smoke test")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape, ch = ((8, 8), 8) if args.quick else ((28, 28), 32)
    n = 4 if args.quick else args.samples
    print(f"{n} samples of {shape[0]}x{shape[1]}, {torch.get_num_threads()} threads")
    image_models = {f"PixelCNN (5 layers x {ch})": gd.PixelCNN(shape, channels=ch, layers=5),
                    f"PixelRNN (2 layers x {ch})": gd.PixelRNN(shape, hidden=ch, layers=2)}
    for name, spec in image_models.items():
        model = gd.compile(spec)
        cached = timed(lambda: model.sample(n, seed=0), args.repeats)
        full_model = gd.compile(spec)  # the anchor: the base class's hook, one full forward pass per pixel
        full_model.next_logit = types.MethodType(CompiledAutoregressive.next_logit, full_model)
        full = timed(lambda: full_model.sample(n, seed=0), 1 if not args.quick else args.repeats)
        same = torch.equal(model.sample(n, seed=0), full_model.sample(n, seed=0))
        print(f"  {name:26s} cached rows {cached:7.2f} s   full pass per pixel {full:7.2f} s   ratio {full / cached:6.1f}x"
              f"   identical samples: {same}")
    D = shape[0] * shape[1]
    for name, spec in {"NADE (500 hidden)": gd.NADE(D, hidden=500 if not args.quick else 16),
                       "MADE (500 hidden)": gd.MADE(D, hidden=[500 if not args.quick else 16], direct=True)}.items():
        model = gd.compile(spec)
        print(f"  {name:26s} {timed(lambda: model.sample(n * 4, seed=0), args.repeats):7.3f} s for {n * 4} samples")


if __name__ == "__main__":
    main()
