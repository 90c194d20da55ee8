"""Regenerate the small UAI models and evidence files of this folder (run once; tests read the files).

    python tests/data/uai/make_uai_files.py

``markov5.uai``: a MARKOV model, 5 variables of 2 or 3 states, pairwise and triple tables, written
by graphdgm.io.write_uai from random log-potentials. ``bayes4.uai``: a BAYES model (4 variables,
CPTs written by this script: UAI's last scope variable is the child). Each has a ``.evid`` file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import graphdgm as gd

HERE = Path(__file__).resolve().parent


def markov5(rng: np.random.Generator) -> None:
    mn = gd.MarkovNetwork("markov5")
    cards = [2, 3, 2, 2, 3]
    for i, k in enumerate(cards):
        mn.add_variable(f"a{i}", gd.Categorical(k))
    for scope in ([0, 1], [1, 2], [2, 3], [3, 4], [0, 4], [1, 3, 4], [2]):
        shape = tuple(cards[v] for v in scope)
        mn.add_factor([f"a{v}" for v in scope], log_table=rng.normal(0.0, 0.8, size=shape))
    gd.io.write_uai(mn, HERE / "markov5.uai")
    gd.io.write_evidence({1: 2, 3: 0}, HERE / "markov5.uai.evid")


def bayes4(rng: np.random.Generator) -> None:
    cards = [2, 3, 2, 2]
    scopes = [[0], [0, 1], [1, 2], [0, 2, 3]]  # P(x0), P(x1|x0), P(x2|x1), P(x3|x0,x2)
    lines = ["BAYES", str(len(cards)), " ".join(map(str, cards)), str(len(scopes))]
    lines += [" ".join(map(str, [len(s), *s])) for s in scopes]
    for s in scopes:
        shape = tuple(cards[v] for v in s)
        t = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]).reshape(shape)
        lines += ["", str(t.size), " ".join(repr(float(x)) for x in t.ravel())]
    (HERE / "bayes4.uai").write_text("\n".join(lines) + "\n")
    gd.io.write_evidence({3: 1}, HERE / "bayes4.uai.evid", samples_header=True)


if __name__ == "__main__":
    rng = np.random.default_rng(2014)
    markov5(rng)
    bayes4(rng)
