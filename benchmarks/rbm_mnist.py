"""A 500-hidden RBM on binarized MNIST: train by PCD, then the test NLL (nats per image) by AIS
following Salakhutdinov and Murray (2008): base-rate RBM, 14,500 temperatures, 100 runs.
Optionally a DBN (784-500-2000): a second RBM on the first one's hidden states, and the DBN's
variational lower bound with the top RBM's log Z by AIS. Writes sample grids to docs/.

    .venv/bin/python benchmarks/rbm_mnist.py --epochs 300 [--dbn-epochs 60] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import graphdgm as gd
from graphdgm.data import load_binarized_mnist
from graphdgm.infer.rbm_ais import dbn_log_likelihood_bound, rbm_log_likelihood
from graphdgm.viz import save_image_grid

ROOT = Path(__file__).resolve().parents[1]


def sample_grid(model, path: Path, n: int = 100, steps: int = 1000, seed: int = 0) -> None:
    """``n`` chains of ``steps`` Gibbs sweeps; the grid shows p(v | h) of the last state."""
    v = model.sample(n, steps=steps, seed=seed)
    with torch.no_grad():
        save_image_grid(model.visible_mean(model.sample_hidden(v)), path, ncols=10)


def train_rbm(rbm, train, valid, args, out: Path):
    t0 = time.perf_counter()

    def budget(epoch: int, record: dict) -> bool:
        return (time.perf_counter() - t0 + record["seconds"]) / 60 < args.max_minutes  # False stops: no epoch past the budget

    def by_the_clock(_fraction: float) -> float:
        """Linear decay to zero over the wall-time budget (robust to how fast this machine is today)."""
        return max(0.0, 1.0 - (time.perf_counter() - t0) / (60 * args.max_minutes))

    hist = gd.fit(rbm, train, method=args.method, k=args.k, chains=args.chains if args.method == "pcd" else None, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                  schedule=by_the_clock if args.epochs_by_time else "linear",
                  validation=valid, seed=args.seed, progress=True, checkpoint=out / "rbm_mnist.pt",
                  callbacks=[budget], init_visible_bias=not args.init_from)
    train_s = time.perf_counter() - t0
    hist.save(out / "rbm_mnist_history.json")
    print(f"training: {train_s / 60:.1f} min; last epoch {hist.last}", flush=True)
    return hist, train_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--epochs-by-time", action="store_true",
                    help="decay the learning rate linearly in wall time to zero at --max-minutes (and stop there)")
    ap.add_argument("--method", default="pcd", choices=["cd", "pcd"])
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--chains", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, default=30.0, help="stop training before an epoch would pass this wall time")
    ap.add_argument("--ais-runs", type=int, default=100)
    ap.add_argument("--ais-betas", default="salakhutdinov_murray", help="'salakhutdinov_murray' or a step count")
    ap.add_argument("--dbn-epochs", type=int, default=0, help="train the DBN's second layer (500-2000) for this many epochs")
    ap.add_argument("--dbn-hidden", type=int, default=2000)
    ap.add_argument("--data", default=None, help="folder or file of binarized_mnist.npz (default: $GRAPHDGM_DATA)")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figures", default="rbm_mnist", help="name prefix of the PNGs written to docs/")
    ap.add_argument("--init-from", default=None,
                    help="continue training from the checkpoint a previous run wrote (fresh optimizer and chains)")
    ap.add_argument("--eval-from", default=None,
                    help="skip training: evaluate the checkpoint a previous run wrote (its history JSON beside it)")
    args = ap.parse_args()
    betas = args.ais_betas if args.ais_betas == "salakhutdinov_murray" else int(args.ais_betas)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, valid, test = (load_binarized_mnist(s, args.data) for s in ("train", "valid", "test"))
    print(f"# RBM 784-{args.hidden}, {args.method.upper()}-{args.k}, up to {args.epochs} epochs and {args.max_minutes} min, lr {args.lr} "
          f"(linear decay {'in wall time' if args.epochs_by_time else 'over the epochs'}), "
          f"batch {args.batch_size}, chains {args.chains}, weight decay {args.weight_decay}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

    rbm = gd.compile(gd.RBM(784, args.hidden, seed=args.seed), dtype=torch.float32)
    previous = []
    if args.init_from:
        state = torch.load(args.init_from, map_location="cpu", weights_only=False)
        rbm.load_state_dict(state["model"])
        previous = state["history"]
        print(f"continuing from {args.init_from}: {len(previous)} epochs, "
              f"{sum(r['seconds'] for r in previous) / 60:.1f} min of training before", flush=True)
    if args.eval_from:
        state = torch.load(args.eval_from, map_location="cpu", weights_only=False)
        rbm.load_state_dict(state["model"])
        hist = gd.learn.History(state["history"])
        train_s = sum(r["seconds"] for r in hist.records)
        print(f"loaded {args.eval_from}: {len(hist)} epochs, {train_s / 60:.1f} min of training (sum of epoch times)", flush=True)
    else:
        hist, train_s = train_rbm(rbm, train, valid, args, out)
        if previous:
            hist = gd.learn.History(previous + hist.records)
            train_s += sum(r["seconds"] for r in previous)
    t0 = time.perf_counter()
    res = rbm_log_likelihood(rbm, test, runs=args.ais_runs, betas=betas, base_data=train, seed=args.seed, progress=True)
    ais_s = time.perf_counter() - t0
    with torch.no_grad():
        f_train = torch.cat([rbm.free_energy(c).double() for c in train[:10000].split(5000)])
    train_nll = float(f_train.mean() + res.log_z)
    result = {
        "rbm": {"hidden": args.hidden, "method": f"{args.method}-{args.k}", "epochs": len(hist), "lr": args.lr,
                "weight_decay": args.weight_decay, "chains": args.chains, "train_minutes": train_s / 60,
                "test_nll": -res.log_likelihood, "train_nll_first_10k": train_nll, "log_z": float(res.log_z),
                "log_z_3sigma": res.log_z_bounds, "ais_ess": res.effective_sample_size, "ais_minutes": ais_s / 60,
                "ais_runs": args.ais_runs, "ais_betas": str(args.ais_betas)},
    }
    print(f"RBM test NLL {-res.log_likelihood:.2f} nats (train {train_nll:.2f}); log Z {float(res.log_z):.2f} "
          f"[{res.log_z_bounds[0]:.2f}, {res.log_z_bounds[1]:.2f}]; AIS {ais_s:.0f} s, ESS {res.effective_sample_size:.1f}", flush=True)
    sample_grid(rbm, ROOT / "docs" / f"{args.figures}_samples.png")
    known = torch.zeros(784, dtype=torch.bool)
    known[:392] = True  # the top half of each image is given
    shown = test[::1000][:10]  # one image in a thousand: the split is ordered by digit
    filled = rbm.inpaint(shown, known, steps=500)
    with torch.no_grad():
        grid = torch.cat([shown, torch.where(known, shown, torch.full_like(shown, 0.5)), filled])
    save_image_grid(grid, ROOT / "docs" / f"{args.figures}_inpainting.png", ncols=10)

    if args.dbn_epochs > 0:
        dbn = gd.compile(gd.DBN([784, args.hidden, args.dbn_hidden], seed=args.seed), dtype=torch.float32)
        dbn.rbms[0].load_state_dict(rbm.state_dict())
        g = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            h1 = torch.cat([rbm.sample_hidden(c, g) for c in train.split(10000)])
            h1_valid = rbm.sample_hidden(valid, g)
        t0 = time.perf_counter()
        dh = gd.fit(dbn.rbms[1], h1, method=args.method, k=args.k, chains=args.chains if args.method == "pcd" else None, epochs=args.dbn_epochs,
                    batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, schedule="linear",
                    validation=h1_valid, seed=args.seed, progress=True, checkpoint=out / "dbn_layer2.pt")
        dbn_s = time.perf_counter() - t0
        dh.save(out / "dbn_layer2_history.json")
        t0 = time.perf_counter()
        bound = dbn_log_likelihood_bound(dbn, test, base_data=train, runs=args.ais_runs, betas=betas, seed=args.seed, progress=True)
        result["dbn"] = {"layers": [784, args.hidden, args.dbn_hidden], "layer2_epochs": args.dbn_epochs,
                         "layer2_train_minutes": dbn_s / 60, "test_nll_upper_bound": -bound.bound, "stderr": bound.stderr,
                         "top_log_z": float(bound.top.log_z), "ais_minutes": (time.perf_counter() - t0) / 60}
        print(f"DBN test NLL <= {-bound.bound:.2f} nats (lower bound on log p {bound.bound:.2f} ± {bound.stderr:.2f}); "
              f"layer 2 trained in {dbn_s / 60:.1f} min", flush=True)
        with torch.no_grad():
            v = dbn.sample(100, steps=1000, seed=args.seed, means=True)
        save_image_grid(v, ROOT / "docs" / "dbn_mnist_samples.png", ncols=10)
    (out / f"{args.figures}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
