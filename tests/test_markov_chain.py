"""Markov chains: stationary and n-step distributions against numpy linear algebra, structure
checks against closed forms (gambler's ruin), MLE recovery, batched variable-length likelihoods,
sampling statistics, order-2 chains against their unrolled Bayesian network, errors, save/load, draw."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import EvidenceError, InferenceError, SpecError

P3 = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.4, 0.1, 0.5]])
STATES = ["a", "b", "c"]


def random_stochastic(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])


def gamblers_ruin(N: int, p: float) -> gd.MarkovChain:
    P = np.zeros((N + 1, N + 1))
    P[0, 0] = P[N, N] = 1.0
    for i in range(1, N):
        P[i, i + 1], P[i, i - 1] = p, 1 - p
    return gd.MarkovChain(list(range(N + 1)), P, name="ruin")


# ---------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("seed", range(3))
def test_stationary_equals_left_eigenvector_and_linear_solve(seed: int) -> None:
    rng = np.random.default_rng(seed)
    P = random_stochastic(rng, (5, 5))
    got = gd.compile(gd.MarkovChain(5, P)).stationary().numpy()
    w, v = np.linalg.eig(P.T)
    eig = np.real(v[:, np.argmin(np.abs(w - 1))])
    eig /= eig.sum()
    A = np.vstack([P.T - np.eye(5), np.ones(5)])
    solve = np.linalg.lstsq(A, np.r_[np.zeros(5), 1.0], rcond=None)[0]
    np.testing.assert_allclose(got, eig, atol=1e-12)
    np.testing.assert_allclose(got, solve, atol=1e-12)
    np.testing.assert_allclose(got @ P, got, atol=1e-12)


def test_n_step_equals_matrix_power() -> None:
    model = gd.compile(gd.MarkovChain(STATES, P3, initial=[0.2, 0.3, 0.5]))
    for n in (0, 1, 2, 7, 50):
        np.testing.assert_allclose(model.n_step(n).numpy(), np.linalg.matrix_power(P3, n), atol=1e-13)
        np.testing.assert_allclose(model.distribution(n).numpy(), np.array([0.2, 0.3, 0.5]) @ np.linalg.matrix_power(P3, n), atol=1e-13)
    np.testing.assert_allclose(model.distribution(3, initial="b").numpy(), np.linalg.matrix_power(P3, 3)[1], atol=1e-13)
    np.testing.assert_allclose(model.distribution(200).numpy(), model.stationary().numpy(), atol=1e-12)


def test_order_two_chain_matches_its_unrolled_bayesian_network() -> None:
    rng = np.random.default_rng(5)
    T = random_stochastic(rng, (3, 3, 3))
    init = rng.dirichlet(np.ones(9)).reshape(3, 3)
    spec = gd.MarkovChain(STATES, T, initial=init, order=2)
    model = gd.compile(spec)
    bn = gd.compile(spec.unroll(5))
    # log_prob of full and short sequences equals the network's (marginalised for length 1)
    seqs = [["a", "c", "b", "b", "a"], ["c", "c", "a", "b", "a"]]
    x, _ = spec.encode(seqs)
    np.testing.assert_allclose(model.log_prob(seqs).numpy(), bn.log_prob(torch.from_numpy(x)).numpy(), atol=1e-12)
    np.testing.assert_allclose(float(model.log_prob([["b"]])), math.log(init.sum(1)[1]), atol=1e-12)
    # distribution after n steps = exact marginal of x[k - 1 + n] in the unrolled network
    for n in (1, 3):
        want = gd.query(bn, [f"x[{1 + n}]"])[f"x[{1 + n}]"].probs.numpy()
        np.testing.assert_allclose(model.distribution(n).numpy(), want, atol=1e-12)
    # the lifted chain: 9 contexts; its stationary distribution is invariant under the lifted matrix
    P = model.transition_matrix().numpy()
    assert P.shape == (9, 9) and np.allclose(P.sum(1), 1)
    pi = model.stationary(lifted=True).numpy()
    np.testing.assert_allclose(pi @ P, pi, atol=1e-12)
    np.testing.assert_allclose(model.stationary().numpy(), pi.reshape(3, 3).sum(0), atol=1e-14)
    assert model.communicating_classes()[0][0] == ("a", "a")


# ---------------------------------------------------------------- structure
def test_reducible_chain_says_which_classes_and_gives_one_stationary_per_class() -> None:
    P = [[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0.25, 0, 0.5, 0.25], [0, 0, 0, 1]]
    model = gd.compile(gd.MarkovChain(["a", "b", "c", "d"], P))
    s = model.structure()
    assert s.classes == [["a", "b"], ["c"], ["d"]] and s.closed == [True, False, True]
    assert not s.irreducible and not model.is_irreducible and model.absorbing_states() == ["d"]
    assert s.transient == ["c"] and model.closed_classes() == [["a", "b"], ["d"]]
    with pytest.raises(InferenceError, match=r"2 closed communicating classes \(\['a', 'b'\]; \['d'\]\)"):
        model.stationary()
    np.testing.assert_allclose(model.stationary_distributions().numpy(), [[0.5, 0.5, 0, 0], [0, 0, 0, 1]], atol=1e-14)
    # from c: absorbed in {a, b} w.p. 1/2, in d w.p. 1/2, after 2 steps on average
    np.testing.assert_allclose(model.absorption_probabilities()[2].numpy(), [0.5, 0.5], atol=1e-14)
    assert float(model.absorption_times()[2]) == pytest.approx(2.0)
    np.testing.assert_allclose(model.limiting_distribution("c").numpy(), [0.25, 0.25, 0, 0.5], atol=1e-14)
    with pytest.raises(InferenceError, match="reducible"):
        model.period()
    assert "reducible" in str(s) and "not unique" in str(s)


def test_periodic_chain_is_reported_and_has_no_limit() -> None:
    model = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0, 1, 0], [0, 0, 1], [1, 0, 0]]))
    s = model.structure()
    assert s.irreducible and not s.aperiodic and model.period() == 3 and not model.is_aperiodic
    assert "periodic" in str(s) and "period 3" in str(s)
    np.testing.assert_allclose(model.stationary().numpy(), [1 / 3] * 3, atol=1e-14)
    with pytest.raises(InferenceError, match="period 3"):
        model.limiting_distribution()
    # a self-loop anywhere makes it aperiodic
    ap = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.5, 0], [0, 0, 1], [1, 0, 0]]))
    assert ap.period() == 1 and ap.structure().ergodic


@pytest.mark.parametrize("p", [0.5, 0.4])
def test_gamblers_ruin_absorption_matches_closed_form(p: float) -> None:
    N = 6
    model = gd.compile(gamblers_ruin(N, p))
    i = np.arange(N + 1)
    q = 1 - p
    if p == 0.5:
        win, duration = i / N, i * (N - i)
    else:
        r = q / p
        win = (1 - r**i) / (1 - r**N)
        duration = i / (q - p) - N / (q - p) * win
    B = model.absorption_probabilities().numpy()  # columns: closed classes [0], [N]
    assert model.closed_classes() == [[0], [N]] and model.absorbing_states() == [0, N]
    np.testing.assert_allclose(B[:, 1], win, atol=1e-12)
    np.testing.assert_allclose(B[:, 0], 1 - win, atol=1e-12)
    np.testing.assert_allclose(model.absorption_times().numpy(), duration, atol=1e-10)
    # hitting {0, N} is absorption; hitting N alone may never happen: inf except at N
    np.testing.assert_allclose(model.hitting_times([0, N]).numpy(), duration, atol=1e-10)
    h = model.hitting_times(N).numpy()
    assert h[N] == 0 and np.isinf(h[:N]).all()


def test_hitting_times_equal_fundamental_matrix_solve() -> None:
    model = gd.compile(gd.MarkovChain(STATES, P3))
    h = model.hitting_times("c").numpy()
    Q = P3[:2, :2]
    want = np.linalg.solve(np.eye(2) - Q, np.ones(2))
    np.testing.assert_allclose(h, [*want, 0.0], atol=1e-12)
    # the return time to c is 1 / pi_c (Kac)
    pi = model.stationary().numpy()
    assert 1 + P3[2] @ h == pytest.approx(1 / pi[2], rel=1e-12)


# ---------------------------------------------------------------- likelihood, fitting, sampling
def test_variable_length_log_prob_equals_a_loop_per_sequence() -> None:
    init = np.array([0.2, 0.3, 0.5])
    model = gd.compile(gd.MarkovChain(STATES, P3, initial=init))
    seqs = [["a", "b", "b", "c"], ["c"], ["b", "a"], []]
    want = []
    for s in seqs:
        ix = [STATES.index(v) for v in s]
        want.append(sum([math.log(init[ix[0]])] + [math.log(P3[u, v]) for u, v in zip(ix, ix[1:])]) if ix else 0.0)
    np.testing.assert_allclose(model.log_prob(seqs).numpy(), want, atol=1e-12)
    x, n = model.indices(seqs)
    np.testing.assert_allclose(model.log_prob(x, n).numpy(), want, atol=1e-12)
    assert x.tolist()[1] == [2, -1, -1, -1]
    assert gd.log_likelihood(model, seqs) == pytest.approx(np.mean(want))


@pytest.mark.statistical
def test_mle_recovers_a_known_chain_within_0_02() -> None:
    truth = gd.compile(gd.MarkovChain(STATES, P3, initial=[0.2, 0.3, 0.5]))
    x = truth.sample(2000, 50, seed=0)  # 2000 sequences, 98,000 transitions
    model = gd.compile(gd.MarkovChain(STATES, np.full((3, 3), 1 / 3)))
    history = gd.fit(model, x, method="mle")
    err = np.abs(model.transition.numpy() - P3).max()
    assert err < 0.02, err
    assert np.abs(model.initial.numpy() - [0.2, 0.3, 0.5]).max() < 0.04
    assert history.last["log_likelihood"] == pytest.approx(float(model.log_prob(x).sum()))
    # the spec-level constructor gives the same tables from label sequences
    spec = gd.MarkovChain.from_sequences(truth.spec.decode(x[:200]))
    ref = gd.compile(gd.MarkovChain(STATES, np.full((3, 3), 1 / 3))).fit(x[:200])
    np.testing.assert_allclose(spec.transition, ref.transition.numpy(), atol=1e-15)


def test_mle_counts_with_dirichlet_smoothing_and_unseen_contexts() -> None:
    seqs = [["a", "a", "b"], ["b", "a", "a"]]  # a->a twice, a->b once, b->a once; c never seen
    mc = gd.MarkovChain.from_sequences(seqs, states=STATES, pseudo_count=1.0)
    np.testing.assert_allclose(mc.transition, [[3 / 6, 2 / 6, 1 / 6], [2 / 4, 1 / 4, 1 / 4], [1 / 3] * 3])
    np.testing.assert_allclose(mc.initial, [2 / 5, 2 / 5, 1 / 5])
    mle = gd.MarkovChain.from_sequences(seqs, states=STATES)
    np.testing.assert_allclose(mle.transition[2], [1 / 3] * 3)  # unseen context: uniform row
    order2 = gd.MarkovChain.from_sequences([["a", "b", "a", "b", "a"]], order=2)
    assert order2.transition[0, 1].tolist() == [1.0, 0.0] and order2.initial.tolist() == [[0.0, 1.0], [0.0, 0.0]]


@pytest.mark.statistical
def test_sampled_transition_frequencies_pass_a_chi_square_test() -> None:
    from scipy.stats import chi2

    model = gd.compile(gd.MarkovChain(STATES, P3, initial=[1.0, 0.0, 0.0]))
    x = model.sample(500, 40, seed=3)
    assert (x[:, 0] == 0).all()
    counts = torch.zeros(3, 3, dtype=torch.float64).index_put_((x[:, :-1].flatten(), x[:, 1:].flatten()),
                                                              torch.ones(x[:, 1:].numel(), dtype=torch.float64), accumulate=True)
    expected = counts.sum(1, keepdim=True) * torch.from_numpy(P3)
    stat = float(((counts - expected) ** 2 / expected).sum())
    assert stat < chi2.ppf(0.999, df=6), stat  # 3 rows x (3 - 1) free cells


@pytest.mark.statistical
def test_sampling_with_evidence_matches_exact_conditional_marginals() -> None:
    spec = gd.MarkovChain(STATES, P3, initial=[0.2, 0.3, 0.5])
    x = gd.sample(gd.compile(spec), 20000, length=5, seed=1, evidence={"x[4]": "a", 1: "c"})
    assert (x[:, 4] == 0).all() and (x[:, 1] == 2).all()
    bn = gd.compile(spec.unroll(5))
    for t in (0, 2, 3):
        want = gd.query(bn, [f"x[{t}]"], evidence={"x[4]": "a", "x[1]": "c"})[f"x[{t}]"].probs.numpy()
        got = np.bincount(x[:, t].numpy(), minlength=3) / len(x)
        assert np.abs(got - want).max() < 0.015, (t, got, want)  # 20,000 draws: 4 standard errors < 0.015


# ---------------------------------------------------------------- errors
def test_bad_input_gives_clear_errors() -> None:
    with pytest.raises(SpecError, match=r"row \(1,\) \(previous state\) sums to 0.9"):
        gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.4, 0.5]])
    with pytest.raises(SpecError, match="NaN"):
        gd.MarkovChain(["a", "b"], [[0.5, 0.5], [float("nan"), 0.5]])
    with pytest.raises(SpecError, match=r"entry -0.5 at index \(0, 1\)"):
        gd.MarkovChain(["a", "b"], [[1.5, -0.5], [0.5, 0.5]])
    with pytest.raises(SpecError, match=r"needs shape \(2, 2, 2\)"):
        gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]], order=2)
    with pytest.raises(SpecError, match="'a' appears twice"):
        gd.MarkovChain(["a", "a"], np.eye(2))
    with pytest.raises(SpecError, match="initial distribution"):
        gd.MarkovChain(["a", "b"], np.eye(2), initial=[0.3, 0.3])
    with pytest.raises(SpecError, match="order"):
        gd.MarkovChain(["a", "b"], np.eye(2), order=0)
    model = gd.compile(gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]]))
    with pytest.raises(SpecError, match=r"sequence 1, position 2: unknown state 'rian'.*Did you mean 'rain'"):
        model.log_prob([["sun"], ["sun", "rain", "rian"]])
    with pytest.raises(SpecError, match="outside 0..1"):
        model.log_prob(torch.tensor([[0, 2]]))
    with pytest.raises(EvidenceError, match="probability zero"):
        gd.compile(gd.MarkovChain(["a", "b"], np.eye(2), initial=[1, 0])).sample(2, 3, evidence={2: "b"})
    with pytest.raises(SpecError, match="unknown state 'snow'"):
        model.hitting_times("snow")


# ---------------------------------------------------------------- save, load, draw
def test_save_load_round_trips_fitted_tables_exactly(tmp_path) -> None:
    model = gd.compile(gd.MarkovChain(STATES, np.full((3, 3, 3), 1 / 3), order=2, name="weather"))
    model.fit([["a", "b", "c", "a", "c", "c", "b"], ["b", "b", "a"]], pseudo_count=0.5)
    spec = gd.io.load_spec(gd.io.save_spec(model.spec, tmp_path / "c.json") or tmp_path / "c.json")
    assert spec.states == model.states and spec.order == 2 and spec.name == "weather"
    assert np.array_equal(spec.transition, model.spec.transition) and np.array_equal(spec.initial, model.spec.initial)
    loaded = gd.io.load(gd.io.save(model, tmp_path / "c.pt"))
    assert torch.equal(loaded.log_transition, model.log_transition) and torch.equal(loaded.log_initial, model.log_initial)


def test_draw_gives_the_state_diagram_with_probabilities() -> None:
    src = gd.draw(gamblers_ruin(3, 0.4)).source
    assert src.count(" -> ") == 6  # two self-loops on the absorbing ends, two moves from each of 1 and 2
    assert "s1 -> s2 [label=0.4]" in src and "s1 -> s0 [label=0.6]" in src
    assert src.count("doublecircle") == 2
    thin = gd.draw(gd.compile(gd.MarkovChain(STATES, P3)), threshold=0.25).source  # a compiled model draws its spec
    assert thin.count(" -> ") == int((P3 > 0.25).sum()) and "3 edges with p" in thin
    assert gd.draw(gd.MarkovChain(["a", "b"], np.full((2, 2, 2), 0.5), order=2)).source.count(" -> ") == 8
    with pytest.raises(SpecError, match="max_states"):
        gd.viz.state_diagram.draw_markov_chain(gd.MarkovChain(5, np.full((5, 5, 5), 0.2), order=2), max_states=10)


def test_impossible_transitions_give_minus_infinity_not_nan() -> None:
    model = gd.compile(gd.MarkovChain(["a", "b"], [[1.0, 0.0], [0.5, 0.5]], initial=[1.0, 0.0]))
    lp = model.log_prob([["a", "a"], ["a", "b"], ["b"]])
    assert lp[0].item() == 0.0 and bool(torch.isneginf(lp[1:]).all())


def test_empty_data_and_bad_counts_are_named() -> None:
    model = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
    with pytest.raises(SpecError, match="data is empty"):
        gd.log_likelihood(model, [])
    assert model.log_prob([]).shape == (0,)
    for n, length in ((2.7, 3), (-1, 3), (True, 3)):
        with pytest.raises(SpecError, match=r"n \(the number of sequences\)"):
            model.sample(n, length)
    for length in (0, 2.5, -4):
        with pytest.raises(SpecError, match="length"):
            model.sample(2, length)
    for steps in (-5, 1.5):
        with pytest.raises(SpecError, match="steps"):
            model.n_step(steps)
    assert model.n_step(0).tolist() == [[1.0, 0.0], [0.0, 1.0]]
