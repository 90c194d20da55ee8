"""The exact backend against pgmpy's VariableElimination on the same random networks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import graphdgm as gd
from conftest import random_network

pgmpy = pytest.importorskip("pgmpy")
from pgmpy.factors.discrete import DiscreteFactor  # noqa: E402
from pgmpy.inference import VariableElimination  # noqa: E402
from pgmpy.models import DiscreteMarkovNetwork  # noqa: E402


def pgmpy_network(mn: gd.MarkovNetwork) -> DiscreteMarkovNetwork:
    """Built here by hand (not through graphdgm.io) so the comparison does not trust our converter."""
    net = DiscreteMarkovNetwork()
    net.add_nodes_from(mn.variables)
    for f in mn.table_factors():
        for i in range(len(f.scope)):
            for j in range(i + 1, len(f.scope)):
                net.add_edge(f.scope[i], f.scope[j])
        cards = list(f.log_table.shape)
        net.add_factors(DiscreteFactor(list(f.scope), cards, np.exp(f.log_table).ravel()))
    covered = {v for f in mn.table_factors() for v in f.scope}
    for v, d in zip(mn.variables, mn.domains()):
        if v not in covered:  # pgmpy insists on a factor for every variable
            net.add_factors(DiscreteFactor([v], [d.cardinality], np.ones(d.cardinality)))
    return net


def normalised(values: np.ndarray) -> np.ndarray:
    """pgmpy 1.1.2's VariableElimination can return unnormalised tables for Markov networks
    (seen: a marginal summing to 3.07); p(x | e) is normalised by definition."""
    return values / values.sum()


@pytest.mark.parametrize("seed", range(8))
def test_marginals_and_map_equal_pgmpy(seed: int) -> None:
    mn = random_network(seed, n_vars=7, n_factors=9, zeros=False)
    model = gd.compile(mn)
    ve = VariableElimination(pgmpy_network(mn))
    evidence = {"v1": 1}
    ours = gd.query(model, evidence=evidence)
    for name in mn.variables:
        if name in evidence:
            continue
        theirs = ve.query([name], evidence=evidence, show_progress=False)
        np.testing.assert_allclose(ours[name].probs.numpy(), normalised(theirs.values), rtol=1e-8, atol=1e-12)
    joint = gd.query(model, ["v2", "v0"], joint=True)
    theirs = ve.query(["v2", "v0"], joint=True, show_progress=False)
    theirs_aligned = np.transpose(theirs.values, [theirs.variables.index("v2"), theirs.variables.index("v0")])
    np.testing.assert_allclose(joint.probs.numpy(), normalised(theirs_aligned), rtol=1e-8, atol=1e-12)
    ours_map = gd.map_query(model, evidence=evidence)
    theirs_map = ve.map_query(list(set(mn.variables) - set(evidence)), evidence=evidence, show_progress=False)
    lp = model.log_potential(torch.tensor([[theirs_map.get(v, 1) for v in mn.variables]]))
    assert abs(float(lp) - ours_map.log_score) < 1e-9  # same optimum (ties may pick another state)
