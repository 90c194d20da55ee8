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

from graphdgm.compiler import chain_structure as cs
from graphdgm.errors import EvidenceError, InferenceError, SpecError
from graphdgm.runtime.distributed import all_reduce_sum_
from graphdgm.runtime.random import make_generator
from graphdgm.spec.markov_chain import MarkovChain
from graphdgm.spec.validate import positive_int


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


def gumbel_max(logits: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One categorical draw per row of ``logits`` (..., K) by the Gumbel-max trick.

    >>> gumbel_max(torch.tensor([[0.0, -float("inf")], [-float("inf"), 0.0]]), torch.Generator().manual_seed(0)).tolist()
    [0, 1]
    """
    u = torch.rand(logits.shape, generator=g, device=logits.device, dtype=logits.dtype).clamp_min(1e-300)
    return (logits - torch.log(-torch.log(u))).argmax(-1)


class CompiledMarkovChain(nn.Module):
    """A :class:`~graphdgm.MarkovChain` lowered to torch (log-space tables as buffers).

    >>> import torch, graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["sun", "rain"], [[0.9, 0.1], [0.5, 0.5]], initial=[1.0, 0.0]))
    >>> round(float(model.log_prob([["sun", "sun", "rain"]]).exp()), 4)  # 1 * 0.9 * 0.1
    0.09
    >>> [round(p, 4) for p in model.stationary().tolist()]
    [0.8333, 0.1667]
    """

    capabilities = frozenset({"sequence", "log_prob", "sample", "markov_chain"})

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
        return self.spec.states

    @property
    def num_states(self) -> int:
        return self.spec.num_states

    @property
    def order(self) -> int:
        return self.spec.order

    @property
    def num_contexts(self) -> int:
        return self.log_initial.shape[0]

    @property
    def device(self) -> torch.device:
        return self.log_transition.device

    @property
    def dtype(self) -> torch.dtype:
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
    def _evidence(self, evidence: dict[Any, Any] | None, length: int) -> torch.Tensor:
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

    @torch.no_grad()
    def sample(self, n: int, length: int = 10, *, seed: int | torch.Generator = 0,
               evidence: dict[Any, Any] | None = None) -> torch.Tensor:
        """``n`` sequences (n, length) of state indices (``model.spec.decode`` gives labels), exactly
        from p(x | evidence). ``evidence`` clamps states at any time steps ({3: "rain"} or
        {"x[3]": "rain"}); backward messages over contexts make the draws exact. Batched over
        sequences, one step per time step.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
        >>> x = model.sample(4, 6, seed=1, evidence={5: "b"})
        >>> x.shape, x[:, 5].tolist()
        (torch.Size([4, 6]), [1, 1, 1, 1])
        """
        n, length = positive_int(n, "n (the number of sequences)"), positive_int(length, "length")
        g = make_generator(seed, self.device)
        ev = self._evidence(evidence, length)  # (L, S)
        k, C = self.order, self.num_contexts
        beta = torch.zeros(max(length, k), C, dtype=self.dtype, device=self.device)  # log p(evidence after t | context at t)
        for t in range(length - 2, k - 2, -1):
            beta[t] = torch.logsumexp(self.log_transition + ev[t + 1] + beta[t + 1][self.next_context], -1)
        first = self.log_initial.clone()  # (C,): the first k states jointly
        for i in range(min(k, length)):
            first = first + ev[i][self.context_digits[:, i]]
        first = first + beta[k - 1]
        if not bool(torch.isfinite(first).any()):
            raise EvidenceError(f"evidence {evidence} has probability zero under this chain")
        c = gumbel_max(first.expand(n, C), g)  # (n,)
        x = torch.empty(n, length, dtype=torch.long, device=self.device)
        x[:, : min(k, length)] = self.context_digits[c][:, :length]
        for t in range(k, length):
            logits = self.log_transition[c] + ev[t] + beta[t][self.next_context[c]]  # (n, S)
            s = gumbel_max(logits, g)  # (n,)
            x[:, t] = s
            c = self.next_context[c, s]
        return x

    # ------------------------------------------------------------ linear algebra
    def transition_matrix(self) -> torch.Tensor:
        """The lifted transition matrix P (C, C) over contexts (the S x S matrix for order 1)."""
        C = self.num_contexts
        P = torch.zeros(C, C, dtype=self.dtype, device=self.device)
        return P.scatter_(1, self.next_context, self.log_transition.exp())

    def n_step(self, steps: int) -> torch.Tensor:
        """The n-step transition matrix P^n (C, C): entry [i, j] = p(context j after n steps | context i).

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.0, 1.0], [1.0, 0.0]]))
        >>> model.n_step(3).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
        """
        steps = positive_int(steps, "steps", minimum=0)
        return torch.linalg.matrix_power(self.transition_matrix(), steps)

    def _start(self, initial: Any) -> torch.Tensor:
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

    def distribution(self, steps: int, initial: Any = None) -> torch.Tensor:
        """p(x_{t+n}) (S,): the distribution of the state ``steps`` steps after the first k states,
        starting from ``initial`` (the model's initial distribution, a state label (a tuple of k
        labels for order k), or probabilities over contexts).

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
        >>> [round(p, 3) for p in model.distribution(2, initial="a").tolist()]  # .81 + .05, .09 + .05
        [0.86, 0.14]
        """
        p = self._start(initial) @ self.n_step(steps)  # (C,)
        return p.view(-1, self.num_states).sum(0)

    # ------------------------------------------------------------- structure
    def structure(self) -> cs.ChainStructure:
        """Communicating classes, closed classes and periods, absorbing and transient states of the
        (lifted) chain; ``print(model.structure())`` reads as a report.

        >>> import graphdgm as gd
        >>> print(gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1]])).structure())
        reducible, aperiodic; 3 communicating classes:
          ['a']: transient, period 1
          ['b']: closed (recurrent), period 1
          ['c']: closed (recurrent), period 1
        absorbing states: ['b', 'c']
        2 closed classes: the stationary distribution is not unique
        """
        P = self.transition_matrix()
        labels = self.context_labels()
        classes = cs.communicating_classes(P)
        closed = [cs.is_closed(P, c) for c in classes]
        periods = [cs.class_period(P, c) for c in classes]
        absorbing = [labels[int(i)] for i in (torch.diagonal(P) == 1).nonzero().flatten().tolist()]
        transient = [labels[int(i)] for c, cl in zip(classes, closed) if not cl for i in c]
        return cs.ChainStructure([[labels[int(i)] for i in c] for c in classes], closed, periods, absorbing, transient)

    def communicating_classes(self) -> list[list[Any]]:
        """The communicating classes as lists of state labels (contexts for order k)."""
        return self.structure().classes

    def closed_classes(self) -> list[list[Any]]:
        """The closed (recurrent) communicating classes; an absorbing state is one of size one."""
        s = self.structure()
        return [c for c, cl in zip(s.classes, s.closed) if cl]

    def absorbing_states(self) -> list[Any]:
        """States (contexts for order k) that the chain never leaves."""
        return self.structure().absorbing

    @property
    def is_irreducible(self) -> bool:
        return self.structure().irreducible

    @property
    def is_aperiodic(self) -> bool:
        return self.structure().aperiodic

    def period(self) -> int:
        """The period of an irreducible chain (an InferenceError naming the classes otherwise)."""
        s = self.structure()
        if not s.irreducible:
            raise InferenceError(f"the chain is reducible, so periods belong to its classes: {s.classes} have periods {s.periods}")
        return int(s.period)

    def _closed_index(self) -> list[np.ndarray]:
        P = self.transition_matrix()
        return [c for c in cs.communicating_classes(P) if cs.is_closed(P, c)]

    def stationary_distributions(self, lifted: bool = False) -> torch.Tensor:
        """One stationary distribution per closed class (K, S) (every stationary distribution is a
        mixture of these); ``lifted=True`` gives them over contexts (K, C)."""
        P = self.transition_matrix()
        pis = torch.stack([cs.stationary_of_class(P, c) for c in self._closed_index()])  # (K, C)
        return pis if lifted else pis.view(len(pis), -1, self.num_states).sum(1)

    def stationary(self, lifted: bool = False) -> torch.Tensor:
        """The stationary distribution π = π P (S,) (marginal of the last state for order k;
        ``lifted=True`` gives it over contexts, (C,)). A chain with more than one closed class has
        no unique one: an InferenceError names the classes. A periodic chain has a unique π, the
        long-run fraction of time in each state, although P^n does not converge.

        >>> import graphdgm as gd
        >>> gd.compile(gd.MarkovChain(["a", "b"], [[0, 1], [1, 0]])).stationary().tolist()
        [0.5, 0.5]
        """
        closed = self._closed_index()
        if len(closed) > 1:
            labels = self.context_labels()
            names = "; ".join(str([labels[int(i)] for i in c][:6]) for c in closed)
            raise InferenceError(f"the chain is reducible with {len(closed)} closed communicating classes ({names}), so its "
                                 f"stationary distribution is not unique; model.stationary_distributions() gives one per "
                                 f"class, and model.limiting_distribution(initial) the one reached from a start")
        return self.stationary_distributions(lifted)[0]

    def limiting_distribution(self, initial: Any = None) -> torch.Tensor:
        """lim_n p(x_n) (S,) from ``initial`` (see :meth:`distribution`): the closed classes'
        stationary distributions weighted by the absorption probabilities. A periodic closed class
        has no limit: an InferenceError says so.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.25, 0.25], [0, 1, 0], [0, 0, 1]]))
        >>> model.limiting_distribution("a").tolist()
        [0.0, 0.5, 0.5]
        """
        P = self.transition_matrix()
        closed = self._closed_index()
        per = [cs.class_period(P, c) for c in closed]
        if any(p != 1 for p in per):
            raise InferenceError(f"a closed class has period {max(p for p in per if p)}: P^n oscillates and has no limit; "
                                 f"use model.stationary() for the long-run average")
        B, _ = cs.absorption(P, closed)  # (C, K)
        pis = torch.stack([cs.stationary_of_class(P, c) for c in closed])  # (K, C)
        return (self._start(initial) @ B @ pis).view(-1, self.num_states).sum(0)

    def hitting_times(self, targets: Any) -> torch.Tensor:
        """Expected number of steps to first reach any state in ``targets`` (labels) from each
        state (S,) (each context (C,) for order k): 0 on the targets, ``inf`` where the chain may
        never reach them.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0, 1]]))
        >>> model.hitting_times("b").tolist()
        [2.0, 0.0]
        """
        targets = [targets] if not isinstance(targets, (list, tuple, set)) else list(targets)
        idx = torch.tensor([self.spec.index(t) for t in targets], device=self.device)
        last = self.context_digits[:, -1]  # (C,)
        return cs.hitting_times(self.transition_matrix(), torch.isin(last, idx))

    def absorption_probabilities(self) -> torch.Tensor:
        """p(absorbed in closed class j | start in state i) (C, K), the columns in the order of
        :meth:`closed_classes` (an absorbing state is a class of size one): B = N R with the
        fundamental matrix N = (I - Q)^-1 over the transient states.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b", "c"], [[0.5, 0.25, 0.25], [0, 1, 0], [0, 0, 1]]))
        >>> model.absorption_probabilities().tolist()
        [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]
        """
        return cs.absorption(self.transition_matrix(), self._closed_index())[0]

    def absorption_times(self) -> torch.Tensor:
        """Expected number of steps (C,) until the chain enters a closed class (N 1 on transient
        states, 0 on recurrent ones).

        >>> import graphdgm as gd
        >>> gd.compile(gd.MarkovChain(["a", "b"], [[0.75, 0.25], [0, 1]])).absorption_times().tolist()
        [4.0, 0.0]
        """
        return cs.absorption(self.transition_matrix(), self._closed_index())[1]

    # ------------------------------------------------------------------ fitting
    @torch.no_grad()
    def fit(self, sequences: Any, lengths: Any = None, *, pseudo_count: float = 0.0,
            distributed: bool | None = None) -> CompiledMarkovChain:
        """Set the tables to their maximum-likelihood estimates from ``sequences`` (posterior means
        under a symmetric Dirichlet(``pseudo_count``) prior when > 0): one batched count of every
        (context, next state) pair. Unseen contexts get uniform rows; sequences shorter than the
        order are ignored. Counts are summed over ``torch.distributed`` processes when it is
        initialised. Returns self.

        >>> import graphdgm as gd
        >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]]))
        >>> model.fit([["a", "a", "b", "a"]]).transition.tolist()
        [[0.5, 0.5], [1.0, 0.0]]
        """
        a = float(pseudo_count)
        if not math.isfinite(a) or a < 0:
            raise SpecError(f"pseudo_count must be a finite number >= 0, got {pseudo_count}")
        x, n = self.indices(sequences, lengths)
        if x.shape[0] == 0:
            raise SpecError(f"no sequences to fit chain {self.spec.name!r} to: give at least one sequence of states")
        k, S, C = self.order, self.num_states, self.num_contexts
        counts = torch.zeros(C * S + C, dtype=self.dtype, device=self.device)  # transitions, then first contexts
        if x.shape[1] > k:
            ctx = self.contexts_of(x[:, :-1])  # (B, T-k)
            nxt = x[:, k:]  # (B, T-k)
            ok = nxt >= 0
            counts[: C * S] += torch.bincount((ctx * S + nxt)[ok], minlength=C * S).to(self.dtype)
        if x.shape[1] >= k:
            first = self.contexts_of(x[:, :k])[:, 0][n >= k]  # (B',)
            counts[C * S:] += torch.bincount(first, minlength=C).to(self.dtype)
        all_reduce_sum_(counts, distributed)
        trans = counts[: C * S].view(C, S) + a
        init = counts[C * S:] + a
        tot = trans.sum(1, keepdim=True)
        trans = torch.where(tot > 0, trans / tot.clamp_min(1e-300), torch.full_like(trans, 1.0 / S))
        init = init / init.sum() if float(init.sum()) > 0 else torch.full_like(init, 1.0 / C)
        self.set_tables(trans, init)
        return self

    @torch.no_grad()
    def set_tables(self, transition: torch.Tensor, initial: torch.Tensor) -> None:
        """Replace the probabilities (transition (C, S), initial (C,)) in the buffers and the spec."""
        self.log_transition.copy_(torch.log(transition.reshape(self.log_transition.shape)))
        self.log_initial.copy_(torch.log(initial.reshape(-1)))
        S, k = self.num_states, self.order
        self.spec.transition = transition.detach().cpu().double().numpy().reshape((S,) * (k + 1))
        self.spec.initial = initial.detach().cpu().double().numpy().reshape((S,) * k)

    def extra_repr(self) -> str:
        return f"{self.num_states} states, order {self.order}, {self.num_contexts} contexts"


__all__ = ["CompiledMarkovChain", "gumbel_max", "padded_indices"]
