"""scikit-learn estimators over graphdgm's core: thin adapters, each a few lines of input
checking around one graphdgm call, that pass ``sklearn.utils.estimator_checks.check_estimator``.

================================  ==========================================================
scikit-learn call                 graphdgm call
================================  ==========================================================
``BernoulliRBM().fit(X)``         ``gd.fit(gd.compile(gd.RBM(n_features, n_components)), X,
                                  method="pcd", epochs=n_iter, batch_size=..., lr=...)``
``BernoulliRBM.partial_fit(X)``   ``gd.fit(model_, X, epochs=1, ...)`` on the same model
``BernoulliRBM.transform(X)``     ``model_.hidden_probs(X)``: p(h = 1 | v)
``BernoulliRBM.score_samples(X)`` Σ_i log p(v_i | v_-i) from ``model_.free_energy``
``BernoulliRBM.gibbs(v)``         ``model_.gibbs(v, steps=1, generator=...)``
``BernoulliRBM.log_likelihood``   ``gd.log_likelihood(model_, X, backend="exact" | "ais")``
``DBNTransformer().fit(X)``       ``gd.learn.fit_layerwise(gd.compile(gd.DBN([n_features,
                                  *layers])), X, method="pcd", ...)``
``DBNTransformer.transform(X)``   ``model_.transform(X, layer=len(layers))``: the top layer
``NADEDensity().fit(X)``          ``gd.fit(gd.compile(gd.NADE(n_features, n_hidden)), X,
                                  method="mle", ...)`` (``MADEDensity``: ``gd.MADE``)
``*Density.score_samples(X)``     ``model_.log_prob(X)``: exact log p(x) per row
``*Density.sample(n)``            ``gd.sample(model_, n, seed=...)``: exact ancestral draws
================================  ==========================================================

The models are of binary data: ``X`` must hold only 0 and 1 (a ``SpecError``, which is a
``ValueError``, names the offending values otherwise). scikit-learn has no tag for binary input,
so its common checks feed Gaussian data; every estimator therefore takes ``binarize``: ``None``
(the default) for strict 0/1 input, or a threshold ``t`` to use ``X > t`` as the data (what
``sklearn.preprocessing.Binarizer(threshold=t)`` does), applied in ``fit`` and every method.
The models are compiled in float64 (scikit-learn's dtype) and seeded from ``random_state``.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, DensityMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

import graphdgm as gd
from graphdgm.errors import SpecError
from graphdgm.learn.layerwise import fit_layerwise
from graphdgm.spec.validate import positive_float, positive_int

_PL_CHUNK = 1 << 22  # entries of the (rows, V, V) flipped batch evaluated at once in score_samples


# ----------------------------------------------------------------- shared input handling
def _binary_input(est: BaseEstimator, X: Any, reset: bool) -> torch.Tensor:
    """``X`` checked by scikit-learn (2-D, finite, numeric, ``n_features_in_`` set or matched),
    thresholded at ``est.binarize`` if that is given, else required to be 0/1; as float64 (N, D)."""
    try:
        X = validate_data(est, X, reset=reset, dtype=np.float64)  # check_array + n_features_in_
    except ValueError as e:  # scikit-learn's message (shape, n_features, NaN, empty) as a SpecError; TypeErrors stay
        raise SpecError(f"{type(est).__name__}: {e}") from e
    t = est.binarize
    if t is not None:
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not np.isfinite(t):
            raise SpecError(f"binarize must be None (X holds 0/1 already) or a finite threshold such as 0.5, got {t!r}")
        X = (X > t).astype(np.float64)
    else:
        bad = (X != 0) & (X != 1)
        if bad.any():
            rows, cols = np.nonzero(bad)
            values = ", ".join(f"{X[r, c]:g} at X[{r}, {c}]" for r, c in list(zip(rows, cols))[:3])
            raise SpecError(f"X must hold binary values 0 and 1; it holds {int(bad.sum())} other values ({values}"
                            f"{', ...' if bad.sum() > 3 else ''}). Binarise it first (X > 0.5, or "
                            f"sklearn.preprocessing.Binarizer), or pass binarize=<threshold> to "
                            f"{type(est).__name__} to use X > threshold")
    return torch.tensor(X, dtype=torch.float64)  # a copy: read-only inputs stay untouched


def _seed(random_state: Any) -> tuple[int, np.random.RandomState]:
    """A non-negative int seed for graphdgm drawn from ``random_state``, and the RandomState itself."""
    rs = check_random_state(random_state)
    return int(rs.randint(np.iinfo(np.int32).max)), rs


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _binary_tags(tags: Any) -> Any:
    tags.input_tags.sparse = False
    tags.input_tags.allow_nan = False
    return tags


# ----------------------------------------------------------------------------- RBM
class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A Bernoulli restricted Boltzmann machine with scikit-learn's ``BernoulliRBM`` interface,
    trained by graphdgm's PCD (``method="pcd"``) or CD-1 (``"cd"``).

    ``learning_rate``, ``batch_size`` and ``n_iter`` (epochs) go to :func:`graphdgm.fit`; plain SGD
    by default, as in scikit-learn (``momentum`` and ``weight_decay`` 0; graphdgm's own defaults
    are 0.9 and 2e-4). ``transform`` gives p(h = 1 | v);
    ``score_samples`` the pseudo-log-likelihood Σ_i log p(v_i | v_-i) of each row (summed over
    every unit, so deterministic: scikit-learn estimates the same sum from one random unit);
    ``log_likelihood`` graphdgm's mean log p(v) (exact log Z by enumeration, or AIS).
    ``model_`` is the compiled graphdgm RBM; ``components_`` (n_components, n_features),
    ``intercept_hidden_`` and ``intercept_visible_`` are numpy views of its parameters.
    ``binarize``: None for 0/1 input, or a threshold t to train on X > t.

    >>> import numpy as np
    >>> X = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 0]])
    >>> rbm = BernoulliRBM(n_components=2, n_iter=3, random_state=0).fit(X)
    >>> rbm.transform(X).shape, rbm.components_.shape
    ((4, 2), (2, 3))
    """

    def __init__(self, n_components: int = 256, learning_rate: float = 0.1, batch_size: int = 10, n_iter: int = 10,
                 method: str = "pcd", random_state: Any = None, verbose: int = 0, binarize: float | None = None,
                 momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.method = method
        self.random_state = random_state
        self.verbose = verbose
        self.binarize = binarize
        self.momentum = momentum
        self.weight_decay = weight_decay

    def _train(self, x: torch.Tensor, epochs: int, seed: int, first: bool) -> None:
        self.history_ = gd.fit(self.model_, x, method=self.method, epochs=epochs,
                               batch_size=positive_int(self.batch_size, "batch_size"),
                               lr=positive_float(self.learning_rate, "learning_rate"), seed=seed,
                               momentum=self.momentum, weight_decay=self.weight_decay,
                               init_visible_bias=first, progress=bool(self.verbose),
                               monitor_size=1000 if self.verbose else 0)

    def _new_model(self, n_features: int, seed: int) -> None:
        H = positive_int(self.n_components, "n_components")
        self.model_ = gd.compile(gd.RBM(n_features, H, seed=seed), dtype=torch.float64)

    def fit(self, X: Any, y: Any = None) -> BernoulliRBM:
        """Train a fresh RBM on the rows of ``X`` (n_samples, n_features) for ``n_iter`` epochs."""
        x = _binary_input(self, X, reset=True)
        seed, self.random_state_ = _seed(self.random_state)
        self._new_model(x.shape[1], seed)
        self._train(x, positive_int(self.n_iter, "n_iter"), seed, first=True)
        self.n_batches_seen_ = 0
        return self

    def partial_fit(self, X: Any, y: Any = None) -> BernoulliRBM:
        """One epoch on ``X`` (a mini-batch), continuing from the current parameters (the first
        call creates the model and starts the visible biases at the batch's log-odds)."""
        first = not hasattr(self, "model_")
        x = _binary_input(self, X, reset=first)
        if first:
            seed, self.random_state_ = _seed(self.random_state)
            self._new_model(x.shape[1], seed)
            self.n_batches_seen_ = 0
        self._train(x, 1, int(self.random_state_.randint(np.iinfo(np.int32).max)), first=first)
        self.n_batches_seen_ += 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        """p(h_j = 1 | v) (n_samples, n_components): the RBM's features of ``X``."""
        check_is_fitted(self)
        with torch.no_grad():
            return _numpy(self.model_.hidden_probs(_binary_input(self, X, reset=False)))

    def score_samples(self, X: Any) -> np.ndarray:
        """The pseudo-log-likelihood Σ_i log p(v_i | v_-i) of each row (n_samples,), from free-energy
        differences: log p(v_i | v_-i) = -softplus(F(v) - F(v with unit i flipped))."""
        check_is_fitted(self)
        v = _binary_input(self, X, reset=False)  # (N, V)
        N, V = v.shape
        out = torch.empty(N, dtype=torch.float64)
        eye = torch.eye(V, dtype=torch.bool)
        rows = max(1, _PL_CHUNK // max(V * V, 1))
        with torch.no_grad():
            for s in range(0, N, rows):  # a loop over chunks of rows, each one batched product
                c = v[s: s + rows]  # (B, V)
                flipped = torch.where(eye[None], 1 - c[:, None, :], c[:, None, :])  # (B, V, V): row i flips unit i
                f = self.model_.free_energy(c)  # (B,)
                f_flip = self.model_.free_energy(flipped.reshape(-1, V)).view(len(c), V)  # (B, V)
                out[s: s + rows] = -F.softplus(f[:, None] - f_flip).sum(1)
        return _numpy(out)

    def gibbs(self, v: Any) -> np.ndarray:
        """One block-Gibbs step v -> h -> v' (n_samples, n_features), drawn with ``random_state_``."""
        check_is_fitted(self)
        x = _binary_input(self, v, reset=False)
        g = torch.Generator().manual_seed(int(self.random_state_.randint(np.iinfo(np.int32).max)))
        with torch.no_grad():
            return _numpy(self.model_.gibbs(x, steps=1, generator=g))

    def log_likelihood(self, X: Any, backend: str = "exact", **options: Any) -> float:
        """Mean log p(v) over the rows of ``X`` by :func:`graphdgm.log_likelihood`: ``"exact"``
        (log Z by enumeration, small layers) or ``"ais"`` (annealed importance sampling)."""
        check_is_fitted(self)
        return float(gd.log_likelihood(self.model_, _binary_input(self, X, reset=False), backend=backend, **options))

    @property
    def components_(self) -> np.ndarray:
        """The weights W (n_components, n_features) of the fitted RBM."""
        check_is_fitted(self)
        return _numpy(self.model_.weight).T  # (H, V)

    @property
    def intercept_hidden_(self) -> np.ndarray:
        """The hidden biases (n_components,)."""
        check_is_fitted(self)
        return _numpy(self.model_.hidden_bias)

    @property
    def intercept_visible_(self) -> np.ndarray:
        """The visible biases (n_features,)."""
        check_is_fitted(self)
        return _numpy(self.model_.visible_bias)

    @property
    def _n_features_out(self) -> int:
        return self.model_.H

    def __sklearn_tags__(self) -> Any:
        return _binary_tags(super().__sklearn_tags__())


# ----------------------------------------------------------------------------- DBN
def _layer_sizes(layers: Any) -> list[int]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise SpecError(f"layers must be a non-empty sequence of hidden layer sizes such as (256, 64), got {layers!r}")
    return [positive_int(n, f"layers[{i}]") for i, n in enumerate(layers)]


class DBNTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A deep belief network of hidden ``layers`` over the input features, trained greedily layer
    by layer (:func:`graphdgm.learn.fit_layerwise`, each RBM by ``method`` with ``learning_rate``,
    ``batch_size``, ``n_iter`` epochs, ``momentum`` and ``weight_decay`` as in :class:`BernoulliRBM`);
    ``transform`` gives the top layer's probabilities from the mean-field upward pass. ``model_`` is
    the compiled :class:`~graphdgm.DBN`.

    >>> import numpy as np
    >>> X = np.array([[0, 0, 1, 1], [1, 0, 1, 0], [1, 1, 1, 1], [0, 1, 0, 0]])
    >>> DBNTransformer(layers=(3, 2), n_iter=2, random_state=0).fit_transform(X).shape
    (4, 2)
    """

    def __init__(self, layers: Sequence[int] = (256, 64), learning_rate: float = 0.1, batch_size: int = 10,
                 n_iter: int = 10, method: str = "pcd", random_state: Any = None, verbose: int = 0,
                 binarize: float | None = None, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.layers = layers
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.method = method
        self.random_state = random_state
        self.verbose = verbose
        self.binarize = binarize
        self.momentum = momentum
        self.weight_decay = weight_decay

    def fit(self, X: Any, y: Any = None) -> DBNTransformer:
        """Train a fresh DBN on the rows of ``X``, one RBM after another, bottom up."""
        x = _binary_input(self, X, reset=True)
        sizes = _layer_sizes(self.layers)
        seed, self.random_state_ = _seed(self.random_state)
        self.model_ = gd.compile(gd.DBN([x.shape[1], *sizes], seed=seed), dtype=torch.float64)
        self.histories_ = fit_layerwise(self.model_, x, self.method, epochs=positive_int(self.n_iter, "n_iter"),
                                        seed=seed, batch_size=positive_int(self.batch_size, "batch_size"),
                                        lr=positive_float(self.learning_rate, "learning_rate"),
                                        momentum=self.momentum, weight_decay=self.weight_decay,
                                        progress=bool(self.verbose), monitor_size=1000 if self.verbose else 0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """p(h_top = 1 | v) (n_samples, layers[-1]) by the mean-field upward pass."""
        check_is_fitted(self)
        x = _binary_input(self, X, reset=False)
        return _numpy(self.model_.transform(x, layer=len(self.model_.rbms)))

    @property
    def _n_features_out(self) -> int:
        return self.model_.top.H

    def __sklearn_tags__(self) -> Any:
        return _binary_tags(super().__sklearn_tags__())


# ------------------------------------------------------------ autoregressive densities
class _AutoregressiveDensity(DensityMixin, BaseEstimator):
    """Shared by NADE and MADE: fit by ``method="mle"`` (Adam), exact ``score_samples``, ancestral ``sample``."""

    def _spec(self, n_features: int, seed: int) -> Any:
        raise NotImplementedError

    def fit(self, X: Any, y: Any = None) -> _AutoregressiveDensity:
        """Maximum-likelihood training on the rows of ``X`` for ``n_iter`` epochs."""
        x = _binary_input(self, X, reset=True)
        seed, self.random_state_ = _seed(self.random_state)
        self.model_ = gd.compile(self._spec(x.shape[1], seed), dtype=torch.float64)
        self.history_ = gd.fit(self.model_, x, method="mle", epochs=positive_int(self.n_iter, "n_iter"),
                               batch_size=positive_int(self.batch_size, "batch_size"),
                               lr=positive_float(self.learning_rate, "learning_rate"), seed=seed,
                               progress=bool(self.verbose))
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Exact log p(x) of each row (n_samples,), in nats."""
        check_is_fitted(self)
        with torch.no_grad():
            return _numpy(self.model_.log_prob(_binary_input(self, X, reset=False)))

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood of the rows of ``X`` (nats per example; higher is better)."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """``n_samples`` exact draws (n_samples, n_features) of 0/1 floats, seeded by ``random_state``."""
        check_is_fitted(self)
        seed, _ = _seed(random_state)
        with torch.no_grad():
            x = gd.sample(self.model_, positive_int(n_samples, "n_samples"), seed=seed)
        return _numpy(x.reshape(len(x), -1)).astype(np.float64)

    def __sklearn_tags__(self) -> Any:
        return _binary_tags(super().__sklearn_tags__())


class NADEDensity(_AutoregressiveDensity):
    """A NADE density estimator (:class:`graphdgm.NADE` with ``n_hidden`` units, in the natural
    order), trained by maximum likelihood: Adam at ``learning_rate``, ``batch_size``, ``n_iter``
    epochs. ``score_samples`` is the exact log p(x) of each row; ``model_`` the compiled NADE.

    >>> import numpy as np
    >>> X = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 0]])
    >>> nade = NADEDensity(n_hidden=4, n_iter=2, random_state=0).fit(X)
    >>> nade.score_samples(X).shape, nade.sample(5, random_state=0).shape
    ((4,), (5, 3))
    """

    def __init__(self, n_hidden: int = 32, learning_rate: float = 0.01, batch_size: int = 100, n_iter: int = 10,
                 random_state: Any = None, verbose: int = 0, binarize: float | None = None) -> None:
        self.n_hidden = n_hidden
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.verbose = verbose
        self.binarize = binarize

    def _spec(self, n_features: int, seed: int) -> Any:
        return gd.NADE(n_features, hidden=positive_int(self.n_hidden, "n_hidden"), seed=seed)


class MADEDensity(_AutoregressiveDensity):
    """A MADE density estimator (:class:`graphdgm.MADE` with ``hidden_layer_sizes`` and ``n_masks``
    connectivity masks, log p averaged over them), trained by maximum likelihood like
    :class:`NADEDensity`. ``score_samples`` is the exact log p(x) of each row.

    >>> import numpy as np
    >>> X = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 0]])
    >>> made = MADEDensity(hidden_layer_sizes=(8,), n_iter=2, random_state=0).fit(X)
    >>> bool(made.score(X) < 0), made.sample(2, random_state=1).shape
    (True, (2, 3))
    """

    def __init__(self, hidden_layer_sizes: Sequence[int] = (64,), n_masks: int = 1, learning_rate: float = 0.01,
                 batch_size: int = 100, n_iter: int = 10, random_state: Any = None, verbose: int = 0,
                 binarize: float | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_masks = n_masks
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.verbose = verbose
        self.binarize = binarize

    def _spec(self, n_features: int, seed: int) -> Any:
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or len(hidden) == 0:
            raise SpecError(f"hidden_layer_sizes must be a non-empty sequence of layer sizes such as (64,), "
                            f"got {hidden!r}")
        sizes = [positive_int(h, f"hidden_layer_sizes[{i}]") for i, h in enumerate(hidden)]
        if n_features < 2:
            raise SpecError(f"MADEDensity needs at least 2 features, got n_features = {n_features}: a MADE's masks "
                            "leave a single variable nothing to condition on; use NADEDensity for one column")
        return gd.MADE(n_features, hidden=sizes, masks=positive_int(self.n_masks, "n_masks"), seed=seed)


__all__ = ["BernoulliRBM", "DBNTransformer", "MADEDensity", "NADEDensity"]
