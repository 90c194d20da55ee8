"""Hidden Markov models: forward-backward, Viterbi and likelihoods against brute-force enumeration
of every hidden path (categorical and Gaussian, variable lengths in one batch), textbook numbers,
pgmpy's VariableElimination on the unrolled network, Baum-Welch monotonicity and recovery,
errors, save/load and drawing."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

import graphdgm as gd
from conftest import exit_worker, init_gloo
from graphdgm.errors import CapabilityError, EvidenceError, SpecError


def random_hmm(seed: int, S: int = 3, M: int = 4, gaussian: bool = False, D: int = 2) -> gd.HiddenMarkovModel:
    rng = np.random.default_rng(seed)
    trans, init = rng.dirichlet(np.ones(S), size=S), rng.dirichlet(np.ones(S))
    if gaussian:
        emission = gd.GaussianEmission(rng.normal(0, 2, (S, D)), rng.uniform(0.5, 1.5, (S, D)))
    else:
        emission = gd.CategoricalEmission(rng.dirichlet(np.ones(M), size=S), [f"o{m}" for m in range(M)])
    return gd.HiddenMarkovModel([f"z{s}" for s in range(S)], trans, emission, initial=init)


def brute_force(hmm: gd.HiddenMarkovModel, y: np.ndarray) -> tuple[float, np.ndarray, tuple[int, ...], float]:
    """log p(y), posteriors (T, S), the MAP path and its log joint, by enumerating every path."""
    S, T = hmm.num_states, len(y)
    e = hmm.emission
    if isinstance(e, gd.CategoricalEmission):
        em = np.log(e.table[:, y]).T  # (T, S)
    else:
        em = norm.logpdf(y[:, None, :], e.means, e.stds).sum(-1)  # (T, S)
    paths = list(itertools.product(range(S), repeat=T))
    lj = np.array([math.log(hmm.initial[p[0]]) + sum(math.log(hmm.transition[a, b]) for a, b in zip(p, p[1:]))
                   + sum(em[t, p[t]] for t in range(T)) for p in paths])
    ll = float(np.logaddexp.reduce(lj))
    post = np.zeros((T, S))
    for p, w in zip(paths, np.exp(lj - ll)):
        post[np.arange(T), p] += w
    best = int(lj.argmax())
    return ll, post, paths[best], float(lj[best])


@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize("seed", range(2))
def test_forward_backward_and_viterbi_equal_brute_force_enumeration(gaussian: bool, seed: int) -> None:
    hmm = random_hmm(seed, gaussian=gaussian)
    model = gd.compile(hmm)
    rng = np.random.default_rng(100 + seed)
    lengths = [5, 1, 3, 4]
    if gaussian:
        obs = [rng.normal(0, 2, (L, 2)) for L in lengths]
    else:
        obs = [[f"o{int(m)}" for m in rng.integers(0, 4, L)] for L in lengths]
    post, ll = model.forward_backward(obs)
    paths, score = model.viterbi(obs)
    np.testing.assert_allclose(model.log_prob(obs).numpy(), ll.numpy(), atol=1e-12)
    for b, L in enumerate(lengths):
        y = np.asarray(obs[b]) if gaussian else np.array([hmm.emission.index(s) for s in obs[b]])
        want_ll, want_post, want_path, want_score = brute_force(hmm, y)
        assert float(ll[b]) == pytest.approx(want_ll, abs=1e-10)
        np.testing.assert_allclose(post[b, :L].numpy(), want_post, atol=1e-10)
        assert (post[b, L:] == 0).all()
        assert tuple(paths[b, :L].tolist()) == want_path and (paths[b, L:] == -1).all()
        assert float(score[b]) == pytest.approx(want_score, abs=1e-10)


def test_padded_tensor_input_equals_label_input() -> None:
    hmm = random_hmm(3)
    model = gd.compile(hmm)
    obs = [["o1", "o2", "o0"], ["o3"]]
    y, n = hmm.encode(obs)
    np.testing.assert_allclose(model.log_prob(torch.from_numpy(y)).numpy(), model.log_prob(obs).numpy(), atol=0)
    g = gd.compile(random_hmm(3, gaussian=True, D=1))
    x = torch.randn(2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = g.log_prob(x, lengths=[4, 2])  # (B, T) is (B, T, 1) when D = 1
    b = g.log_prob([x[0].numpy(), x[1, :2].numpy()])
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-14)


def test_textbook_examples_from_wikipedia() -> None:
    # Wikipedia, "Viterbi algorithm" (health example): states Healthy/Fever, start (0.6, 0.4),
    # observations normal, cold, dizzy -> Healthy, Healthy, Fever with probability 0.01512
    health = gd.HiddenMarkovModel(["Healthy", "Fever"], [[0.7, 0.3], [0.4, 0.6]],
                                  gd.CategoricalEmission([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]], ["normal", "cold", "dizzy"]),
                                  initial=[0.6, 0.4])
    paths, score = gd.compile(health).viterbi(["normal", "cold", "dizzy"])
    assert health.chain.decode(paths) == [["Healthy", "Healthy", "Fever"]]
    assert float(score.exp()) == pytest.approx(0.01512, abs=1e-12)
    # Wikipedia's earlier weather example (Rainy/Sunny; walk, shop, clean): Viterbi path Sunny, Rainy,
    # Rainy with probability 0.01344, and forward probability p(walk, shop, clean) = 0.033612
    weather = gd.HiddenMarkovModel(["Rainy", "Sunny"], [[0.7, 0.3], [0.4, 0.6]],
                                   gd.CategoricalEmission([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]], ["walk", "shop", "clean"]),
                                   initial=[0.6, 0.4])
    model = gd.compile(weather)
    paths, score = model.viterbi([["walk", "shop", "clean"]])
    assert weather.chain.decode(paths) == [["Sunny", "Rainy", "Rainy"]]
    assert float(score.exp()) == pytest.approx(0.01344, abs=1e-12)
    assert float(model.log_prob(["walk", "shop", "clean"]).exp()) == pytest.approx(0.033612, abs=1e-12)
    # by hand: alpha_1 = (0.06, 0.24); alpha_2 = (0.0552, 0.0486); alpha_3 = (0.02904, 0.004572)
    assert 0.02904 + 0.004572 == pytest.approx(0.033612, abs=1e-15)


def test_posteriors_equal_pgmpy_variable_elimination_on_the_unrolled_network() -> None:
    pytest.importorskip("pgmpy")
    from pgmpy.inference import VariableElimination

    hmm = random_hmm(7, S=3, M=3)
    obs = ["o2", "o0", "o1", "o1", "o2"]
    post, ll = gd.compile(hmm).forward_backward([obs])
    bn = hmm.unroll(len(obs))
    ve = VariableElimination(gd.io.to_pgmpy(bn))
    ev = {f"y[{t}]": s for t, s in enumerate(obs)}
    for t in range(len(obs)):
        q = ve.query([f"z[{t}]"], evidence=ev, show_progress=False)
        want = [q.get_value(**{f"z[{t}]": s}) for s in hmm.states]
        np.testing.assert_allclose(post[0, t].numpy(), want, atol=1e-10)
    # log p(y) is the evidence's log-probability in the unrolled network
    assert float(ll[0]) == pytest.approx(float(gd.log_partition(gd.compile(bn), ev)), abs=1e-10)


@pytest.mark.parametrize("gaussian", [False, True])
def test_baum_welch_never_decreases_the_likelihood(gaussian: bool) -> None:
    truth = gd.compile(random_hmm(11, gaussian=gaussian))
    _, y = truth.sample(40, 25, seed=0)
    start = gd.HiddenMarkovModel.random(3, dim=2, seed=4) if gaussian else gd.HiddenMarkovModel.random(3, symbols=4, seed=4)
    model = gd.compile(start)
    lengths = torch.randint(5, 26, (40,), generator=torch.Generator().manual_seed(1))
    history = gd.fit(model, y, method="baum_welch", iterations=30, tol=0, progress=False, lengths=lengths)
    ll = np.array(history["log_likelihood"])
    assert len(ll) == 31 and history["iteration"][-1] == 30
    assert (np.diff(ll) >= -1e-8 * np.abs(ll[1:])).all(), np.diff(ll).min()
    assert ll[-1] > ll[0] + 10
    assert float(model.log_prob(y, lengths).sum()) == pytest.approx(ll[-1], rel=1e-12)
    # fitted parameters live in the spec too
    np.testing.assert_allclose(model.spec.transition, model.log_transition.exp().numpy(), atol=0)


@pytest.mark.statistical
def test_baum_welch_recovers_parameters_up_to_a_permutation() -> None:
    truth = gd.HiddenMarkovModel(["a", "b"], [[0.9, 0.1], [0.2, 0.8]], gd.GaussianEmission([[-2.0], [2.0]], [[1.0], [0.7]]),
                                 initial=[0.5, 0.5])
    _, y = gd.compile(truth).sample(200, 50, seed=5)  # 10,000 observations
    model = gd.compile(gd.HiddenMarkovModel(["a", "b"], [[0.6, 0.4], [0.4, 0.6]], gd.GaussianEmission([[-0.5], [0.5]], [[2.0], [2.0]])))
    history = gd.fit(model, y, method="baum_welch", iterations=200, tol=1e-10, progress=False)
    assert len(history) < 201  # converged
    perm = np.argsort(model.emission_means[:, 0].numpy())
    np.testing.assert_allclose(model.emission_means[perm, 0].numpy(), [-2.0, 2.0], atol=0.05)
    np.testing.assert_allclose(model.emission_stds[perm, 0].numpy(), [1.0, 0.7], atol=0.05)
    np.testing.assert_allclose(model.log_transition.exp()[perm][:, perm].numpy(), truth.transition, atol=0.03)


@pytest.mark.statistical
def test_categorical_baum_welch_recovers_a_well_separated_model() -> None:
    truth = gd.HiddenMarkovModel(["a", "b"], [[0.85, 0.15], [0.1, 0.9]],
                                 gd.CategoricalEmission([[0.8, 0.15, 0.05], [0.05, 0.25, 0.7]]), initial=[0.5, 0.5])
    _, y = gd.compile(truth).sample(300, 60, seed=2)  # 18,000 observations
    model = gd.compile(gd.HiddenMarkovModel.random(["a", "b"], symbols=3, seed=9))
    gd.fit(model, y, method="baum_welch", iterations=300, tol=1e-10, progress=False)
    perm = np.argsort(-model.log_emission.exp()[:, 0].numpy())
    np.testing.assert_allclose(model.log_emission.exp()[perm].numpy(), truth.emission.table, atol=0.04)
    np.testing.assert_allclose(model.log_transition.exp()[perm][:, perm].numpy(), truth.transition, atol=0.04)


def test_sampling_shapes_and_seeds() -> None:
    model = gd.compile(random_hmm(2))
    z, y = gd.sample(model, 6, length=7, seed=3)
    assert z.shape == y.shape == (6, 7) and int(y.max()) < 4
    z2, y2 = model.sample(6, 7, seed=3)
    assert torch.equal(z, z2) and torch.equal(y, y2)
    with pytest.raises(CapabilityError, match="viterbi"):
        model.sample(2, 3, evidence={"y[0]": "o1"})


def test_bad_input_gives_clear_errors() -> None:
    hmm = random_hmm(0)
    model = gd.compile(hmm)
    with pytest.raises(SpecError, match=r"sequence 0, position 1: unknown observation symbol 'o9'.*symbols are: 'o0'"):
        model.log_prob([["o1", "o9"]])
    with pytest.raises(SpecError, match="outside 0..3"):
        model.log_prob(torch.tensor([[0, 4]]))
    with pytest.raises(SpecError, match="at least one step"):
        model.forward_backward([["o1"], []])
    with pytest.raises(SpecError, match="one per hidden state"):
        gd.HiddenMarkovModel(["a", "b"], np.eye(2), gd.CategoricalEmission(np.full((3, 2), 0.5)))
    with pytest.raises(SpecError, match="3 columns but 2 symbols"):
        gd.CategoricalEmission(np.full((2, 3), 1 / 3), ["x", "y"])
    with pytest.raises(SpecError, match=r"emission table: row \(0,\) \(hidden state\) sums to 1.2"):
        gd.CategoricalEmission([[0.6, 0.6], [0.5, 0.5]])
    with pytest.raises(SpecError, match="stds must be finite and > 0"):
        gd.GaussianEmission([0.0, 1.0], [1.0, 0.0])
    with pytest.raises(SpecError, match="means' shape"):
        gd.GaussianEmission([[0.0, 1.0]], [[1.0]])
    with pytest.raises(SpecError, match="emission must be"):
        gd.HiddenMarkovModel(["a"], [[1.0]], np.ones((1, 2)))
    g = gd.compile(random_hmm(0, gaussian=True))
    with pytest.raises(SpecError, match="NaN"):
        g.log_prob([np.array([[0.0, float("nan")]])])
    with pytest.raises(SpecError, match=r"needs \(time, 2\)"):
        g.log_prob([np.zeros((3, 5))])
    with pytest.raises(SpecError, match="categorical emissions"):
        random_hmm(0, gaussian=True).unroll(3)
    with pytest.raises(CapabilityError, match="baum_welch"):
        gd.fit(model, [["o1"]], method="pcd")


def test_save_load_round_trips_exactly(tmp_path) -> None:
    for hmm in (random_hmm(1), random_hmm(1, gaussian=True)):
        model = gd.compile(hmm)
        _, y = model.sample(10, 6, seed=0)
        gd.fit(model, y, method="baum_welch", iterations=3, progress=False)
        gd.io.save_spec(model.spec, tmp_path / "h.json")
        spec = gd.io.load_spec(tmp_path / "h.json")
        assert spec.states == hmm.states and type(spec.emission) is type(hmm.emission)
        assert np.array_equal(spec.transition, model.spec.transition) and np.array_equal(spec.initial, model.spec.initial)
        loaded = gd.io.load(gd.io.save(model, tmp_path / "h.pt"))
        assert torch.equal(loaded.log_prob(y), model.log_prob(y))
        assert gd.log_likelihood(loaded, y) == pytest.approx(float(model.log_prob(y).mean()))


def test_draw_shows_hidden_chain_and_emissions() -> None:
    hmm = gd.HiddenMarkovModel(["a", "b"], [[0.9, 0.1], [0.0, 1.0]],
                               gd.CategoricalEmission([[0.7, 0.3, 0.0], [0.1, 0.1, 0.8]], ["x", "y", "w"]))
    src = gd.draw(hmm).source
    assert src.count("style=dashed") == 5 and src.count(" -> ") == 3 + 5
    assert "s0 -> o0 [label=0.7" in src and "doublecircle" in src  # b is absorbing
    gsrc = gd.draw(gd.compile(random_hmm(0, gaussian=True, S=2))).source
    assert gsrc.count("shape=note") == 2 and "N(μ=" in gsrc


# ---------------------------------------------------------------- torch.distributed


def _sequence_data() -> tuple[torch.Tensor, torch.Tensor]:
    _, y = gd.compile(random_hmm(11)).sample(16, 12, seed=0)
    chain = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.4, 0.1, 0.5]]))
    return y, chain.sample(16, 12, seed=1)


def _fit_both(y: torch.Tensor, x: torch.Tensor) -> tuple[torch.nn.Module, torch.nn.Module, list[float]]:
    hmm = gd.compile(gd.HiddenMarkovModel.random(3, symbols=4, seed=4))
    history = gd.fit(hmm, y, method="baum_welch", iterations=5, tol=0, progress=False)
    chain = gd.compile(gd.MarkovChain(["a", "b", "c"], np.full((3, 3), 1 / 3)))
    gd.fit(chain, x, method="mle", pseudo_count=0.5)
    return hmm, chain, history["log_likelihood"]


def _distributed_worker(rank: int, world: int, out_dir: str) -> None:
    import os

    import torch.distributed as dist

    init_gloo(rank, world, out_dir)
    try:
        torch.set_num_threads(1)
        y, x = _sequence_data()
        hmm, chain, ll = _fit_both(y[rank::world], x[rank::world])  # each rank holds half of the sequences
        torch.save({"hmm": hmm.state_dict(), "chain": chain.state_dict(), "ll": ll}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_two_ranks_fit_exactly_what_one_process_fits_on_all_sequences(tmp_path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_distributed_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    hmm, chain, ll = _fit_both(*_sequence_data())
    for rank in (0, 1):
        got = torch.load(tmp_path / f"{rank}.pt")
        np.testing.assert_allclose(got["ll"], ll, rtol=1e-12)
        for k, v in hmm.state_dict().items():
            torch.testing.assert_close(got["hmm"][k], v, rtol=1e-10, atol=1e-12)
        for k, v in chain.state_dict().items():
            torch.testing.assert_close(got["chain"][k], v, rtol=1e-12, atol=1e-14)


def impossible_symbol_hmm() -> gd.HiddenMarkovModel:
    """Two states that never switch, starting in 'r'; 'r' emits x only, 's' emits y only, and no
    state emits z: (x, y) and anything with z have probability zero."""
    emission = gd.CategoricalEmission([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], symbols=["x", "y", "z"])
    return gd.HiddenMarkovModel(["r", "s"], np.eye(2), emission, initial=[1.0, 0.0])


def test_impossible_observations_raise_naming_sequence_step_and_symbol() -> None:
    model = gd.compile(impossible_symbol_hmm())
    for method in (model.forward_backward, model.viterbi):
        with pytest.raises(EvidenceError, match=r"sequence 1 has probability zero at time step 2: no hidden state can emit "
                                                r"symbol 'z'"):
            method([["x", "x", "x"], ["x", "x", "z"]])
        with pytest.raises(EvidenceError, match=r"sequence 0 has probability zero at time step 1: symbol 'y' cannot be "
                                                r"emitted by any hidden state the chain can be in"):
            method([["x", "y"]])
        with pytest.raises(EvidenceError, match="time step 0: symbol 'y'.*initial distribution"):
            method([["y"]])
    with pytest.raises(EvidenceError, match="Baum-Welch.*sequence 0"):
        gd.fit(model, [["x", "z"]], method="baum_welch", progress=False)


def test_impossible_observations_have_log_prob_minus_infinity_never_nan() -> None:
    model = gd.compile(impossible_symbol_hmm())
    lp = model.log_prob([["x", "x"], ["x", "y"], ["z"]])
    assert lp[0].item() == 0.0 and bool(torch.isneginf(lp[1:]).all())
    post, ll = model.forward_backward([["x", "x"]])  # a possible sequence is unaffected
    assert post[0, :, 0].tolist() == [1.0, 1.0] and ll.item() == 0.0


def test_empty_data_and_bad_counts_are_named() -> None:
    model = gd.compile(random_hmm(0))
    with pytest.raises(SpecError, match="data is empty"):
        gd.log_likelihood(model, [])
    for n, length in ((2.7, 3), (-1, 3), (2, 0), (2, 1.5)):
        with pytest.raises(SpecError, match="n \\(the number of sequences\\)" if n != 2 else "length"):
            model.sample(n, length)


def test_scaled_recursions_equal_log_space_and_fall_back_when_a_scale_underflows() -> None:
    from graphdgm.infer.forward_backward import backward_messages, forward_messages, scaled_forward_backward

    model = gd.compile(gd.HiddenMarkovModel.random(4, symbols=5, seed=3))
    _, y = model.sample(40, 30, seed=2)
    n = torch.randint(1, 31, (40,), generator=torch.Generator().manual_seed(0))
    y = torch.where(torch.arange(30) < n[:, None], y, torch.full_like(y, -1))
    e = model.emission_log_prob(*model.observations(y, n))
    post, ll, _ = scaled_forward_backward(model, e, n)
    alpha, beta = forward_messages(model, e, n), backward_messages(model, e, n)
    ll_log = torch.logsumexp(alpha[:, -1], -1)
    mask = (torch.arange(30) < n[:, None])[..., None]
    post_log = torch.where(mask, (alpha + beta - ll_log[:, None, None]).exp(), torch.zeros_like(alpha))
    assert torch.allclose(ll, ll_log, atol=1e-10, rtol=0) and torch.allclose(post, post_log, atol=1e-12)
    # state 0 must move to state 1, whose emission is 2,000 nats less likely than state 0's: the
    # scaled message underflows to zero, and the answer comes from log space, finite and exact
    hmm = gd.HiddenMarkovModel(2, [[0.0, 1.0], [0.0, 1.0]], gd.GaussianEmission([0.0, 63.2], [1.0, 1.0]), initial=[1.0, 0.0])
    far = gd.compile(hmm)
    obs = torch.tensor([[[0.0], [0.0]]], dtype=torch.float64)
    e = far.emission_log_prob(*far.observations(obs))
    assert scaled_forward_backward(far, e, torch.tensor([2])) is None
    expected = -math.log(2 * math.pi) - 63.2**2 / 2  # N(0 | 0, 1) at step 0, then N(0 | 63.2, 1)
    assert abs(float(far.log_prob(obs)) - expected) < 1e-9
    post, _ = far.forward_backward(obs)
    assert post[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize("dtype, gap", [(torch.float64, 744.0), (torch.float32, 102.0)])
def test_near_underflow_the_recursions_use_log_space(dtype, gap) -> None:
    """A scale that is subnormal (not zero) has lost its digits: the answer must still be exact."""
    mean = math.sqrt(2 * gap)
    hmm = gd.HiddenMarkovModel(2, [[0.0, 1.0], [0.0, 1.0]], gd.GaussianEmission([0.0, mean], [1.0, 1.0]), initial=[1.0, 0.0])
    model = gd.compile(hmm, dtype=dtype)
    obs = torch.zeros(1, 2, 1, dtype=dtype)
    expected = -math.log(2 * math.pi) - gap
    tol = 1e-9 if dtype == torch.float64 else 2e-3
    assert abs(float(model.log_prob(obs)) - expected) < tol
    assert abs(float(model.forward_backward(obs)[1]) - expected) < tol


def test_fitting_leaves_the_callers_arrays_alone() -> None:
    """Compiling copies the Gaussian emission's arrays: Baum-Welch writes its buffers in place, and
    the spec's arrays may be the caller's own (found through the hmmlearn adapter)."""
    means, stds = np.zeros((2, 1)), np.ones((2, 1))
    spec = gd.HiddenMarkovModel(["a", "b"], [[0.9, 0.1], [0.2, 0.8]], gd.GaussianEmission(means, stds), initial=[0.5, 0.5])
    model = gd.compile(spec)
    y = torch.randn(4, 30, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 3.0
    gd.fit(model, y, method="baum_welch", iterations=5, progress=False)
    assert np.array_equal(means, np.zeros((2, 1))) and np.array_equal(stds, np.ones((2, 1)))
    assert float(model.emission_means.mean()) > 1.0  # the fit itself moved the means
    fitted = model.spec.emission.means.copy()
    with torch.no_grad():
        model.emission_means.add_(1.0)
    assert np.array_equal(model.spec.emission.means, fitted)  # the spec holds a copy, not a view of the buffer
