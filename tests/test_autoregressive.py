"""NADE, MADE, PixelCNN and PixelRNN: the autoregressive property (by back-propagation from every
output), normalisation over every state of tiny instances, NADE's hand-written backward against
autograd, exact and MCMC conditional sampling against enumeration, and maximum-likelihood training."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import EvidenceError, InferenceError, SpecError, UnknownVariableError
from graphdgm.infer import AutoregressiveMH

TINY = {
    "nade": lambda: gd.NADE(8, hidden=6, ordering="random", seed=3),
    "made": lambda: gd.MADE(8, hidden=[16, 16], ordering="random", seed=3),
    "made_masks": lambda: gd.MADE(8, hidden=[24], masks=3, seed=1),
    "made_direct": lambda: gd.MADE(8, hidden=[12], direct=True, seed=2),
    "pixelcnn": lambda: gd.PixelCNN((2, 4), channels=8, layers=2, seed=0),
    "pixelrnn": lambda: gd.PixelRNN((2, 4), hidden=6, layers=2, seed=0),
}


def all_states(D: int) -> torch.Tensor:
    codes = torch.arange(1 << D)
    return ((codes[:, None] >> torch.arange(D)) & 1).double()


def compiled(kind: str) -> torch.nn.Module:
    model = gd.compile(TINY[kind](), dtype=torch.float64)
    with torch.no_grad():  # break symmetry of zero-initialised parts so every dependency shows
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    return model


def jacobian(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """J[d, j] = Σ_b |∂ logit_d / ∂ x_j|, by back-propagating from each output d."""
    x = x.clone().requires_grad_(True)
    out = model.logits(x)
    rows = []
    for d in range(out.shape[1]):
        (g,) = torch.autograd.grad(out[:, d].sum(), x, retain_graph=True)
        rows.append(g.abs().sum(0))
    return torch.stack(rows)


@pytest.mark.parametrize("kind", list(TINY))
def test_output_depends_only_on_earlier_inputs(kind: str) -> None:
    model = compiled(kind)
    x = torch.rand(16, model.D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for k in range(getattr(model, "num_masks", 1)):
        if hasattr(model, "use_mask"):
            model.use_mask(k)
        J = jacobian(model, x)
        pos = torch.empty(model.D, dtype=torch.long)
        pos[model.ordering] = torch.arange(model.D)
        later_or_self = pos[None, :] >= pos[:, None]  # [d, j]: input j is at or after output d
        assert float(J[later_or_self].max()) == 0.0, f"{kind} mask {k}: an output sees itself or a later input"
        for d in range(model.D):
            if pos[d] > 0:  # every output past the first reacts to something before it
                assert float(J[d].sum()) > 0, f"{kind}: output {d} depends on nothing"
        if kind in ("nade", "pixelcnn"):  # full context: every earlier input matters
            assert bool((J[~later_or_self] > 0).all()), kind
        if kind in ("pixelrnn",):  # at least the left neighbour and the pixel above
            R, W = model.shape
            for r in range(R):
                for c in range(W):
                    d = r * W + c
                    if c > 0:
                        assert float(J[d, d - 1]) > 0
                    if r > 0:
                        assert float(J[d, d - W]) > 0


@pytest.mark.parametrize("kind", list(TINY))
def test_probabilities_sum_to_one_over_every_state(kind: str) -> None:
    model = compiled(kind)
    states = all_states(model.D)
    with torch.no_grad():
        total = float(model.log_prob(states).exp().sum())
    assert math.isclose(total, 1.0, rel_tol=1e-10)
    assert abs(float(gd.log_partition(model))) < 1e-10  # the ar_exact backend agrees


def test_nade_kernel_equals_autograd_of_the_plain_formula() -> None:
    model = compiled("nade")
    x = torch.bernoulli(torch.full((7, model.D), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    plain = -torch.nn.functional.binary_cross_entropy_with_logits(model.logits(x), x, reduction="none").sum(1)
    grads_plain = torch.autograd.grad(plain.sum(), list(model.parameters()))
    fast = model.log_prob(x)
    grads_fast = torch.autograd.grad(fast.sum(), list(model.parameters()))
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-12)
    for a, b in zip(grads_fast, grads_plain):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def empirical_tv(samples: torch.Tensor, log_p: torch.Tensor) -> float:
    D = samples.shape[1]
    codes = (samples.long() * (1 << torch.arange(D))).sum(1)
    freq = torch.bincount(codes, minlength=1 << D).double() / len(codes)
    return 0.5 * float((freq - log_p.exp()).abs().sum())


def exact_conditional(model, evidence: dict[int, int]) -> torch.Tensor:
    states = all_states(model.D)
    with torch.no_grad():
        lp = model.log_prob(states)
    ok = torch.ones(len(states), dtype=torch.bool)
    for i, v in evidence.items():
        ok &= states[:, i] == v
    lp = torch.where(ok, lp, torch.full_like(lp, -math.inf))
    return lp - torch.logsumexp(lp, 0)


@pytest.mark.parametrize("kind", ["nade", "made", "pixelcnn"])
def test_samples_match_the_exact_distribution(kind: str) -> None:
    model = compiled(kind)
    n = 20000  # with 256 states the TV of an exact sampler is about 0.04 here
    x = model.sample(n, seed=5)
    assert empirical_tv(x, exact_conditional(model, {})) < 0.06
    prefix = {int(model.ordering[0]): 1, int(model.ordering[1]): 0}  # a prefix: exact ancestral
    names = {model.variables[i]: v for i, v in prefix.items()}
    x = model.sample(n, evidence=names, seed=6)
    assert empirical_tv(x, exact_conditional(model, prefix)) < 0.06
    if kind == "pixelcnn":
        return  # the MH path is the same code for every model; checked on the cheaper two
    late = {int(model.ordering[-1]): 1, int(model.ordering[-3]): 0}  # not a prefix: independence MH
    x = model.sample(4000, evidence={model.variables[i]: v for i, v in late.items()}, seed=7, steps=60)
    assert bool((x[:, list(late)] == torch.tensor(list(late.values()), dtype=x.dtype)).all())
    assert empirical_tv(x, exact_conditional(model, late)) < 0.08
    acc = model.last_acceptance
    assert 0.05 < acc <= 1.0  # the chain moved


def test_mcmc_backend_marginals_match_enumeration() -> None:
    model = compiled("made")
    ev = {"x[7]": 1, "x[2]": 0}
    exact = gd.query(model, evidence=ev)
    approx = gd.query(model, evidence=ev, backend=AutoregressiveMH(chains=512, sweeps=60, seed=1))
    for v in model.variables:
        assert abs(exact[v].probs[1] - approx[v].probs[1]) < 0.04, v
    m = gd.map_query(model, ev)
    assert m.assignment["x[7]"] == 1 and m.assignment["x[2]"] == 0


def test_inpainting_keeps_known_pixels_and_fills_the_rest() -> None:
    model = compiled("pixelcnn")
    x = torch.zeros(5, 8, dtype=torch.float64)
    x[:, :4] = torch.tensor([1.0, 0.0, 1.0, 1.0])
    known = torch.zeros(2, 4, dtype=torch.bool)
    known[0] = True  # the top row: a prefix of the raster order
    out = model.inpaint(x, known)
    assert out.shape == (5, 8) and bool((out[:, :4] == x[:, :4]).all())
    known_left = torch.zeros(2, 4, dtype=torch.bool)
    known_left[:, 0] = True  # the left column: not a prefix, so the MH chain runs
    out = model.inpaint(x, known_left, steps=5)
    assert bool((out[:, [0, 4]] == x[:, [0, 4]]).all())


CHAIN_ENTROPY = -(0.2 * math.log(0.2) + 0.8 * math.log(0.8)) - 7 * (0.1 * math.log(0.1) + 0.9 * math.log(0.9))


def chain_data(n: int, seed: int) -> torch.Tensor:
    """x_0 ~ Bernoulli(0.2), then each bit copies the previous one and flips with probability 0.1."""
    g = torch.Generator().manual_seed(seed)
    first = (torch.rand(n, 1, generator=g) < 0.2).float()
    flips = (torch.rand(n, 7, generator=g) < 0.1).float()
    return torch.cat([first, flips], 1).cumsum(1) % 2


def test_maximum_likelihood_training_early_stopping_and_resume(tmp_path) -> None:
    data, valid = chain_data(3000, 0), chain_data(500, 1)
    model = gd.compile(gd.MADE(8, hidden=[32], seed=4))
    before = -float(model.log_prob(valid).mean())
    h = gd.fit(model, data, method="mle", epochs=30, batch_size=100, lr=1e-2, validation=valid, patience=3, progress=False)
    after = -float(model.log_prob(valid).mean())
    assert after < before - 1.0
    assert math.isclose(after, min(h["valid_nll"]), rel_tol=1e-5)  # the best epoch's parameters are restored
    assert after < CHAIN_ENTROPY + 0.15  # close to the entropy of the generating chain
    # checkpoints: two epochs, then resume to four, equals four in one go
    a = gd.compile(gd.NADE(8, hidden=5, seed=1))
    b = gd.compile(gd.NADE(8, hidden=5, seed=1))
    gd.fit(a, data, method="mle", epochs=4, progress=False, seed=3)
    ck = tmp_path / "nade.pt"
    gd.fit(b, data, method="mle", epochs=2, progress=False, seed=3, checkpoint=ck)
    h = gd.fit(b, data, method="mle", epochs=4, progress=False, seed=3, checkpoint=ck, resume=True)
    assert len(h) == 4
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_mask_ensemble_training_and_likelihood() -> None:
    data = chain_data(2000, 0)
    model = gd.compile(gd.MADE(8, hidden=[32], masks=4, seed=0))
    gd.fit(model, data, method="mle", epochs=8, lr=1e-2, progress=False)
    states = all_states(8).float()
    with torch.no_grad():
        assert math.isclose(float(model.log_prob(states, ensemble=True).exp().sum()), 1.0, rel_tol=1e-4)
        single = [float(-(model.use_mask(k) or model.log_prob(data, ensemble=False)).mean()) for k in range(4)]
        ens = float(-model.log_prob(data, ensemble=True).mean())
    assert ens <= np.mean(single) + 1e-6  # Jensen: the mixture is no worse than the average mask


def test_bad_input_is_named() -> None:
    model = gd.compile(gd.MADE((2, 3), hidden=[8]))
    with pytest.raises(SpecError, match=r"\(batch, 6\)"):
        model.log_prob(torch.zeros(2, 5))
    with pytest.raises(SpecError, match="binary"):
        model.log_prob(torch.full((2, 6), 0.5))
    with pytest.raises(UnknownVariableError):
        model.sample(2, evidence={"y[0,0]": 1})
    with pytest.raises(EvidenceError, match="0 or 1"):
        model.sample(2, evidence={"x[0,0]": 3})
    with pytest.raises(SpecError, match="permutation"):
        gd.NADE(4, ordering=[0, 1, 1, 2])
    with pytest.raises(SpecError, match="2-D image"):
        gd.PixelCNN((784,))
    with pytest.raises(SpecError, match="binary"):
        gd.fit(model, torch.full((4, 6), 0.3), method="mle", epochs=1, progress=False)
    with pytest.raises(SpecError, match="NaN"):
        gd.fit(model, torch.full((4, 6), float("nan")), method="mle", epochs=1, progress=False)
    with pytest.raises(SpecError, match="empty"):
        gd.fit(model, torch.zeros(0, 6), method="mle", epochs=1, progress=False)
    with pytest.raises(SpecError, match="validation"):
        gd.fit(model, torch.zeros(4, 6), method="mle", epochs=1, patience=2, progress=False)
    with pytest.raises(InferenceError, match="2\\^784"):
        gd.query(gd.compile(gd.NADE(784, hidden=4)), ["x[0]"])


def test_drawings() -> None:
    src = gd.draw(gd.MADE(3, hidden=[4])).source  # small MADE: the mask connectivity
    assert '"h1[0]" -> "out[2]"' in src and '"x[0]" -> "h1[' in src
    assert "Row LSTM" in gd.draw(gd.PixelRNN((28, 28))).source
    assert '"x[0]" -> "x[1]"' in gd.draw(gd.NADE(3)).source  # small: every x_<d -> x_d edge


@pytest.mark.parametrize("kind", ["nade", "made_masks", "pixelcnn", "pixelrnn"])
def test_save_and_load_keep_the_model(kind: str, tmp_path) -> None:
    model = compiled(kind)
    if hasattr(model, "use_mask"):
        model.use_mask(2)  # the active mask is not what load restores: log_prob must not depend on it
    path = gd.io.save(model, tmp_path / f"{kind}.pt")
    back = gd.io.load(path)
    states = all_states(model.D)
    with torch.no_grad():
        torch.testing.assert_close(back.log_prob(states.to(back.dtype)), model.log_prob(states))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", list(TINY))
def test_cuda_matches_cpu(kind: str) -> None:
    model = compiled(kind)
    states = all_states(model.D)
    gpu = gd.io.load(gd.io.save(model, Path(tempfile.mkdtemp()) / "m.pt"), device="cuda")
    with torch.no_grad():
        torch.testing.assert_close(gpu.log_prob(states.cuda()).cpu(), model.log_prob(states))
    x = gpu.sample(64, seed=0, evidence={gpu.variables[-1]: 1}, steps=5)
    assert x.is_cuda and bool((x[:, -1] == 1).all())
