"""hmmlearn-shaped hidden Markov models: :class:`CategoricalHMM` and :class:`GaussianHMM` take
hmmlearn's arguments and return its shapes, and answer every call with graphdgm's HMM (a
:class:`~graphdgm.HiddenMarkovModel` spec, compiled with :func:`graphdgm.compile`).

Observations follow hmmlearn: ``X`` of shape (n_samples, n_features) holds every sequence one after
another, and ``lengths`` (default: one sequence) splits it. The adapter packs them into graphdgm's
padded batch (sequences, time[, D]) once per call, so every sequence runs in one batched recursion.

| hmmlearn | graphdgm |
|---|---|
| ``hmm.CategoricalHMM(n)`` | ``gd.HiddenMarkovModel(n, transmat_, gd.CategoricalEmission(emissionprob_), initial=startprob_)`` |
| ``hmm.GaussianHMM(n, "diag")`` | ``gd.HiddenMarkovModel(n, transmat_, gd.GaussianEmission(means_, sqrt(covars_)), initial=startprob_)`` |
| ``model.score(X, lengths)`` | ``gd.compile(spec).log_prob(y, lengths).sum()`` |
| ``model.score_samples(X, lengths)`` | ``posteriors, log_p = compiled.forward_backward(y, lengths)`` (order swapped) |
| ``model.predict_proba(X, lengths)`` | the posteriors of ``compiled.forward_backward``, unpadded |
| ``model.decode(X, lengths)`` | ``paths, log_p = compiled.viterbi(y, lengths)`` (order swapped) |
| ``model.predict(X, lengths)`` | the paths of ``compiled.viterbi``, unpadded |
| ``model.sample(n)`` -> ``(X, Z)`` | ``Z, X = compiled.sample(1, n, seed=...)`` (order swapped) |
| ``model.fit(X, lengths)`` | Baum-Welch's E-step ``graphdgm.learn.baum_welch.expected_statistics`` and M-step ``maximise``, the steps of ``gd.fit(compiled, y, method="baum_welch")`` |

``fit`` runs the two Baum-Welch steps itself rather than ``gd.fit`` so that it keeps hmmlearn's
meaning of ``tol`` (stop when one iteration gains less than ``tol`` nats; ``gd.fit`` uses a relative
tolerance), of ``params`` (the parameters not named stay fixed) and of ``monitor_`` (the
log-likelihood before each M-step). Differences from hmmlearn: no Dirichlet priors (maximum
likelihood, as with hmmlearn's default priors for the tables); Gaussian variances are floored at
``min_covar`` instead of hmmlearn's ``covars_prior``; with ``params`` holding "c" but not "m",
variances are taken about the fixed means (hmmlearn 0.3 drops Σγx from its statistics there);
only ``covariance_type="diag"`` (graphdgm's Gaussian emission is diagonal); ``random_state=None``
means seed 0 (graphdgm never reads global random state); starting values come from graphdgm's own
initialisation, so a fit from ``init_params`` differs from hmmlearn's draw by draw (set the
parameters and pass ``init_params=""`` to start both from the same point).

>>> import numpy as np
>>> model = CategoricalHMM(2, init_params="")
>>> model.startprob_ = np.array([0.6, 0.4])
>>> model.transmat_ = np.array([[0.7, 0.3], [0.4, 0.6]])
>>> model.emissionprob_ = np.array([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]])
>>> log_p, states = model.decode(np.array([[0], [1], [2]]))
>>> states.tolist(), round(float(np.exp(log_p)), 5)
([1, 0, 0], 0.01344)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from graphdgm.compiler.compile import compile as compile_spec
from graphdgm.errors import CapabilityError, SpecError
from graphdgm.learn.baum_welch import expected_statistics, maximise
from graphdgm.spec.hmm import CategoricalEmission, GaussianEmission, HiddenMarkovModel

__all__ = ["CategoricalHMM", "ConvergenceMonitor", "GaussianHMM"]


class ConvergenceMonitor:
    """hmmlearn's record of a fit: ``history`` holds the log-likelihood of the data before each
    M-step; ``converged`` once ``n_iter`` iterations ran or one gained less than ``tol``.

    >>> m = ConvergenceMonitor(tol=0.1, n_iter=10)
    >>> m.report(-10.0); m.report(-9.95)
    >>> m.converged, m.iter
    (True, 2)
    """

    def __init__(self, tol: float, n_iter: int) -> None:
        self.tol, self.n_iter = float(tol), int(n_iter)
        self.history: list[float] = []
        self.iter = 0

    def report(self, log_prob: float) -> None:
        """Record the log-likelihood ``log_prob`` of one EM iteration."""
        self.history.append(float(log_prob))
        self.iter += 1

    @property
    def converged(self) -> bool:
        """True once ``n_iter`` iterations ran or the last one gained less than ``tol``."""
        return self.iter == self.n_iter or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol)

    def __repr__(self) -> str:
        return f"ConvergenceMonitor(iter={self.iter}, n_iter={self.n_iter}, tol={self.tol}, converged={self.converged})"


# ------------------------------------------------------------------ argument checks


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _letters(value: Any, name: str, allowed: str) -> str:
    if not isinstance(value, str) or set(value) - set(allowed):
        raise SpecError(f"{name} must be a string of the letters {allowed!r} (one per parameter), got {value!r}")
    return value


def _seed(random_state: Any) -> int:
    """hmmlearn's random_state (None, an int, a numpy RandomState or Generator) -> an int seed."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**62))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and int(random_state) >= 0:
        return int(random_state)
    raise SpecError(f"random_state must be None, an int >= 0, a numpy RandomState or a numpy Generator; got {random_state!r}")


def _lengths(lengths: Any, n_samples: int) -> np.ndarray:
    """``lengths`` -> an int array of sequence lengths, each >= 1, summing to ``n_samples``."""
    if lengths is None:
        return np.array([n_samples])
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.size == 0 or not (np.issubdtype(arr.dtype, np.integer) or
                                              (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))):
        raise SpecError(f"lengths must be a 1-D list of integers, one per sequence in X, got {lengths!r}; "
                        f"e.g. lengths=[len(seq) for seq in sequences]")
    arr = arr.astype(np.int64)
    if (arr < 1).any():
        raise SpecError(f"lengths[{int(np.argmax(arr < 1))}] is {int(arr[arr < 1][0])}; every sequence needs at least one "
                        f"sample (drop the empty ones)")
    if int(arr.sum()) != n_samples:
        raise SpecError(f"lengths sum to {int(arr.sum())} but X has {n_samples} samples (rows); lengths must split X exactly: "
                        f"give one length per sequence in X, in order")
    return arr


def _matrix(X: Any) -> np.ndarray:
    """``X`` as a numeric 2-D array (n_samples >= 1, n_features)."""
    try:
        arr = np.asarray(X.detach().cpu() if hasattr(X, "detach") else X)
    except (TypeError, ValueError) as err:
        raise SpecError(f"X must be an array of shape (n_samples, n_features); it cannot be read as one ({err})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise SpecError(f"X must hold numbers, got dtype {arr.dtype}; encode symbols as integers 0..n_features-1")
    if arr.ndim != 2:
        raise SpecError(f"X must have shape (n_samples, n_features), got {arr.shape}; for one feature use X.reshape(-1, 1)")
    if arr.shape[0] == 0:
        raise SpecError("X has no samples (shape (0, n_features)); give at least one observation")
    return arr


def _packed(rows: torch.Tensor, lengths: np.ndarray, fill: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenated rows (N, ...) -> (padded (B, T, ...), lengths (B,), mask (B, T)); ``padded[mask]``
    gives the rows back in their order."""
    n = torch.from_numpy(lengths)  # (B,)
    mask = torch.arange(int(n.max())) < n[:, None]  # (B, T)
    padded = rows.new_full(tuple(mask.shape) + tuple(rows.shape[1:]), fill)  # (B, T, ...)
    padded[mask] = rows
    return padded, n, mask


def _distribution(value: Any, name: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A parameter that holds probabilities along its last axis, checked against ``shape``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise SpecError(f"{name} has shape {arr.shape}; it needs {shape} ({what})")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise SpecError(f"{name} must hold finite probabilities >= 0")
    sums = arr.sum(-1)
    if not np.allclose(sums, 1.0):
        raise SpecError(f"{name} must sum to 1 along its last axis, got sums {np.round(sums, 6).tolist()}; "
                        f"normalise it ({name} / {name}.sum(-1, keepdims=True))")
    return arr


# ------------------------------------------------------------------ the shared estimator


class _BaseHMM:
    """What both emissions share: parameters as numpy attributes, compiled into a graphdgm HMM on
    each call; subclasses supply the emission, the observation checks and the initialisation."""

    _codes = "st"  # the parameter letters of params / init_params
    _buffers: tuple[tuple[str, str], ...] = (("s", "log_initial"), ("t", "log_transition"))

    def __init__(self, n_components: int, n_iter: int, tol: float, random_state: Any, params: str, init_params: str) -> None:
        self.n_components = _positive_int(n_components, "n_components (the number of hidden states)")
        self.n_iter = _positive_int(n_iter, "n_iter (the most Baum-Welch iterations)", minimum=0)
        if not isinstance(tol, (int, float, np.floating)) or isinstance(tol, bool) or not np.isfinite(tol) or tol < 0:
            raise SpecError(f"tol must be a number >= 0 (the least gain in log-likelihood per iteration), got {tol!r}")
        self.tol = float(tol)
        _seed(random_state)  # checked now, drawn from at fit and sample
        self.random_state = random_state
        self.params = _letters(params, "params", self._codes)
        self.init_params = _letters(init_params, "init_params", self._codes)

    # ---- to be supplied by each emission
    def _emission(self) -> Any:
        raise NotImplementedError

    def _observations(self, X: Any, lengths: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _initialise(self, X: np.ndarray, seed: int) -> None:
        raise NotImplementedError

    def _read_emission(self, model: Any) -> None:
        raise NotImplementedError

    # ---- the graphdgm model of the current parameters
    def _parameter(self, name: str) -> Any:
        value = getattr(self, name, None)
        if value is None:
            raise SpecError(f"{type(self).__name__}.{name} is not set: call fit(X, lengths) first, or set it "
                            f"(model.{name} = ...) before scoring or sampling")
        return value

    def _compiled(self) -> Any:
        S = self.n_components
        start = _distribution(self._parameter("startprob_"), "startprob_", (S,), "one probability per hidden state")
        trans = _distribution(self._parameter("transmat_"), "transmat_", (S, S), "row i: p(next state | state i)")
        spec = HiddenMarkovModel(S, trans, self._emission(), initial=start, name="hmmlearn")
        return compile_spec(spec)

    def _read(self, model: Any) -> None:
        """Copy the fitted parameters named in ``params`` back (the others stay the arrays as set)."""
        if "s" in self.params:
            self.startprob_ = model.log_initial.exp().numpy().copy()
        if "t" in self.params:
            self.transmat_ = model.log_transition.exp().numpy().copy()
        self._read_emission(model)

    # ---- hmmlearn's interface
    def score_samples(self, X: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """(total log p(X), posteriors p(z_t | X) (n_samples, n_components)), forward-backward per sequence."""
        model = self._compiled()
        y, n, mask = self._observations(X, lengths)
        post, ll = model.forward_backward(y, n)  # (B, T, S), (B,)
        return float(ll.sum()), post[mask].numpy()

    def score(self, X: Any, lengths: Any = None) -> float:
        """The total log-likelihood of the sequences in ``X``, hidden states summed out."""
        model = self._compiled()
        y, n, _ = self._observations(X, lengths)
        return float(model.log_prob(y, n).sum())

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Posterior state probabilities (n_samples, n_components)."""
        return self.score_samples(X, lengths)[1]

    def decode(self, X: Any, lengths: Any = None, algorithm: str = "viterbi") -> tuple[float, np.ndarray]:
        """(log p(X, Z*), Z* (n_samples,)) with ``algorithm="viterbi"`` (the most probable paths, and
        their summed log joint); ``"map"`` takes each step's most probable state and, as hmmlearn
        does, reports the sum of those maximal posteriors."""
        if algorithm == "map":
            _, post = self.score_samples(X, lengths)
            return float(post.max(1).sum()), post.argmax(1)
        if algorithm != "viterbi":
            raise SpecError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")
        model = self._compiled()
        y, n, mask = self._observations(X, lengths)
        paths, log_joint = model.viterbi(y, n)  # (B, T), (B,)
        return float(log_joint.sum()), paths[mask].numpy()

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """The Viterbi state sequence (n_samples,)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples: int = 1, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """One sequence of ``n_samples`` steps: (X (n_samples, n_features), Z (n_samples,)).
        ``random_state`` (default: the model's) is a seed or a numpy random state."""
        n_samples = _positive_int(n_samples, "n_samples (the length of the sequence to draw)")
        seed = _seed(self.random_state if random_state is None else random_state)
        z, y = self._compiled().sample(1, n_samples, seed=seed)  # (1, T), (1, T[, D])
        y = y[0].numpy()
        return (y.reshape(n_samples, -1), z[0].numpy())

    def fit(self, X: Any, lengths: Any = None) -> "_BaseHMM":
        """Baum-Welch from the parameters in ``init_params`` (initialised) and the rest (kept as set),
        for at most ``n_iter`` iterations, updating only those in ``params``; returns self."""
        y, n, _ = self._observations(X, lengths)
        self._initialise(_matrix(X), _seed(self.random_state))
        model = self._compiled()
        y, n = model.observations(y, n)
        self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter)
        fixed = {name: getattr(model, name).clone() for code, name in self._buffers if code not in self.params}
        for _ in range(self.n_iter):
            stats = expected_statistics(model, y, n)  # [log p, counts ...]
            maximise(model, stats, **self._m_step_options())
            with torch.no_grad():
                for name, old in fixed.items():
                    getattr(model, name).copy_(old)
                self._fixed_means_update(model, stats)
            self.monitor_.report(float(stats[0]))
            if self.monitor_.converged:
                break
        if self.monitor_.iter:  # n_iter=0 initialises only
            self._read(model)
        return self

    def _m_step_options(self) -> dict[str, Any]:
        return {}

    def _fixed_means_update(self, model: Any, stats: torch.Tensor) -> None:
        pass

    def _needs_init(self, code: str, name: str) -> bool:
        return code in self.init_params or getattr(self, name, None) is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components}, n_iter={self.n_iter}, tol={self.tol})"


# ------------------------------------------------------------------ categorical


class CategoricalHMM(_BaseHMM):
    """hmmlearn's ``CategoricalHMM``: each hidden state emits one symbol 0..n_features-1 from
    ``emissionprob_`` (n_components, n_features); ``X`` has shape (n_samples, 1) of ints.
    ``params`` / ``init_params`` are letters of "ste" (startprob_, transmat_, emissionprob_).

    >>> import numpy as np
    >>> X = np.array([[0], [1], [1], [2], [0], [0]])
    >>> model = CategoricalHMM(2, n_iter=5, random_state=0).fit(X, lengths=[4, 2])
    >>> model.emissionprob_.shape, model.predict(X, [4, 2]).shape, model.sample(3)[0].shape
    ((2, 3), (6,), (3, 1))
    """

    _codes = "ste"
    _buffers = _BaseHMM._buffers + (("e", "log_emission"),)

    def __init__(self, n_components: int = 1, n_iter: int = 10, tol: float = 1e-2, random_state: Any = None,
                 params: str = "ste", init_params: str = "ste", n_features: int | None = None) -> None:
        super().__init__(n_components, n_iter, tol, random_state, params, init_params)
        self.n_features = None if n_features is None else _positive_int(n_features, "n_features (the number of symbols)")
        self.startprob_: np.ndarray | None = None
        self.transmat_: np.ndarray | None = None
        self.emissionprob_: np.ndarray | None = None

    def _symbols(self) -> int | None:
        """The number of symbols: ``n_features``, else the columns of a set ``emissionprob_``."""
        if self.n_features is not None:
            return self.n_features
        e = self.emissionprob_
        return None if e is None or np.ndim(e) != 2 else int(np.shape(e)[1])

    def _emission(self) -> CategoricalEmission:
        M = self._symbols()
        table = self._parameter("emissionprob_")
        M = M if M is not None else int(np.shape(table)[-1])
        return CategoricalEmission(_distribution(table, "emissionprob_", (self.n_components, M),
                                                 "row i: p(symbol | state i), one column per symbol (n_features)"))

    def _codes_of(self, X: Any) -> np.ndarray:
        arr = _matrix(X)
        if arr.shape[1] != 1:
            raise SpecError(f"X has shape {arr.shape}; CategoricalHMM takes one symbol per row, shape (n_samples, 1): "
                            f"X.reshape(-1, 1) for one stream of symbols")
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
                raise SpecError("X must hold integer symbols 0..n_features-1 (found non-integer values); encode the "
                                "symbols as integers first")
        arr = arr.astype(np.int64)
        if (arr < 0).any():
            raise SpecError(f"X holds the negative symbol {int(arr.min())} (row {int(arr.argmin())}); symbols are "
                            f"integers 0..n_features-1")
        return arr[:, 0]

    def _observations(self, X: Any, lengths: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        symbols = self._codes_of(X)  # (N,)
        M = self._symbols()
        if M is not None and int(symbols.max()) >= M:
            raise SpecError(f"X holds symbol {int(symbols.max())} (row {int(symbols.argmax())}) but the model has "
                            f"n_features={M} symbols (0..{M - 1}); set n_features to cover every symbol, or re-fit")
        return _packed(torch.from_numpy(symbols), _lengths(lengths, len(symbols)), -1)

    def _initialise(self, X: np.ndarray, seed: int) -> None:
        symbols = self._codes_of(X)
        if self.n_features is None:
            known = self._symbols() if "e" not in self.init_params else None  # from a set emissionprob_
            self.n_features = known if known is not None else int(symbols.max()) + 1
        start = HiddenMarkovModel.random(self.n_components, symbols=self.n_features, seed=seed)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = start.initial.copy()
        if self._needs_init("t", "transmat_"):
            self.transmat_ = start.transition.copy()
        if self._needs_init("e", "emissionprob_"):
            self.emissionprob_ = start.emission.table.copy()

    def _read_emission(self, model: Any) -> None:
        if "e" in self.params:
            self.emissionprob_ = model.log_emission.exp().numpy().copy()
        self.n_features = model.log_emission.shape[1]

    def sample(self, n_samples: int = 1, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """One sequence of ``n_samples`` steps: (X (n_samples, 1) int64 symbols, Z (n_samples,) states);
        ``random_state`` (default: the model's) is a seed or a numpy random state."""
        X, Z = super().sample(n_samples, random_state)
        return X.astype(np.int64), Z


# ------------------------------------------------------------------ Gaussian


_COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")


class GaussianHMM(_BaseHMM):
    """hmmlearn's ``GaussianHMM`` with ``covariance_type="diag"``: each hidden state emits
    N(means_[i], diag(covars_[i])). ``covars_`` reads as full matrices (n_components, n_features,
    n_features), as in hmmlearn, and is set as variances (n_components, n_features).
    ``params`` / ``init_params`` are letters of "stmc"; ``min_covar`` floors every variance.

    >>> import numpy as np
    >>> X = np.concatenate([np.zeros((5, 2)), np.full((5, 2), 4.0)]) + np.linspace(-0.5, 0.5, 10)[:, None]
    >>> model = GaussianHMM(2, n_iter=5, random_state=0).fit(X)
    >>> sorted(np.round(model.means_[:, 0], 1).tolist()), model.covars_.shape, model.n_features
    ([-0.3, 4.3], (2, 2, 2), 2)
    """

    _codes = "stmc"
    _buffers = _BaseHMM._buffers + (("m", "emission_means"), ("c", "emission_stds"))

    def __init__(self, n_components: int = 1, covariance_type: str = "diag", min_covar: float = 1e-3, n_iter: int = 10,
                 tol: float = 1e-2, random_state: Any = None, params: str = "stmc", init_params: str = "stmc") -> None:
        if covariance_type in _COVARIANCE_TYPES and covariance_type != "diag":
            raise CapabilityError(f"covariance_type={covariance_type!r} is not supported: graphdgm's Gaussian emission "
                                  f"is diagonal; use covariance_type='diag'")
        if covariance_type != "diag":
            raise SpecError(f"covariance_type must be one of {_COVARIANCE_TYPES} (graphdgm supports 'diag'), "
                            f"got {covariance_type!r}")
        super().__init__(n_components, n_iter, tol, random_state, params, init_params)
        if not isinstance(min_covar, (int, float, np.floating)) or not min_covar > 0 or not np.isfinite(min_covar):
            raise SpecError(f"min_covar must be a number > 0 (the least variance), got {min_covar!r}")
        self.covariance_type, self.min_covar = covariance_type, float(min_covar)
        self.startprob_: np.ndarray | None = None
        self.transmat_: np.ndarray | None = None
        self.means_: np.ndarray | None = None
        self._covars_: np.ndarray | None = None

    @property
    def n_features(self) -> int | None:
        """The observation dimension (the columns of ``means_``), None before it is set."""
        return None if self.means_ is None or np.ndim(self.means_) != 2 else int(np.shape(self.means_)[1])

    @property
    def covars_(self) -> np.ndarray:
        """Covariance matrices (n_components, n_features, n_features), diagonal."""
        v = self._parameter("_covars_")
        return v[:, :, None] * np.eye(v.shape[1])  # (S, D, D)

    @covars_.setter
    def covars_(self, value: Any) -> None:
        v = np.array(value, dtype=np.float64)
        if v.ndim == 3 and v.shape[1] == v.shape[2]:  # full matrices that must be diagonal
            off = v - v * np.eye(v.shape[1])
            if np.abs(off).max(initial=0.0) > 0:
                raise SpecError("covars_ has off-diagonal entries; covariance_type='diag' takes variances "
                                "(n_components, n_features) or diagonal matrices")
            v = np.diagonal(v, axis1=1, axis2=2).copy()
        if v.ndim != 2 or v.shape[0] != self.n_components:
            raise SpecError(f"covars_ has shape {v.shape}; covariance_type='diag' needs variances of shape "
                            f"(n_components, n_features) = ({self.n_components}, n_features)")
        if not np.isfinite(v).all() or (v <= 0).any():
            raise SpecError("covars_ must hold finite variances > 0")
        self._covars_ = v

    def _emission(self) -> GaussianEmission:
        means = np.asarray(self._parameter("means_"), dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != self.n_components or not np.isfinite(means).all():
            raise SpecError(f"means_ has shape {means.shape}; it needs finite values of shape (n_components, n_features) "
                            f"= ({self.n_components}, n_features)")
        var = self._parameter("_covars_")
        if var.shape != means.shape:
            raise SpecError(f"covars_ holds variances of shape {var.shape}; they need the shape of means_ {means.shape}")
        return GaussianEmission(means.copy(), np.sqrt(var))  # a copy: the compiled model's buffers share the spec's memory

    def _observations(self, X: Any, lengths: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        arr = _matrix(X).astype(np.float64)
        D = self.n_features
        if D is not None and arr.shape[1] != D:
            raise SpecError(f"X has {arr.shape[1]} features (columns) but the model's means_ have {D}; give X of shape "
                            f"(n_samples, {D})")
        if not np.isfinite(arr).all():
            row = int(np.argwhere(~np.isfinite(arr))[0, 0])
            raise SpecError(f"X holds NaN or inf (first in row {row}); drop or impute those rows")
        return _packed(torch.from_numpy(arr), _lengths(lengths, len(arr)), 0.0)

    def _initialise(self, X: np.ndarray, seed: int) -> None:
        X = X.astype(np.float64)
        start = HiddenMarkovModel.random(self.n_components, dim=X.shape[1], seed=seed)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = start.initial.copy()
        if self._needs_init("t", "transmat_"):
            self.transmat_ = start.transition.copy()
        if self._needs_init("m", "means_"):
            self.means_ = _k_means(X, self.n_components, seed)
        if self._needs_init("c", "_covars_"):
            self.covars_ = np.tile(X.var(0) + self.min_covar, (self.n_components, 1))

    def _read_emission(self, model: Any) -> None:
        if "m" in self.params:
            self.means_ = model.emission_means.numpy().copy()
        if "c" in self.params:
            self._covars_ = (model.emission_stds**2).numpy().copy()

    def _m_step_options(self) -> dict[str, Any]:
        return {"variance_floor": self.min_covar}

    def _fixed_means_update(self, model: Any, stats: torch.Tensor) -> None:
        """With the means fixed and the variances learnt, the variances are E[(y - mean)^2] about the
        fixed means, not about the new ones ``maximise`` computed."""
        if "m" in self.params or "c" not in self.params:
            return
        S, D = model.emission_means.shape
        w, sy, syy = stats[-(S + 2 * S * D):].split([S, S * D, S * D])  # Σγ (S,), Σγy, Σγy² (S*D each)
        m = model.emission_means  # (S, D), the fixed means
        var = (syy.view(S, D) - 2 * m * sy.view(S, D)) / w.clamp_min(1e-300)[:, None] + m**2  # (S, D)
        model.emission_stds.copy_(torch.where((w > 0)[:, None], var.clamp_min(self.min_covar).sqrt(), model.emission_stds))


def _k_means(X: np.ndarray, k: int, seed: int, iterations: int = 20) -> np.ndarray:
    """Starting means: ``k`` rows of ``X`` drawn at random, then Lloyd's iterations (k, D)."""
    rng = np.random.default_rng(seed)
    unique = np.unique(X, axis=0)
    centres = unique[rng.choice(len(unique), size=k, replace=len(unique) < k)].copy()  # (k, D)
    for _ in range(iterations):
        nearest = ((X[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)  # (N,)
        for j in range(k):  # a loop over the k clusters, each a vectorised mean
            if (nearest == j).any():
                centres[j] = X[nearest == j].mean(0)
    return centres
