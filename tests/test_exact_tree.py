"""Contraction trees: where an elimination order would form a table over a variable's whole
neighbourhood, the exact backend may contract the pruned problem as one greedy pairwise tree
instead, when the cost model predicts it runs faster. The tree's answer equals elimination's and
brute force; its program equals one einsum over every operand."""
from __future__ import annotations

import math
import string

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.exact.plan import program_seconds, tree_program


def run_program(tables: list[torch.Tensor], program: tuple) -> torch.Tensor:
    ops = list(tables)
    for i, j, _, equation in program:
        ops.append(torch.einsum(equation, ops[i]) if j < 0 else torch.einsum(equation, ops[i], ops[j]))
    return ops[-1]


@pytest.mark.parametrize("seed", range(40))
def test_tree_program_equals_one_einsum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    cards = rng.integers(1, 5, size=n).tolist()
    scopes = []
    for _ in range(int(rng.integers(1, 8))):
        k = int(rng.integers(0, min(4, n) + 1))
        scopes.append(tuple(sorted(rng.choice(n, size=k, replace=False).tolist())))
    present = sorted({v for sc in scopes for v in sc})
    out = tuple(sorted(rng.choice(present, size=min(len(present), int(rng.integers(0, 3))), replace=False).tolist())) if present else ()
    g = torch.Generator().manual_seed(seed)
    tables = [torch.rand([cards[v] for v in sc], generator=g, dtype=torch.float64) for sc in scopes]
    letters = {v: string.ascii_letters[v] for v in range(n)}
    eq = ",".join("".join(letters[v] for v in sc) for sc in scopes) + "->" + "".join(letters[v] for v in out)
    expected = torch.einsum(eq, *tables)
    program = tree_program(scopes, cards, out)
    got = run_program(tables, program) if program else tables[0]
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=0)
    if program:
        assert program[-1][2] == out  # the last operand is the output, axes in the asked order
        assert program_seconds(scopes, program, cards) > 0


def hub_network(seed: int = 0, spokes: int = 6, states: int = 16) -> gd.BayesianNetwork:
    """Spokes of 16 states around two hubs of 16 states, each spoke a parent of the next one's
    child of 9 states: eliminating a hub joins every spoke, a tree never has to."""
    rng = np.random.default_rng(seed)
    bn = gd.BayesianNetwork()
    for h in ("h0", "h1"):
        bn.add_variable(h, gd.Categorical(states))
    for i in range(spokes):
        bn.add_variable(f"s{i}", gd.Categorical(states))
        bn.add_variable(f"c{i}", gd.Categorical(9))

    def cpt(*shape: int) -> np.ndarray:
        return rng.dirichlet(np.ones(shape[-1]), size=int(np.prod(shape[:-1]))).reshape(shape)

    k = states
    bn.add_cpd("h0", [], cpt(k))
    bn.add_cpd("h1", ["h0"], cpt(k, k))
    for i in range(spokes):
        bn.add_cpd(f"s{i}", ["h0", "h1"], cpt(k, k, k))
    for i in range(spokes):
        bn.add_cpd(f"c{i}", [f"s{i}", f"s{(i + 1) % spokes}"], cpt(k, k, 9))
    return bn


def test_a_hub_network_is_contracted_as_a_tree_with_the_same_answers() -> None:
    model = gd.compile(hub_network())
    evidence = {"c0": 1, "c3": 4, "c5": 2}
    query = ["c1", "c2", "s4"]
    plan = gd.infer.Exact().plan(model, {model.variables.index(v) for v in evidence},
                                 keep=tuple(sorted(model.variables.index(v) for v in query)), normalised=True)
    assert "contraction tree" in plan.order.heuristic and not plan.steps
    tree = gd.query(model, query, evidence, backend=gd.infer.Exact())
    elimination = gd.query(model, query, evidence, backend=gd.infer.Exact(heuristic="min_fill"))  # a named order: no tree
    for v in query:
        np.testing.assert_allclose(tree[v].probs.numpy(), elimination[v].probs.numpy(), rtol=1e-10, atol=1e-14)
    lz_tree = float(gd.log_partition(model, evidence, backend=gd.infer.Exact()))
    lz_ve = float(gd.log_partition(model, evidence, backend=gd.infer.Exact(heuristic="min_fill")))
    assert abs(lz_tree - lz_ve) < 1e-10 * max(1.0, abs(lz_ve))


def test_the_tree_agrees_with_pgmpy() -> None:
    pytest.importorskip("pgmpy")
    from pgmpy.inference import VariableElimination

    from graphdgm.io import to_pgmpy

    bn = hub_network(seed=3)
    model = gd.compile(bn)
    evidence = {"c0": 1, "c3": 4, "c5": 2}
    ours = gd.query(model, ["c1", "s4"], evidence)
    ve = VariableElimination(to_pgmpy(bn))
    for v in ("c1", "s4"):
        theirs = ve.query([v], evidence={k: int(s) for k, s in evidence.items()}, show_progress=False)
        np.testing.assert_allclose(ours[v].probs.numpy(), theirs.values, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("budget", [16, 19, 24])
def test_every_table_a_plan_writes_fits_the_budget(budget: int) -> None:
    model = gd.compile(hub_network())
    keep = tuple(sorted(model.variables.index(v) for v in ["c1", "c2", "s4"]))
    ev = {model.variables.index(v) for v in ("c0", "c3", "c5")}
    plan = gd.infer.Exact(max_table_log2=budget).plan(model, ev, keep=keep, normalised=True)
    written = [sc for _, _, sc, _ in plan.final_pairs] + [sc for st in plan.steps for _, _, sc, _ in st.pairs]
    assert written
    assert max(sum(math.log2(int(model.cards[v])) for v in sc) for sc in written) <= budget + 1e-9
