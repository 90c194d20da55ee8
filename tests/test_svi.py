"""The Pyro SVI backend: Gaussian guides against the analytic posterior and log Z, the mean-field
categorical guide against exact enumeration and the mean-field optimum, the query API, errors, and
side effects (global RNG, Pyro's param store, the model's gradients)."""
from __future__ import annotations

import math
import random

import numpy as np
import pyro
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.svi import SVI
from conftest import enumerate_states, random_network



@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Pyro's per-step work is many tiny tensor ops; on a busy 2-core machine torch's intra-op
    threads contend and a step takes 10x longer. One thread for this module; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def coupled_gaussian() -> gd.compiler.CompiledGaussianMarkovNetwork:
    """The 5-variable loop of test_gaussian.py: couplings of both signs, a non-zero potential."""
    lam = np.diag([2.0, 1.5, 2.0, 1.8, 1.6])
    for i, j, w in [(0, 1, -0.6), (1, 2, 0.5), (2, 3, -0.4), (3, 4, 0.3), (0, 4, 0.3)]:
        lam[i, j] = lam[j, i] = w
    return gd.compile(gd.GaussianMarkovNetwork.from_precision(lam, [1.0, -0.5, 0.0, 0.8, -1.0]))


def weak_ising() -> gd.compiler.CompiledMarkovNetwork:
    return gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.2, field=0.1))


def mean_field_optimum(model: torch.nn.Module, evidence: dict[int, int]) -> float:
    """max over factorised q of E_q[log p̃] + H(q), by L-BFGS on the exact (enumerated) objective."""
    states, logp = enumerate_states(model)  # (S, n), (S,)
    keep = torch.ones(len(states), dtype=torch.bool)
    for v, s in evidence.items():
        keep &= states[:, v] == s
    states, logp = states[keep], logp[keep]
    free = [v for v in range(model.num_variables) if v not in evidence]
    logits = torch.zeros(len(free), model.max_card, dtype=torch.float64, requires_grad=True)  # (m, K), binary here
    rows = torch.arange(len(free))

    def elbo() -> torch.Tensor:
        log_q = torch.log_softmax(logits, -1)[rows, states[:, free]].sum(-1)  # (S,)
        return (log_q.exp() * (logp - log_q)).sum()

    opt = torch.optim.LBFGS([logits], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = -elbo()
        loss.backward()
        return loss

    opt.step(closure)
    return float(elbo().detach())


# --------------------------------------------------------------- Gaussian
@pytest.mark.statistical
@pytest.mark.parametrize("evidence", [{}, {"x[2]": 0.7}], ids=["free", "clamped"])
def test_mvn_guide_recovers_the_posterior_and_bounds_log_z(evidence) -> None:
    model = coupled_gaussian()
    svi = SVI(steps=700, lr=0.05, guide="mvn", num_particles=8, seed=0)
    fit = svi.fit(model, evidence)
    assert list(fit.free) == model.free_variables(evidence)
    mean, std = model.mean(evidence).detach(), model.covariance(evidence).diagonal().sqrt().detach()  # (m,), (m,)
    # a full-covariance Gaussian guide can be the exact posterior: means and stds within 0.05
    torch.testing.assert_close(fit.mean, mean, atol=0.05, rtol=0)
    torch.testing.assert_close(fit.std, std, atol=0.05, rtol=0)
    # the ELBO is a lower bound on log Z (up to Monte-Carlo noise) and, at the exact posterior, tight
    log_z = float(model.log_partition(evidence).detach())
    assert svi.last_elbo <= log_z + 4 * svi.last_elbo_stderr + 1e-3
    assert svi.last_elbo >= log_z - 0.05
    assert float(fit.elbo.detach()) == svi.last_elbo and len(svi.last_losses) == 700
    tail = np.mean(svi.last_losses[-100:])  # −loss estimates the same bound, offset included
    assert abs(-tail - log_z) < 0.1


@pytest.mark.statistical
def test_mean_field_normal_guide_gets_means_and_underestimates_stds() -> None:
    model = coupled_gaussian()
    svi = SVI(steps=700, lr=0.05, guide="normal", num_particles=8, seed=0)
    fit = svi.fit(model)
    exact_std = model.covariance().diagonal().sqrt().detach()  # (n,)
    torch.testing.assert_close(fit.mean, model.mean().detach(), atol=0.05, rtol=0)
    assert bool((fit.std <= exact_std + 0.02).all()), f"mean field should underestimate stds: {fit.std} vs {exact_std}"
    # its optimum is known: q_i = N(mean_i, 1/Λ_ii)
    torch.testing.assert_close(fit.std, model.precision.diagonal().detach().rsqrt(), atol=0.03, rtol=0)
    log_z = float(model.log_partition().detach())
    assert log_z - 0.3 < svi.last_elbo < log_z - 0.05  # a strict bound: the correlations are lost


# ---------------------------------------------------------------- discrete
@pytest.mark.statistical
@pytest.mark.parametrize("evidence", [{}, {"x[0,0]": 1, "x[1,1]": -1}], ids=["free", "clamped"])
def test_mean_field_categorical_guide_on_a_weak_ising_grid(evidence) -> None:
    model = weak_ising()
    svi = SVI(steps=700, lr=0.05, num_particles=16, seed=0)
    got = gd.query(model, evidence=evidence, backend=svi)
    exact = gd.query(model, evidence=evidence)
    for v in model.variables:
        assert got[v].labels == exact[v].labels
        torch.testing.assert_close(got[v].probs, exact[v].probs, atol=0.05, rtol=0)
    for v, label in evidence.items():
        assert got[v][label] == 1.0
    # the bound: ELBO + log Π k_i ≤ log Z, and it is the mean-field optimum up to noise
    ev = model.encode_evidence(evidence)
    log_z = float(gd.log_partition(model, evidence).detach())
    best = mean_field_optimum(model, ev)
    slack = 4 * svi.last_elbo_stderr
    assert svi.last_elbo <= log_z + slack
    assert best - 0.05 <= svi.last_elbo <= best + slack


def test_hard_zeros_give_a_finite_bound() -> None:
    model = gd.compile(random_network(2))  # mixed cardinalities, zero table entries
    svi = SVI(steps=300, lr=0.05, num_particles=8, seed=0)
    bound = float(gd.log_partition(model, backend=svi).detach())
    assert math.isfinite(bound) and bound <= float(gd.log_partition(model).detach()) + 4 * svi.last_elbo_stderr
    marg = svi.marginals(model, [0, 1], {})
    assert [len(p) for p in marg] == [int(model.cards[0]), int(model.cards[1])]
    assert all(abs(float(p.sum()) - 1) < 1e-9 for p in marg)


def test_all_variables_clamped_gives_the_exact_log_potential() -> None:
    model = weak_ising()
    state = {v: 1 for v in model.variables}
    svi = SVI(steps=5)
    assert float(svi.log_partition(model, state).detach()) == pytest.approx(float(gd.log_partition(model, state).detach()))
    assert svi.last_losses == [] and svi.last_elbo_stderr == 0.0


# --------------------------------------------------------------------- API
def test_query_map_and_log_partition_through_the_api() -> None:
    model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0.3], [0.3, 1.0]], [0.5, 0.0]))
    svi = SVI(steps=300, lr=0.05, guide="normal", num_particles=4, seed=1)
    m = gd.query(model, evidence={"x[1]": 0.0}, backend=svi)
    assert (m["x[1]"].mean, m["x[1]"].std) == (0.0, 0.0)
    assert m["x[0]"].mean == pytest.approx(0.5, abs=0.1) and m["x[0]"].std == pytest.approx(1.0, abs=0.1)
    res = gd.map_query(model, evidence={"x[1]": 0.0}, backend=svi)
    assert res["x[1]"] == 0.0 and res["x[0]"] == pytest.approx(0.5, abs=0.1)
    assert res.log_score == pytest.approx(float(model.log_potential(res.state).detach()))
    bound = gd.log_partition(model, {"x[1]": 0.0}, backend=svi)
    assert bound.dim() == 0 and float(bound.detach()) <= float(model.log_partition({"x[1]": 0.0}).detach()) + 0.01

    ising = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.5, field=0.3))
    res = gd.map_query(ising, backend=SVI(steps=200, lr=0.05, num_particles=8))
    assert res.assignment == gd.map_query(ising).assignment  # all spins up
    assert res.log_score == pytest.approx(gd.map_query(ising).log_score)

    assert "svi" in gd.infer.available_backends() and isinstance(gd.infer.get_backend("svi", steps=10), SVI)
    assert SVI.requires == {"energy"} and SVI.approximate and SVI.name == "svi"


def test_bad_arguments_name_the_argument_and_the_fix() -> None:
    with pytest.raises(gd.SpecError, match=r"guide='full' is not a guide name; use one of \['auto', 'normal', 'mvn'\]"):
        SVI(guide="full")
    with pytest.raises(gd.SpecError, match=r"steps=0 must be an integer >= 1 \(the number of optimiser steps"):
        SVI(steps=0)
    with pytest.raises(gd.SpecError, match=r"num_particles=0 must be an integer >= 1"):
        SVI(num_particles=0)
    with pytest.raises(gd.SpecError, match=r"lr=-1 must be a positive finite number"):
        SVI(lr=-1)
    with pytest.raises(gd.CapabilityError, match=r"use SVI\(guide='auto'\)"):
        gd.query(weak_ising(), backend=SVI(guide="mvn", steps=5))
    with pytest.raises(gd.CapabilityError, match="marginal MAP"):
        gd.map_query(weak_ising(), variables=["x[0,0]"], backend=SVI(steps=5))


def test_side_effects_rng_param_store_and_model_gradients() -> None:
    model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0.3], [0.3, 1.0]], [0.5, 0.0]))
    torch.manual_seed(1234)
    before = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())
    store = pyro.get_param_store()
    store.clear()
    pyro.param("my_weight", torch.ones(3))
    mine = dict(store.named_parameters())["my_weight"]  # the unconstrained leaf
    a = SVI(steps=200, lr=0.05, guide="mvn", num_particles=8, seed=3)
    fit = a.fit(model)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert random.getstate() == before[1] and np.array_equal(np.random.get_state()[1], before[2])
    assert list(store.keys()) == ["my_weight"] and dict(store.named_parameters())["my_weight"] is mine
    assert all(p.grad is None for p in model.parameters())  # fitting left the model's gradients alone
    b = SVI(steps=200, lr=0.05, guide="mvn", num_particles=8, seed=3)
    b.log_partition(model, {})
    assert a.last_losses == b.last_losses and a.last_elbo == b.last_elbo  # reproducible from the seed
    # the bound is differentiable in the model: ∂ELBO/∂η = E_q[x], estimated from 10⁴ draws of q
    fit.elbo.backward()
    torch.testing.assert_close(model.potential.grad, fit.mean, atol=0.04, rtol=0)
    torch.testing.assert_close(model.potential.grad, model.mean().detach(), atol=0.1, rtol=0)
    store.clear()
