"""The graph language: declarations validate eagerly, compile to one CompiledGraph, and every
energy, free energy, log Z and conditional matches brute-force enumeration on tiny models."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.enumeration import (
    enumeration_plan, exact_free_energy, exact_log_likelihood, exact_log_partition,
)


def randomise(model: torch.nn.Module, seed: int, scale: float = 0.8) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def all_states(model: torch.nn.Module) -> torch.Tensor:
    cards = model.cards.tolist()
    return torch.tensor(list(itertools.product(*[range(k) for k in cards])), dtype=torch.float64)


def brute(model: torch.nn.Module, observed: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All joint states, their log-potentials, and a key per state for the observed blocks."""
    S = all_states(model)
    lp = model.log_potential(S).detach()
    cols = [i for b in observed for i in range(*model.ranges[b])]
    return S, lp, S[:, cols]


def tiny_models() -> dict[str, torch.nn.Module]:
    gb = gd.Graph("gb")
    gb.block("v", 3, gd.Gaussian([0.5, 1.0, 2.0]))
    gb.block("h", 4, gd.Bernoulli(), role="latent")
    gb.connect("v", "h", gd.Dense())
    soft = gd.Graph("softmax_rbm")
    soft.block("v", 2, gd.Softmax(3))
    soft.block("h", 3, gd.Bernoulli(), role="latent")
    soft.connect("v", "h", gd.Dense())
    spin = gd.Graph("spins")
    spin.block("s", 3, gd.Spin())
    spin.block("t", 2, gd.graph.Spin(), role="latent")
    spin.connect("s", "t", gd.Dense())
    return {
        "dbm3": randomise(gd.compile(gd.DBM([3, 3, 2])), 0),
        "srbm": randomise(gd.compile(gd.SRBM(4, 3)), 1),
        "crbm": randomise(gd.compile(gd.CRBM(2, 3, 2)), 2),
        "gaussian-bernoulli": randomise(gd.compile(gb), 3, 0.5),
        "softmax-visible": randomise(gd.compile(soft), 4),
        "spin": randomise(gd.compile(spin), 5),
    }


DISCRETE = ["dbm3", "srbm", "crbm", "softmax-visible", "spin"]


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return tiny_models()


# ------------------------------------------------------------------ declarations
def test_a_784x500_rbm_is_two_blocks_and_one_dense_edge() -> None:
    g = gd.Graph("rbm")
    g.connect(g.block("v", (28, 28), gd.Bernoulli()), g.block("h", 500, gd.Bernoulli(), role="latent"), gd.Dense())
    model = gd.compile(g, dtype="float32")
    assert len(g.blocks) == 2 and len(g.edges) == 1 and len(model.dense) == 1
    assert tuple(model.dense[0].weight.shape) == (784, 500) and len(model.groups) == 0


def test_declarations_validate_eagerly_and_name_the_fix() -> None:
    g = gd.Graph()
    g.block("v", 3, gd.Bernoulli())
    with pytest.raises(gd.SpecError, match="role 'hidden' is unknown"):
        g.block("h", 2, gd.Bernoulli(), role="hidden")
    with pytest.raises(gd.SpecError, match="not a declared block"):
        g.connect("v", "h", gd.Dense())
    g.block("h", 2, gd.Bernoulli(), role="latent")
    with pytest.raises(gd.SpecError, match=r"needs \(3, 2\)"):
        g.connect("v", "h", gd.Dense(np.zeros((2, 3))))
    with pytest.raises(gd.SpecError, match="bias has shape"):
        g.block("u", 2, gd.Softmax(3), bias=np.zeros(5))
    with pytest.raises(gd.SpecError, match="positive finite"):
        gd.Gaussian([1.0, -1.0])
    with pytest.raises(gd.SpecError, match="Dense"):
        g.connect("v", "h", "dense")
    g.block("x", 2, gd.Gaussian(1.0))
    with pytest.raises(gd.SpecError, match="real-valued"):
        g.connect("x", "x", gd.graph.Pairs(np.array([[0, 1]]), 0.5))


def test_capabilities_come_from_structure_not_family() -> None:
    rbm = gd.compile(gd.DBM([4, 3]))
    dbm = gd.compile(gd.DBM([4, 3, 2]))
    srbm = gd.compile(gd.SRBM(4, 3))
    crbm = gd.compile(gd.CRBM(2, 3, 2))
    assert {"free_energy", "bipartite", "marginalisable:h1"} <= rbm.capabilities
    assert "free_energy" not in dbm.capabilities and {"bipartite", "marginalisable:h1", "marginalisable:h2"} <= dbm.capabilities
    assert "free_energy" in srbm.capabilities and "bipartite" not in srbm.capabilities
    assert {"inputs", "free_energy"} <= crbm.capabilities
    gb = gd.Graph()
    gb.connect(gb.block("v", 2, gd.Gaussian()), gb.block("h", 2, gd.Bernoulli(), role="latent"), gd.Dense())
    caps = gd.compile(gb).capabilities
    assert "continuous" in caps and "factor_tables" not in caps and "free_energy" in caps


def test_enumeration_plan_enumerates_the_cheapest_blocks() -> None:
    dbm = gd.compile(gd.DBM([6, 2, 5]))
    assert enumeration_plan(dbm, set()) == (["h1"], ["v", "h2"])  # the 2-unit middle layer
    assert enumeration_plan(dbm, {"v"}) == (["h1"], ["h2"])
    rbm = gd.compile(gd.DBM([3, 7]))
    assert enumeration_plan(rbm, set()) == (["v"], ["h1"])


# ------------------------------------------------------------- against brute force
@pytest.mark.parametrize("name", DISCRETE)
def test_log_partition_matches_brute_force(models, name) -> None:
    model = models[name]
    S, lp, _ = brute(model, [])
    if "inputs" in model.capabilities:  # log Z(u) for every input value
        u_cols = list(range(*model.ranges["u"]))
        U = torch.tensor(list(itertools.product([0, 1], repeat=len(u_cols))), dtype=torch.float64)
        want = torch.stack([torch.logsumexp(lp[(S[:, u_cols] == u).all(1)], 0) for u in U])
        torch.testing.assert_close(exact_log_partition(model, U), want)
        with pytest.raises(gd.SpecError, match="inputs="):
            exact_log_partition(model)
    else:
        torch.testing.assert_close(exact_log_partition(model), torch.logsumexp(lp, 0))
        torch.testing.assert_close(gd.log_partition(model).detach(), torch.logsumexp(lp, 0))  # elimination on factor tables


@pytest.mark.parametrize("name", DISCRETE)
def test_free_energy_sums_out_latent_blocks(models, name) -> None:
    model = models[name]
    given = [b for b in model.block_names if model.roles[b] != "latent"]
    S, lp, key = brute(model, given)
    rows = torch.unique(key, dim=0)
    want = torch.stack([-torch.logsumexp(lp[(key == r).all(1)], 0) for r in rows])
    data = {}
    col = 0
    for b in given:
        n = model.ranges[b][1] - model.ranges[b][0]
        data[b] = rows[:, col: col + n]
        col += n
    torch.testing.assert_close(exact_free_energy(model, data), want)
    if "free_energy" in model.capabilities:  # closed form, no enumeration
        torch.testing.assert_close(model.free_energy(data).detach(), want)
    else:
        with pytest.raises(gd.CapabilityError, match="exact_free_energy"):
            model.free_energy(data)


def test_dbm_log_likelihood_normalises(models) -> None:
    model = models["dbm3"]
    V = torch.tensor(list(itertools.product([0, 1], repeat=3)), dtype=torch.float64)
    ll = exact_log_likelihood(model, V)
    torch.testing.assert_close(torch.logsumexp(ll, 0), torch.tensor(0.0, dtype=torch.float64))


def test_crbm_likelihood_normalises_for_each_input(models) -> None:
    model = models["crbm"]
    V = torch.tensor(list(itertools.product([0, 1], repeat=3)), dtype=torch.float64)
    for u in ([0.0, 1.0], [1.0, 1.0]):
        ll = exact_log_likelihood(model, {"u": torch.tensor([u] * 8, dtype=torch.float64), "v": V})
        torch.testing.assert_close(torch.logsumexp(ll, 0), torch.tensor(0.0, dtype=torch.float64))


def test_gaussian_bernoulli_graph_integrates_the_visible_layer(models) -> None:
    """log Z by enumerating h and integrating v analytically, against numerical quadrature."""
    model = models["gaussian-bernoulli"]
    H = torch.tensor(list(itertools.product([0, 1], repeat=4)), dtype=torch.float64)
    log_z = exact_log_partition(model)
    torch.testing.assert_close(log_z, torch.logsumexp(model.clamped_log_marginal({"h": H}), 0))
    # quadrature over v on a grid, per hidden state (v's units are independent given h)
    grid = torch.linspace(-12, 12, 4001, dtype=torch.float64)
    dv = grid[1] - grid[0]
    total = []
    for h in H:
        per_unit = []
        for i in range(3):
            v = torch.zeros(len(grid), 3, dtype=torch.float64)
            v[:, i] = grid
            state = torch.cat([v, h.expand(len(grid), 4)], 1)
            base = torch.cat([torch.zeros(1, 3, dtype=torch.float64), h[None]], 1)
            lp = model.log_potential(state).detach() - model.log_potential(base).detach()  # unit i's own terms
            per_unit.append(torch.logsumexp(lp, 0) + torch.log(dv))
        total.append(model.log_potential(torch.cat([torch.zeros(1, 3, dtype=torch.float64), h[None]], 1)).detach()[0] + sum(per_unit))
    torch.testing.assert_close(log_z, torch.logsumexp(torch.stack(total), 0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", DISCRETE)
def test_unit_conditionals_match_brute_force(models, name) -> None:
    """p(x_i | everything else) from the unit math on the dense fields equals enumeration."""
    model = models[name]
    S, lp, _ = brute(model, [])
    g = torch.Generator().manual_seed(0)
    for b in model.block_names:
        if model.roles[b] == "input":  # always given, never sampled
            continue
        a, e = model.ranges[b]
        unit = model.units[b]
        for row in torch.randint(len(S), (3,), generator=g).tolist():
            state = S[row: row + 1]
            xs = model.split(state)
            field = model.field(b, xs)  # (1, n w), lateral edges carry no self-coupling
            probs = torch.softmax(unit.features(torch.arange(unit.cardinality, dtype=torch.float64)[:, None]).reshape(unit.cardinality, unit.width)
                                  @ (field + model.natural_bias(b)).detach().reshape(e - a, unit.width).t(), 0)  # (k, n)
            for i in range(a, e):
                others = [j for j in range(model.num_variables) if j != i]
                mask = (S[:, others] == state[:, others]).all(1)
                p = torch.softmax(lp[mask], 0)
                torch.testing.assert_close(probs[:, i - a], p[S[mask, i].argsort()])


def test_plain_graph_rbm_equals_compiled_rbm_for_every_visible_type() -> None:
    rng = np.random.default_rng(0)
    for vt, unit, k in (("bernoulli", gd.Bernoulli(), None), ("gaussian", gd.Gaussian([0.5, 1.0, 1.5, 2.0, 1.0]), None),
                        ("categorical", gd.Softmax(3), 3)):
        kshape = (k,) if k else ()
        W, b, c = rng.normal(0, 0.5, (5, *kshape, 4)), rng.normal(0, 0.5, (5, *kshape)), rng.normal(0, 0.5, 4)
        sigma = np.array([0.5, 1.0, 1.5, 2.0, 1.0]) if vt == "gaussian" else None
        rbm = gd.compile(gd.RBM(5, 4, visible_type=vt, categories=k, weights=W, visible_bias=b, hidden_bias=c, sigma=sigma))
        g = gd.Graph()
        g.block("v", 5, unit, bias=b)
        g.block("h", 4, gd.Bernoulli(), role="latent", bias=c)
        g.connect("v", "h", gd.Dense(W.reshape(5 * (k or 1), 4)))
        model = gd.compile(g)
        if vt == "gaussian":
            v = torch.tensor(rng.normal(0, 1, (6, 5)))
        else:
            v = torch.tensor(rng.integers(0, k or 2, (6, 5)), dtype=torch.float64)
        h = torch.tensor(rng.integers(0, 2, (6, 4)), dtype=torch.float64)
        torch.testing.assert_close(model.free_energy(v), rbm.free_energy(v))
        torch.testing.assert_close(model.energy(torch.cat([v, h], 1)), rbm.energy(torch.cat([v, h], 1)))
        torch.testing.assert_close(model.clamped_log_marginal({"h": h}), rbm.hidden_log_marginal(h))


def test_queries_on_a_conditional_model_need_its_inputs(models) -> None:
    model = models["crbm"]
    with pytest.raises(gd.EvidenceError, match="input of this conditional model"):
        gd.query(model, ["v[0]"])
    p = gd.query(model, ["v[0]"], evidence={"u": [1, 0]}).tensor()
    S, lp, _ = brute(model, [])
    mask = (S[:, 0] == 1) & (S[:, 1] == 0)
    want = torch.softmax(lp[mask], 0)
    torch.testing.assert_close(p[0] if p.dim() > 1 else p, torch.stack([want[S[mask, 2] == s].sum() for s in (0, 1)]))


def test_gibbs_on_a_dbm_matches_exact_marginals(models) -> None:
    model = models["dbm3"]
    exact = gd.query(model, ["v[0]", "h1[1]", "h2[0]"]).tensor()
    approx = gd.query(model, ["v[0]", "h1[1]", "h2[0]"], backend=gd.infer.Gibbs(chains=512, sweeps=600, seed=0)).tensor()
    assert float((exact - approx).abs().max()) < 0.03


def test_graphs_save_load_and_draw_with_nothing_lost(tmp_path) -> None:
    from graphdgm.io.serialize import spec_from_dict, spec_to_dict

    g = gd.Graph("mixed")
    g.block("s", (3, 3), gd.Spin())
    g.connect("s", "s", gd.graph.Grid(0.3))
    g.block("t", 2, gd.Gaussian([1.0, 2.0]), role="latent", bias=[0.1, 0.2])
    g.connect("s", "t", gd.Dense(np.ones((9, 2))))
    g.block("u", 2, gd.Softmax(3), role="input", bias=False)
    g.connect("u", "s", gd.Dense())
    back = spec_from_dict(spec_to_dict(g))
    assert repr(back) == repr(g) and back.units == g.units and back.roles == g.roles
    assert back.biases.keys() == g.biases.keys() and np.array_equal(back.biases["t"], g.biases["t"])
    for model in (gd.compile(gd.CRBM(2, 3, 2)), randomise(gd.compile(gd.SRBM(4, 3)), 7)):
        gd.io.save(model, tmp_path / "m.pt")
        loaded = gd.io.load(tmp_path / "m.pt")
        assert type(loaded) is type(model) and loaded.capabilities == model.capabilities
        for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
            assert k == k2 and torch.equal(a, b)
    src = gd.draw(gd.compile(gd.CRBM(2, 3, 2))).source
    assert "input" in src and "dense 3 x 2" in src and "dashed" in src  # inputs bold, latent dashed


def test_constructors_and_graph_data_refuse_bad_input_with_the_fix() -> None:
    with pytest.raises(gd.SpecError, match=r"at least 2 layer sizes such as \[784, 500, 1000\]"):
        gd.DBM([784])
    with pytest.raises(gd.SpecError, match="SRBM visible must be a positive integer"):
        gd.SRBM(0, 3)
    with pytest.raises(gd.SpecError, match="classes must be an integer >= 2"):
        gd.ClassRBM(4, 3, 1)
    crbm = gd.compile(gd.CRBM(2, 3, 2))
    with pytest.raises(gd.SpecError, match="block 'v' has 4 columns; the block has 3 units"):
        crbm.free_energy({"u": torch.zeros(2, 2), "v": torch.zeros(2, 4)})
    with pytest.raises(gd.SpecError, match="block 'v' has NaN"):
        exact_free_energy(crbm, {"u": torch.zeros(1, 2), "v": torch.full((1, 3), float("nan"))})
    with pytest.raises(gd.SpecError, match="'w' is not a block of this graph"):
        exact_free_energy(crbm, {"u": torch.zeros(1, 2), "w": torch.zeros(1, 3)})
    dbm = gd.compile(gd.DBM([3, 2, 2]))
    with pytest.raises(gd.SpecError, match="data is empty"):
        gd.log_likelihood(dbm, torch.zeros(0, 3))
    with pytest.raises(gd.SpecError, match="block 'v' is empty"):
        gd.fit(dbm, torch.zeros(0, 3), progress=False)
    with pytest.raises(gd.SpecError, match="state indices 0..1"):
        gd.fit(dbm, torch.full((4, 3), 0.5), progress=False)
