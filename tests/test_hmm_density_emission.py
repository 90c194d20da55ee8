"""Mixing families: an HMM whose states emit binary vectors from their own MADE, checked against
enumeration of every hidden path, and trained by EM with a gradient M-step."""
from __future__ import annotations

import itertools

import pytest
import torch

import graphdgm as gd
from graphdgm.errors import CapabilityError, SpecError

D = 3


def model(seed: int = 0, transition=((0.8, 0.2), (0.3, 0.7)), initial=(0.6, 0.4)) -> torch.nn.Module:
    hmm = gd.HiddenMarkovModel(["calm", "busy"], [list(r) for r in transition],
                               gd.DensityEmission([gd.MADE(D, hidden=[6], seed=seed + s) for s in range(2)]),
                               initial=list(initial))
    return gd.compile(hmm)


def brute_force(m: torch.nn.Module, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For one sequence y (T, D): log p(y), p(z_t = s | y) (T, S) and the most probable path, by
    summing over all S^T hidden paths with each state's MADE density."""
    T, S = y.shape[0], m.num_states
    with torch.no_grad():
        lp = torch.stack([e.log_prob(y) for e in m.emission_models], -1)  # (T, S)
    joint = {}
    for z in itertools.product(range(S), repeat=T):
        v = m.log_initial[z[0]] + lp[0, z[0]]
        for t in range(1, T):
            v = v + m.log_transition[z[t - 1], z[t]] + lp[t, z[t]]
        joint[z] = v
    vals = torch.stack(list(joint.values()))
    log_py = torch.logsumexp(vals, 0)
    post = torch.zeros(T, S, dtype=torch.float64)
    for z, v in joint.items():
        for t, s in enumerate(z):
            post[t, s] += (v - log_py).exp()
    return log_py, post, torch.tensor(max(joint, key=lambda z: float(joint[z])))


def test_forward_backward_and_viterbi_equal_enumeration_with_made_emissions() -> None:
    m = model()
    g = torch.Generator().manual_seed(1)
    y = (torch.rand(5, 4, D, generator=g) < 0.5).double()
    lengths = torch.tensor([4, 4, 2, 3, 1])
    post, ll = m.forward_backward(y, lengths)
    paths, _ = m.viterbi(y, lengths)
    with torch.no_grad():
        assert torch.allclose(m.log_prob(y, lengths), ll)
    for b in range(5):
        T = int(lengths[b])
        ref_ll, ref_post, ref_path = brute_force(m, y[b, :T])
        assert abs(float(ll[b] - ref_ll)) < 1e-10
        assert torch.allclose(post[b, :T], ref_post, atol=1e-10)
        assert torch.equal(paths[b, :T], ref_path)
        assert bool((paths[b, T:] == -1).all())


def test_sampled_observations_follow_the_state_densities() -> None:
    m = model(seed=4)
    z, y = m.sample(20_000, 1, seed=0)  # length 1: y_0 ~ Σ_s π_s p_s(y)
    states = torch.tensor(list(itertools.product([0.0, 1.0], repeat=D)), dtype=torch.float64)  # (8, D)
    with torch.no_grad():
        exact = torch.logsumexp(torch.stack([m.log_initial[s] + e.log_prob(states) for s, e in enumerate(m.emission_models)]), 0).exp()
    codes = (y[:, 0] * torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).sum(-1).long()
    empirical = torch.bincount(codes, minlength=8).double() / len(codes)
    assert abs(float(exact.sum()) - 1) < 1e-10
    assert 0.5 * float((empirical - exact).abs().sum()) < 0.02  # total variation, 20,000 draws (seed fixed)
    assert abs(float((z[:, 0] == 0).double().mean()) - 0.6) < 0.02  # the initial distribution (sd 0.0035)


def sharpen(m: torch.nn.Module, biases=(-2.5, 2.5)) -> torch.nn.Module:
    """Make the two states' emissions clearly different: state 0 mostly zeros, state 1 mostly ones."""
    with torch.no_grad():
        for e, b in zip(m.emission_models, biases):
            e.net[-1].bias.fill_(b)
    return m


def test_em_with_a_gradient_m_step_never_decreases_and_reaches_the_true_models_likelihood() -> None:
    true = sharpen(model(seed=10, transition=((0.9, 0.1), (0.2, 0.8)), initial=(0.5, 0.5)))
    _, y = true.sample(200, 8, seed=3)
    with torch.no_grad():
        true_ll = float(true.log_prob(y).sum())
    fitted = model(seed=20, transition=((0.6, 0.4), (0.4, 0.6)), initial=(0.5, 0.5))
    h = gd.fit(fitted, y, method="em", iterations=40, m_steps=30, lr=0.05, progress=False)
    ll = h["log_likelihood"]
    assert all(b >= a - 1e-9 for a, b in zip(ll, ll[1:]))  # generalised EM: monotone
    assert ll[-1] > ll[0] + 50
    assert ll[-1] >= true_ll - 0.01 * abs(true_ll)  # maximum likelihood reaches (or passes) the truth on its data
    with torch.no_grad():  # match the fitted states to the true ones by which emits all-zeros more readily
        zeros = torch.zeros(1, D, dtype=torch.float64)
        order = [0, 1] if fitted.emission_models[0].log_prob(zeros) > fitted.emission_models[1].log_prob(zeros) else [1, 0]
    trans = fitted.log_transition.exp()
    assert torch.allclose(trans[order][:, order], true.log_transition.exp(), atol=0.08)


def test_density_emissions_are_checked() -> None:
    with pytest.raises(SpecError, match="one per hidden state"):
        gd.HiddenMarkovModel(3, [[1 / 3] * 3] * 3, gd.DensityEmission([gd.MADE(D, hidden=[4])] * 2))
    with pytest.raises(SpecError, match="same number of binary values"):
        gd.DensityEmission([gd.MADE(3, hidden=[4]), gd.MADE(4, hidden=[4])])
    with pytest.raises(SpecError, match="exact log-likelihood"):
        gd.DensityEmission([gd.MarkovNetwork(), 3])
    with pytest.raises(SpecError, match="exact log-likelihood"):
        gd.DensityEmission([gd.RBM(3, 2)] * 2)  # an RBM's log p needs log Z, and its hidden units are not observed
    m = model()
    with pytest.raises(SpecError, match="sequence 0, step 0"):
        m.log_prob(torch.full((1, 2, D), 0.5, dtype=torch.float64))
    with pytest.raises(SpecError, match=r"\(sequences, time, 3\)"):
        m.log_prob(torch.zeros(1, 2, D + 1))
    with pytest.raises(CapabilityError, match="tabulated or Gaussian"):
        gd.learn.baum_welch(m, torch.zeros(1, 2, D))


def test_a_trained_density_hmm_saves_and_loads(tmp_path) -> None:
    m = sharpen(model(seed=2))
    gd.fit(m, m.sample(30, 5, seed=1)[1], method="em", iterations=2, progress=False)
    gd.io.save(m, tmp_path / "hmm.pt")
    back = gd.io.load(tmp_path / "hmm.pt")
    y = m.sample(4, 6, seed=7)[1]
    with torch.no_grad():
        assert torch.allclose(back.log_prob(y), m.log_prob(y), atol=1e-12)
    assert torch.allclose(back.log_transition, m.log_transition)
