"""Exact inference in Gaussian Markov networks: conditional means, variances and log Z in closed form."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from graphdgm.infer.results import ContinuousMarginal


class GaussianExact:
    """Analytic answers for models with the ``"gaussian"`` capability (``mean``, ``covariance``,
    ``log_partition`` given packed-index evidence). Evidence is ``{packed index: value}``.

    >>> import graphdgm as gd
    >>> from graphdgm.infer.gaussian_exact import register
    >>> register()
    >>> model = gd.compile(gd.GaussianMarkovNetwork.from_precision([[2.0, 0.5], [0.5, 1.0]], [1.0, 0.0]))
    >>> gd.query(model, "x[0]", backend="gaussian")["x[0]"]
    p(x[0]): mean 0.5714, std 0.7559
    >>> mode = gd.map_query(model, evidence={"x[1]": 1.0}, backend="gaussian")
    >>> round(mode["x[0]"], 6), mode["x[1]"]
    (0.25, 1.0)
    """

    name = "gaussian"
    requires = frozenset({"gaussian"})
    approximate = False

    def marginals(self, model: torch.nn.Module, variables: Sequence[int], evidence: dict[int, float]) -> list[ContinuousMarginal]:
        """Exact mean and std of each variable given evidence (a clamped variable: its value, std 0)."""
        with torch.no_grad():
            mean, var, pos = self._moments(model, evidence)
        out = []
        for v in variables:
            name = model.variables[v]
            if v in evidence:
                out.append(ContinuousMarginal(name, evidence[v], 0.0))
            else:
                out.append(ContinuousMarginal(name, float(mean[pos[v]]), float(var[pos[v]].clamp_min(0).sqrt())))
        return out

    def map(
        self, model: torch.nn.Module, evidence: dict[int, float], variables: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The conditional mean (the mode) as a full state (n,), clamped values inserted, and its log score.

        Without ``variables`` the score is −energy(state). With ``variables`` (marginal MAP) the mode
        is the same, and the score integrates the other free variables out.
        """
        with torch.no_grad():
            mean = model.mean(evidence)  # (m,)
        state = _full_state(model, mean, evidence)  # (n,)
        with torch.no_grad():
            if variables is None:
                return state, -model.energy(state)[0]
            kept = {**evidence, **{int(v): float(state[v]) for v in variables}}
            return state, model.log_partition(kept)

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, float]) -> torch.Tensor:
        """log ∫ exp(−energy) over the free variables (differentiable in the model's parameters)."""
        return model.log_partition(evidence)

    @staticmethod
    def _moments(model: torch.nn.Module, evidence: dict[int, float]) -> tuple[torch.Tensor, torch.Tensor, dict[int, int]]:
        free = [i for i in range(model.num_variables) if i not in evidence]
        mean = model.mean(evidence)  # (m,)
        var = torch.diagonal(model.covariance(evidence))  # (m,)
        return mean, var, {v: k for k, v in enumerate(free)}


def _full_state(model: torch.nn.Module, free_values: torch.Tensor, evidence: dict[int, float]) -> torch.Tensor:
    """Values of the free variables (m,) and the clamped ones merged into one state (n,)."""
    free = [i for i in range(model.num_variables) if i not in evidence]
    state = torch.empty(model.num_variables, dtype=free_values.dtype, device=free_values.device)  # (n,)
    state[free] = free_values
    if evidence:
        state[list(evidence)] = torch.tensor(list(evidence.values()), dtype=state.dtype, device=state.device)
    return state


def register() -> None:
    """Register :class:`GaussianExact` as backend ``"gaussian"`` (idempotent)."""
    from graphdgm.infer.registry import register_backend

    register_backend(GaussianExact.name, GaussianExact, overwrite=True)


__all__ = ["GaussianExact", "register"]
