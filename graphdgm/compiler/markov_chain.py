"""The compiled Markov chain: log tables over the lifted chain of k-tuples ("contexts"), batched
log-likelihood of variable-length sequences, sampling (with evidence by backward messages),
n-step and stationary distributions, structure checks and maximum-likelihood fitting by counting.

An order-k chain over S states is an order-1 chain over C = S^k contexts: context c = (x_{t-k+1},
..., x_t) as the flat index Σ_i x_i S^(k-1-i), and the next context after emitting s is
(c * S + s) mod C. ``log_transition`` is (C, S), ``log_initial`` (C,).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.methods import CompiledModel
from graphdgm.errors import EvidenceError, SpecError
from graphdgm.spec.markov_chain import MarkovChain


def padded_indices(x: Any, lengths: Any, card: int, what: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a tensor/array of indices (B, T) (or (T,)) padded with -1 -> (x (B, T) long, lengths (B,)).

    >>> x, n = padded_indices([[0, 1, -1], [2, 2, 2]], None, 3, "state", torch.device("cpu"))
    >>> n.tolist()
    [2, 3]
    """
    x = torch.as_tensor(x.detach() if hasattr(x, "detach") else np.asarray(x))
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()) or bool((x != x.round()).any()):
            raise SpecError(f"{what} indices must be integers (pad with -1); got non-integer or NaN values")
    x = x.to(device).long()
    x = x[None] if x.dim() == 1 else x
    if x.dim() != 2:
        raise SpecError(f"{what} indices need shape (sequences, time), got {tuple(x.shape)}")
    B, T = x.shape
    steps = torch.arange(T, device=device)
    if lengths is None:
        lengths = (x >= 0).sum(1)
    lengths = torch.as_tensor(lengths, device=device).long().reshape(-1)
    if lengths.shape != (B,) or bool(((lengths < 0) | (lengths > T)).any()):
        raise SpecError(f"lengths must hold one length in 0..{T} per sequence ({B}), got {lengths.tolist()[:8]}")
    mask = steps < lengths[:, None]  # (B, T)
    bad = mask & ((x < 0) | (x >= card))
    if bool(bad.any()):
        b, t = (int(i) for i in bad.nonzero()[0])
        raise SpecError(f"{what} index {int(x[b, t])} at sequence {b}, position {t} is outside 0..{card - 1} "
                        f"(padding, -1, goes only after the last step of a sequence)")
    return torch.where(mask, x, torch.full_like(x, -1)), lengths


class CompiledMarkovChain(CompiledModel):
    """A :class:`~graphdgm.MarkovChain` lowered to torch (log-space tables as buffers).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]], initial=[1.0, 0.0]))
    >>> round(float(model.log_prob([["sun", "sun", "rain"]]).exp()), 4)  # 1 * 0.9 * 0.1
    0.09
    >>> [round(p, 4) for p in model.stationary().tolist()]
    [0.8333, 0.1667]
    """

    capabilities = frozenset({"time_tied", "context_transitions", "log_prob", "sample"})

    def __init__(self, spec: MarkovChain, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.spec = spec
        S, k = spec.num_states, spec.order
        C = S**k
        with np.errstate(divide="ignore"):
            log_t = torch.from_numpy(np.log(spec.transition.reshape(C, S))).to(dtype)
            log_i = torch.from_numpy(np.log(spec.initial.reshape(C))).to(dtype)
        self.register_buffer("log_transition", log_t)  # (C, S)
        self.register_buffer("log_initial", log_i)  # (C,)
        ctx = torch.arange(C)
        self.register_buffer("next_context", (ctx[:, None] * S + torch.arange(S)) % C, persistent=False)  # (C, S)
        strides = S ** torch.arange(k - 1, -1, -1)  # (k,)
        self.register_buffer("context_strides", strides, persistent=False)
        self.register_buffer("context_digits", (ctx[:, None] // strides) % S, persistent=False)  # (C, k)

    # ----------------------------------------------------------------- basics
    @property
    def states(self) -> tuple[Any, ...]:
        """The state labels, in index order."""
        return self.spec.states

    @property
    def num_states(self) -> int:
        """Number S of states."""
        return self.spec.num_states

    @property
    def order(self) -> int:
        """The chain's order k (how many past states the next one depends on)."""
        return self.spec.order

    @property
    def num_contexts(self) -> int:
        """Number C = S**k of contexts (tuples of the last k states)."""
        return self.log_initial.shape[0]

    @property
    def device(self) -> torch.device:
        """The device of the model's tables."""
        return self.log_transition.device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the model's tables."""
        return self.log_transition.dtype

    @property
    def transition(self) -> torch.Tensor:
        """p(x_t | previous k states), shape (S,)*k + (S,)."""
        return self.log_transition.exp().reshape((self.num_states,) * (self.order + 1))

    @property
    def initial(self) -> torch.Tensor:
        """The distribution of the first k states, shape (S,)*k."""
        return self.log_initial.exp().reshape((self.num_states,) * self.order)

    def context_labels(self) -> list[Any]:
        """Labels of the lifted states: the state labels (order 1) or k-tuples of them."""
        return list(self.states) if self.order == 1 else self.spec.contexts()

    def indices(self, sequences: Any, lengths: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequences -> (state indices (B, T) padded with -1, lengths (B,)) on the model's device.
        Lists of labels are looked up; tensors and integer arrays are state indices."""
        if isinstance(sequences, (list, tuple)):
            x, n = self.spec.encode(sequences)
            return torch.from_numpy(x).to(self.device), torch.from_numpy(n).to(self.device)
        return padded_indices(sequences, lengths, self.num_states, "state", self.device)

    def contexts_of(self, x: torch.Tensor) -> torch.Tensor:
        """Context index of every window of k states: (B, T) -> (B, T-k+1) (padding clamped to 0)."""
        win = x.clamp_min(0).unfold(1, self.order, 1)  # (B, T-k+1, k)
        return (win * self.context_strides).sum(-1)

    # ----------------------------------------------------------- likelihood
    def log_prob(self, sequences: Any, lengths: Any = None) -> torch.Tensor:
        """log p(sequence) (B,) for a batch of variable-length sequences (labels, or indices padded
        with -1). A sequence shorter than the order gets the marginal of the initial distribution;
        an empty one gets 0.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain([0, 1], [[0.9, 0.1], [0.5, 0.5]]))
        >>> [round(v, 4) for v in model.log_prob([[0, 1, 1], [1]]).exp().tolist()]  # [.5*.1*.5, .5]
        [0.025, 0.5]
        """
        x, n = self.indices(sequences, lengths)
        B, T = x.shape
        k, S = self.order, self.num_states
        out = torch.zeros(B, dtype=self.dtype, device=self.device)
        if T == 0:
            return out
        if T > k:
            ctx = self.contexts_of(x[:, :-1])  # (B, T-k)
            nxt = x[:, k:]  # (B, T-k)
            lp = self.log_transition[ctx, nxt.clamp_min(0)]  # (B, T-k)
            out = out + torch.where(nxt >= 0, lp, torch.zeros_like(lp)).sum(1)
        if T >= k:
            first = self.log_initial[self.contexts_of(x[:, :k])[:, 0]]  # (B,)
            out = out + torch.where(n >= k, first, torch.zeros_like(first))
        for L in range(1, k):  # sequences shorter than the order: marginal of the initial distribution
            short = n == L
            if bool(short.any()):
                marg = torch.logsumexp(self.log_initial.view(S**L, -1), -1)  # (S^L,)
                idx = (x[:, :L].clamp_min(0) * (S ** torch.arange(L - 1, -1, -1, device=self.device))).sum(1)
                out = torch.where(short, marg[idx], out)
        return out

    # --------------------------------------------------------------- sampling
    def evidence_indicator(self, evidence: dict[Any, Any] | None, length: int) -> torch.Tensor:
        """Evidence {t or "x[t]": label} -> log indicator (length, S): 0 where allowed, -inf elsewhere."""
        ev = torch.zeros(length, self.num_states, dtype=self.dtype, device=self.device)
        for key, label in (evidence or {}).items():
            t = key
            if isinstance(key, str):
                if not (key.startswith("x[") and key.endswith("]") and key[2:-1].isdigit()):
                    raise EvidenceError(f"evidence key {key!r}: name time steps as 'x[t]' or the int t")
                t = int(key[2:-1])
            if not isinstance(t, (int, np.integer)) or not 0 <= int(t) < length:
                raise EvidenceError(f"evidence key {key!r} is not a time step in 0..{length - 1}")
            s = self.spec.index(label)
            ev[int(t)] = -math.inf
            ev[int(t), s] = 0.0
        return ev

    # ------------------------------------------------------------ linear algebra
    def transition_matrix(self) -> torch.Tensor:
        """The lifted transition matrix P (C, C) over contexts (the S x S matrix for order 1)."""
        C = self.num_contexts
        P = torch.zeros(C, C, dtype=self.dtype, device=self.device)
        return P.scatter_(1, self.next_context, self.log_transition.exp())

    def start_distribution(self, initial: Any) -> torch.Tensor:
        """A start distribution over contexts (C,): the model's, a label (tuple of k labels), or probabilities."""
        if initial is None:
            return self.log_initial.exp()
        if isinstance(initial, (torch.Tensor, np.ndarray)) or (isinstance(initial, (list, tuple)) and initial
                                                              and all(isinstance(v, float) for v in initial)):
            p = torch.as_tensor(np.asarray(initial.cpu() if hasattr(initial, "cpu") else initial, dtype=np.float64),
                                dtype=self.dtype, device=self.device).reshape(-1)
            if p.shape != (self.num_contexts,) or bool((p < 0).any()) or abs(float(p.sum()) - 1) > 1e-6:
                raise SpecError(f"initial must be a distribution over {self.num_contexts} contexts (shape "
                                f"{(self.num_states,) * self.order}) summing to one")
            return p
        labels = initial if self.order > 1 else (initial,)
        if len(labels) != self.order:
            raise SpecError(f"an order-{self.order} chain starts from a tuple of {self.order} states, got {initial!r}")
        c = sum(self.spec.index(s) * self.num_states ** (self.order - 1 - i) for i, s in enumerate(labels))
        p = torch.zeros(self.num_contexts, dtype=self.dtype, device=self.device)
        p[c] = 1.0
        return p

    @property
    def is_irreducible(self) -> bool:
        """Whether every state reaches every other (from :meth:`structure`)."""
        return self.structure().irreducible

    @property
    def is_aperiodic(self) -> bool:
        """Whether every closed class has period 1 (from :meth:`structure`)."""
        return self.structure().aperiodic

    @torch.no_grad()
    def set_tables(self, transition: torch.Tensor, initial: torch.Tensor) -> None:
        """Replace the probabilities (transition (C, S), initial (C,)) in the buffers and the spec."""
        self.log_transition.copy_(torch.log(transition.reshape(self.log_transition.shape)))
        self.log_initial.copy_(torch.log(initial.reshape(-1)))
        S, k = self.num_states, self.order
        self.spec.transition = transition.detach().cpu().double().numpy().reshape((S,) * (k + 1))
        self.spec.initial = initial.detach().cpu().double().numpy().reshape((S,) * k)

    def extra_repr(self) -> str:
        """Number of states, order and number of contexts, for the module's repr."""
        return f"{self.num_states} states, order {self.order}, {self.num_contexts} contexts"


__all__ = ["CompiledMarkovChain", "padded_indices"]
