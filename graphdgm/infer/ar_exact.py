"""Exact inference for small autoregressive models by enumerating every state (D <= 24)."""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.errors import InferenceError


class AutoregressiveEnumeration:
    """log p of every joint state (in chunks), then marginals, joints, the MAP state and
    log p(evidence) by summation. What the samplers and the sum-to-one tests are checked against.

    >>> import graphdgm as gd
    >>> made = gd.compile(gd.MADE(6, hidden=[10]))
    >>> abs(float(gd.log_partition(made))) < 1e-5   # normalised
    True
    """

    name = "ar_exact"
    requires = frozenset({"ordering"})
    approximate = False

    def __init__(self, max_free: int = 24, chunk_log2: int = 14) -> None:
        self.max_free, self.chunk = int(max_free), 1 << int(chunk_log2)

    def _chunks(self, model: torch.nn.Module, evidence: dict[int, Any]):
        free = [i for i in range(model.D) if i not in evidence]
        if len(free) > self.max_free:
            raise InferenceError(f"exact inference would enumerate 2^{len(free)} states (limit 2^{self.max_free}); "
                                 f"sample with model.sample(n, evidence=...) or backend=gd.infer.AutoregressiveMH()")
        base = torch.zeros(model.D, dtype=model.dtype, device=model.device)
        for i, s in evidence.items():
            base[int(i)] = float(s)
        fidx = torch.tensor(free, dtype=torch.long, device=model.device)
        bits = torch.arange(len(free), device=model.device)
        for start in range(0, 1 << len(free), self.chunk):  # a loop over chunks of states
            codes = torch.arange(start, min(start + self.chunk, 1 << len(free)), device=model.device)
            x = base.expand(len(codes), -1).clone()
            x[:, fidx] = ((codes[:, None] >> bits) & 1).to(model.dtype)
            with torch.no_grad():
                yield x, model.log_prob(x).to(torch.float64)

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, Any]) -> torch.Tensor:
        """log p(evidence) (0 without evidence)."""
        return torch.logsumexp(torch.cat([lp for _, lp in self._chunks(model, evidence)]), 0)

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> list[torch.Tensor]:
        """p(x_v | evidence) (2,) for each packed index v in ``variables``, by summing p over every state."""
        log_z = self.log_partition(model, evidence)
        p1 = torch.zeros(model.D, dtype=torch.float64, device=model.device)
        for x, lp in self._chunks(model, evidence):
            p1 += torch.exp(lp - log_z) @ x.to(torch.float64)
        return [torch.stack([1 - p1[v], p1[v]]).clamp(0, 1) for v in variables]

    def joint(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, Any]) -> torch.Tensor:
        """p(x_variables | evidence) as a (2,) * k table over the k ``variables``, in the order given."""
        log_z = self.log_partition(model, evidence)
        k = len(variables)
        out = torch.zeros(1 << k, dtype=torch.float64, device=model.device)
        weights = (1 << torch.arange(k - 1, -1, -1, device=model.device))
        for x, lp in self._chunks(model, evidence):
            code = (x[:, variables].long() * weights).sum(1)
            out.index_add_(0, code, torch.exp(lp - log_z))
        return out.reshape([2] * k)

    def map(self, model: torch.nn.Module, evidence: dict[int, Any], variables: list[int] | None) -> tuple[torch.Tensor, float]:
        """The most probable state (D,) long given ``evidence`` and its log p(x); with ``variables``, the
        mode of their joint (other free variables left at 0) and its log p(x_variables | evidence).
        """
        if variables is not None:
            joint = self.joint(model, list(variables), evidence)
            flat = int(joint.argmax())
            state = torch.zeros(model.D, dtype=torch.long)
            for j, v in enumerate(variables):
                state[v] = (flat >> (len(variables) - 1 - j)) & 1
            for i, s in evidence.items():
                state[int(i)] = int(s)
            return state, float(joint.max().log())
        best, score = None, -float("inf")
        for x, lp in self._chunks(model, evidence):
            i = int(lp.argmax())
            if float(lp[i]) > score:
                best, score = x[i].long().cpu(), float(lp[i])
        return best, score
