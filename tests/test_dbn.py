"""DBNs, layer-wise training, sampling and inpainting, save/load, drawings, and MNIST data."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.infer.rbm_ais import dbn_log_likelihood_bound
from graphdgm.learn import fit_layerwise


def bars_and_stripes(n: int = 3) -> torch.Tensor:
    """All 2^n bar and 2^n stripe images of n x n (a classic toy set with 2^(n+1) - 2 patterns)."""
    rows = torch.tensor(list(itertools.product([0, 1], repeat=n)), dtype=torch.float64)
    bars = rows[:, :, None].expand(-1, n, n).reshape(-1, n * n)
    stripes = rows[:, None, :].expand(-1, n, n).reshape(-1, n * n)
    return torch.unique(torch.cat([bars, stripes]), dim=0)


def test_dbn_bound_is_below_the_exact_likelihood() -> None:
    """For a 2-layer DBN the variational bound never exceeds the exact log p(v) (computed by summing
    over both hidden layers), and is close to it when q is good."""
    x = bars_and_stripes().repeat(20, 1)
    dbn = gd.compile(gd.DBN([9, 6, 5]))
    fit_layerwise(dbn, x, epochs=30, batch_size=16, lr=0.1, progress=False)
    bound = dbn_log_likelihood_bound(dbn, x, runs=200, betas=2000, samples=20).bound
    # exact: p(v) = Σ_{h1} p(v | h1) p_top(h1), p_top(h1) = exp(-F_top(h1)) / Z_top
    h1 = torch.tensor(list(itertools.product([0, 1], repeat=6)), dtype=torch.float64)
    r0, top = dbn.rbms
    with torch.no_grad():
        log_top = -top.free_energy(h1) - gd.log_partition(top)  # (64,)
        a = r0.visible_params(h1)  # (64, 9) logits
        log_pv_h = -torch.nn.functional.binary_cross_entropy_with_logits(
            a[None].expand(len(x), -1, -1), x[:, None].expand(-1, len(h1), -1), reduction="none").sum(2)  # (N, 64)
        exact = float(torch.logsumexp(log_pv_h + log_top, 1).mean())
    assert bound <= exact + 0.05  # AIS noise only
    assert bound > exact - 3.0


def test_layerwise_training_feeds_hidden_states_up() -> None:
    x = bars_and_stripes().repeat(10, 1)
    dbn = gd.compile(gd.DBN([9, 8, 4]))
    hs = fit_layerwise(dbn, x, epochs=[5, 3], batch_size=10, progress=False)
    assert [len(h) for h in hs] == [5, 3]
    assert not torch.allclose(dbn.rbms[1].weight, gd.compile(gd.DBN([9, 8, 4])).rbms[1].weight)
    with pytest.raises(ValueError, match="one per RBM"):
        fit_layerwise(dbn, x, epochs=[1, 2, 3], progress=False)


def test_dbn_sampling_and_inpainting_keep_evidence() -> None:
    dbn = gd.compile(gd.DBN([9, 6, 5]))
    s = dbn.sample(7, steps=5, evidence={"v[0]": 1, "v[4]": 0})
    assert s.shape == (7, 9) and bool((s[:, 0] == 1).all()) and bool((s[:, 4] == 0).all())
    assert dbn.transform(s, layer=2).shape == (7, 5)


def test_rbm_inpainting_reaches_the_exact_conditional() -> None:
    rng = np.random.default_rng(0)
    rbm = gd.compile(gd.RBM(5, 3, weights=rng.normal(0, 1.0, (5, 3)), visible_bias=rng.normal(0, 0.5, 5)))
    known = torch.tensor([True, True, False, False, False])
    v = torch.tensor([[1.0, 0.0, 0, 0, 0]]).repeat(20000, 1)
    filled = rbm.inpaint(v, known, steps=30)
    assert bool((filled[:, :2] == v[:, :2]).all())
    exact = gd.query(rbm, ["v[2]", "v[3]", "v[4]"], evidence={"v[0]": 1, "v[1]": 0})
    for i in (2, 3, 4):
        assert abs(float(filled[:, i].double().mean()) - exact[f"v[{i}]"][1]) < 0.02
    with pytest.raises(gd.EvidenceError, match="hidden"):
        rbm.sample(3, evidence={"h[0]": 1})
    with pytest.raises(gd.EvidenceError, match="one per sample"):
        rbm.sample(3, evidence={"v[0]": [1, 0]})


def test_save_load_round_trips_trained_rbm_and_dbn(tmp_path) -> None:
    rbm = gd.compile(gd.RBM((2, 3), 4, visible_type="categorical", categories=3))
    x = torch.randint(0, 3, (40, 6))
    gd.fit(rbm, x, epochs=2, batch_size=10, progress=False)
    back = gd.io.load(gd.io.save(rbm, tmp_path / "rbm.pt"))
    assert torch.equal(back.weight, rbm.weight) and float(gd.log_partition(back)) == float(gd.log_partition(rbm))
    dbn = gd.compile(gd.DBN([6, 4, 3]))
    back = gd.io.load(gd.io.save(dbn, tmp_path / "dbn.pt"))
    assert torch.equal(back.rbms[1].weight, dbn.rbms[1].weight)
    assert gd.io.load_spec  # spec JSON too:
    gd.io.save_spec(gd.RBM(4, 2, visible_type="gaussian", sigma=2.0), tmp_path / "g.json")
    assert float(gd.io.load_spec(tmp_path / "g.json").sigma[0]) == 2.0


def test_draw_shows_layers_as_plates_with_sizes() -> None:
    src = gd.draw(gd.RBM((28, 28), 500)).source
    assert "28 x 28 (784 units)" in src and "500 units" in src and "W: 784 x 500" in src
    src = gd.draw(gd.DBN([784, 500, 2000])).source
    assert "W1: 784 x 500" in src and "W2: 500 x 2000" in src and src.count("dir=back") == 1


def test_gaussian_rbm_trains_and_samples() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[2.0, -2.0], [-2.0, 2.0]], dtype=torch.float64)
    x = centres[torch.randint(0, 2, (400,), generator=g)] + 0.3 * torch.randn(400, 2, generator=g, dtype=torch.float64)
    rbm = gd.compile(gd.RBM(2, 4, visible_type="gaussian", sigma=0.5))
    before = gd.log_likelihood(rbm, x)
    gd.fit(rbm, x, method="pcd", epochs=30, batch_size=20, lr=0.01, progress=False)
    assert gd.log_likelihood(rbm, x) > before + 0.5
    s = rbm.sample(500, steps=100)
    assert s.shape == (500, 2) and bool(torch.isfinite(s).all())


def test_mnist_loader_and_a_short_training_run(mnist_path) -> None:
    from graphdgm.data import load_binarized_mnist

    x = load_binarized_mnist("train", mnist_path, limit=2000)
    assert x.shape == (2000, 784) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert 0.10 < float(x.mean()) < 0.16
    rbm = gd.compile(gd.RBM(784, 20), dtype=torch.float32)
    hist = gd.fit(rbm, x, method="pcd", epochs=3, lr=0.05, progress=False)
    assert hist["reconstruction_error"][-1] < hist["reconstruction_error"][0]
    with pytest.raises(FileNotFoundError, match="GRAPHDGM_DATA"):
        load_binarized_mnist("train", mnist_path.parent / "nowhere")


def test_sample_counts_and_sweeps_must_be_whole_numbers() -> None:
    model = gd.compile(gd.DBN([4, 3, 2]))
    for n in (2.7, -1, 0):
        with pytest.raises(gd.SpecError, match=r"^n \(the number of samples\)"):
            model.sample(n, steps=2)
    with pytest.raises(gd.SpecError, match=r"^steps \(Gibbs sweeps\)"):
        model.sample(2, steps=-5)
    with pytest.raises(gd.SpecError, match=r"^steps \(up-down sweeps\)"):
        model.inpaint(torch.zeros(2, 4), torch.zeros(4, dtype=torch.bool), steps=-1)
    with pytest.raises(gd.SpecError, match="data is empty"):
        gd.log_likelihood(model, torch.zeros(0, 4), backend="ais")
