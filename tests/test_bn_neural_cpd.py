"""Mixing families: a Bayesian network whose CPD is a small neural network over its discrete
parents, tabulated for exact inference and trained by maximum likelihood with the rest."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import SpecError

pgmpy = pytest.importorskip("pgmpy")
from pgmpy.inference import VariableElimination  # noqa: E402


def network(hidden=(8,), seed=0) -> gd.BayesianNetwork:
    """a, b -> c (3 states, neural), c -> d (table)."""
    bn = gd.BayesianNetwork("neural")
    for v, dom in (("a", gd.Binary()), ("b", gd.Binary()), ("c", gd.Categorical(3)), ("d", gd.Binary())):
        bn.add_variable(v, dom)
    bn.add_cpd("a", [], [0.3, 0.7])
    bn.add_cpd("b", [], [0.6, 0.4])
    bn.add_neural_cpd("c", ["a", "b"], hidden=list(hidden), seed=seed)
    bn.add_cpd("d", ["c"], [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    return bn


def all_states(model) -> torch.Tensor:
    return torch.tensor(list(itertools.product(*[range(int(k)) for k in model.cards])))


def test_the_tabulated_cpd_is_the_networks_and_exact_queries_equal_enumeration() -> None:
    model = gd.compile(network(seed=3))
    i = model.index["c"]
    with torch.no_grad():
        table = model.neural_log_cpd(i).exp()  # (4 parent configurations, 3)
    assert torch.allclose(table, torch.as_tensor(model.spec.cpds["c"]).reshape(4, 3), atol=1e-12)
    assert float(table.std()) > 1e-3  # a real network's CPD, not the uniform placeholder
    # the joint by enumeration, with c's CPD read through the network (log_prob with gradients on)
    x = all_states(model)
    joint = model.log_prob(x).exp().detach()
    assert abs(float(joint.sum()) - 1) < 1e-12
    marg = gd.query(model, ["c", "d"], evidence={"a": 1})
    cond = joint * (x[:, 0] == 1)
    cond = cond / cond.sum()
    for v, col in (("c", 2), ("d", 3)):
        ref = torch.stack([cond[x[:, col] == s].sum() for s in range(int(model.cards[col]))])
        assert torch.allclose(torch.as_tensor(marg[v].probs), ref, atol=1e-12)
    # and pgmpy, on the exported (tabulated) network, agrees
    pm = model.spec.to_pgmpy()
    q = VariableElimination(pm).query(["c"], evidence={"a": 1}, show_progress=False)
    assert np.allclose(q.values, np.asarray(marg["c"].probs), atol=1e-10)


def test_maximum_likelihood_trains_the_network_with_the_counted_tables() -> None:
    truth = gd.BayesianNetwork.empty_like({"a": [], "b": [], "c": ["a", "b"], "d": ["c"]},
                                          {"a": gd.Binary(), "b": gd.Binary(), "c": gd.Categorical(3), "d": gd.Binary()})
    rng = np.random.default_rng(0)
    tables = {"a": [0.3, 0.7], "b": [0.6, 0.4], "c": rng.dirichlet(np.ones(3), size=(2, 2)), "d": [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]}
    truth = gd.BayesianNetwork("truth")
    for v, dom in (("a", gd.Binary()), ("b", gd.Binary()), ("c", gd.Categorical(3)), ("d", gd.Binary())):
        truth.add_variable(v, dom)
    for v, ps in (("a", []), ("b", []), ("c", ["a", "b"]), ("d", ["c"])):
        truth.add_cpd(v, ps, tables[v])
    data = gd.compile(truth).sample(4000, seed=1)
    counted = gd.compile(truth)
    gd.fit(counted, data, method="mle")  # every CPT by counting: the maximum-likelihood network
    neural = gd.compile(network(hidden=(16,), seed=5))
    h = gd.fit(neural, data, method="mle", steps=500, lr=0.05)
    with torch.no_grad():
        ll_counted, ll_neural = float(counted.log_prob(data).mean()), float(neural.log_prob(data).mean())
    assert ll_neural <= ll_counted + 1e-9  # nothing beats the maximum-likelihood tables
    assert ll_neural > ll_counted - 0.005  # the network reaches them (nats per example)
    assert abs(h.last["log_likelihood_per_example"] - ll_neural) < 1e-9
    c_neural = torch.as_tensor(neural.spec.cpds["c"])
    assert torch.allclose(c_neural, torch.as_tensor(counted.spec.cpds["c"]), atol=0.03)
    assert torch.allclose(torch.as_tensor(neural.spec.cpds["d"]), torch.as_tensor(counted.spec.cpds["d"]), atol=1e-12)


def test_a_trained_neural_cpd_saves_and_loads(tmp_path) -> None:
    model = gd.compile(network(seed=1))
    data = torch.tensor([[0, 0, 2, 1], [1, 1, 0, 0], [1, 0, 1, 1]] * 20)
    gd.fit(model, data, method="mle", steps=50)
    gd.io.save(model, tmp_path / "bn.pt")
    back = gd.io.load(tmp_path / "bn.pt")
    assert back.neural_variables == model.neural_variables
    assert torch.allclose(back.cpt_log, model.cpt_log)
    x = all_states(model)
    with torch.no_grad():
        assert torch.allclose(back.log_prob(x), model.log_prob(x), atol=1e-12)
    assert np.allclose(back.spec.cpds["c"], model.spec.cpds["c"], atol=1e-12)


def test_neural_cpds_are_checked() -> None:
    bn = gd.BayesianNetwork.empty_like({"a": []}, {"a": gd.Binary()})
    bn.add_variable("b", gd.Binary())
    with pytest.raises(SpecError, match="has no parents"):
        bn.add_neural_cpd("b", [])
    with pytest.raises(SpecError, match="hidden layer size"):
        bn.add_neural_cpd("b", ["a"], hidden=[0])
    bn.add_neural_cpd("b", ["a"], hidden=4)
    with pytest.raises(SpecError, match="already has a CPD"):
        bn.add_neural_cpd("b", ["a"])
