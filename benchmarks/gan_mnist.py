"""A GAN on binarized MNIST: a sample grid and sample-quality figures against held-out test images.

Trains ``gd.GAN((28, 28), data="binary")`` (DCGAN networks by default) with the non-saturating loss
through ``gd.fit(method="adversarial")`` for ``--epochs`` or ``--max-minutes``, then compares 1000
samples (thresholded at 0.5) with 1000 test images (a random subset: the files hold runs of
similar digits, so the first 1000 are not representative) by

- the kernel MMD² (Gaussian kernel, bandwidth the median distance between test images, fixed for
  every row so the rows compare), and
- k-NN precision and recall (Kynkäänniemi et al. 2019, k=3, in pixel space).

Anchors measured in the same run: 1000 *validation* images (what a perfect model scores) and 1000
draws from independent Bernoullis with the training pixel means (a model with no structure); the
MMD² column's ratio is against the latter (the share of its discrepancy left).

    python benchmarks/gan_mnist.py --max-minutes 15 --figures docs
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import graphdgm as gd
from graphdgm.infer.sample_quality import _sq_dists, kernel_mmd, knn_precision_recall
from graphdgm.viz.images import save_image_grid


def quality(name: str, x: torch.Tensor, test: torch.Tensor, bandwidth: float, k: int) -> dict:
    mmd = kernel_mmd(x, test, bandwidth=bandwidth)
    p, r = knn_precision_recall(test, x, k=k)
    return {"name": name, "mmd2": mmd, "precision": p, "recall": r}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", choices=["dcgan", "mlp"], default="dcgan")
    ap.add_argument("--loss", choices=["non_saturating", "wgan_gp", "hinge"], default="non_saturating")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--hidden", type=int, nargs="+", default=[512, 512], help="MLP layer sizes")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--r1", type=float, default=0.0, help="R1 penalty weight on real data")
    ap.add_argument("--pack", type=int, default=1, help="samples the discriminator sees at once (PacGAN)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint file; with --resume, continue from it")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images")
    ap.add_argument("--eval", type=int, default=1000, help="samples and test images compared")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data", default=None, help="folder of binarized MNIST (default: $GRAPHDGM_DATA)")
    ap.add_argument("--figures", default=None, help="folder for gan_mnist_samples.png")
    ap.add_argument("--samples-dir", default=None, help="write a sample grid here after every epoch")
    ap.add_argument("--json", default=None)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train = gd.data.load_binarized_mnist("train", args.data).float()
    valid = gd.data.load_binarized_mnist("valid", args.data).float()
    test = gd.data.load_binarized_mnist("test", args.data).float()
    if args.limit:
        train = train[:args.limit]
    pick = torch.Generator().manual_seed(1234)  # random subsets: the files hold runs of similar digits
    test_eval = test[torch.randperm(len(test), generator=pick)[:args.eval]].reshape(args.eval, -1)
    valid_eval = valid[torch.randperm(len(valid), generator=pick)[:args.eval]].reshape(args.eval, -1)
    d = _sq_dists(test_eval.double(), test_eval.double())
    bandwidth = float(d[d > 0].median().sqrt())
    spec = gd.GAN((28, 28), latent=args.latent, generator=args.net, discriminator=args.net, channels=args.channels,
                  generator_hidden=args.hidden, discriminator_hidden=args.hidden, data="binary", pack=args.pack,
                  seed=args.seed)
    gan = gd.compile(spec)
    print(spec)
    t0 = time.perf_counter()

    def budget(epoch: int, record: dict) -> bool:
        minutes = (time.perf_counter() - t0) / 60
        print(f"epoch {epoch}: loss_d {record['loss_d']:.3f} loss_g {record['loss_g']:.3f} ({minutes:.1f} min)", flush=True)
        return args.max_minutes is None or minutes < args.max_minutes

    history = gd.fit(gan, train, method="adversarial", loss=args.loss, epochs=args.epochs, batch_size=args.batch,
                     lr=args.lr, r1=args.r1, seed=args.seed, callbacks=[budget], progress=args.progress,
                     checkpoint=args.checkpoint, resume=args.resume,
                     sample_every=1 if args.samples_dir else 0, sample_dir=args.samples_dir)
    minutes = (time.perf_counter() - t0) / 60
    g = torch.Generator().manual_seed(args.seed + 7)
    marginals = train.reshape(len(train), -1).mean(0)
    rows = [
        quality("anchor: validation images", valid_eval, test_eval, bandwidth, args.k),
        quality("anchor: independent pixels", torch.bernoulli(marginals.expand(args.eval, -1), generator=g), test_eval, bandwidth, args.k),
        quality(f"GAN ({args.net}, {args.loss}), thresholded", gan.sample(args.eval, seed=args.seed + 1, binarize="threshold"),
                test_eval, bandwidth, args.k),
        quality(f"GAN ({args.net}, {args.loss}), Bernoulli draws", gan.sample(args.eval, seed=args.seed + 1, binarize="bernoulli"),
                test_eval, bandwidth, args.k),
    ]
    print(f"\n{len(history)} epochs in {minutes:.1f} min; kernel bandwidth {bandwidth:.2f} (median test distance), k={args.k}")
    print(f"{'samples':45s} {'MMD^2':>8s} {'vs indep':>9s} {'precision':>10s} {'recall':>7s}")
    for r in rows:
        ratio = r["mmd2"] / max(rows[1]["mmd2"], 1e-12)
        print(f"{r['name']:45s} {r['mmd2']:8.4f} {ratio:8.1f}x {r['precision']:10.3f} {r['recall']:7.3f}")
    if args.figures:
        path = save_image_grid(gan.sample(100, seed=args.seed + 2), Path(args.figures) / "gan_mnist_samples.png", ncols=10)
        print(f"wrote {path}")
    if args.json:
        Path(args.json).write_text(json.dumps({"epochs": len(history), "minutes": minutes, "rows": rows,
                                               "history": history.records}, indent=1))


if __name__ == "__main__":
    main()
