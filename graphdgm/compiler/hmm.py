"""The compiled hidden Markov model: a hidden chain tied through time and an emission edge from each
hidden step to its observation, as log tables (buffers). It packs observations and answers the
emission's log-density and draws; the algorithms (forward-backward and Viterbi in
``infer/forward_backward.py``, sampling through time in ``infer/ancestral.py``, Baum-Welch in
``learn/baum_welch.py``) work on these primitives and are the model's methods by capability.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.compile import compile as compile_spec
from graphdgm.compiler.markov_chain import padded_indices
from graphdgm.compiler.methods import CompiledModel
from graphdgm.errors import SpecError
from graphdgm.runtime.random import gumbel_max
from graphdgm.spec.hmm import CategoricalEmission, DensityEmission, HiddenMarkovModel


class CompiledHMM(CompiledModel):
    """A :class:`~graphdgm.HiddenMarkovModel` lowered to torch (log tables as buffers).

    Observations are label sequences (categorical; a flat list is one sequence), symbol indices
    (B, T) padded with -1, or for Gaussian emissions arrays (T_i, D) per sequence or a tensor
    (B, T, D) (or (B, T) when D = 1) with ``lengths``.

    >>> import graphdgm as gd
    >>> hmm = gd.HiddenMarkovModel(["rainy", "sunny"], [[0.7, 0.3], [0.4, 0.6]],
    ...                            gd.CategoricalEmission([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]], ["walk", "shop", "clean"]),
    ...                            initial=[0.6, 0.4])
    >>> model = gd.compile(hmm)
    >>> paths, score = model.viterbi([["walk", "shop", "clean"]])
    >>> hmm.chain.decode(paths), round(float(score.exp()), 5)
    ([['sunny', 'rainy', 'rainy']], 0.01344)
    """

    capabilities = frozenset({"time_tied", "emission", "emission_statistics", "log_prob", "sample"})

    def __init__(self, spec: HiddenMarkovModel, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.spec = spec
        with np.errstate(divide="ignore"):
            self.register_buffer("log_transition", torch.from_numpy(np.log(spec.transition)).to(dtype))  # (S, S)
            self.register_buffer("log_initial", torch.from_numpy(np.log(spec.initial)).to(dtype))  # (S,)
            if self.categorical:
                self.register_buffer("log_emission", torch.from_numpy(np.log(spec.emission.table)).to(dtype))  # (S, M)
            elif self.density:  # one compiled density model per hidden state, trained by EM's gradient M-step
                self.emission_models = nn.ModuleList([compile_spec(m, dtype=dtype) for m in spec.emission.specs])
                self.capabilities = frozenset({"time_tied", "emission", "emission_module", "log_prob", "sample"})
            else:
                # copies: fitting writes these in place, and the spec's arrays may be the caller's own
                self.register_buffer("emission_means", torch.tensor(spec.emission.means, dtype=dtype))  # (S, D)
                self.register_buffer("emission_stds", torch.tensor(spec.emission.stds, dtype=dtype))  # (S, D)

    @property
    def categorical(self) -> bool:
        """True when the emissions are categorical (a table over symbols)."""
        return isinstance(self.spec.emission, CategoricalEmission)

    @property
    def density(self) -> bool:
        """Whether each state emits from its own compiled density model (:class:`DensityEmission`)."""
        return isinstance(self.spec.emission, DensityEmission)

    @property
    def emission_dim(self) -> int:
        """Dimension D of one observation (Gaussian or density-model emissions)."""
        return self.spec.emission.dim if self.density else self.emission_means.shape[1]

    @property
    def num_states(self) -> int:
        """Number S of hidden states."""
        return self.log_initial.shape[0]

    @property
    def device(self) -> torch.device:
        """The device of the model's tables."""
        return self.log_initial.device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the model's tables."""
        return self.log_initial.dtype

    # -------------------------------------------------------------- observations
    def observations(self, obs: Any, lengths: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Check and pack observations -> (y (B, T) long or (B, T, D) float, lengths (B,)); every
        sequence needs at least one step."""
        if self.categorical:
            if isinstance(obs, (list, tuple)):
                y, n = self.spec.encode(obs)
                y, n = torch.from_numpy(y).to(self.device), torch.from_numpy(n).to(self.device)
            else:
                y, n = padded_indices(obs, lengths, self.spec.emission.num_symbols, "observation symbol", self.device)
        else:
            y, n = self._vector_observations(obs, lengths)
            bad = ((y != 0) & (y != 1)).any(-1) if self.density else None
            if bad is not None and bool(bad.any()):
                b, t = (int(i) for i in bad.nonzero()[0])
                raise SpecError(f"observations for density emissions must be binary vectors (0/1 values); sequence {b}, "
                                f"step {t} holds {y[b, t].tolist()[:8]}; binarise them first (e.g. (y > 0.5).double())")
        if y.shape[0] == 0 or bool((n < 1).any()):
            raise SpecError("every observation sequence needs at least one step (got an empty batch or sequence)")
        return y, n

    def _vector_observations(self, obs: Any, lengths: Any) -> tuple[torch.Tensor, torch.Tensor]:
        D = self.emission_dim
        if isinstance(obs, (list, tuple)):
            seqs = [torch.as_tensor(np.asarray(s.detach().cpu() if hasattr(s, "detach") else s, dtype=np.float64)) for s in obs]
            seqs = [s[:, None] if s.dim() == 1 and D == 1 else s for s in seqs]
            for b, s in enumerate(seqs):
                if s.dim() != 2 or s.shape[1] != D:
                    raise SpecError(f"observation sequence {b} has shape {tuple(s.shape)}; it needs (time, {D})")
            n = torch.tensor([len(s) for s in seqs], dtype=torch.long)
            y = torch.zeros(len(seqs), int(n.max()) if len(seqs) else 0, D, dtype=torch.float64)
            for b, s in enumerate(seqs):  # packing at the edge, once per sequence
                y[b, : len(s)] = s
        else:
            y = torch.as_tensor(obs.detach() if hasattr(obs, "detach") else np.asarray(obs, dtype=np.float64))
            y = y[..., None] if y.dim() == 2 and D == 1 else y
            if y.dim() != 3 or y.shape[2] != D:
                raise SpecError(f"vector observations need shape (sequences, time, {D}), got {tuple(y.shape)}")
            n = torch.full((y.shape[0],), y.shape[1], dtype=torch.long) if lengths is None else torch.as_tensor(lengths).long().cpu()
            if n.shape != (y.shape[0],) or bool(((n < 0) | (n > y.shape[1])).any()):
                raise SpecError(f"lengths must hold one length in 0..{y.shape[1]} per sequence ({y.shape[0]})")
        y, n = y.to(self.device, self.dtype), n.to(self.device)
        mask = torch.arange(y.shape[1], device=self.device) < n[:, None]  # (B, T)
        if not bool(torch.isfinite(y[mask]).all()):
            raise SpecError("observations hold NaN or inf inside a sequence; drop or impute those steps")
        return torch.where(mask[..., None], y, torch.zeros_like(y)), n

    def emission_log_prob(self, y: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """log p(y_t | z_t = s) (B, T, S), 0 at padded steps."""
        mask = torch.arange(y.shape[1], device=self.device) < lengths[:, None]  # (B, T)
        if self.categorical:
            e = self.log_emission.t()[y.clamp_min(0)]  # (B, T, S)
        elif self.density:  # a loop over the states' models, each batched over every step of every sequence
            B, T, D = y.shape
            flat = y.reshape(B * T, D)
            e = torch.stack([m.log_prob(flat).to(self.dtype) for m in self.emission_models], -1).reshape(B, T, -1)
        else:
            z = (y[:, :, None, :] - self.emission_means) / self.emission_stds  # (B, T, S, D)
            e = -0.5 * (z**2).sum(-1) - self.emission_stds.log().sum(-1) - 0.5 * y.shape[-1] * math.log(2 * math.pi)
        return torch.where(mask[..., None], e, torch.zeros_like(e))

    def impossible_observation(self, y: torch.Tensor, b: int, t: int) -> str:
        """Why observation ``t`` of sequence ``b`` has probability zero (for error messages)."""
        if not self.categorical:
            return f"observation {y[b, t].tolist()} has density zero under every hidden state"
        m = int(y[b, t])
        symbol = self.spec.emission.symbols[m]
        if bool(torch.isneginf(self.log_emission[:, m]).all()):
            return f"no hidden state can emit symbol {symbol!r}"
        return (f"symbol {symbol!r} cannot be emitted by any hidden state the chain can be in at that step "
                + ("(the initial distribution rules the others out)" if t == 0 else
                   "(given the observations before it and the zero transitions)"))

    def sample_emission(self, z: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """One observation per hidden state in ``z`` (any shape): symbol indices, or reals (..., D)."""
        if self.categorical:
            return gumbel_max(self.log_emission[z], g)
        if self.density:
            y = torch.zeros(z.shape + (self.emission_dim,), dtype=self.dtype, device=self.device)
            for s, m in enumerate(self.emission_models):  # a loop over states, each model sampled once, batched
                at = (z == s).nonzero(as_tuple=True)
                if at[0].numel():
                    y[at] = m.sample(int(at[0].numel()), seed=g).to(self.dtype)
            return y
        noise = torch.randn(z.shape + (self.emission_means.shape[1],), generator=g, device=self.device, dtype=self.dtype)
        return self.emission_means[z] + self.emission_stds[z] * noise

    @torch.no_grad()
    def set_parameters(self, initial: torch.Tensor, transition: torch.Tensor, emission: Any) -> None:
        """Set the probabilities (initial (S,), transition (S, S); emission: a table (S, M), or
        (means (S, D), stds (S, D))) and copy them into the spec."""
        self.log_transition.copy_(transition.log())
        self.log_initial.copy_(initial.log())
        if self.categorical:
            self.log_emission.copy_(emission.log())
        elif emission is not None:
            self.emission_means.copy_(emission[0])
            self.emission_stds.copy_(emission[1])
        self.write_spec()

    def write_spec(self) -> None:
        """Copy the current parameters into the spec (so ``gd.io.save_spec`` keeps fitted values)."""
        self.spec.chain.transition = self.log_transition.exp().cpu().double().numpy()
        self.spec.chain.initial = self.log_initial.exp().cpu().double().numpy()
        if self.categorical:
            self.spec.emission.table = self.log_emission.exp().cpu().double().numpy()
        elif not self.density:  # a density model's weights live in its module (model.state_dict())
            self.spec.emission.means = self.emission_means.detach().cpu().double().numpy().copy()  # not a view of the buffer
            self.spec.emission.stds = self.emission_stds.detach().cpu().double().numpy().copy()

    def extra_repr(self) -> str:
        """Number of hidden states and the emission kind and size, for the module's repr."""
        e = (f"{self.log_emission.shape[1]} symbols" if self.categorical else
             f"density models over {self.emission_dim} binary values" if self.density else f"Gaussian dim {self.emission_dim}")
        return f"{self.num_states} hidden states, {e}"


__all__ = ["CompiledHMM"]
