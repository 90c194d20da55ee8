"""Generated inference problems of the hard kinds: spin-glass grids and pedigree (linkage) networks.

Both are the families on which exact inference competitions are run: a grid's width grows with its
side, and a pedigree's with its loops (relatives having children together) times its loci.
"""
from __future__ import annotations

import numpy as np

from graphdgm.errors import SpecError


def spin_glass_grid(side: int, coupling_std: float = 1.0, field_std: float = 0.1, seed: int = 0) -> "MarkovNetwork":
    """A ``side`` x ``side`` Ising grid with couplings N(0, coupling_std) and fields N(0, field_std).

    >>> import graphdgm as gd
    >>> gd.data.spin_glass_grid(3).num_variables
    9
    """
    from graphdgm.spec import MarkovNetwork
    from graphdgm.spec import grid_edges

    if int(side) < 1:
        raise SpecError(f"spin_glass_grid: side={side!r} must be a positive integer")
    rng = np.random.default_rng(seed)
    J = rng.normal(0.0, coupling_std, size=len(grid_edges(side, side)))
    h = rng.normal(0.0, field_std, size=(side, side))
    return MarkovNetwork.ising_grid(side, side, coupling=J, field=h)


def pedigree_network(individuals: int = 40, loci: int = 4, founders: int = 8, alleles: tuple[int, int] = (2, 3),
                     observed: float = 0.8, seed: int = 0) -> tuple["BayesianNetwork", dict[str, int]]:
    """A linkage-style pedigree Bayesian network and evidence on its phenotypes.

    Per individual and locus: paternal and maternal alleles (2-4 states, ``alleles`` is the range),
    and for a non-founder two binary selectors saying which of a parent's alleles was inherited;
    selectors are chained along the loci (recombination). An allele depends on the parent's two
    alleles and the selector (3 parents, with mutation), a phenotype on the alleles at two
    neighbouring loci (4 parents). Parents are drawn from everyone born before, so relatives mate
    and the network has loops. Returns the network and a phenotype sample for a fraction
    ``observed`` of the phenotypes (drawn from the network, so never impossible).

    >>> import graphdgm as gd
    >>> bn, evidence = gd.data.pedigree_network(individuals=6, loci=2, founders=3)
    >>> len(bn.variables) > 20, len(evidence) > 0
    (True, True)
    """
    from graphdgm.spec import BayesianNetwork
    from graphdgm.spec import Categorical

    if founders < 2 or individuals <= founders or loci < 1:
        raise SpecError(f"pedigree_network: needs founders >= 2, individuals > founders and loci >= 1 "
                        f"(got individuals={individuals}, loci={loci}, founders={founders})")
    lo, hi = int(alleles[0]), int(alleles[1])
    if not 2 <= lo <= hi:
        raise SpecError(f"pedigree_network: alleles={alleles!r} must be a range (lo, hi) with 2 <= lo <= hi")
    rng = np.random.default_rng(seed)
    cards = rng.integers(lo, hi + 1, size=loci)
    bn = BayesianNetwork(f"pedigree_{individuals}x{loci}")
    sex = rng.integers(0, 2, size=individuals)
    sex[0], sex[1] = 0, 1  # at least one of each among the founders

    def dirichlet(*shape: int) -> np.ndarray:
        return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) if len(shape) > 1 else rng.dirichlet(np.ones(shape[0]))

    parents: list[tuple[int, int] | None] = [None] * founders
    generation = list(range(founders))  # parents come from the generation before
    while len(parents) < individuals:
        born = list(range(len(parents), min(len(parents) + founders, individuals)))
        fathers = [j for j in generation if sex[j] == 0] or generation[:1]
        mothers = [j for j in generation if sex[j] == 1] or generation[-1:]
        for _ in born:
            parents.append((int(rng.choice(fathers)), int(rng.choice(mothers))))
        generation = born
    for i in range(individuals):
        for l in range(loci):
            k = int(cards[l])
            for side in "pm":
                bn.add_variable(f"g{side}{i}_{l}", Categorical(k))
                if parents[i] is not None:
                    bn.add_variable(f"s{side}{i}_{l}", Categorical(2))
            bn.add_variable(f"ph{i}_{l}", Categorical(2))
    for i in range(individuals):
        for l in range(loci):
            k = int(cards[l])
            freq = dirichlet(k)
            for s, side in enumerate("pm"):
                child = f"g{side}{i}_{l}"
                if parents[i] is None:
                    bn.add_cpd(child, [], freq)
                    continue
                sel = f"s{side}{i}_{l}"
                if l == 0:
                    bn.add_cpd(sel, [], [0.5, 0.5])
                else:
                    theta = float(rng.uniform(0.05, 0.4))
                    bn.add_cpd(sel, [f"s{side}{i}_{l - 1}"], [[1 - theta, theta], [theta, 1 - theta]])
                parent = parents[i][s]
                mutation = 0.02
                table = np.full((k, k, 2, k), mutation / max(k - 1, 1))
                for a in range(k):
                    for b in range(k):
                        for pick, allele in enumerate((a, b)):
                            table[a, b, pick, :] = mutation / max(k - 1, 1)
                            table[a, b, pick, allele] = 1.0 - mutation
                bn.add_cpd(child, [f"gp{parent}_{l}", f"gm{parent}_{l}", sel], table)
            nxt = (l + 1) % loci
            k2 = int(cards[nxt])
            pheno_parents = [f"gp{i}_{l}", f"gm{i}_{l}"] + ([f"gp{i}_{nxt}", f"gm{i}_{nxt}"] if loci > 1 else [])
            shape = (k, k, k2, k2, 2) if loci > 1 else (k, k, 2)
            bn.add_cpd(f"ph{i}_{l}", pheno_parents, dirichlet(*shape))
    from graphdgm.compiler import compile as compile_graph
    from graphdgm.infer.api import sample

    model = compile_graph(bn)
    row = sample(model, 1, seed=seed)[0]
    names = [f"ph{i}_{l}" for i in range(individuals) for l in range(loci)]
    chosen = rng.random(len(names)) < observed
    index = {v: j for j, v in enumerate(model.variables)}
    evidence = {v: int(row[index[v]]) for v, c in zip(names, chosen) if c}
    return bn, evidence
