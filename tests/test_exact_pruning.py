"""Exact inference prunes before it eliminates: barren variables of a Bayesian network, parts the
evidence separates from the query, and log P(e) from the ancestors of the evidence only. Every
pruned answer equals brute-force enumeration of the whole model; pruning never hides impossible
evidence, and it switches itself off when the CPTs are no longer normalised."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import graphdgm as gd
from conftest import brute_marginal, enumerate_states, random_network


def random_bn(seed: int, n: int = 9, max_parents: int = 3, zeros: bool = False) -> gd.BayesianNetwork:
    """A random DAG over n variables of 2-3 states, with random CPTs (some zero entries if asked)."""
    rng = np.random.default_rng(seed)
    cards = rng.integers(2, 4, size=n).tolist()
    bn = gd.BayesianNetwork()
    for i in range(n):
        bn.add_variable(f"v{i}", gd.Categorical(cards[i]))
    for i in range(n):
        parents = sorted(rng.choice(i, size=min(i, int(rng.integers(0, max_parents + 1))), replace=False).tolist()) if i else []
        shape = [cards[p] for p in parents] + [cards[i]]
        t = rng.dirichlet(np.ones(cards[i]), size=int(np.prod(shape[:-1]))).reshape(shape)
        if zeros and parents:
            t[(0,) * len(parents)] = np.eye(cards[i])[0]  # a deterministic row
        bn.add_cpd(f"v{i}", [f"v{p}" for p in parents], t)
    return bn


def brute_log_pe(states: torch.Tensor, logp: torch.Tensor, evidence: dict[int, int]) -> float:
    mask = torch.ones(len(states), dtype=torch.bool)
    for u, s in evidence.items():
        mask &= states[:, u] == s
    return float(torch.logsumexp(torch.where(mask, logp, torch.full_like(logp, -math.inf)), 0))


@pytest.mark.parametrize("seed", range(6))
def test_pruned_answers_equal_enumeration_of_the_whole_network(seed: int) -> None:
    model = gd.compile(random_bn(seed, zeros=seed % 2 == 1))
    states, logp = enumerate_states(model)
    rng = np.random.default_rng(100 + seed)
    for _ in range(12):
        x = states[int(rng.choice(len(states), p=torch.softmax(logp, 0).numpy()))]
        vs = rng.choice(model.num_variables, size=int(rng.integers(2, 6)), replace=False).tolist()
        q, ev = vs[:2], {v: int(x[v]) for v in vs[2:]}
        names = {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}
        got = gd.query(model, [model.variables[v] for v in q], names)
        for v in q:
            want = brute_marginal(states, logp, v, int(model.cards[v]), ev)
            torch.testing.assert_close(got[model.variables[v]].probs, want, rtol=0, atol=1e-12)
        assert math.isclose(float(gd.log_partition(model, names)), brute_log_pe(states, logp, ev), rel_tol=0, abs_tol=1e-12)
        joint = gd.query(model, [model.variables[v] for v in q], names, joint=True).probs
        torch.testing.assert_close(joint.sum(), torch.tensor(1.0, dtype=joint.dtype), rtol=0, atol=1e-12)
        mm = gd.map_query(model, evidence=names, variables=[model.variables[q[0]]])  # marginal MAP sums the rest
        want = brute_marginal(states, logp, q[0], int(model.cards[q[0]]), ev)
        assert float(want[int(mm.state[q[0]])]) == pytest.approx(float(want.max()), abs=1e-12)


def chain(n: int = 6) -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork()
    for i in range(n):
        bn.add_variable(f"x{i}", gd.Binary())
    bn.add_cpd("x0", [], [0.3, 0.7])
    for i in range(1, n):
        bn.add_cpd(f"x{i}", [f"x{i-1}"], [[0.9, 0.1], [0.2, 0.8]])
    return bn


def test_barren_and_separated_variables_are_not_in_the_plan() -> None:
    model = gd.compile(chain())
    exact = gd.infer.Exact()
    ev = {1: 1}
    # p(x0 | x1): x2..x5 are barren
    plan = exact.plan(model, ev, keep=(0,), normalised=True)
    assert {v for src in plan.sources for v in src.scope} | set(plan.evidence_vars) == {0, 1}
    # p(x3 | x1): x0 is separated from x3 by the evidence on x1, x4 and x5 are barren
    plan = exact.plan(model, ev, keep=(3,), normalised=True)
    assert {v for src in plan.sources for v in src.scope} == {2, 3}
    # log P(x1): the ancestors of the evidence only
    plan = exact.plan(model, ev)
    assert len(plan.sources) == 2 and {v for src in plan.sources for v in src.scope} == {0}
    # no evidence: a normalised network's log Z is 0 with nothing to eliminate
    plan = exact.plan(model, {})
    assert plan.sources == () and float(gd.log_partition(model)) == 0.0


def test_impossible_evidence_in_a_separated_part_is_still_found() -> None:
    bn = gd.BayesianNetwork()
    for v in ("a", "b", "c"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("a", [], [0.5, 0.5])
    bn.add_cpd("b", ["a"], [[1.0, 0.0], [0.0, 1.0]])  # b == a
    bn.add_cpd("c", ["b"], [[1.0, 0.0], [0.0, 1.0]])  # c == b
    model = gd.compile(bn)
    # the query on c is separated from a by the evidence on b, but a = 0, b = 1 is impossible
    with pytest.raises(gd.EvidenceError, match="probability zero"):
        gd.query(model, ["c"], evidence={"a": 0, "b": 1})
    assert gd.query(model, ["c"], evidence={"a": 1, "b": 1})["c"][1] == pytest.approx(1.0)


def test_tables_changed_in_place_are_seen_and_unnormalised_cpts_are_not_pruned() -> None:
    model = gd.compile(chain(4))
    before = gd.query(model, ["x0"], evidence={"x1": 1})["x0"].probs.clone()
    assert float(gd.log_partition(model)) == 0.0
    with torch.no_grad():  # scale P(x3 | x2) by 2: the network no longer sums to one
        g, r = model._factor_slots["P(x3|x2)"]
        model.groups[g].log_table[r] += math.log(2.0)
    states, logp = enumerate_states(model)
    assert float(gd.log_partition(model)) == pytest.approx(float(torch.logsumexp(logp, 0)), abs=1e-12)
    assert float(gd.log_partition(model)) == pytest.approx(math.log(2.0), abs=1e-12)
    after = gd.query(model, ["x0"], evidence={"x1": 1})["x0"].probs
    torch.testing.assert_close(after, before, rtol=0, atol=1e-12)  # a constant factor: the same conditional
    g, r = model._factor_slots["P(x0)"]
    model.groups[g].log_table.data[r] = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))  # no version bump
    states, logp = enumerate_states(model)
    want = brute_marginal(states, logp, 0, 2, {1: 1})
    torch.testing.assert_close(gd.query(model, ["x0"], evidence={"x1": 1})["x0"].probs, want, rtol=0, atol=1e-12)


def test_evidence_disconnected_components_of_a_markov_network() -> None:
    spec = random_network(4, n_vars=7, n_factors=8, max_card=3, zeros=False)
    model = gd.compile(spec)
    states, logp = enumerate_states(model)
    for v, e in itertools.product(range(model.num_variables), range(model.num_variables)):
        if v == e:
            continue
        ev = {e: 0}
        got = gd.query(model, [model.variables[v]], {model.variables[e]: model.state_labels(e)[0]})
        torch.testing.assert_close(got[model.variables[v]].probs, brute_marginal(states, logp, v, int(model.cards[v]), ev),
                                   rtol=0, atol=1e-12)


def test_evidence_of_probability_1e_minus_500_falls_back_to_rescaling() -> None:
    """A root with 250 observed children, each observed in a state of probability 0.01: the
    unrescaled product underflows, the rescaled pass answers, equal to the closed form."""
    n = 250
    bn = gd.BayesianNetwork()
    bn.add_variable("r", gd.Binary())
    bn.add_cpd("r", [], [0.3, 0.7])
    for i in range(n):
        bn.add_variable(f"c{i}", gd.Binary())
        bn.add_cpd(f"c{i}", ["r"], [[0.99, 0.01], [0.98, 0.02]])
    model = gd.compile(bn)
    ev = {f"c{i}": 1 for i in range(n)}

    want = math.log(0.7) + n * math.log(0.02) + math.log1p(0.3 / 0.7 * 0.5 ** n)
    assert float(gd.log_partition(model, ev)) == pytest.approx(want, rel=1e-12)
    m = gd.query(model, ["r"], ev)["r"].probs
    assert float(m[1]) == pytest.approx(1.0, abs=1e-12)  # 0.3 * 0.01^250 against 0.7 * 0.02^250
    ev_few = {f"c{i}": 1 for i in range(3)}
    p1 = 0.7 * 0.02 ** 3 / (0.3 * 0.01 ** 3 + 0.7 * 0.02 ** 3)
    assert float(gd.query(model, ["r"], ev_few)["r"][1]) == pytest.approx(p1, rel=1e-12)


# get_example_model reads the networks shipped inside pgmpy; its suggested replacement
# (pgmpy.example_models.load_model) downloads them, and no test reaches the network
@pytest.mark.filterwarnings("ignore:`get_example_model` is deprecated:FutureWarning")
@pytest.mark.parametrize("name", ["asia", "alarm", "child", "insurance"])
def test_bnlearn_networks_answer_as_pgmpy_does(name: str) -> None:
    """Real networks shipped inside pgmpy (offline): 6 random queries (3 query, 5 evidence
    variables, the evidence from a forward sample) and log P(e) by the chain rule, to 1e-10."""
    pytest.importorskip("pgmpy")
    from pgmpy.inference import VariableElimination
    from pgmpy.utils import get_example_model

    from graphdgm.io import bayesian_network_from_pgmpy, pgmpy_names

    net = get_example_model(name)
    for cpd in net.get_cpds():
        cpd.normalize(inplace=True)  # graphdgm normalises on input; the BIF rows sum to one only to ~1e-9
    names = pgmpy_names(net)
    model = gd.compile(bayesian_network_from_pgmpy(net))
    back = {v: k for k, v in names.items()}
    ve = VariableElimination(net)
    rng = np.random.default_rng(7)
    x = gd.sample(model, 6, seed=7).numpy()
    for r in range(6):
        vs = rng.choice(model.num_variables, size=min(8, model.num_variables), replace=False).tolist()
        q, ev = vs[:3], {v: int(x[r, v]) for v in vs[3:]}
        labels = {model.variables[v]: model.state_labels(v)[s] for v, s in ev.items()}
        pg_ev = {back[model.variables[v]]: model.state_labels(v)[s] for v, s in ev.items()}
        got = gd.query(model, [model.variables[v] for v in q], labels)
        want = ve.query([back[model.variables[v]] for v in q], evidence=pg_ev, joint=False, show_progress=False)
        for v in q:
            f = want[back[model.variables[v]]]
            order = [f.state_names[back[model.variables[v]]].index(lab) for lab in model.state_labels(v)]
            np.testing.assert_allclose(got[model.variables[v]].probs.numpy(), np.asarray(f.values)[order], rtol=0, atol=1e-10)
        items, lpe = list(pg_ev.items()), 0.0
        for i, (v, s) in enumerate(items):
            f = ve.query([v], evidence=dict(items[:i]), joint=True, show_progress=False)
            lpe += math.log(float(f.values[f.state_names[v].index(s)]))
        assert float(gd.log_partition(model, labels)) == pytest.approx(lpe, rel=0, abs=1e-10)
