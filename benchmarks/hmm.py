"""HMM forward-backward and Viterbi: graphdgm's batched log-space recursions against a plain numpy
implementation that handles one sequence at a time (the anchor, measured in the same run), plus
Baum-Welch's log-likelihood trace and a Markov chain's maximum-likelihood recovery error.

    python benchmarks/hmm.py                     # 1000 sequences of length 100, 10 states, 20 symbols
    python benchmarks/hmm.py --sequences 200 --length 500 --states 50
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import graphdgm as gd


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def numpy_forward_backward(log_pi: np.ndarray, log_a: np.ndarray, log_b: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior marginals (T, S) and log p(y) of one sequence, log space, the textbook recursions."""
    T, S = len(y), len(log_pi)
    alpha, beta = np.empty((T, S)), np.zeros((T, S))
    alpha[0] = log_pi + log_b[:, y[0]]
    for t in range(1, T):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + log_a, axis=0) + log_b[:, y[t]]
    for t in range(T - 2, -1, -1):
        beta[t] = logsumexp(log_a + (log_b[:, y[t + 1]] + beta[t + 1])[None, :], axis=1)
    ll = float(logsumexp(alpha[-1], axis=0))
    return np.exp(alpha + beta - ll), ll


def numpy_viterbi(log_pi: np.ndarray, log_a: np.ndarray, log_b: np.ndarray, y: np.ndarray) -> np.ndarray:
    T, S = len(y), len(log_pi)
    delta, back = log_pi + log_b[:, y[0]], np.zeros((T, S), dtype=np.int64)
    for t in range(1, T):
        scores = delta[:, None] + log_a
        back[t] = scores.argmax(0)
        delta = scores.max(0) + log_b[:, y[t]]
    path = np.empty(T, dtype=np.int64)
    path[-1] = delta.argmax()
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", type=int, default=1000)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--states", type=int, default=10)
    ap.add_argument("--symbols", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    B, T, S, M = args.sequences, args.length, args.states, args.symbols
    hmm = gd.compile(gd.HiddenMarkovModel.random(S, symbols=M, seed=0))
    _, y = hmm.sample(B, T, seed=1)  # (B, T) symbol indices
    log_pi, log_a, log_b = (t.numpy() for t in (hmm.log_initial, hmm.log_transition, hmm.log_emission))
    yn = y.numpy()

    t0 = time.perf_counter()
    post, ll = hmm.forward_backward(y)
    t_fb = time.perf_counter() - t0
    t0 = time.perf_counter()
    paths, _ = hmm.viterbi(y)
    t_vit = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = [numpy_forward_backward(log_pi, log_a, log_b, yn[b]) for b in range(B)]  # the anchor: one sequence at a time
    t_fb_np = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_paths = np.stack([numpy_viterbi(log_pi, log_a, log_b, yn[b]) for b in range(B)])
    t_vit_np = time.perf_counter() - t0
    err_post = max(float(np.abs(post[b].numpy() - ref[b][0]).max()) for b in range(B))
    err_ll = max(abs(float(ll[b]) - ref[b][1]) for b in range(B))
    same = float((paths.numpy() == ref_paths).all(1).mean())
    print(f"{B} sequences x {T} steps, {S} states, {M} symbols (float64, {torch.get_num_threads()} threads)")
    print(f"  forward-backward  graphdgm {t_fb:7.3f} s   numpy per sequence {t_fb_np:7.3f} s   ratio {t_fb_np / t_fb:6.1f}x"
          f"   max |dp| {err_post:.1e}, max |d log p| {err_ll:.1e}")
    print(f"  Viterbi           graphdgm {t_vit:7.3f} s   numpy per sequence {t_vit_np:7.3f} s   ratio {t_vit_np / t_vit:6.1f}x"
          f"   identical paths {100 * same:.1f}%")

    start = gd.compile(gd.HiddenMarkovModel.random(S, symbols=M, seed=7))
    t0 = time.perf_counter()
    history = gd.fit(start, y, method="baum_welch", iterations=20, tol=0, progress=False)
    lls = history["log_likelihood"]
    print(f"  Baum-Welch, 20 iterations from a random start: {time.perf_counter() - t0:.2f} s, log-likelihood "
          f"{lls[0]:.1f} -> {lls[-1]:.1f} (true model {float(ll.sum()):.1f}); never decreasing: "
          f"{all(b >= a - 1e-9 * abs(a) for a, b in zip(lls, lls[1:]))}")

    truth = gd.compile(gd.MarkovChain(list(range(S)), hmm.log_transition.exp().numpy()))
    x = truth.sample(B, T, seed=2)
    fitted = gd.MarkovChain.from_sequences(x, states=list(range(S)))
    print(f"  Markov chain MLE from {B * (T - 1):,} transitions: max |P_hat - P| = "
          f"{np.abs(fitted.transition - truth.spec.transition).max():.4f}")


if __name__ == "__main__":
    main()
