"""The compiled hidden Markov model: log-space forward-backward, Viterbi and sampling, batched over
sequences of different lengths (a mask carries each sequence's last message through the padding),
plus the expected sufficient statistics and M-step of Baum-Welch.

Every recursion loops over time steps only; each step is one batched (B, S, S) log-sum-exp or max.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.markov_chain import gumbel_max, padded_indices
from graphdgm.errors import CapabilityError, EvidenceError, SpecError
from graphdgm.runtime.random import make_generator
from graphdgm.spec.hmm import CategoricalEmission, HiddenMarkovModel
from graphdgm.spec.validate import positive_int


class CompiledHMM(nn.Module):
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

    capabilities = frozenset({"sequence", "log_prob", "sample", "hmm"})

    def __init__(self, spec: HiddenMarkovModel, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.spec = spec
        with np.errstate(divide="ignore"):
            self.register_buffer("log_transition", torch.from_numpy(np.log(spec.transition)).to(dtype))  # (S, S)
            self.register_buffer("log_initial", torch.from_numpy(np.log(spec.initial)).to(dtype))  # (S,)
            if self.categorical:
                self.register_buffer("log_emission", torch.from_numpy(np.log(spec.emission.table)).to(dtype))  # (S, M)
            else:
                self.register_buffer("emission_means", torch.from_numpy(spec.emission.means).to(dtype))  # (S, D)
                self.register_buffer("emission_stds", torch.from_numpy(spec.emission.stds).to(dtype))  # (S, D)

    @property
    def categorical(self) -> bool:
        return isinstance(self.spec.emission, CategoricalEmission)

    @property
    def num_states(self) -> int:
        return self.log_initial.shape[0]

    @property
    def device(self) -> torch.device:
        return self.log_initial.device

    @property
    def dtype(self) -> torch.dtype:
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
            y, n = self._gaussian_observations(obs, lengths)
        if y.shape[0] == 0 or bool((n < 1).any()):
            raise SpecError("every observation sequence needs at least one step (got an empty batch or sequence)")
        return y, n

    def _gaussian_observations(self, obs: Any, lengths: Any) -> tuple[torch.Tensor, torch.Tensor]:
        D = self.emission_means.shape[1]
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
                raise SpecError(f"Gaussian observations need shape (sequences, time, {D}), got {tuple(y.shape)}")
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
        else:
            z = (y[:, :, None, :] - self.emission_means) / self.emission_stds  # (B, T, S, D)
            e = -0.5 * (z**2).sum(-1) - self.emission_stds.log().sum(-1) - 0.5 * y.shape[-1] * math.log(2 * math.pi)
        return torch.where(mask[..., None], e, torch.zeros_like(e))

    # --------------------------------------------------------------- recursions
    def _alpha(self, e: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Forward messages log p(y_0..y_t, z_t) (B, T, S); past a sequence's end the last one is carried."""
        B, T, S = e.shape
        alpha = torch.empty_like(e)
        alpha[:, 0] = self.log_initial + e[:, 0]
        for t in range(1, T):
            new = torch.logsumexp(alpha[:, t - 1, :, None] + self.log_transition, 1) + e[:, t]  # (B, S)
            alpha[:, t] = torch.where((t < lengths)[:, None], new, alpha[:, t - 1])
        return alpha

    def _beta(self, e: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Backward messages log p(y_t+1..y_end | z_t) (B, T, S); 0 from each sequence's last step on."""
        B, T, S = e.shape
        beta = torch.zeros_like(e)
        for t in range(T - 2, -1, -1):
            new = torch.logsumexp(self.log_transition + (e[:, t + 1] + beta[:, t + 1])[:, None, :], -1)  # (B, S)
            beta[:, t] = torch.where((t + 1 < lengths)[:, None], new, torch.zeros_like(new))
        return beta

    def _check_possible(self, alpha: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor, what: str) -> None:
        """Raise :class:`EvidenceError` naming the first sequence, time step and symbol at which the
        observations have probability zero (every forward message -inf), so no posterior or path of
        an impossible sequence is ever returned."""
        T = alpha.shape[1]
        on = torch.arange(T, device=self.device) < lengths[:, None]  # (B, T)
        dead = torch.isneginf(alpha).all(-1) & on  # (B, T): p(y_0..y_t) = 0
        if not bool(dead.any()):
            return
        b = int(dead.any(1).nonzero()[0, 0])
        t = int(dead[b].nonzero()[0, 0])
        count = int(dead.any(1).sum())
        if self.categorical:
            m = int(y[b, t])
            symbol = self.spec.emission.symbols[m]
            if bool(torch.isneginf(self.log_emission[:, m]).all()):
                why = f"no hidden state can emit symbol {symbol!r}"
            else:
                why = (f"symbol {symbol!r} cannot be emitted by any hidden state the chain can be in at that step "
                       + ("(the initial distribution rules the others out)" if t == 0 else
                          "(given the observations before it and the zero transitions)"))
        else:
            why = f"observation {y[b, t].tolist()} has density zero under every hidden state"
        raise EvidenceError(
            f"{what}: observation sequence {b} has probability zero at time step {t}: {why}"
            f"{f' ({count} sequences are impossible)' if count > 1 else ''}. Drop or correct that observation, or "
            f"give every state some probability of every symbol (e.g. fit with pseudo_count > 0)")

    def log_prob(self, obs: Any, lengths: Any = None) -> torch.Tensor:
        """log p(y) (B,) of each observation sequence, hidden paths summed out (forward algorithm).
        A sequence that no hidden path can emit gets -inf (its probability is zero; never NaN);
        :meth:`forward_backward` and :meth:`viterbi` raise :class:`EvidenceError` for it instead,
        since it has no posterior and no most probable path.

        >>> import graphdgm as gd
        >>> hmm = gd.HiddenMarkovModel(["a", "b"], [[0.5, 0.5], [0.5, 0.5]], gd.CategoricalEmission([[1.0, 0.0], [0.0, 1.0]]))
        >>> [round(v, 4) for v in gd.compile(hmm).log_prob([[0, 1, 1], [0]]).exp().tolist()]
        [0.125, 0.5]
        """
        y, n = self.observations(obs, lengths)
        alpha = self._alpha(self.emission_log_prob(y, n), n)
        return torch.logsumexp(alpha[:, -1], -1)

    def forward_backward(self, obs: Any, lengths: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior marginals p(z_t = s | y) (B, T, S) (zero rows at padded steps) and log p(y) (B,).

        >>> import graphdgm as gd
        >>> hmm = gd.HiddenMarkovModel(["a", "b"], [[0.9, 0.1], [0.1, 0.9]], gd.GaussianEmission([0.0, 3.0], [1.0, 1.0]))
        >>> post, ll = gd.compile(hmm).forward_backward([[0.1, 2.9, 3.2]])
        >>> post.shape, post[0].argmax(-1).tolist()
        (torch.Size([1, 3, 2]), [0, 1, 1])
        """
        y, n = self.observations(obs, lengths)
        e = self.emission_log_prob(y, n)  # (B, T, S)
        alpha, beta = self._alpha(e, n), self._beta(e, n)
        self._check_possible(alpha, y, n, "forward_backward")
        ll = torch.logsumexp(alpha[:, -1], -1)  # (B,)
        post = (alpha + beta - ll[:, None, None]).exp()  # (B, T, S)
        mask = torch.arange(y.shape[1], device=self.device) < n[:, None]
        return torch.where(mask[..., None], post, torch.zeros_like(post)), ll

    def viterbi(self, obs: Any, lengths: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable hidden paths (B, T) (state indices, -1 at padded steps;
        ``spec.chain.decode`` gives labels) and their log joint log p(z*, y) (B,).

        >>> import graphdgm as gd
        >>> hmm = gd.HiddenMarkovModel(["a", "b"], [[0.9, 0.1], [0.1, 0.9]], gd.GaussianEmission([0.0, 3.0], [1.0, 1.0]))
        >>> gd.compile(hmm).viterbi([[0.2, 2.8, 3.1], [2.9]])[0].tolist()
        [[0, 1, 1], [1, -1, -1]]
        """
        y, n = self.observations(obs, lengths)
        e = self.emission_log_prob(y, n)  # (B, T, S)
        self._check_possible(self._alpha(e, n), y, n, "viterbi")  # max and sum have the same zero set
        B, T, S = e.shape
        keep = torch.arange(S, device=self.device).expand(B, S)
        delta = self.log_initial + e[:, 0]  # (B, S)
        back = torch.empty(B, T, S, dtype=torch.long, device=self.device)
        back[:, 0] = keep
        for t in range(1, T):
            best, arg = (delta[:, :, None] + self.log_transition).max(1)  # (B, S): best predecessor of each state
            on = (t < n)[:, None]
            delta = torch.where(on, best + e[:, t], delta)
            back[:, t] = torch.where(on, arg, keep)  # padding: each state is its own predecessor
        score, last = delta.max(-1)  # (B,)
        path = torch.empty(B, T, dtype=torch.long, device=self.device)
        path[:, -1] = last
        for t in range(T - 1, 0, -1):
            path[:, t - 1] = back[:, t].gather(1, path[:, t : t + 1])[:, 0]
        mask = torch.arange(T, device=self.device) < n[:, None]
        return torch.where(mask, path, torch.full_like(path, -1)), score

    @torch.no_grad()
    def sample(self, n: int, length: int = 10, *, seed: int | torch.Generator = 0,
               evidence: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` draws of (hidden paths (n, length) of state indices, observations (n, length) of
        symbol indices or (n, length, D) reals), batched over sequences.

        >>> import graphdgm as gd
        >>> z, y = gd.compile(gd.HiddenMarkovModel.random(2, dim=3, seed=0)).sample(5, 4, seed=0)
        >>> z.shape, y.shape
        (torch.Size([5, 4]), torch.Size([5, 4, 3]))
        """
        if evidence:
            raise CapabilityError("an HMM samples its joint without evidence; for the hidden path given observations use "
                                  "model.forward_backward(obs) (marginals) or model.viterbi(obs) (MAP path)")
        n, length = positive_int(n, "n (the number of sequences)"), positive_int(length, "length")
        g = make_generator(seed, self.device)
        z = torch.empty(n, length, dtype=torch.long, device=self.device)
        z[:, 0] = gumbel_max(self.log_initial.expand(n, -1), g)
        for t in range(1, length):
            z[:, t] = gumbel_max(self.log_transition[z[:, t - 1]], g)  # (n,)
        if self.categorical:
            return z, gumbel_max(self.log_emission[z], g)  # (n, length)
        noise = torch.randn((n, length, self.emission_means.shape[1]), generator=g, device=self.device, dtype=self.dtype)
        return z, self.emission_means[z] + self.emission_stds[z] * noise  # (n, length, D)

    # ---------------------------------------------------------------- Baum-Welch
    def expected_statistics(self, y: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One flat tensor of E-step sums over the batch: [Σ log p(y), Σ γ_0 (S), Σ ξ (S*S),
        emission statistics (categorical: Σ γ [y = m] (S*M); Gaussian: Σ γ, Σ γ y, Σ γ y² (S + 2SD))],
        so that processes can all-reduce it in one call."""
        e = self.emission_log_prob(y, lengths)  # (B, T, S)
        B, T, S = e.shape
        alpha, beta = self._alpha(e, lengths), self._beta(e, lengths)
        self._check_possible(alpha, y, lengths, "Baum-Welch E-step")
        ll = torch.logsumexp(alpha[:, -1], -1)  # (B,)
        mask = torch.arange(T, device=self.device) < lengths[:, None]  # (B, T)
        gamma = torch.where(mask[..., None], (alpha + beta - ll[:, None, None]).exp(), torch.zeros_like(e))  # (B, T, S)
        xi = torch.zeros(S, S, dtype=self.dtype, device=self.device)
        for t in range(T - 1):  # Σ_b p(z_t = i, z_t+1 = j | y), (B, S, S) per step
            lx = alpha[:, t, :, None] + self.log_transition + (e[:, t + 1] + beta[:, t + 1])[:, None, :] - ll[:, None, None]
            xi += torch.where((t + 1 < lengths)[:, None, None], lx.exp(), torch.zeros_like(lx)).sum(0)
        parts = [ll.sum()[None], gamma[:, 0].sum(0), xi.reshape(-1)]
        if self.categorical:
            M = self.log_emission.shape[1]
            counts = torch.zeros(M, S, dtype=self.dtype, device=self.device).index_add_(0, y[mask], gamma[mask])  # (M, S)
            parts.append(counts.t().reshape(-1))
        else:
            parts += [gamma.sum((0, 1)), torch.einsum("bts,btd->sd", gamma, y).reshape(-1),
                      torch.einsum("bts,btd->sd", gamma, y * y).reshape(-1)]
        return torch.cat(parts)

    @torch.no_grad()
    def maximise(self, stats: torch.Tensor, pseudo_count: float = 0.0, variance_floor: float = 1e-6) -> None:
        """The M-step: set the parameters from summed :meth:`expected_statistics` (plus a symmetric
        Dirichlet ``pseudo_count`` on the tables; Gaussian variances at least ``variance_floor``).
        A row with no expected counts keeps its old values."""
        S = self.num_states
        init, xi = stats[1 : 1 + S] + pseudo_count, stats[1 + S : 1 + S + S * S].view(S, S) + pseudo_count
        rest = stats[1 + S + S * S :]
        trans = _normalised_rows(xi, self.log_transition.exp())
        initial = init / init.sum() if float(init.sum()) > 0 else self.log_initial.exp()
        self.log_transition.copy_(trans.log())
        self.log_initial.copy_(initial.log())
        if self.categorical:
            M = self.log_emission.shape[1]
            self.log_emission.copy_(_normalised_rows(rest.view(S, M) + pseudo_count, self.log_emission.exp()).log())
        else:
            D = self.emission_means.shape[1]
            w, sy, syy = rest[:S], rest[S : S + S * D].view(S, D), rest[S + S * D :].view(S, D)
            seen = (w > 0)[:, None]
            mean = sy / w.clamp_min(1e-300)[:, None]
            var = (syy / w.clamp_min(1e-300)[:, None] - mean**2).clamp_min(variance_floor)
            self.emission_means.copy_(torch.where(seen, mean, self.emission_means))
            self.emission_stds.copy_(torch.where(seen, var.sqrt(), self.emission_stds))
        self.write_spec()

    def write_spec(self) -> None:
        """Copy the current parameters into the spec (so ``gd.io.save_spec`` keeps fitted values)."""
        self.spec.chain.transition = self.log_transition.exp().cpu().double().numpy()
        self.spec.chain.initial = self.log_initial.exp().cpu().double().numpy()
        if self.categorical:
            self.spec.emission.table = self.log_emission.exp().cpu().double().numpy()
        else:
            self.spec.emission.means = self.emission_means.cpu().double().numpy()
            self.spec.emission.stds = self.emission_stds.cpu().double().numpy()

    def extra_repr(self) -> str:
        e = f"{self.log_emission.shape[1]} symbols" if self.categorical else f"Gaussian dim {self.emission_means.shape[1]}"
        return f"{self.num_states} hidden states, {e}"


def _normalised_rows(counts: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    tot = counts.sum(-1, keepdim=True)
    return torch.where(tot > 0, counts / tot.clamp_min(1e-300), old)


__all__ = ["CompiledHMM"]
