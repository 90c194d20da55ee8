"""NADE, MADE, PixelCNN and PixelRNN: the autoregressive property (by back-propagation from every
output), normalisation over every state of tiny instances, NADE's hand-written backward against
autograd, exact and MCMC conditional sampling against enumeration, and maximum-likelihood training."""
from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import EvidenceError, InferenceError, SpecError, UnknownVariableError
from graphdgm.infer import AutoregressiveMH
from graphdgm.infer.autoregressive_ancestral import ancestral

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
    m = gd.map_query(model, evidence=ev)
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


# ------------------------------------------------------------------ a MADE mask ensemble samples its own density
def ensemble_made() -> torch.nn.Module:
    """5 binary pixels, 3 masks whose orderings all start with x[0] (seed 2), weights scaled up so
    the masks' distributions differ a lot (the active mask alone is at TV ~0.5 from the mixture)."""
    model = gd.compile(gd.MADE(5, hidden=[16], masks=3, seed=2), dtype=torch.float64)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.5 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    return model


def test_made_ensemble_sampler_is_far_from_the_active_mask_alone() -> None:
    model = ensemble_made()
    assert [int(model.all_orderings[k, 0]) for k in range(3)] == [0, 0, 0]  # x[0] is a prefix of every mask
    with torch.no_grad():
        mixture = model.log_prob(all_states(5))
        active = model.log_prob(all_states(5), ensemble=False)
    assert 0.5 * float((mixture.exp() - active.exp()).abs().sum()) > 0.2  # so the tests below can fail


@pytest.mark.statistical
def test_made_ensemble_samples_match_the_mixture_per_state() -> None:
    model = ensemble_made()  # 32 states, 20000 samples: an exact sampler's TV is about 0.015; tolerance 0.035
    x = model.sample(20000, seed=11)
    assert empirical_tv(x, exact_conditional(model, {})) < 0.035


@pytest.mark.statistical
def test_made_ensemble_evidence_on_every_masks_prefix_weights_masks_by_the_evidence() -> None:
    model = ensemble_made()  # x[0] starts every ordering: masks drawn by p_k(x[0] = 1), then one exact pass
    x = model.sample(20000, evidence={"x[0]": 1}, seed=12)
    assert bool((x[:, 0] == 1).all())
    assert model.__dict__.get("last_acceptance") is None  # exact: no chain ran
    assert empirical_tv(x, exact_conditional(model, {0: 1})) < 0.035


@pytest.mark.statistical
def test_made_ensemble_other_evidence_runs_a_chain_on_the_mixture() -> None:
    model = ensemble_made()  # x[4], x[2] are not a prefix of any mask: independence MH on the mixture
    late = {4: 1, 2: 0}  # 8 free states, 8000 samples: an exact sampler's TV is about 0.013; tolerance 0.035
    x = model.sample(8000, evidence={"x[4]": 1, "x[2]": 0}, seed=13, steps=25)
    assert empirical_tv(x, exact_conditional(model, late)) < 0.035
    assert 0.05 < model.last_acceptance <= 1.0
    known = torch.zeros(5, dtype=torch.bool)
    known[[2, 4]] = True
    base = torch.zeros(8000, 5, dtype=torch.float64)
    base[:, 4] = 1.0
    filled = model.inpaint(base, known, seed=14, steps=25)  # inpainting is the same conditional
    assert bool((filled[:, [2, 4]] == base[:, [2, 4]]).all())
    assert empirical_tv(filled, exact_conditional(model, late)) < 0.035


@pytest.mark.statistical
def test_made_ensemble_ar_mh_backend_matches_enumeration() -> None:
    model = ensemble_made()
    ev = {"x[4]": 1, "x[2]": 0}
    exact = gd.query(model, evidence=ev)
    backend = AutoregressiveMH(chains=1024, sweeps=60, seed=2)
    approx = gd.query(model, evidence=ev, backend=backend)
    for v in model.variables:  # 1024 chains x 45 kept draws: standard error < 0.01; tolerance 0.03
        assert abs(exact[v].probs[1] - approx[v].probs[1]) < 0.03, v
    assert backend.last_result.acceptance > 0.05


def test_single_mask_made_samples_exactly_as_one_ancestral_pass() -> None:
    model = compiled("made")  # one mask: no mask is drawn, the random stream is the plain sampler's
    plain = ancestral(model, torch.zeros(64, 8, dtype=torch.float64), torch.zeros(8, dtype=torch.bool),
                      torch.Generator().manual_seed(5))
    assert torch.equal(model.sample(64, seed=5), plain)


def strong_late_evidence_made() -> torch.nn.Module:
    """9 pixels in natural order; log p(x[8] = 1 | x_<8) ≈ 3·(x[0..7] read as a binary number) - 800,
    so the evidence weights of the 256 states are e^3 apart: a chain keeps the best of its first
    proposals and then accepts almost nothing."""
    model = gd.compile(gd.MADE(9, hidden=[16], seed=0), dtype=torch.float64)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        first, last = model.net[0], model.net[1]
        sees_all = first.mask.sum(1) == 8  # the hidden units that see all of x[0..7] (x[8] may read them)
        first.weight[sees_all, :8] = 3.0 * 2.0 ** torch.arange(8, dtype=torch.float64)
        last.weight[8, sees_all] = 1.0 / int(sees_all.sum())
        last.bias[8] = -800.0
    return model


def test_independence_mh_warns_when_acceptance_is_very_low() -> None:
    model = strong_late_evidence_made()
    with pytest.warns(gd.errors.ConvergenceWarning, match=r"accepted .* last half .*steps="):
        x = model.sample(32, evidence={"x[8]": 1}, seed=0, steps=400)
    assert bool((x[:, 8] == 1).all())
    assert 0 < model.last_acceptance < 0.05  # the whole-run rate, kept for the user
    backend = AutoregressiveMH(chains=32, sweeps=400, seed=0)
    with pytest.warns(gd.errors.ConvergenceWarning) as caught:
        gd.query(model, ["x[0]"], evidence={"x[8]": 1}, backend=backend)
    messages = [str(w.message) for w in caught]
    assert any("ar_mh" in m for m in messages), messages  # the acceptance check
    assert any("have not mixed" in m for m in messages), messages  # and the chains' R-hat check
    assert backend.last_result.acceptance < 0.05
    healthy = compiled("made")  # a chain that mixes does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error", gd.errors.ConvergenceWarning)
        healthy.sample(256, evidence={"x[7]": 1, "x[2]": 0}, seed=1, steps=60)


def test_sampling_sizes_and_steps_must_be_whole_positive_numbers() -> None:
    model = gd.compile(gd.MADE(4, hidden=[8]))
    for n in (2.7, -1, 0, True, "3"):
        with pytest.raises(SpecError, match=r"^n \(the number of samples\)"):
            model.sample(n)
    for steps in (-5, 0, 2.5):
        with pytest.raises(SpecError, match="steps"):
            model.sample(3, evidence={"x[3]": 1}, steps=steps)
    for masks in (2.7, 0, -1, True):
        with pytest.raises(SpecError, match="masks"):
            gd.MADE(4, hidden=[8], masks=masks)
    for hidden in ([2.7], [0], -3, 4.0):
        with pytest.raises(SpecError, match="hidden"):
            gd.MADE(4, hidden=hidden)
    with pytest.raises(SpecError, match="hidden"):
        gd.NADE(4, hidden=2.5)
    with pytest.raises(SpecError, match="empty"):
        gd.log_likelihood(model, torch.zeros(0, 4))
    assert model.log_prob(torch.zeros(0, 4)).shape == (0,)


@pytest.mark.parametrize("spec", [gd.PixelCNN((6, 7), channels=8, layers=2), gd.PixelRNN((6, 7), hidden=8, layers=2)],
                         ids=["pixelcnn", "pixelrnn"])
def test_cached_row_sampling_gives_the_full_pass_logits(spec) -> None:
    """Sampling caches rows (PixelCNN: the vertical stack; PixelRNN: the LSTM states); at every
    position the cached logit equals the full forward pass on the same partly sampled image."""
    model = gd.compile(spec, dtype="float64")
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(6, 42, dtype=torch.float64)
    cache: dict = {}
    with torch.no_grad():
        for var in range(42):  # fill in raster order, as the sampler does, checking each step
            logit = model.next_logit(x, var, var, cache)
            assert torch.allclose(logit, model.logits(x)[:, var], atol=1e-12, rtol=0)
            x[:, var] = (torch.rand(6, generator=g, dtype=torch.float64) < torch.sigmoid(logit)).double()
    # and the sampler uses it: the same seed gives the same draws as filling by the full pass
    g, full = torch.Generator().manual_seed(5), torch.zeros(8, 42, dtype=torch.float64)
    with torch.no_grad():
        for var in range(42):
            p = torch.sigmoid(model.logits(full)[:, var])
            full[:, var] = (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).double()
    assert torch.equal(model.sample(8, seed=5), full)


@pytest.mark.parametrize("spec", [gd.PixelCNN((6, 7), channels=8, layers=2), gd.PixelRNN((6, 7), hidden=8, layers=2)],
                         ids=["pixelcnn", "pixelrnn"])
def test_cached_inpainting_from_known_top_rows_matches_the_full_pass(spec) -> None:
    """Prefix evidence starts the sampler mid-image: the caches catch up through the known rows."""
    model = gd.compile(spec, dtype="float64")
    g = torch.Generator().manual_seed(4)
    base = (torch.rand(5, 42, generator=g) < 0.5).double()
    known = torch.arange(42) < 17  # two rows and three pixels: a prefix of the raster order
    filled = model.inpaint(base, known, seed=9)
    g, full = torch.Generator().manual_seed(9), base.clone()
    with torch.no_grad():
        for var in range(17, 42):
            p = torch.sigmoid(model.logits(full)[:, var])
            full[:, var] = (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).double()
    assert torch.equal(filled, full) and torch.equal(filled[:, :17], base[:, :17])
