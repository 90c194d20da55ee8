"""``backend="auto"``: exact inference where the elimination width allows, parallel tempering otherwise.

The choice is made per query: the exact backend plans first (planning refuses a problem whose
largest table is above ``max_table_log2`` before any table is built), and a refusal hands the
query to a tempered sampler whose ladder reaches hot temperatures (24 inverse temperatures down
to 0.05), which is what frustrated models need. ``choice`` says what answered, and falling back
to the sampler warns, naming the width that was refused.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch

from graphdgm.errors import InferenceError
from graphdgm.infer.diagnostics import PerThread
from graphdgm.infer.registry import get_backend
from graphdgm.infer.options import check_real


class Auto:
    """Exact where the width allows, else parallel tempering; ``choice`` says which answered.

    Exact inference may slice a problem into up to ``max_slices`` parts to fit the memory budget
    (``memory_budget`` or ``max_table_log2``, see :class:`~graphdgm.infer.Exact`); a problem that
    needs more is sampled. ``allow_exact=False`` always samples. The sampler's settings (``chains``, ``sweeps``,
    ``num_temps``, ``beta_min``, ``seed``) go to :class:`~graphdgm.infer.Tempering`; its
    diagnostics (R-hat, ESS) reach the result as for any approximate backend.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.4))
    >>> auto = gd.infer.Auto()
    >>> m = gd.query(model, ["x[1,1]"], backend=auto)
    >>> auto.choice
    'exact'
    """

    name = "auto"
    requires: frozenset[str] = frozenset()  # the backend chosen checks its own needs
    choice = PerThread()  # what answered this thread's latest query
    diagnostics = PerThread()
    approximate = PerThread()

    def __init__(self, *, allow_exact: bool = True, max_table_log2: float | None = None, memory_budget: int | None = None,
                 max_slices: int = 64, chains: int = 32, sweeps: int = 4000,
                 num_temps: int = 24, beta_min: float = 0.05, seed: int = 0, progress: bool | None = None) -> None:
        from graphdgm.infer.mcmc import Tempering

        self.allow_exact = bool(allow_exact)
        self.max_table_log2 = None if max_table_log2 is None else check_real("Auto", "max_table_log2", max_table_log2, 0.0, 1e9)
        self.memory_budget = memory_budget
        self.max_slices = int(check_real("Auto", "max_slices", max_slices, 1.0, 2.0 ** 40))
        self.sampler = Tempering(chains=chains, sweeps=sweeps, num_temps=num_temps, beta_min=beta_min, seed=seed,
                                 progress=progress)

    def _exact(self, model: torch.nn.Module) -> Any:
        name = getattr(model, "exact_backend", "exact")
        if name == "exact":
            from graphdgm.infer.exact.backend import Exact

            return Exact(max_table_log2=self.max_table_log2, memory_budget=self.memory_budget, max_slices=self.max_slices)
        return get_backend(name)

    def _answer(self, method: str, model: torch.nn.Module, *args: Any) -> Any:
        reason = "exact inference was not allowed (allow_exact=False)"
        if self.allow_exact:
            exact = self._exact(model)
            if set(getattr(exact, "requires", ())) <= set(getattr(model, "capabilities", ())) and hasattr(exact, method):
                try:
                    out = getattr(exact, method)(model, *args)
                except InferenceError as e:
                    if "too wide" not in str(e):
                        raise
                    reason = str(e).split(": ", 1)[-1].split(". Use ", 1)[0]
                else:
                    self.choice, self.approximate, self.diagnostics = "exact", False, None
                    return out
            else:
                reason = f"the model offers no exact {method}"
        out = getattr(self.sampler, method)(model, *args)
        self.choice = (f"tempering ({self.sampler.chains} chains x {self.sampler.sweeps} sweeps, "
                       f"{len(self.sampler.kernel().betas)} temperatures): {reason}")
        self.approximate, self.diagnostics = True, self.sampler.diagnostics
        warnings.warn(f"backend='auto' answered by parallel tempering, an approximation: {reason}; see the result's "
                      "diagnostics (R-hat, ESS)", UserWarning, stacklevel=4)
        return out

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> list[Any]:
        """Marginals of ``variables`` given ``evidence``: exact when the exact backend applies and fits, else
        parallel tempering (with a warning).
        """
        return self._answer("marginals", model, variables, evidence)

    def joint(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> torch.Tensor:
        """The joint table of ``variables`` given ``evidence``, exact when possible, else by parallel tempering."""
        return self._answer("joint", model, variables, evidence)

    def map(self, model: torch.nn.Module, evidence: dict[int, Any], variables: list[int] | None) -> tuple[torch.Tensor, Any]:
        """The MAP state and its score given ``evidence`` (over ``variables`` when given), exact when possible,
        else by parallel tempering.
        """
        return self._answer("map", model, evidence, variables)

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, Any]) -> torch.Tensor:
        """log Z (log p(evidence) with evidence), exact when possible, else estimated by the sampler."""
        return self._answer("log_partition", model, evidence)
