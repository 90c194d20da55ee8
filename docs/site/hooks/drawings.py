"""Regenerate the drawings under docs/site/img/ with graphdgm's own renderer:
``python docs/site/hooks/drawings.py`` (Graphviz's ``dot`` when installed, else the bundled one)."""
from __future__ import annotations

import sys
from pathlib import Path

import graphdgm as gd


def drawings() -> dict[str, object]:
    """The site's drawings by file name, each a graphviz object from ``gd.draw``."""
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("rain", [], [0.8, 0.2])
    bn.add_cpd("sprinkler", ["rain"], [[0.6, 0.4], [0.99, 0.01]])
    bn.add_cpd("wet", ["rain", "sprinkler"], [[[1, 0], [0.1, 0.9]], [[0.2, 0.8], [0.01, 0.99]]])
    hmm = gd.HiddenMarkovModel(["healthy", "fever"], [[0.7, 0.3], [0.4, 0.6]],
                               gd.CategoricalEmission([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]], ["normal", "cold", "dizzy"]),
                               initial=[0.6, 0.4])
    return {
        "ising_grid.svg": gd.draw(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4, field=0.1)),
        "rbm.svg": gd.draw(gd.RBM(6, 3)),
        "dbm.svg": gd.draw(gd.DBM([12, 8, 4])),
        "sprinkler.svg": gd.draw(bn),
        "made_masks.svg": gd.draw(gd.MADE(4, hidden=[6])),
        "markov_chain.svg": gd.draw(gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]])),
        "hmm.svg": gd.draw(hmm),
        "gan.svg": gd.draw(gd.GAN(2, latent=8, generator_hidden=[64, 64], discriminator_hidden=[64, 64])),
    }


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, drawing in drawings().items():
        gd.viz.save(drawing, out / name)
        print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "img")
