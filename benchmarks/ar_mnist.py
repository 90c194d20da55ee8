"""Autoregressive models on binarized MNIST: train by maximum likelihood within a wall-time budget,
then the exact test NLL in nats per image (autoregressive models need no AIS). Writes a sample
grid and an inpainting grid (top half given, bottom half sampled exactly) to docs/.

    .venv/bin/python benchmarks/ar_mnist.py --model made --hidden 500 --max-minutes 30
    .venv/bin/python benchmarks/ar_mnist.py --model nade --hidden 500 --max-minutes 60
    .venv/bin/python benchmarks/ar_mnist.py --model pixelcnn --max-minutes 10 --limit 10000

Published test NLLs (nats): NADE 88.86 (500 hidden), MADE 88.04 (one hidden layer) and 86.64
(mask ensemble), PixelCNN 81.30, PixelRNN 79.20.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import graphdgm as gd
from graphdgm.data import load_binarized_mnist
from graphdgm.learn.maximum_likelihood import mean_nll
from graphdgm.viz import save_image_grid

ROOT = Path(__file__).resolve().parents[1]


def build(args) -> gd.AutoregressiveModel | gd.Graph:
    if args.graph:  # the graph language: one block, one directed autoregressive edge onto itself
        g = gd.Graph(args.model)
        x = g.block("x", (28, 28), gd.Bernoulli())
        pattern = {"nade": lambda: gd.graph.TiedDense(hidden=args.hidden[0], seed=args.seed),
                   "made": lambda: gd.graph.MaskedDense(hidden=args.hidden, masks=args.masks, direct=args.direct, seed=args.seed),
                   "pixelcnn": lambda: gd.graph.MaskedConv(channels=args.channels, layers=args.layers, seed=args.seed),
                   "pixelrnn": lambda: gd.graph.RecurrentRows(hidden=args.channels, layers=args.layers, seed=args.seed)}[args.model]()
        g.connect(x, x, pattern)
        return g
    if args.model == "nade":
        return gd.NADE((28, 28), hidden=args.hidden[0], seed=args.seed)
    if args.model == "made":
        return gd.MADE((28, 28), hidden=args.hidden, masks=args.masks, direct=args.direct, seed=args.seed)
    if args.model == "pixelcnn":
        return gd.PixelCNN((28, 28), channels=args.channels, layers=args.layers, seed=args.seed)
    return gd.PixelRNN((28, 28), hidden=args.channels, layers=args.layers, seed=args.seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["nade", "made", "pixelcnn", "pixelrnn"], required=True)
    ap.add_argument("--hidden", type=int, nargs="+", default=[500])
    ap.add_argument("--masks", type=int, default=1)
    ap.add_argument("--graph", action="store_true", help="declare the model as a gd.Graph with an autoregressive edge")
    ap.add_argument("--direct", action="store_true", help="MADE: add the masked direct input-to-output connection")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10_000, help="upper bound; the wall-time budget usually stops first")
    ap.add_argument("--max-minutes", type=float, default=60.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty on the weights (not the biases)")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--patience", type=int, default=30)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N training images (short runs)")
    ap.add_argument("--eval-limit", type=int, default=None, help="evaluate on N validation and test images (every k-th)")
    ap.add_argument("--valid-limit", type=int, default=None,
                    help="early-stop on N validation images (every k-th); the test NLL still uses the whole test set")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="folder with the binarized MNIST files (default $GRAPHDGM_DATA)")
    ap.add_argument("--figures", default=None, help="prefix for PNGs in docs/, e.g. made_mnist")
    ap.add_argument("--samples", type=int, default=64, help="how many samples the grid shows")
    ap.add_argument("--save", default=None, help="save the trained model here (gd.io.save)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, valid, test = (load_binarized_mnist(s, args.data) for s in ("train", "valid", "test"))
    digits = test[::1000][:10]  # one test image of each digit (the split is ordered by digit), for the inpainting grid
    if args.limit:
        train = train[: args.limit]
    if args.eval_limit:  # a strided subset: the splits are ordered by digit
        valid, test = (s[:: max(1, len(s) // args.eval_limit)][: args.eval_limit] for s in (valid, test))
    if args.valid_limit:
        valid = valid[:: max(1, len(valid) // args.valid_limit)][: args.valid_limit]
    spec = build(args)
    model = gd.compile(spec, device=args.device)
    print(f"{spec}: {sum(p.numel() for p in model.parameters()):,} parameters, {torch.get_num_threads()} threads, "
          f"{len(train)} training images")
    t0 = time.perf_counter()
    budget_s = 60 * args.max_minutes

    def budget(epoch: int, record: dict) -> bool:
        print(f"epoch {epoch}: loss {record.get('loss', float('nan')):.2f} valid {record.get('valid_nll', float('nan')):.2f} "
              f"({record['seconds']:.0f} s, {(time.perf_counter() - t0) / 60:.1f} min)", flush=True)
        return (time.perf_counter() - t0 + record["seconds"]) < budget_s  # no epoch past the budget

    def by_the_clock(_fraction: float) -> float:
        return max(0.05, 1.0 - (time.perf_counter() - t0) / budget_s)  # linear decay over the wall-time budget

    history = gd.fit(model, train, method="mle", epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                     weight_decay=args.weight_decay, schedule=by_the_clock, validation=valid, patience=args.patience, callbacks=[budget],
                     progress=False, seed=args.seed)
    minutes = (time.perf_counter() - t0) / 60
    model.eval()
    t1 = time.perf_counter()
    test_nll = mean_nll(model, test.to(args.device), batch_size=500)
    eval_s = time.perf_counter() - t1
    res = {"model": str(spec), "epochs": len(history), "train_minutes": round(minutes, 1),
           "best_epoch": history.last.get("best_epoch"), "best_valid_nll": min(history["valid_nll"]),
           "test_nll": round(test_nll, 2), "eval_seconds": round(eval_s, 1), "threads": torch.get_num_threads(),
           "device": args.device, "train_images": len(train), "valid_images": len(valid), "test_images": len(test), "first_losses": history["loss"][:3], "last_loss": history["loss"][-1]}
    if getattr(model, "num_masks", 1) > 1:
        model.use_mask(0)
        res["test_nll_one_mask"] = round(mean_nll(model, test.to(args.device), batch_size=500, ensemble=False), 2)
    print(json.dumps(res, indent=1))
    if args.save:
        gd.io.save(model, args.save)
    if args.figures:
        t2 = time.perf_counter()
        samples = model.sample(args.samples, seed=args.seed)
        save_image_grid(samples.reshape(-1, 28, 28), ROOT / "docs" / f"{args.figures}_samples.png", ncols=8)
        digits = digits.to(args.device)
        known = torch.zeros(28, 28, dtype=torch.bool)
        known[:14] = True
        filled = model.inpaint(digits, known.reshape(-1), seed=args.seed)  # top half given: exact ancestral
        masked = digits * known.reshape(-1).to(digits) + 0.5 * (~known.reshape(-1)).to(digits)
        save_image_grid(torch.cat([digits, masked, filled]).reshape(-1, 28, 28), ROOT / "docs" / f"{args.figures}_inpainting.png", ncols=10)
        res["figure_seconds"] = round(time.perf_counter() - t2, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
        history.save(Path(args.out).with_suffix(".history.json"))


if __name__ == "__main__":
    main()
