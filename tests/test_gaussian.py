"""Gaussian Markov networks: spec validation, analytic moments and log Z against numpy, the exact
Gaussian backend, Pyro NUTS/HMC against the analytic answer, and JSON / model round trips."""
from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from pyro.ops.stats import effective_sample_size

import graphdgm as gd
from graphdgm.infer.gaussian_exact import GaussianExact
from graphdgm.infer.mcmc.pyro_hmc import HMC, NUTS
from graphdgm.io import spec_from_dict, spec_to_dict



def coupled_precision() -> tuple[np.ndarray, np.ndarray]:
    """A 5-variable loop with couplings of both signs and a non-zero potential (Λ is PD, eigenvalues 0.89..2.7)."""
    lam = np.diag([2.0, 1.5, 2.0, 1.8, 1.6])
    for i, j, w in [(0, 1, -0.6), (1, 2, 0.5), (2, 3, -0.4), (3, 4, 0.3), (0, 4, 0.3)]:
        lam[i, j] = lam[j, i] = w
    return lam, np.array([1.0, -0.5, 0.0, 0.8, -1.0])


@pytest.fixture(scope="module")
def model() -> gd.compiler.CompiledGaussianMarkovNetwork:
    lam, eta = coupled_precision()
    return gd.compile(gd.GaussianMarkovNetwork.from_precision(lam, eta))


# ------------------------------------------------------------------- spec
def test_terms_build_precision_and_potential() -> None:
    g = gd.GaussianMarkovNetwork()
    g.add_variable("a")
    g.add_block("x", (2,))
    g.add_quadratic("a", "a", 2.0)  # −½·2·a²
    g.add_quadratic([("x[0]", "x[0]"), ("x[1]", "x[1]")], [1.0, 3.0])
    g.add_quadratic([("a", "x[0]"), ("x[0]", "x[1]")], [0.3, -0.2])  # −0.3·a·x0 + 0.2·x0·x1
    g.add_quadratic("a", "x[0]", 0.1)  # terms add up
    g.add_linear("x", [0.5, -1.0])
    g.add_linear("a", 2.0)
    np.testing.assert_array_equal(g.precision_matrix(), [[2.0, 0.4, 0.0], [0.4, 1.0, -0.2], [0.0, -0.2, 3.0]])
    np.testing.assert_array_equal(g.potential_vector(), [2.0, 0.5, -1.0])
    assert g.variables == ["a", "x[0]", "x[1]"] and g.num_variables == 3
    assert g.index_of("x[1]") == 2 and g._resolve("x") == [1, 2]
    assert all(d.kind == "real" for d in g.domains())
    assert sorted(map(sorted, g.variable_graph().edges)) == [["a", "x[0]"], ["x[0]", "x[1]"]]
    assert {n for n, k in g.graph.nodes(data="kind") if k == "block"} == {"a", "x"}


def test_log_potential_matches_the_declared_terms() -> None:
    g = gd.GaussianMarkovNetwork()
    g.add_block("x", 2)
    g.add_quadratic("x[0]", "x[1]", 0.7)
    g.add_quadratic("x[0]", "x[0]", 1.5)
    g.add_quadratic("x[1]", "x[1]", 2.5)
    g.add_linear("x[1]", 0.4)
    m = gd.compile(g)
    x0, x1 = 0.3, -1.2
    direct = -0.7 * x0 * x1 - 0.5 * 1.5 * x0**2 - 0.5 * 2.5 * x1**2 + 0.4 * x1
    assert float(m.log_potential(torch.tensor([x0, x1], dtype=torch.float64))) == pytest.approx(direct, abs=1e-12)


def test_spec_validation_errors() -> None:
    g = gd.GaussianMarkovNetwork()
    g.add_block("x", 3)
    with pytest.raises(gd.SpecError, match="duplicate block name 'x'"):
        g.add_variable("x")
    with pytest.raises(gd.UnknownVariableError, match=r"unknown variable 'x\[7\]'"):
        g.add_quadratic("x[7]", "x[0]", 1.0)
    with pytest.raises(gd.UnknownVariableError, match="Did you mean"):
        g.add_linear("y[0]", 1.0)
    with pytest.raises(gd.SpecError, match=r"quadratic weight for \('x\[0\]', 'x\[2\]'\) is nan"):
        g.add_quadratic([("x[0]", "x[1]"), ("x[0]", "x[2]")], [1.0, float("nan")])
    with pytest.raises(gd.SpecError, match=r"linear weight for 'x\[1\]' is inf"):
        g.add_linear("x", [0.0, math.inf, 1.0])
    with pytest.raises(gd.SpecError, match=r"one value per pair, shape \(2,\)"):
        g.add_quadratic([("x[0]", "x[1]"), ("x[1]", "x[2]")], [1.0, 2.0, 3.0])
    with pytest.raises(gd.SpecError, match="index outside 0..2"):
        g.add_quadratic(np.array([[0, 3]]), 1.0)
    with pytest.raises(gd.SpecError, match="must be symmetric"):
        gd.GaussianMarkovNetwork.from_precision([[1.0, 0.2], [0.0, 1.0]])
    with pytest.raises(gd.SpecError, match=r"square matrix \(n, n\)"):
        gd.GaussianMarkovNetwork.from_precision(np.ones((2, 3)))
    with pytest.raises(gd.SpecError, match=r"potential must have shape \(2,\)"):
        gd.GaussianMarkovNetwork.from_precision(np.eye(2), [1.0, 2.0, 3.0])
    with pytest.raises(gd.SpecError, match=r"linear weight for 'b' is nan"):
        gd.GaussianMarkovNetwork.from_precision(np.eye(2), [1.0, math.nan], names=["a", "b"])
    assert not g.quadratics and not g.linears  # failed calls leave the spec as it was


def test_compile_rejects_a_precision_that_is_not_positive_definite() -> None:
    g = gd.GaussianMarkovNetwork.from_precision([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues -1 and 3
    with pytest.raises(gd.SpecError, match=r"not positive definite \(smallest eigenvalue -1, mostly along .*strengthen the diagonal"):
        gd.compile(g)
    with pytest.raises(gd.SpecError, match="empty Gaussian network"):
        gd.compile(gd.GaussianMarkovNetwork())


# ------------------------------------------------------------- compiled
def test_energy_matches_the_quadratic_form(model) -> None:
    lam, eta = coupled_precision()
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # (B, n)
    direct = np.array([0.5 * xi @ lam @ xi - eta @ xi for xi in x.numpy()])
    np.testing.assert_allclose(model.energy(x).detach().numpy(), direct, rtol=1e-12)
    assert model.energy(x[0]).shape == (1,)
    np.testing.assert_allclose(model.log_potential(x).detach().numpy(), -direct, rtol=1e-12)
    with pytest.raises(gd.SpecError, match=r"shape \(batch, 5\)"):
        model.energy(torch.zeros(2, 4))
    assert model.capabilities == {"continuous", "energy", "gaussian"}
    assert isinstance(model.precision, torch.nn.Parameter) and model.precision.dtype == torch.float64


def test_mean_and_covariance_match_numpy(model) -> None:
    lam, eta = coupled_precision()
    cov = np.linalg.inv(lam)
    np.testing.assert_allclose(model.covariance().detach().numpy(), cov, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.mean().detach().numpy(), cov @ eta, rtol=1e-12, atol=1e-14)


def test_conditioning_matches_the_schur_complement(model) -> None:
    lam, eta = coupled_precision()
    cov, mu = np.linalg.inv(lam), np.linalg.solve(lam, eta)
    c, f = [1, 3], [0, 2, 4]
    xc = np.array([0.7, -1.1])
    s_fc = cov[np.ix_(f, c)] @ np.linalg.inv(cov[np.ix_(c, c)])
    cond_mean = mu[f] + s_fc @ (xc - mu[c])  # μ_f + Σ_fc Σ_cc⁻¹ (x_c − μ_c)
    cond_cov = cov[np.ix_(f, f)] - s_fc @ cov[np.ix_(c, f)]  # Σ_ff − Σ_fc Σ_cc⁻¹ Σ_cf
    ev = {"x[1]": 0.7, "x[3]": -1.1}
    assert model.free_variables(ev) == f
    np.testing.assert_allclose(model.mean(ev).detach().numpy(), cond_mean, rtol=1e-10)
    np.testing.assert_allclose(model.covariance(ev).detach().numpy(), cond_cov, rtol=1e-10, atol=1e-14)
    with pytest.raises(gd.EvidenceError, match=r"evidence for 'x\[1\]' is nan"):
        model.mean({"x[1]": math.nan})
    with pytest.raises(gd.EvidenceError, match=r"must be a real number"):
        model.mean({"x[1]": "high"})
    with pytest.raises(gd.UnknownVariableError):
        model.mean({"y": 1.0})


def test_log_partition_closed_form(model) -> None:
    lam, eta = coupled_precision()
    n = len(eta)
    closed = 0.5 * n * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(lam)[1] + 0.5 * eta @ np.linalg.solve(lam, eta)
    assert float(model.log_partition()) == pytest.approx(closed, rel=1e-12)
    # with evidence: log ∫ exp(−E(x_f, x_c)) dx_f, by completing the square in x_f
    c, f = [2], [0, 1, 3, 4]
    xc = np.array([0.4])
    h = eta[f] - lam[np.ix_(f, c)] @ xc
    lff = lam[np.ix_(f, f)]
    cond = (0.5 * 4 * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(lff)[1] + 0.5 * h @ np.linalg.solve(lff, h)
            - 0.5 * xc @ lam[np.ix_(c, c)] @ xc + eta[c] @ xc)
    assert float(model.log_partition({"x[2]": 0.4})) == pytest.approx(cond, rel=1e-12)
    # every variable clamped: log Z is the log-potential of that state
    x = torch.tensor([0.1, 0.2, -0.3, 0.4, 0.5], dtype=torch.float64)
    assert float(model.log_partition({"x": x})) == pytest.approx(float(model.log_potential(x)), rel=1e-12)
    # differentiable: d log Z / d η = E[x]
    model.zero_grad()
    model.log_partition().backward()
    np.testing.assert_allclose(model.potential.grad.numpy(), np.linalg.solve(lam, eta), rtol=1e-10)
    model.zero_grad()


# ------------------------------------------------------- exact backend
def test_gaussian_exact_backend(model) -> None:
    lam, eta = coupled_precision()
    cov = np.linalg.inv(lam)
    m = gd.query(model, backend="gaussian")
    assert isinstance(m["x[3]"], gd.infer.results.ContinuousMarginal)
    assert m["x[3]"].mean == pytest.approx((cov @ eta)[3], rel=1e-12)
    assert m["x[3]"].std == pytest.approx(math.sqrt(cov[3, 3]), rel=1e-12)
    df = m.to_pandas()
    assert list(df.columns) == ["variable", "mean", "std"] and len(df) == 5
    assert m.tensor().shape == (5, 2)
    with pytest.raises(gd.InferenceError, match="no samples"):
        m["x[0]"].quantile(0.5)
    mc = gd.query(model, ["x[0]", "x[2]"], evidence={"x[2]": 0.4}, backend="gaussian")
    assert (mc["x[2]"].mean, mc["x[2]"].std) == (0.4, 0.0)
    mode = gd.map_query(model, evidence={"x[2]": 0.4}, backend="gaussian")
    assert mode["x[2]"] == 0.4
    assert mode["x[0]"] == pytest.approx(float(model.mean({"x[2]": 0.4})[0]), rel=1e-12)
    assert mode.log_score == pytest.approx(float(model.log_potential(mode.state)), rel=1e-12)
    assert float(gd.log_partition(model, backend="gaussian")) == pytest.approx(float(model.log_partition()))
    with pytest.raises(gd.CapabilityError, match="backends that fit: .*'gaussian'"):
        gd.query(model, backend=gd.infer.Exact())  # the VE backend needs factor tables
    with pytest.raises(gd.CapabilityError, match="covariance"):
        gd.query(model, joint=True, backend="gaussian")
    assert GaussianExact.approximate is False


# ------------------------------------------------------------ Pyro HMC
def monte_carlo_error(q: torch.Tensor) -> torch.Tensor:
    """Standard error of the mean of per-draw quantities q (N, k): sd / √ESS, with each column's
    effective sample size estimated from its autocorrelation and capped at N (anti-correlated
    draws earn no credit)."""
    ess = effective_sample_size(q[None], chain_dim=0, sample_dim=1).clamp(1.0, float(len(q)))  # (k,)
    return q.std(0) / ess.sqrt()  # (k,)


def assert_recovers_gaussian(draws: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> None:
    """Sample mean and covariance within 4 Monte-Carlo standard errors of the analytic ones.

    The standard error of a mean uses the draws x_i; that of a covariance entry the products
    (x_i − x̄_i)(x_j − x̄_j), each with its own effective sample size. A sampler that mixes badly would
    earn wide tolerances, so they are capped at 4 standard errors for an ESS of N/2 for the means
    (4·σ/√(N/2): 0.165 for N = 1000 and σ ≤ 0.92 here) and N/4 for the second moments
    (4·σ²·√(2/(N/4)): 0.30 for σ² ≤ 0.84).
    """
    mean, cov = mean.detach(), cov.detach()
    n, m = draws.shape
    centred = draws - draws.mean(0)  # (N, m)
    products = (centred[:, :, None] * centred[:, None, :]).reshape(n, m * m)  # (N, m·m)
    tol_mean = 4 * monte_carlo_error(draws)  # (m,)
    tol_cov = 4 * monte_carlo_error(products).reshape(m, m)  # (m, m)
    var_max = float(cov.diagonal().max())
    cap_mean, cap_cov = 4 * math.sqrt(var_max / (n / 2)), 4 * var_max * math.sqrt(2 / (n / 4))
    assert float(tol_mean.max()) <= cap_mean, f"sampler mixes too slowly: mean tolerances {tol_mean.tolist()} > {cap_mean:.3f}"
    assert float(tol_cov.max()) <= cap_cov, f"sampler mixes too slowly: covariance tolerances {tol_cov.tolist()} > {cap_cov:.3f}"
    err_mean = (draws.mean(0) - mean).abs()  # (m,)
    err_cov = (torch.cov(draws.T) - cov).abs()  # (m, m)
    assert bool((err_mean <= tol_mean).all()), f"mean error {err_mean.tolist()} > tolerance {tol_mean.tolist()}"
    assert bool((err_cov <= tol_cov).all()), f"covariance error {err_cov.tolist()} > tolerance {tol_cov.tolist()}"


# Pyro's HMC keeps the trajectory length step_size·num_steps (jittered ±50%) while it adapts the step
# size; 0.25·10 = 2.5 (about three posterior standard deviations, the default) mixes well here, 1.0 does not.
@pytest.mark.statistical
@pytest.mark.parametrize(
    "sampler",
    [NUTS(samples=1000, warmup=300, seed=0), HMC(samples=1000, warmup=300, step_size=0.25, num_steps=10, seed=0)],
    ids=["nuts", "hmc"],
)
def test_pyro_samplers_recover_mean_and_covariance(model, sampler) -> None:
    draws = sampler.run(model)  # (1000, 5)
    assert draws.shape == (1000, 5)
    assert_recovers_gaussian(draws, model.mean(), model.covariance())
    assert float(sampler.last_diagnostics["r_hat"].max()) < 1.05
    assert sampler.last_diagnostics["variables"] == model.variables


@pytest.mark.statistical
@pytest.mark.parametrize(
    "sampler",
    [NUTS(samples=1000, warmup=300, seed=1), HMC(samples=1000, warmup=300, step_size=0.25, num_steps=10, seed=1)],
    ids=["nuts", "hmc"],
)
def test_pyro_samplers_with_evidence_through_query(model, sampler) -> None:
    ev = {"x[2]": 0.7}
    m = gd.query(model, evidence=ev, backend=sampler)
    assert (m["x[2]"].mean, m["x[2]"].std) == (0.7, 0.0)
    free = [model.variables[i] for i in model.free_variables(ev)]
    draws = torch.stack([m[v].samples for v in free], 1)  # (1000, 4), the draws line up across variables
    assert_recovers_gaussian(draws, model.mean(ev), model.covariance(ev))
    assert m[free[0]].quantile(0.05) < m[free[0]].mean < m[free[0]].quantile(0.95)


def test_pyro_run_leaves_the_global_rng_alone_and_is_reproducible(model) -> None:
    torch.manual_seed(1234)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    a = NUTS(samples=20, warmup=10, seed=3).run(model, {"x[0]": 0.0})  # (20, 4)
    assert torch.equal(torch.get_rng_state(), before[0])
    b = NUTS(samples=20, warmup=10, seed=3).run(model, {"x[0]": 0.0})
    c = HMC(samples=20, warmup=10, seed=4, chains=2).run(model)  # (40, 5), chains one after the other
    assert torch.equal(a, b) and a.shape == (20, 4) and c.shape == (40, 5)
    assert not torch.equal(c[:20], c[20:])  # each chain from its own start
    assert torch.equal(torch.get_rng_state(), before[0])
    assert random.getstate() == before[1] and np.array_equal(np.random.get_state()[1], before[2])


def test_pyro_backend_protocol(model) -> None:
    sampler = HMC(samples=50, warmup=20, step_size=0.2, seed=0)
    state, score = sampler.map(model, {1: 0.5})
    assert state.shape == (5,) and float(state[1]) == 0.5
    assert float(score) == pytest.approx(float(model.log_potential(state)))
    res = gd.map_query(model, evidence={"x[1]": 0.5}, backend=sampler)  # approximate: the best draw
    assert isinstance(res["x[0]"], float) and res["x[1]"] == 0.5
    with pytest.raises(gd.CapabilityError, match=r"model.log_partition"):
        gd.log_partition(model, backend="nuts")
    with pytest.raises(gd.CapabilityError, match="marginal MAP"):
        gd.map_query(model, variables=["x[0]"], backend=sampler)
    with pytest.raises(gd.CapabilityError, match="needs \\['continuous'\\]"):
        gd.query(gd.MarkovNetwork.ising_grid(2, 2), backend="nuts")
    with pytest.raises(gd.SpecError, match="samples=0 must be an integer >= 1"):
        NUTS(samples=0)
    with pytest.raises(gd.SpecError, match="target_accept"):
        NUTS(target_accept=1.5)
    assert {"nuts", "hmc", "gaussian"} <= set(gd.infer.available_backends())
    assert NUTS.requires == {"continuous", "energy"} and NUTS.approximate and HMC.name == "hmc"


# ----------------------------------------------------------------- I/O
def test_json_round_trip() -> None:
    g = gd.GaussianMarkovNetwork(name="gmn")
    g.add_variable("a")
    g.add_block("x", (2, 2))
    g.add_quadratic([("a", "a"), ("x[0,0]", "x[0,0]"), ("x[0,1]", "x[0,1]"), ("x[1,0]", "x[1,0]"), ("x[1,1]", "x[1,1]")], 2.0)
    g.add_quadratic("a", "x[1,1]", 0.1 + 0.2, name="odd")  # a float that only round-trips with repr precision
    g.add_linear("x", [1.0, -2.0, 0.0, 1 / 3])
    g.add_linear(["a", "x[0,1]"], [0.5, 0.25])
    text = json.dumps(spec_to_dict(g), allow_nan=False)
    back = spec_from_dict(json.loads(text))
    assert isinstance(back, gd.GaussianMarkovNetwork) and back.name == "gmn" and back.variables == g.variables
    assert [q.name for q in back.quadratics] == ["Q0", "odd"] and [lg.block for lg in back.linears] == ["x", ""]
    np.testing.assert_array_equal(back.precision_matrix(), g.precision_matrix())
    np.testing.assert_array_equal(back.potential_vector(), g.potential_vector())
    assert json.loads(text)["family"] == "gaussian_markov_network"
    with pytest.raises(gd.FormatError, match="family 'bayes'"):
        spec_from_dict({**json.loads(text), "family": "bayes"})


def test_model_save_and_load_keeps_trained_parameters(model, tmp_path) -> None:
    m = gd.compile(model.spec)
    with torch.no_grad():
        m.potential.add_(0.5)
    back = gd.io.load(gd.io.save(m, tmp_path / "g.pt"))
    assert type(back).__name__ == "CompiledGaussianMarkovNetwork"
    assert torch.equal(back.potential, m.potential) and torch.equal(back.precision, m.precision)


# ------------------------------------------------------- integration with the sampling layer
def test_registered_and_exact_means_analytic_for_gaussians() -> None:
    import graphdgm as gd

    assert {"nuts", "hmc", "gaussian"} <= set(gd.infer.available_backends())
    spec = gd.GaussianMarkovNetwork.from_precision([[2.0, 0.5], [0.5, 1.0]], potential=[1.0, -1.0], names="x")
    model = gd.compile(spec)
    m = gd.query(model)  # default backend "exact" answers analytically
    torch.testing.assert_close(torch.tensor([m["x[0]"].mean, m["x[1]"].mean], dtype=torch.float64), model.mean().detach())
    assert "nuts" not in gd.infer.registry.approximate_backends(gd.compile(gd.MarkovNetwork.ising_grid(2, 2)))


@pytest.mark.statistical
def test_random_walk_metropolis_recovers_gaussian_moments() -> None:
    import graphdgm as gd
    from graphdgm.infer.mcmc import MetropolisHastings, sample_chains

    prec = torch.tensor([[2.0, 0.6, 0.0], [0.6, 1.5, -0.4], [0.0, -0.4, 1.0]], dtype=torch.float64)
    model = gd.compile(gd.GaussianMarkovNetwork.from_precision(prec, potential=[0.5, -1.0, 0.3], names="x"))
    r = sample_chains(model, MetropolisHastings("random_walk", step_size=0.8), chains=256, sweeps=2000, seed=0)
    # 256 chains x 2000 draws, acceptance ~0.5: Monte-Carlo error of the mean is ~0.01
    torch.testing.assert_close(r.mean, model.mean().detach(), atol=0.05, rtol=0)
    torch.testing.assert_close(r.variance, torch.diagonal(model.covariance()).detach(), atol=0.05, rtol=0)
    assert float(r.rhat.max()) < 1.05 and 0.2 < r.acceptance < 0.8
    ev = gd.query(model, ["x[0]"], evidence={"x[1]": 1.0}, backend=gd.infer.Metropolis(chains=256, sweeps=2000, proposal="random_walk"))
    exact = gd.query(model, ["x[0]"], evidence={"x[1]": 1.0})
    assert abs(ev["x[0]"].mean - exact["x[0]"].mean) < 0.05 and abs(ev["x[0]"].std - exact["x[0]"].std) < 0.05


def test_gaussian_specs_reject_complex_and_non_integer_input() -> None:
    with pytest.raises(gd.SpecError, match="complex"):
        gd.GaussianMarkovNetwork.from_precision(np.array([[1.0 + 1j]]))
    g = gd.GaussianMarkovNetwork()
    with pytest.raises(gd.SpecError, match="block 'x' shape axis 0"):
        g.add_block("x", (2.5,))
    g.add_block("x", 2)
    with pytest.raises(gd.SpecError, match="shape"):
        g.add_quadratic(np.array([0, 1, 1]), 1.0)  # not an (E, 2) index array
    with pytest.raises(gd.SpecError, match="complex"):
        g.add_linear("x", [1j, 0])
