"""graphdgm.hmmlearn against hmmlearn itself: models with the same parameters give the same
log-likelihoods, posteriors and Viterbi paths; Baum-Welch from the same start gives the same fit;
and bad input is refused with messages that name the argument."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from graphdgm.errors import CapabilityError, SpecError
from graphdgm.hmmlearn import CategoricalHMM, GaussianHMM

hmm = pytest.importorskip("hmmlearn.hmm", reason="hmmlearn (the reference) is not installed")
logging.getLogger("hmmlearn").setLevel(logging.ERROR)  # its "not converging" notes at round-off level

LENGTHS = [5, 9, 1, 12, 3]
S, M, D = 3, 4, 2


def categorical_pair(seed: int = 0, **kwargs) -> tuple[CategoricalHMM, object]:
    rng = np.random.default_rng(seed)
    start, trans, emit = rng.dirichlet(np.ones(S)), rng.dirichlet(np.ones(S), size=S), rng.dirichlet(np.ones(M), size=S)
    ours = CategoricalHMM(S, init_params="", **kwargs)
    ref = hmm.CategoricalHMM(S, n_features=M, init_params="", **kwargs)
    for m in (ours, ref):
        m.startprob_, m.transmat_, m.emissionprob_ = start.copy(), trans.copy(), emit.copy()
    return ours, ref


def gaussian_pair(seed: int = 0, **kwargs) -> tuple[GaussianHMM, object]:
    rng = np.random.default_rng(seed)
    start, trans = rng.dirichlet(np.ones(S)), rng.dirichlet(np.ones(S), size=S)
    means, var = 2.0 * rng.standard_normal((S, D)), rng.uniform(0.3, 2.0, (S, D))
    ours = GaussianHMM(S, init_params="", **kwargs)
    ref = hmm.GaussianHMM(S, covariance_type="diag", init_params="", **kwargs)
    for m in (ours, ref):
        m.startprob_, m.transmat_, m.means_, m.covars_ = start.copy(), trans.copy(), means.copy(), var.copy()
    return ours, ref


def symbols(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, M, size=(sum(LENGTHS), 1))


def reals(seed: int = 1) -> np.ndarray:
    return 2.0 * np.random.default_rng(seed).standard_normal((sum(LENGTHS), D))


@pytest.mark.parametrize("pair, data", [(categorical_pair, symbols), (gaussian_pair, reals)], ids=["categorical", "gaussian"])
def test_inference_matches_hmmlearn(pair, data):
    ours, ref = pair()
    X = data()
    assert ours.score(X, LENGTHS) == pytest.approx(ref.score(X, LENGTHS), rel=1e-8)
    (ll, post), (ll_ref, post_ref) = ours.score_samples(X, LENGTHS), ref.score_samples(X, LENGTHS)
    assert ll == pytest.approx(ll_ref, rel=1e-8)
    assert post.shape == (len(X), S)
    np.testing.assert_allclose(post, post_ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X, LENGTHS), post_ref, rtol=0, atol=1e-8)
    (lv, path), (lv_ref, path_ref) = ours.decode(X, LENGTHS), ref.decode(X, LENGTHS, algorithm="viterbi")
    assert lv == pytest.approx(lv_ref, rel=1e-8)
    np.testing.assert_array_equal(path, path_ref)
    np.testing.assert_array_equal(ours.predict(X, LENGTHS), ref.predict(X, LENGTHS))
    (lm, mpath), (lm_ref, mpath_ref) = ours.decode(X, LENGTHS, algorithm="map"), ref.decode(X, LENGTHS, algorithm="map")
    assert lm == pytest.approx(lm_ref, rel=1e-8)
    np.testing.assert_array_equal(mpath, mpath_ref)
    # one sequence by default (lengths=None)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=1e-8)


def test_categorical_fit_matches_hmmlearn_and_improves():
    true, _ = categorical_pair(seed=3)
    X, _ = true.sample(400, random_state=5)
    lengths = [150, 100, 150]
    ours, ref = categorical_pair(seed=4, n_iter=8, tol=0.0)
    before = ours.score(X, lengths)
    ours.fit(X, lengths)
    ref.fit(X, lengths)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=0, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(ours.monitor_.history, list(ref.monitor_.history), rtol=1e-10)
    h = ours.monitor_.history
    assert len(h) == 8 and all(b >= a - 1e-9 for a, b in zip(h, h[1:]))
    assert ours.score(X, lengths) >= before


@pytest.mark.parametrize("params", ["stmc", "tm"])
def test_gaussian_fit_matches_hmmlearn(params):
    true, _ = gaussian_pair(seed=3)
    X, _ = true.sample(300, random_state=6)
    lengths = [100, 200]
    ours, _ = gaussian_pair(seed=4, n_iter=6, tol=0.0, params=params)
    ours.min_covar = 1e-12
    # hmmlearn without its covariance prior is maximum likelihood, as graphdgm's M-step is
    ref = hmm.GaussianHMM(S, covariance_type="diag", init_params="", n_iter=6, tol=0.0, params=params, covars_prior=0.0)
    ref.startprob_, ref.transmat_, ref.means_, ref.covars_ = ours.startprob_, ours.transmat_, ours.means_, ours._covars_
    before = ours.score(X, lengths)
    start = (ours.startprob_.copy(), ours._covars_.copy())
    ours.fit(X, lengths)
    ref.fit(X, lengths)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-7, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(ours.monitor_.history, list(ref.monitor_.history), rtol=1e-10)
    assert ours.score(X, lengths) >= before
    if "s" not in params:
        np.testing.assert_array_equal(ours.startprob_, start[0])
    if "c" not in params:
        np.testing.assert_array_equal(ours._covars_, start[1])


def test_gaussian_variances_about_fixed_means():
    # params="c": one M-step sets var_s = Σ_t γ_ts (x_t - mean_s)² / Σ_t γ_ts about the fixed means
    # (hmmlearn 0.3 drops Σγx from its statistics when "m" is not in params, so it is not the reference here)
    true, _ = gaussian_pair(seed=3)
    X, _ = true.sample(300, random_state=6)
    ours, _ = gaussian_pair(seed=4, n_iter=1, params="c")
    gamma = ours.predict_proba(X)  # (N, S) at the starting parameters
    means = ours.means_.copy()
    want = np.einsum("ns,nsd->sd", gamma, (X[:, None, :] - means) ** 2) / gamma.sum(0)[:, None]
    ours.fit(X)
    np.testing.assert_array_equal(ours.means_, means)
    np.testing.assert_allclose(ours._covars_, want, rtol=1e-10)


@pytest.mark.parametrize("cls, data", [(CategoricalHMM, symbols), (GaussianHMM, reals)], ids=["categorical", "gaussian"])
def test_fit_from_initialisation(cls, data):
    X = data(7)
    model = cls(S, n_iter=15, tol=1e-6, random_state=0)
    assert model.fit(X, LENGTHS) is model
    h = model.monitor_.history
    assert 1 <= len(h) <= 15 and all(b >= a - 1e-7 for a, b in zip(h, h[1:])) and np.isfinite(h).all()
    assert model.score(X, LENGTHS) >= h[0]
    np.testing.assert_allclose(model.transmat_.sum(1), 1.0)
    assert model.n_features == (M if cls is CategoricalHMM else D)
    again = cls(S, n_iter=15, tol=1e-6, random_state=0).fit(X, LENGTHS)
    np.testing.assert_array_equal(again.transmat_, model.transmat_)  # seeded: reproducible


def test_init_params_empty_keeps_user_parameters():
    ours, _ = categorical_pair(seed=2, n_iter=0)
    emit = ours.emissionprob_.copy()
    ours.fit(symbols(), LENGTHS)
    np.testing.assert_array_equal(ours.emissionprob_, emit)
    ours.init_params = "e"  # re-initialise only the emissions
    ours.n_iter = 0
    start = ours.startprob_.copy()
    ours.fit(symbols(), LENGTHS)
    assert not np.allclose(ours.emissionprob_, emit)
    np.testing.assert_array_equal(ours.startprob_, start)


@pytest.mark.parametrize("pair", [categorical_pair, gaussian_pair], ids=["categorical", "gaussian"])
def test_sample_shapes_and_statistics(pair):
    ours, _ = pair()
    X, Z = ours.sample(4000, random_state=0)
    F = 1 if isinstance(ours, CategoricalHMM) else D
    assert X.shape == (4000, F) and Z.shape == (4000,)
    assert Z.min() >= 0 and Z.max() < S
    counts = np.zeros((S, S))
    np.add.at(counts, (Z[:-1], Z[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(1, keepdims=True), ours.transmat_, atol=0.05)
    if F == 1:
        assert X.dtype.kind == "i" and X.min() >= 0 and X.max() < M
    else:
        for s in range(S):
            np.testing.assert_allclose(X[Z == s].mean(0), ours.means_[s], atol=0.25)
    X2, Z2 = ours.sample(4000, random_state=0)
    np.testing.assert_array_equal(Z, Z2)
    assert not np.array_equal(ours.sample(50, random_state=1)[1], Z[:50])


def test_bad_input_is_named():
    model, _ = categorical_pair()
    X = symbols()
    with pytest.raises(SpecError, match=r"reshape\(-1, 1\)"):
        model.score(X[:, 0])
    with pytest.raises(SpecError, match="lengths sum to 29 but X has 30"):
        model.score(X, [5, 9, 1, 12, 2])
    with pytest.raises(SpecError, match=r"lengths\[1\] is 0"):
        model.score(X, [15, 0, 15])
    with pytest.raises(SpecError, match="negative symbol -1"):
        model.score(np.vstack([X, [[-1]]]))
    with pytest.raises(SpecError, match="symbol 4 .*n_features=4"):
        model.score(np.vstack([X, [[4]]]))
    with pytest.raises(SpecError, match="integer symbols"):
        model.score(X + 0.5)
    with pytest.raises(SpecError, match=r"shape \(n_samples, 1\)"):
        model.score(np.hstack([X, X]))
    with pytest.raises(SpecError, match="startprob_ must sum to 1"):
        bad, _ = categorical_pair()
        bad.startprob_ = np.array([0.5, 0.5, 0.5])
        bad.score(X)
    with pytest.raises(SpecError, match=r"startprob_ is not set: call fit\(X, lengths\)"):
        CategoricalHMM(2).score(X)
    g, _ = gaussian_pair()
    with pytest.raises(SpecError, match="X has 3 features .* means_ have 2"):
        g.score(np.zeros((4, 3)))
    with pytest.raises(SpecError, match="NaN or inf"):
        g.score(np.array([[0.0, np.nan]]))
    with pytest.raises(SpecError, match="covars_ must hold finite variances > 0"):
        g.covars_ = -np.ones((S, D))
    with pytest.raises(CapabilityError, match="covariance_type='diag'"):
        GaussianHMM(2, covariance_type="full")
    with pytest.raises(SpecError, match="covariance_type must be one of"):
        GaussianHMM(2, covariance_type="diagonal")
    with pytest.raises(SpecError, match="params must be a string of the letters 'ste'"):
        CategoricalHMM(2, params="stm")
    with pytest.raises(SpecError, match="n_components"):
        CategoricalHMM(0)
    with pytest.raises(SpecError, match="n_samples"):
        model.sample(0)
    with pytest.raises(SpecError, match="algorithm must be"):
        model.decode(X, algorithm="beam")
