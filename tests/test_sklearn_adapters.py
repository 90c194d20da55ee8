"""scikit-learn adapters (graphdgm.sklearn): the common estimator checks, pipelines and grid search
on digits, and the adapters' numbers against graphdgm's core and brute-force references."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn", reason="the sklearn adapters need scikit-learn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import Binarizer  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import graphdgm as gd  # noqa: E402
from graphdgm.learn import pseudo_log_likelihood  # noqa: E402
from graphdgm.sklearn import BernoulliRBM, DBNTransformer, MADEDensity, NADEDensity  # noqa: E402


def binary_data(n=40, d=6, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.2, 0.8, d)
    return (rng.random((n, d)) < p).astype(np.float64)


def all_states(d: int) -> np.ndarray:
    return np.array(list(itertools.product([0, 1], repeat=d)), dtype=np.float64)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()  # bundled with scikit-learn: no network
    X = (d.data > 8).astype(np.float64)  # binarised at 8 (pixels are 0..16)
    return train_test_split(X, d.target, test_size=0.3, random_state=0)


# ---------------------------------------------------------------- the common checks
# scikit-learn has no input tag for binary data, so its checks feed Gaussian X: the instances
# checked threshold it (binarize=0.5); strict 0/1 input is the default, tested below.
CHECKED = [
    BernoulliRBM(n_components=4, n_iter=2, binarize=0.5),
    DBNTransformer(layers=(4, 3), n_iter=2, binarize=0.5),
    NADEDensity(n_hidden=4, n_iter=2, binarize=0.5),
    MADEDensity(hidden_layer_sizes=(8,), n_iter=2, binarize=0.5),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # the array-API check needs SCIPY_ARRAY_API
@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
def test_check_estimator_passes(estimator) -> None:
    results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], repr(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) >= 35  # the checks did run


# ---------------------------------------------------------------- pipelines on digits
@pytest.mark.parametrize("features", [BernoulliRBM(n_components=64, n_iter=5, random_state=0),
                                      DBNTransformer(layers=(64, 64), n_iter=5, random_state=0)],
                         ids=["rbm", "dbn"])
def test_pipeline_with_logistic_regression_on_digits(digits, features) -> None:
    Xtr, Xte, ytr, yte = digits
    pipe = Pipeline([("features", features), ("clf", LogisticRegression(max_iter=2000, C=100))]).fit(Xtr, ytr)
    assert pipe.score(Xte, yte) > 0.75  # chance is 0.1; the raw pixels give about 0.93
    assert pipe.named_steps["features"].n_features_in_ == 64


def test_grid_search_over_n_components(digits) -> None:
    Xtr, _, ytr, _ = digits
    pipe = Pipeline([("rbm", BernoulliRBM(n_iter=3, random_state=0)), ("clf", LogisticRegression(max_iter=1000, C=100))])
    search = GridSearchCV(pipe, {"rbm__n_components": [2, 48]}, cv=3).fit(Xtr[:600], ytr[:600])
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_params_ == {"rbm__n_components": 48}  # two hidden units cannot tell ten digits apart
    assert search.best_estimator_.named_steps["rbm"].components_.shape == (48, 64)
    assert search.best_score_ > 0.7


# ---------------------------------------------------------------- RBM against the formulas
def numpy_free_energy(v, W, b, c) -> np.ndarray:
    """F(v) = -b.v - sum_j softplus(c_j + (v W)_j), W (V, H)."""
    return -v @ b - np.logaddexp(0, c + v @ W).sum(1)


def test_rbm_transform_is_sigmoid_of_the_hidden_input() -> None:
    X = binary_data()
    rbm = BernoulliRBM(n_components=5, n_iter=3, random_state=0).fit(X)
    expected = 1 / (1 + np.exp(-(X @ rbm.components_.T + rbm.intercept_hidden_)))
    np.testing.assert_allclose(rbm.transform(X), expected, rtol=0, atol=1e-12)
    assert rbm.components_.shape == (5, 6) and rbm.intercept_visible_.shape == (6,)
    assert rbm.get_feature_names_out().tolist() == [f"bernoullirbm{i}" for i in range(5)]


def test_rbm_scores_against_brute_force() -> None:
    X = binary_data(d=6)
    rbm = BernoulliRBM(n_components=4, n_iter=5, random_state=1).fit(X)
    W, b, c = rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_
    # pseudo-likelihood: sum_i log p(v_i | v_-i) from the joint over each unit's two states
    f = numpy_free_energy(X, W, b, c)
    expected = np.zeros(len(X))
    for i in range(X.shape[1]):
        flipped = X.copy()
        flipped[:, i] = 1 - flipped[:, i]
        expected += -np.logaddexp(0, f - numpy_free_energy(flipped, W, b, c))
    np.testing.assert_allclose(rbm.score_samples(X), expected, rtol=0, atol=1e-10)
    assert rbm.score_samples(X).mean() == pytest.approx(
        pseudo_log_likelihood(rbm.model_, torch.tensor(X), exact=True), abs=1e-10)
    # log-likelihood: log p(v) = -F(v) - log Z, Z summed over all 2^6 visible states
    log_z = np.logaddexp.reduce(-numpy_free_energy(all_states(6), W, b, c))
    assert rbm.log_likelihood(X) == pytest.approx(float(np.mean(-f - log_z)), abs=1e-10)
    assert rbm.log_likelihood(X) == pytest.approx(gd.log_likelihood(rbm.model_, torch.tensor(X)), abs=1e-12)


def test_rbm_seeding_partial_fit_and_gibbs() -> None:
    X = binary_data()
    a = BernoulliRBM(n_components=4, n_iter=2, random_state=3).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)  # seeded by random_state
    c = BernoulliRBM(n_components=4, n_iter=2, random_state=4).fit(X)
    assert not np.allclose(a.components_, c.components_)
    online = BernoulliRBM(n_components=4, random_state=0)
    online.partial_fit(X[:20])
    first = online.components_.copy()
    online.partial_fit(X[20:])
    assert online.n_features_in_ == 6 and online.n_batches_seen_ == 2
    assert not np.allclose(first, online.components_)  # the second batch continued training
    v = online.gibbs(X)
    assert v.shape == X.shape and set(np.unique(v)) <= {0.0, 1.0}


def test_rbm_matches_sklearns_rbm_on_the_digit_features(digits) -> None:
    """Same task, same settings: our features classify about as well as scikit-learn's RBM's."""
    from sklearn.neural_network import BernoulliRBM as SkRBM

    Xtr, Xte, ytr, yte = digits
    scores = []
    for rbm in (BernoulliRBM(n_components=64, n_iter=5, random_state=0), SkRBM(n_components=64, n_iter=5, random_state=0)):
        rbm.fit(Xtr)
        clf = LogisticRegression(max_iter=2000, C=100).fit(rbm.transform(Xtr), ytr)
        scores.append(clf.score(rbm.transform(Xte), yte))
    assert scores[0] > scores[1] - 0.08


# ---------------------------------------------------------------- DBN
def test_dbn_transform_is_the_mean_field_upward_pass() -> None:
    X = binary_data()
    dbn = DBNTransformer(layers=(5, 3), n_iter=2, random_state=0).fit(X)
    h = X
    for r in dbn.model_.rbms:
        h = 1 / (1 + np.exp(-(h @ r.weight.detach().numpy() + r.hidden_bias.detach().numpy())))
    np.testing.assert_allclose(dbn.transform(X), h, rtol=0, atol=1e-12)
    assert dbn.transform(X).shape == (40, 3) and len(dbn.histories_) == 2


# ---------------------------------------------------------------- NADE and MADE densities
@pytest.mark.parametrize("density", [NADEDensity(n_hidden=8, n_iter=5, random_state=0),
                                     MADEDensity(hidden_layer_sizes=(16,), n_masks=2, n_iter=5, random_state=0)],
                         ids=["nade", "made"])
def test_density_scores_are_graphdgms_exact_log_prob(density) -> None:
    X = binary_data(d=5)
    est = density.fit(X)
    x = torch.tensor(X)
    scores = est.score_samples(X)
    with torch.no_grad():
        np.testing.assert_allclose(scores, est.model_.log_prob(x).numpy(), rtol=0, atol=1e-10)
    assert est.score(X) == pytest.approx(gd.log_likelihood(est.model_, x), abs=1e-10)
    assert np.exp(est.score_samples(all_states(5))).sum() == pytest.approx(1.0, abs=1e-10)  # normalised
    assert est.score(X) > np.log(0.5) * 5  # trained: better than the uniform distribution


def test_density_sampling_is_seeded_and_follows_the_data() -> None:
    X = binary_data(n=200, d=4)
    X[:, 0] = 1.0  # the first column is always on
    nade = NADEDensity(n_hidden=8, n_iter=30, learning_rate=0.05, batch_size=50, random_state=0).fit(X)
    s = nade.sample(200, random_state=1)
    assert s.shape == (200, 4) and set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_array_equal(s, nade.sample(200, random_state=1))
    assert s[:, 0].mean() > 0.9


# ---------------------------------------------------------------- bad input
MAKERS = [lambda: BernoulliRBM(n_components=3, n_iter=1), lambda: DBNTransformer(layers=(3,), n_iter=1),
          lambda: NADEDensity(n_hidden=3, n_iter=1), lambda: MADEDensity(hidden_layer_sizes=(4,), n_iter=1)]


@pytest.mark.parametrize("make", MAKERS, ids=["rbm", "dbn", "nade", "made"])
def test_bad_input_names_the_problem(make) -> None:
    X = binary_data()
    bad = X.copy()
    bad[2, 3] = 0.25
    with pytest.raises(gd.SpecError, match=r"binary values 0 and 1.*0\.25 at X\[2, 3\].*binarize="):
        make().fit(bad)
    est = make().fit(X)
    with pytest.raises(gd.SpecError, match="X has 4 features, but .* is expecting 6 features"):
        est.score_samples(X[:, :4]) if hasattr(est, "score_samples") else est.transform(X[:, :4])
    with pytest.raises(gd.SpecError, match="binary values"):
        est.score_samples(bad) if hasattr(est, "score_samples") else est.transform(bad)
    with pytest.raises(gd.SpecError, match="NaN"):
        make().fit(np.where(X == 1, np.nan, X))


def test_binarize_thresholds_like_binarizer() -> None:
    X = np.random.default_rng(0).random((30, 5))
    a = BernoulliRBM(n_components=3, n_iter=2, random_state=0, binarize=0.5).fit(X)
    B = Binarizer(threshold=0.5).fit_transform(X)
    b = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(B)
    np.testing.assert_array_equal(a.transform(X), b.transform(B))
    with pytest.raises(gd.SpecError, match="binarize must be None"):
        BernoulliRBM(binarize="yes").fit(X)


def test_bad_parameters_name_the_parameter() -> None:
    X = binary_data()
    with pytest.raises(gd.SpecError, match="n_components"):
        BernoulliRBM(n_components=0).fit(X)
    with pytest.raises(gd.SpecError, match="learning_rate"):
        BernoulliRBM(learning_rate=-1.0).fit(X)
    with pytest.raises(gd.SpecError, match="layers must be a non-empty sequence"):
        DBNTransformer(layers=()).fit(X)
    with pytest.raises(gd.SpecError, match=r"hidden_layer_sizes\[1\]"):
        MADEDensity(hidden_layer_sizes=(4, 0)).fit(X)
    with pytest.raises(gd.SpecError, match="n_features = 1"):
        MADEDensity().fit(X[:, :1])
