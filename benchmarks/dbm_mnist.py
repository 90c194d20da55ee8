"""A deep Boltzmann machine 784-500-1000 on binarized MNIST, declared as a graph (``gd.DBM``):
greedy layer-wise pre-training, then joint PCD with a mean-field positive phase, all inside one
wall-time budget on this machine; then the test NLL as the variational lower bound with log Z
by AIS, on all 10,000 test images, and sample pictures.

    GRAPHDGM_DATA=../shared/data .venv/bin/python benchmarks/dbm_mnist.py --max-minutes 60
    GRAPHDGM_DATA=../shared/data .venv/bin/python benchmarks/dbm_mnist.py --evaluate out/bench/dbm_mnist.pt

The second form evaluates a saved model without training. Three lower bounds are reported: the
mean-field variational bound (q factorised over h1 and h2); the variational bound with h2 summed
out exactly (q(h1) from mean field, one Monte Carlo draw per image); and the importance-weighted
bound over ``--bound-samples`` draws of h1 from q, h2 again summed out. log Z comes from AIS
over h1 with v and h2 summed out, from a base whose latent marginals are the training data's
posterior ones.

Writes ``out/bench/dbm_mnist*`` (model, histories, summary JSON) and the figures
``docs/dbm_mnist_samples.png`` and ``docs/dbm_mnist_drawing.svg`` when ``--figures`` names them.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import graphdgm as gd
from graphdgm.data import load_binarized_mnist
from graphdgm.infer.graph_ais import graph_log_likelihood, graph_log_likelihood_bound
from graphdgm.infer.mcmc import BlockGibbs, sample_chains
from graphdgm.learn import pretrain_dbm
from graphdgm.runtime.files import atomic_write_text
from graphdgm.viz import save_image_grid

ROOT = Path(__file__).resolve().parents[1]
TRAINING_KEYS = ("train_minutes", "pretrain_minutes", "pretrain_epochs", "joint_epochs")


class Budget:
    """Wall-time phases: one per pre-trained layer, then the joint training. As a training callback
    it stops a phase before an epoch would pass the phase's minutes; as a learning-rate schedule it
    decays linearly to zero over them. A phase starts at its first learning-rate step after the
    previous one stopped."""

    def __init__(self, minutes: list[float]) -> None:
        self.minutes, self.phase, self.t0, self.pending = minutes, -1, 0.0, True

    def __call__(self, epoch: int, record: dict) -> bool:
        keep_going = (time.perf_counter() - self.t0 + record["seconds"]) / 60 < self.minutes[self.phase]
        self.pending = not keep_going
        return keep_going

    def schedule(self, _fraction: float) -> float:
        if self.pending:
            self.phase, self.t0, self.pending = self.phase + 1, time.perf_counter(), False
        return max(0.0, 1.0 - (time.perf_counter() - self.t0) / (60 * self.minutes[self.phase]))


def train(args: argparse.Namespace, x: torch.Tensor, out: Path):
    """Pre-training then joint PCD inside the wall-time budget; saves the model and its history."""
    m = args.max_minutes
    shares = [m * args.pretrain_share[0], m * args.pretrain_share[1]]
    budget = Budget([*shares, m - sum(shares)])
    print(f"# DBM 784-500-1000 on {len(x)} images; budget {m} min (pre-training {shares[0]:.1f} + {shares[1]:.1f}, joint "
          f"{m - sum(shares):.1f}); torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}", flush=True)

    model = gd.compile(gd.DBM([784, 500, 1000], seed=args.seed), dtype="float32")
    t0 = time.perf_counter()
    # greedy layer-wise pre-training (doubled bottom and top RBMs), CD-1, each layer in its own time slice
    histories = pretrain_dbm(model, x, epochs=[10_000, 10_000], lr=args.pretrain_lr, batch_size=args.batch_size,
                             weight_decay=args.weight_decay, schedule=budget.schedule, callbacks=[budget],
                             monitor_size=0, seed=args.seed, progress=True)
    t_pre = time.perf_counter() - t0
    print(f"pre-training: {t_pre / 60:.1f} min, epochs {[len(h) for h in histories]}", flush=True)
    joint = gd.fit(model, x, method="pcd", chains=args.chains, k=args.k, epochs=10_000, batch_size=args.batch_size,
                   lr=args.lr, weight_decay=args.weight_decay, schedule=budget.schedule, callbacks=[budget],
                   positive="mean_field", mean_field_steps=args.mean_field_steps, monitor_size=0, seed=args.seed,
                   init_visible_bias=False, progress=True)
    t_train = time.perf_counter() - t0
    print(f"joint PCD: {len(joint)} epochs; all training {t_train / 60:.1f} min", flush=True)
    gd.io.save(model, out / "dbm_mnist.pt")
    joint.save(out / "dbm_mnist_history.json")

    return model, histories, joint, t_pre, t_train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder or file of binarized_mnist.npz (default: $GRAPHDGM_DATA)")
    ap.add_argument("--max-minutes", type=float, default=60.0, help="wall time for all training (pre-training + joint)")
    ap.add_argument("--pretrain-share", type=float, nargs=2, default=[0.12, 0.08],
                    help="fractions of the budget for the first and second layer's pre-training")
    ap.add_argument("--pretrain-lr", type=float, default=0.05)
    ap.add_argument("--lr", type=float, default=0.002, help="joint PCD learning rate (decays linearly to 0 in wall time)")
    ap.add_argument("--chains", type=int, default=100)
    ap.add_argument("--k", type=int, default=5, help="Gibbs sweeps of the persistent chains per update")
    ap.add_argument("--mean-field-steps", type=int, default=10)
    ap.add_argument("--weight-decay", type=float, default=2e-4)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--ais-runs", type=int, default=600)
    ap.add_argument("--bound-samples", type=int, default=100, help="importance samples per test image (0: mean field only)")
    ap.add_argument("--evaluate", default=None, help="a saved model (gd.io.save) to evaluate instead of training one")
    ap.add_argument("--ais-betas", default="salakhutdinov_murray", help="'salakhutdinov_murray' (14,500) or a number")
    ap.add_argument("--test-size", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "out" / "bench"))
    ap.add_argument("--figures", default=None, help="prefix under docs/ for the sample grid, e.g. dbm_mnist")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    x = load_binarized_mnist("train", args.data, dtype=torch.float32)
    test = load_binarized_mnist("test", args.data, dtype=torch.float32)[: args.test_size]
    if args.evaluate:  # the training figures come from the summary the training run wrote beside the model
        model = gd.io.load(args.evaluate)
        earlier = Path(args.evaluate).with_name(Path(args.evaluate).stem + "_summary.json")
        before = json.loads(earlier.read_text()) if earlier.exists() else {}
        trained = {k: before[k] for k in TRAINING_KEYS if k in before}
        trained["training_args"] = before.get("training_args", before.get("args"))
        print(f"# evaluating {args.evaluate} (no training)", flush=True)
    else:
        model, histories, joint, t_pre, t_train = train(args, x, out)
        trained = {"train_minutes": t_train / 60, "pretrain_minutes": t_pre / 60,
                   "pretrain_epochs": [len(h) for h in histories], "joint_epochs": len(joint), "training_args": vars(args)}

    # evaluation in float64: log Z by AIS over h1 (v and h2 summed out); two bounds per test image
    model64 = gd.compile(model.spec, dtype="float64")
    model64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    t1 = time.perf_counter()
    betas = int(args.ais_betas) if args.ais_betas.isdigit() else args.ais_betas
    r = graph_log_likelihood(model64, test.double(), runs=args.ais_runs, betas=betas, base_data=x.double(), seed=args.seed,
                             mean_field_steps=50, progress=True)
    ais = r.ais
    sampled = {}  # h2 summed out, h1 drawn from the mean-field q: K = 1 is the variational bound of that q,
    for k in sorted({1, args.bound_samples} - {0}):  # K > 1 the importance-weighted bound
        sampled[k] = -float(graph_log_likelihood_bound(model64, test.double(), ais.log_z, samples=k, seed=args.seed).mean())
    t_eval = time.perf_counter() - t1
    summary = {
        **{k: v for k, v in trained.items() if k != "training_args"},
        "test_images": len(test), "test_nll_bound": -r.log_likelihood,
        "test_nll_h2_summed_bound": sampled.get(1), "test_nll_iw_bound": sampled.get(args.bound_samples),
        "bound_samples": args.bound_samples,
        "log_z": float(ais.log_z), "log_z_bounds": [float(b) for b in ais.log_z_bounds], "log_z_stderr": float(ais.stderr),
        "log_z_floor": r.log_z_floor, "ais_ess": ais.effective_sample_size, "ais_runs": args.ais_runs,
        "eval_minutes": t_eval / 60, "evaluated": args.evaluate, "args": vars(args),
        "training_args": trained.get("training_args"),
    }
    summary_path = out / ("dbm_mnist_eval_summary.json" if args.evaluate else "dbm_mnist_summary.json")
    atomic_write_text(summary_path, json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("args", "training_args")}, indent=2), flush=True)

    if args.figures:  # samples: 100 chains of 1000 block-Gibbs sweeps; the grid shows E[v | h1] of the last state
        res = sample_chains(model64, BlockGibbs(), chains=100, sweeps=2, burn_in=999, keep="all", seed=args.seed,
                            rhat_threshold=None)
        last = res.samples[-1].to(torch.float64)  # (C, n): two states kept, the last shown
        xs = model64.split(last)
        with torch.no_grad():
            mean_v = torch.sigmoid(model64.field("v", xs, bias=model64.natural_bias("v")))
        save_image_grid(mean_v, ROOT / "docs" / f"{args.figures}_samples.png", ncols=10)
        print(f"samples: docs/{args.figures}_samples.png", flush=True)


if __name__ == "__main__":
    main()
