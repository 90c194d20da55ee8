"""RBMs: spec, compiled energy and conditionals, exact enumeration, CD/PCD gradients, AIS, training."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.rbm_ais import rbm_ais, rbm_log_likelihood
from graphdgm.learn import ContrastiveDivergence, pseudo_log_likelihood


def random_rbm(V=6, H=4, seed=0, scale=0.8, **kw) -> torch.nn.Module:
    rng = np.random.default_rng(seed)
    k = (kw["categories"],) if "categories" in kw else ()
    return gd.compile(gd.RBM(V, H, weights=rng.normal(0, scale, (V, *k, H)), visible_bias=rng.normal(0, 0.5, (V, *k)),
                             hidden_bias=rng.normal(0, 0.5, H), **kw))


def all_binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0, 1], repeat=n)), dtype=torch.float64)


def exact_log_likelihood(model, x) -> torch.Tensor:
    return (-model.free_energy(x)).mean() - gd.log_partition(model)


# ------------------------------------------------------------------ spec
def test_spec_errors_name_the_problem() -> None:
    with pytest.raises(gd.SpecError, match="visible_type"):
        gd.RBM(4, 2, visible_type="poisson")
    with pytest.raises(gd.SpecError, match="categories"):
        gd.RBM(4, 2, visible_type="categorical")
    with pytest.raises(gd.SpecError, match=r"weights has shape \(3, 2\); this RBM needs \(4, 2\)"):
        gd.RBM(4, 2, weights=np.zeros((3, 2)))
    with pytest.raises(gd.SpecError, match="non-finite"):
        gd.RBM(2, 2, weights=[[0, np.nan], [0, 0]])
    with pytest.raises(gd.SpecError, match="sigma"):
        gd.RBM(2, 2, sigma=1.0)
    with pytest.raises(gd.SpecError, match="at least two layers"):
        gd.DBN([784])


def test_spec_is_two_blocks_and_one_edge() -> None:
    spec = gd.RBM((28, 28), 500)
    g = spec.graph
    assert sorted(g.nodes) == ["h", "v"] and g.number_of_edges() == 1
    assert spec.index_of("v[27,27]") == 783 and spec.index_of("h[0]") == 784
    assert len(gd.DBN([784, 500, 2000]).graph.edges) == 2


# -------------------------------------------------------- energy & exact
def test_free_energy_sums_out_the_hidden_layer() -> None:
    for kw in ({}, {"visible_type": "categorical", "categories": 3}):
        model = random_rbm(3, 3, **kw)
        K = kw.get("categories", 2)
        v = torch.tensor(list(itertools.product(range(K), repeat=3)), dtype=torch.float64)
        h = all_binary(3)
        vv, hh = v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)
        e = model.energy(torch.cat([vv, hh], 1)).view(len(v), len(h))
        assert torch.allclose(model.free_energy(v), -torch.logsumexp(-e, 1), atol=1e-12)
        # exact log Z by enumeration equals brute force over every joint state
        assert abs(float(gd.log_partition(model)) - float(torch.logsumexp(-e.reshape(-1), 0))) < 1e-10


def test_gaussian_visible_log_partition_matches_quadrature() -> None:
    model = gd.compile(gd.RBM(1, 2, visible_type="gaussian", weights=[[0.7, -0.4]], visible_bias=[0.3],
                              hidden_bias=[0.2, -0.1], sigma=1.5))
    v = torch.linspace(-25, 25, 200001, dtype=torch.float64)[:, None]
    f = -model.free_energy(v)
    log_z = torch.logsumexp(f, 0) + math.log(float(v[1] - v[0]))
    assert abs(float(gd.log_partition(model)) - float(log_z)) < 1e-8


def test_exact_backend_matches_markov_network_with_evidence() -> None:
    model = random_rbm(5, 3)
    mn = gd.compile(model.to_markov_network())
    for ev in ({}, {"v[0]": 1, "h[2]": 0}, {"h[0]": 1}, {"v[1]": 0, "v[2]": 1, "v[3]": 1, "v[4]": 0}):
        assert abs(float(gd.log_partition(model, ev) - gd.log_partition(mn, ev))) < 1e-10
        a, b = gd.query(model, evidence=ev), gd.query(mn, evidence=ev)
        for n in model.variables:
            assert np.allclose(a[n].probs if hasattr(a[n], "probs") else a[n][1], b[n].probs if hasattr(b[n], "probs") else b[n][1], atol=1e-10)


def test_exact_backend_refuses_wide_rbms_and_names_alternatives() -> None:
    with pytest.raises(gd.InferenceError, match="ais"):
        gd.log_partition(gd.compile(gd.RBM(40, 30)))


# ------------------------------------------------------------- gradients
def test_cd1_gradient_is_the_textbook_formula() -> None:
    """Autograd of mean F(v0) - mean F(v1) equals -(v0ᵀσ(z0) - v1ᵀσ(z1))/B for the same negatives."""
    model = random_rbm(6, 4)
    x = all_binary(6)[::5]
    cd = ContrastiveDivergence(model, k=1, seed=3)
    cd.loss(x).backward()
    v1 = ContrastiveDivergence(model, k=1, seed=3).negatives(x, model.hidden_logits(x).detach())
    with torch.no_grad():
        p0, p1 = model.hidden_probs(x), model.hidden_probs(v1)
        expected = -(x.t() @ p0 - v1.t() @ p1) / len(x)
    assert torch.allclose(model.weight.grad, expected, atol=1e-12)
    assert torch.allclose(model.hidden_bias.grad, -(p0 - p1).mean(0), atol=1e-12)


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian", "categorical"])
@pytest.mark.parametrize("persistent", [False, True], ids=["cd", "pcd"])
def test_closed_form_gradient_equals_autograd(kind: str, persistent: bool) -> None:
    """The training loop's fast path (no autograd graph) gives autograd's gradient exactly."""
    kw = {"visible_type": kind}
    if kind == "categorical":
        kw["categories"] = 3
    model = random_rbm(5, 4, **kw)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (9, 5)).double() if kind == "categorical" else (
        torch.randn(9, 5, generator=g, dtype=torch.float64) if kind == "gaussian" else torch.bernoulli(torch.full((9, 5), 0.4, dtype=torch.float64)))
    a = ContrastiveDivergence(model, k=2, persistent=persistent, chains=7, seed=1)
    assert a.backward(x) is None  # the closed-form path
    fast = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    b = ContrastiveDivergence(model, k=2, persistent=persistent, chains=7, seed=1)
    b.loss(x).backward()
    for f, p in zip(fast, model.parameters()):
        assert torch.allclose(f, p.grad, atol=1e-12)


@pytest.mark.statistical
@pytest.mark.parametrize("method", ["pcd", "cd-long"])
def test_cd_and_pcd_gradients_match_autodiff_of_exact_likelihood(method: str) -> None:
    """With long chains, CD-k and PCD estimate the exact gradient: max error below 0.02
    (Monte-Carlo noise with 20,000 chains is about 0.004 per entry)."""
    model = random_rbm(6, 4, seed=1)
    x = all_binary(6)[torch.randperm(64, generator=torch.Generator().manual_seed(0))[:12]]
    exact = torch.autograd.grad(-exact_log_likelihood(model, x), [model.weight, model.visible_bias, model.hidden_bias])
    reps = 20_000 // len(x)
    if method == "pcd":
        cd = ContrastiveDivergence(model, k=200, persistent=True, chains=20_000, seed=0)
        pos = model.free_energy(x).mean()
        neg = cd.negatives(x)
        loss = pos - model.free_energy(neg).mean()
    else:
        cd = ContrastiveDivergence(model, k=200, seed=0)
        xr = x.repeat(reps, 1)
        loss = model.free_energy(xr).mean() - model.free_energy(cd.negatives(xr)).mean()
    est = torch.autograd.grad(loss, [model.weight, model.visible_bias, model.hidden_bias])
    for e, a in zip(est, exact):
        assert float((e - a).abs().max()) < 0.02


@pytest.mark.statistical
def test_pcd_gradient_of_a_markov_network_matches_exact() -> None:
    """The same objective trains a fully observed Markov network (energy instead of free energy)."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.1, domain=gd.Binary()))
    states = torch.tensor(list(itertools.product([0, 1], repeat=9)))
    x = states[torch.randperm(len(states), generator=torch.Generator().manual_seed(1))[:20]]
    params = [p for p in model.parameters()]
    nll = model.energy(x).mean() + gd.log_partition(model)
    exact = torch.autograd.grad(nll, params)
    cd = ContrastiveDivergence(model, k=100, persistent=True, chains=20_000, seed=0)
    loss = model.energy(x).mean() - model.energy(cd.negatives(x)).mean()
    est = torch.autograd.grad(loss, params)
    for e, a in zip(est, exact):
        assert float((e - a).abs().max()) < 0.02


# ------------------------------------------------------------------- AIS
@pytest.mark.statistical
def test_ais_log_z_within_a_tenth_of_a_nat_with_20_hidden_units() -> None:
    model = random_rbm(30, 20, seed=2, scale=0.3)
    data = torch.bernoulli(torch.full((500, 30), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    exact = float(gd.log_partition(model))  # 2^20 hidden states, enumerated
    r = rbm_ais(model, runs=100, base_data=data, seed=0)
    assert abs(float(r.log_z) - exact) < 0.1
    assert r.log_z_bounds[0] <= float(r.log_z) <= r.log_z_bounds[1]
    ll = rbm_log_likelihood(model, data, runs=100, betas=2000, seed=1)
    assert abs(ll.log_likelihood - float(exact_log_likelihood(model, data))) < 0.1


def test_ais_softmax_visible_units() -> None:
    model = random_rbm(4, 3, seed=3, visible_type="categorical", categories=3)
    r = rbm_ais(model, runs=400, betas=1000, seed=0)
    assert abs(float(r.log_z) - float(gd.log_partition(model))) < 0.05


# -------------------------------------------------------------- training
def teacher_data(n=2000, seed=0) -> torch.Tensor:
    teacher = random_rbm(8, 3, seed=seed, scale=1.5)
    return teacher.sample(n, steps=200, seed=seed)


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_fit_raises_the_exact_likelihood(method: str) -> None:
    x = teacher_data()
    model = gd.compile(gd.RBM(8, 3))
    before = float(exact_log_likelihood(model, x))
    hist = gd.fit(model, x, method=method, epochs=15, batch_size=50, lr=0.1, schedule="linear", progress=False)
    after = float(exact_log_likelihood(model, x))
    assert after > before + 0.3
    assert set(hist.last) >= {"epoch", "lr", "seconds", "reconstruction_error", "pseudo_log_likelihood"}
    assert hist["lr"][-1] < hist["lr"][0]


def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path) -> None:
    x = teacher_data(400)
    a = gd.compile(gd.RBM(8, 3))
    gd.fit(a, x, epochs=4, batch_size=50, progress=False)
    b = gd.compile(gd.RBM(8, 3))
    ck = tmp_path / "rbm.pt"
    gd.fit(b, x, epochs=2, batch_size=50, progress=False, checkpoint=ck)
    b2 = gd.compile(gd.RBM(8, 3))
    hist = gd.fit(b2, x, epochs=4, batch_size=50, progress=False, checkpoint=ck, resume=True)
    assert len(hist) == 4
    assert torch.allclose(a.weight, b2.weight) and torch.allclose(a.visible_bias, b2.visible_bias)


def test_fit_rejects_bad_data_with_the_fix() -> None:
    model = gd.compile(gd.RBM(8, 3))
    with pytest.raises(gd.SpecError, match=r"shape \(10, 7\).*\(examples, 8\)"):
        gd.fit(model, torch.zeros(10, 7), progress=False)
    with pytest.raises(gd.SpecError, match="column 2"):
        bad = torch.zeros(10, 8)
        bad[3, 2] = 0.5
        gd.fit(model, bad, progress=False)
    with pytest.raises(gd.SpecError, match="NaN"):
        gd.fit(model, torch.full((10, 8), float("nan")), progress=False)
    with pytest.raises(gd.SpecError, match="lr must be a finite number"):
        gd.fit(model, torch.ones(10, 8), lr=float("inf"), progress=False)
    good = {0: model.weight.detach().clone()}  # the weights after each epoch that ended finite
    keep = lambda epoch, record: good.__setitem__(epoch, model.weight.detach().clone())  # noqa: E731
    with pytest.warns(gd.errors.ConvergenceWarning, match=r"diverged in epoch \d.*\['weight'\].*rolled back"):
        hist = gd.fit(model, torch.ones(10, 8), lr=1e300, callbacks=[keep], progress=False)  # rolled back, not raised
    assert hist.diverged["restored_epoch"] == max(good) == hist.diverged["epoch"] - 1
    assert bool(torch.isfinite(model.weight).all()) and torch.equal(model.weight, good[max(good)])


def test_pseudo_likelihood_estimate_is_unbiased() -> None:
    model = random_rbm(6, 4)
    x = all_binary(6)
    exact = pseudo_log_likelihood(model, x, exact=True)
    g = torch.Generator().manual_seed(0)
    est = np.mean([pseudo_log_likelihood(model, x.repeat(20, 1), g) for _ in range(20)])
    brute = 0.0
    for i in range(6):  # log p(x_i | x_-i) from the exact joint of the visible layer
        flip = x.clone()
        flip[:, i] = 1 - flip[:, i]
        brute += float((-model.free_energy(x) - torch.logaddexp(-model.free_energy(x), -model.free_energy(flip))).mean())
    assert abs(exact - brute) < 1e-10 and abs(est - exact) < 0.1


def test_fit_trains_a_fully_observed_markov_network() -> None:
    """The same CD objective fits a Markov network's couplings (energy in place of free energy)."""
    truth = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.6, field=-0.2, domain=gd.Binary()))
    states = torch.tensor(list(itertools.product([0, 1], repeat=9)))
    with torch.no_grad():
        p = torch.softmax(truth.log_potential(states), 0)
    data = states[torch.multinomial(p, 4000, replacement=True, generator=torch.Generator().manual_seed(0))]
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.0, field=0.0, domain=gd.Binary()))

    def ll(m):
        with torch.no_grad():
            return float(m.log_potential(data).double().mean() - gd.log_partition(m))

    before = ll(model)
    hist = gd.fit(model, data, method="pcd", epochs=20, batch_size=100, lr=0.05, weight_decay=0.0, schedule="linear",
                  progress=False)
    assert ll(model) > before + 0.3
    assert abs(ll(model) - ll(truth)) < 0.05
    assert "loss" in hist.last and "pseudo_log_likelihood" in hist.last


def test_history_can_carry_ais_checkpoints() -> None:
    x = teacher_data(300)
    model = gd.compile(gd.RBM(8, 3))
    hist = gd.fit(model, x, epochs=2, batch_size=50, ais_every=2, ais_options={"runs": 50, "betas": 300}, progress=False)
    assert "log_likelihood" not in hist.records[0] and "log_likelihood" in hist.records[1]
    assert abs(hist.last["log_likelihood"] - float(exact_log_likelihood(model, x[:1000]))) < 0.1


def test_sample_counts_and_sweeps_must_be_whole_numbers() -> None:
    model = gd.compile(gd.RBM(4, 3))
    for n in (2.7, -1, 0, True):
        with pytest.raises(gd.SpecError, match=r"^n \(the number of samples\)"):
            model.sample(n, steps=2)
    for steps in (-5, 1.5):
        with pytest.raises(gd.SpecError, match=r"^steps \(Gibbs sweeps\)"):
            model.sample(2, steps=steps)
        with pytest.raises(gd.SpecError, match=r"^steps \(Gibbs sweeps\)"):
            model.inpaint(torch.zeros(2, 4), torch.zeros(4, dtype=torch.bool), steps=steps)
    assert model.sample(3, steps=0).shape == (3, 4)  # zero sweeps: the random start, allowed
    with pytest.raises(gd.SpecError, match="data is empty"):
        gd.log_likelihood(model, torch.zeros(0, 4))


@pytest.mark.parametrize("sizes", [(4, 3), (3, 5)])  # enumerates the hidden layer, then the visible one
def test_exact_map_equals_the_markov_network_map(sizes: tuple[int, int]) -> None:
    rbm = gd.compile(gd.RBM(*sizes, init_std=1.5, seed=4))
    mn = gd.compile(rbm.to_markov_network())
    for evidence in ({}, {"v[0]": 1}, {"h[1]": 0, "v[2]": 1}):
        a, b = gd.map_query(rbm, evidence=evidence), gd.map_query(mn, evidence=evidence)  # was: "does not answer map; try 'exact'"
        assert a.assignment == b.assignment, evidence
        assert abs(a.log_score - b.log_score) < 1e-9
    with pytest.raises(gd.CapabilityError, match="to_markov_network"):
        gd.map_query(rbm, variables=["v[0]"])


def test_exact_map_of_a_softmax_rbm_equals_brute_force() -> None:
    rbm = gd.compile(gd.RBM(3, 4, visible_type="categorical", categories=3, init_std=1.5, seed=4))
    grids = torch.meshgrid(*[torch.arange(3)] * 3, *[torch.arange(2)] * 4, indexing="ij")
    states = torch.stack([g.reshape(-1) for g in grids], 1)  # (3^3 2^4, 7): every joint state
    with torch.no_grad():
        log_p = -rbm.energy(states)
    for evidence, keep in (({}, torch.ones(len(states), dtype=torch.bool)), ({"v[1]": 2}, states[:, 1] == 2)):
        best = int(torch.where(keep, log_p, torch.full_like(log_p, -float("inf"))).argmax())
        m = gd.map_query(rbm, evidence=evidence)
        assert m.state.tolist() == states[best].tolist(), evidence
        assert abs(m.log_score - float(log_p[best])) < 1e-9
