"""Ancestral sampling: a generator network (noise through x = G(z)), a Bayesian network by topological generation (block Gibbs for evidence
that is not ancestrally closed), and through time: a chain of any order (exact given evidence at any steps, by
backward messages over contexts) and a hidden chain with per-step emissions. Batched over
sequences, one step per time step. These are the models' ``sample`` methods by capability.

>>> import graphdgm as gd
>>> z, y = gd.sample(gd.compile(gd.HiddenMarkovModel.random(2, dim=3, seed=0)), 5, length=4, seed=0)
>>> z.shape, y.shape
(torch.Size([5, 4]), torch.Size([5, 4, 3]))
"""
from __future__ import annotations

from typing import Any

import torch

from graphdgm.compiler.methods import model_method
from graphdgm.errors import CapabilityError, EvidenceError, InferenceError, SpecError
from graphdgm.infer.api import log_partition
from graphdgm.infer.mcmc import BlockGibbs, sample_chains
from graphdgm.runtime.random import gumbel_max, make_generator
from graphdgm.spec.validate import positive_int


@model_method("sample", {"emission", "sample"})
@torch.no_grad()
def sample_emitting_chain(model: Any, n: int, length: int = 10, *, seed: int | torch.Generator = 0,
                          evidence: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` draws of (hidden paths (n, length) of state indices, observations (n, length) of
    symbol indices or (n, length, D) reals) from a hidden chain with emissions.

    >>> import graphdgm as gd
    >>> z, y = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0)).sample(5, 4, seed=0)
    >>> z.shape, y.shape
    (torch.Size([5, 4]), torch.Size([5, 4]))
    """
    if evidence:
        raise CapabilityError("an HMM samples its joint without evidence; for the hidden path given observations use "
                              "model.forward_backward(obs) (marginals) or model.viterbi(obs) (MAP path)")
    n, length = positive_int(n, "n (the number of sequences)"), positive_int(length, "length")
    g = make_generator(seed, model.device)
    z = torch.empty(n, length, dtype=torch.long, device=model.device)
    z[:, 0] = gumbel_max(model.log_initial.expand(n, -1), g)
    for t in range(1, length):
        z[:, t] = gumbel_max(model.log_transition[z[:, t - 1]], g)  # (n,)
    return z, model.sample_emission(z, g)


@model_method("sample", {"context_transitions", "sample"})
@torch.no_grad()
def sample_chain(model: Any, n: int, length: int = 10, *, seed: int | torch.Generator = 0,
                 evidence: dict[Any, Any] | None = None) -> torch.Tensor:
    """``n`` sequences (n, length) of state indices (``model.spec.decode`` gives labels), exactly
    from p(x | evidence) for a chain of any order. ``evidence`` clamps states at any time steps
    ({3: "rain"} or {"x[3]": "rain"}); backward messages over contexts make the draws exact.

    >>> import graphdgm as gd
    >>> model = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
    >>> x = model.sample(4, 6, seed=1, evidence={5: "b"})
    >>> x.shape, x[:, 5].tolist()
    (torch.Size([4, 6]), [1, 1, 1, 1])
    """
    n, length = positive_int(n, "n (the number of sequences)"), positive_int(length, "length")
    g = make_generator(seed, model.device)
    ev = model.evidence_indicator(evidence, length)  # (L, S)
    k, C = model.order, model.num_contexts
    log_t, nxt, digits = model.log_transition, model.next_context, model.context_digits
    beta = torch.zeros(max(length, k), C, dtype=model.dtype, device=model.device)  # log p(evidence after t | context at t)
    for t in range(length - 2, k - 2, -1):
        beta[t] = torch.logsumexp(log_t + ev[t + 1] + beta[t + 1][nxt], -1)
    first = model.log_initial.clone()  # (C,): the first k states jointly
    for i in range(min(k, length)):
        first = first + ev[i][digits[:, i]]
    first = first + beta[k - 1]
    if not bool(torch.isfinite(first).any()):
        raise EvidenceError(f"evidence {evidence} has probability zero under this chain")
    c = gumbel_max(first.expand(n, C), g)  # (n,)
    x = torch.empty(n, length, dtype=torch.long, device=model.device)
    x[:, : min(k, length)] = digits[c][:, :length]
    for t in range(k, length):
        logits = log_t[c] + ev[t] + beta[t][nxt[c]]  # (n, S)
        s = gumbel_max(logits, g)  # (n,)
        x[:, t] = s
        c = nxt[c, s]
    return x


@model_method("sample", {"dag", "sample"})
@torch.no_grad()
def sample_network(model: Any, n: int, *, evidence: dict[str, Any] | None = None, seed: int | torch.Generator = 0,
           steps: int = 500) -> torch.Tensor:
    """``n`` samples (n, num_variables) of state indices from p(x | evidence).

    Evidence on an ancestrally closed set (every parent of an observed variable observed too,
    e.g. root causes) keeps ancestral sampling exact. Other evidence (an observed effect) runs
    ``n`` block Gibbs chains for ``steps`` sweeps through the MCMC driver on the network's
    factors and returns their last states (independent chains: their mixing is not judged, so
    raise ``steps`` for a strongly coupled network).

    >>> import graphdgm as gd
    >>> bn = gd.BayesianNetwork(); _ = bn.add_variable("a", gd.Binary()); _ = bn.add_variable("b", gd.Binary())
    >>> _ = bn.add_cpd("a", [], [0.3, 0.7]); _ = bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.2, 0.8]])
    >>> gd.compile(bn).sample(4, evidence={"a": 1}).shape
    torch.Size([4, 2])
    """
    n = positive_int(n, "n")
    steps = positive_int(steps, "steps", minimum=0)
    ev = model.encode_evidence(evidence)
    dev = model.cards.device
    g = make_generator(seed, dev)
    obs = torch.zeros(model.num_variables, dtype=torch.bool, device=dev)
    vals = torch.zeros(model.num_variables, dtype=torch.long, device=dev)
    for i, s in ev.items():
        obs[i], vals[i] = True, s
    if ev and float(_evidence_log_prob(model, ev)) == float("-inf"):
        raise EvidenceError(f"evidence {evidence} has probability zero under this network")
    closed = not bool((obs[:, None] & ~obs[model.parent_index] & (model.parent_strides > 0)).any())
    if closed:
        x = torch.zeros(n, model.num_variables, dtype=torch.long, device=dev)
        for gen in model.generations:  # a loop over topological generations, each one batched
            gen = gen.to(dev)
            logits = model.cpt_log[gen[:, None], model.configs(x, gen).t()]  # (m, B, K)
            u = torch.rand(logits.shape, generator=g, device=dev, dtype=logits.dtype).clamp_min(1e-300)
            draw = (logits - torch.log(-torch.log(u))).argmax(-1).t()  # Gumbel-max (B, m)
            x[:, gen] = torch.where(obs[gen], vals[gen], draw)
        return x
    from graphdgm.infer.mcmc import BlockGibbs, sample_chains

    # n independent chains, each burnt in for ``steps`` sweeps: two draws per chain cannot be
    # judged by split R-hat, so the driver's check is off here (the docstring says so)
    res = sample_chains(model, BlockGibbs(), chains=n, sweeps=2, burn_in=int(steps), evidence=ev, seed=g,
                        keep="all", progress=False, rhat_threshold=None)
    return res.samples[-1].long()

def _evidence_log_prob(model: Any, ev: dict[int, int]) -> torch.Tensor:
    """log P(evidence) by the exact backend when feasible, else 0 (no check)."""
    try:
        return log_partition(model, {model.variables[i]: model.state_labels(i)[s] for i, s in ev.items()})
    except InferenceError:
        return torch.zeros(())


@model_method("sample", {"implicit", "sample"})
def sample_generator(model: Any, n: int, *, evidence: dict[str, Any] | None = None, seed: int | torch.Generator = 0,
           binarize: str | None = None, batch_size: int = 10_000) -> torch.Tensor:
    """``n`` samples (n, D) from the generator (eval mode, so batch norm uses running statistics).

    For binary data the generator gives probabilities; ``binarize="bernoulli"`` draws 0/1
    values from them and ``"threshold"`` rounds at 0.5.

    >>> import graphdgm as gd
    >>> gd.compile(gd.GAN(2, latent=3, generator_hidden=[8], discriminator_hidden=[8])).sample(5, seed=0).shape
    torch.Size([5, 2])
    """
    if evidence:
        raise CapabilityError("a GAN has no likelihood, so it cannot condition on evidence; sample without "
                              "evidence, or use a model with log_prob (NADE, MADE, an RBM) for inpainting")
    if binarize not in (None, "bernoulli", "threshold"):
        raise SpecError(f"binarize must be None, 'bernoulli' or 'threshold', got {binarize!r}")
    n = positive_int(n, "n (the number of samples)")
    batch_size = positive_int(batch_size, "batch_size")
    g = make_generator(seed, model.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [model.generate(model.noise(min(batch_size, n - s), g)).reshape(-1, model.D)
                     for s in range(0, n, batch_size)]  # a loop over batches of samples
    finally:
        model.train(was_training)
    x = torch.cat(parts) if parts else torch.zeros(0, model.D, device=model.device, dtype=model.dtype)
    if binarize == "bernoulli":
        x = torch.bernoulli(x.clamp(0, 1), generator=g)
    elif binarize == "threshold":
        x = (x > 0.5).to(x.dtype)
    return x


__all__ = ["sample_chain", "sample_emitting_chain", "sample_generator", "sample_network"]
