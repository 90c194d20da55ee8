"""Maximum likelihood for a Bayesian network's neural CPDs: gradient ascent on the exact
log-likelihood of complete data. log p(x) is a sum over variables, so each neural CPD's
maximum-likelihood weights maximise its own term; the counted CPTs need no gradient."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.spec.validate import positive_float, positive_int


def fit_neural_cpds(model: Any, x: torch.Tensor, *, steps: int = 300, lr: float = 0.05) -> float:
    """Train every neural CPD of a compiled Bayesian network on complete data ``x`` (N, n) of
    state indices by ``steps`` full-batch Adam steps on -mean Σ_v log P(x_v | parents), then
    tabulate them. Returns the final mean log-likelihood of the neural CPDs' terms (nats per example).

    >>> import math, torch, graphdgm as gd
    >>> bn = gd.BayesianNetwork.empty_like({"a": []}, {"a": gd.Binary()})
    >>> _ = bn.add_variable("b", gd.Binary()); _ = bn.add_neural_cpd("b", ["a"], hidden=[4])
    >>> model = gd.compile(bn)
    >>> x = torch.tensor([[0, 0], [0, 0], [0, 1], [1, 1]])
    >>> optimum = (2 * math.log(2 / 3) + math.log(1 / 3)) / 4  # counting: P(b | a=0) = (2/3, 1/3), P(b | a=1) = (0, 1)
    >>> abs(fit_neural_cpds(model, x, steps=400) - optimum) < 0.01
    True
    """
    steps = positive_int(steps, "steps (gradient steps for the neural CPDs)", minimum=0)
    lr = positive_float(lr, "lr")
    variables = tuple(model.neural_variables)
    if not variables or x.shape[0] == 0:
        return 0.0
    conf = model.configs(x, slice(None))  # (N, n): parent configurations, fixed by the data
    params = [p for i in variables for p in model.neural[str(i)].parameters()]
    opt = torch.optim.Adam(params, lr=lr)

    def mean_log_lik() -> torch.Tensor:  # a loop over neural CPDs, each batched over the examples
        return sum(model.neural_log_cpd(i, conf[:, i]).gather(1, x[:, i : i + 1]).mean() for i in variables)

    with torch.enable_grad():  # callers such as the counting objective run under no_grad
        for _ in range(int(steps)):
            opt.zero_grad(set_to_none=True)
            (-mean_log_lik()).backward()
            opt.step()
    model.tabulate()
    with torch.no_grad():
        return float(mean_log_lik())


__all__ = ["fit_neural_cpds"]
