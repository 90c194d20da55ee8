"""GANs: spec validation, the ready networks, losses against their formulas, the adversarial step
through the shared loop (history, checkpoints and resume, sample grids), save/load, drawings,
sample-quality measures, and a seeded check that training moves the generator to the data."""
from __future__ import annotations

import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import graphdgm as gd
from conftest import exit_worker, init_gloo
from graphdgm.learn.adversarial import Adversarial, discriminator_loss, generator_loss, gradient_penalty, r1_penalty


def small(**kw) -> gd.GAN:
    args = dict(latent=4, generator_hidden=[16], discriminator_hidden=[16])
    args.update(kw)
    return gd.GAN(kw.pop("data_shape", 2), **{k: v for k, v in args.items() if k != "data_shape"})


# ------------------------------------------------------------------ spec
@pytest.mark.parametrize("kwargs, match", [
    (dict(data="ternary"), "data must be"),
    (dict(latent=0), "latent must be"),
    (dict(pack=0), "pack must be"),
    (dict(generator="resnet"), "not a ready network"),
    (dict(discriminator=3), "discriminator must be"),
    (dict(generator_hidden=[]), "generator_hidden"),
    (dict(latent_distribution="cauchy"), "latent_distribution"),
])
def test_bad_gan_specs_are_clear_errors(kwargs, match) -> None:
    with pytest.raises(gd.SpecError, match=match):
        small(**kwargs)


def test_dcgan_needs_image_sides_that_divide_by_four() -> None:
    with pytest.raises(gd.SpecError, match="divide by 4"):
        gd.GAN((30, 30), generator="dcgan")
    assert gd.GAN((3, 32, 32), generator="dcgan", discriminator="dcgan").image_shape == (3, 32, 32)


def test_spec_graph_joins_the_two_networks_at_x() -> None:
    g = small().graph
    assert set(g.edges) == {("z", "G"), ("G", "x"), ("x", "D"), ("data", "D"), ("D", "score")}
    assert g.nodes["G"]["role"] == "generator" and g.nodes["D"]["role"] == "discriminator"


# ------------------------------------------------------------------ compiled networks
@pytest.mark.parametrize("net, shape, pack", [("mlp", (2,), 1), ("mlp", (28, 28), 2), ("dcgan", (28, 28), 1), ("dcgan", (3, 16, 16), 2)])
def test_ready_networks_give_the_declared_shapes(net, shape, pack) -> None:
    gan = gd.compile(gd.GAN(shape, latent=6, generator=net, discriminator=net, channels=4, pack=pack, data="binary"))
    x = gan.generate(gan.noise(4))
    assert x.shape == (4, *shape) and bool(((x > 0) & (x < 1)).all())
    assert gan.discriminate(x).shape == (4 // pack,)
    assert gan.sample(5, seed=1).shape == (5, gan.D)
    assert torch.equal(gan.sample(5, seed=1), gan.sample(5, seed=1))
    assert set(gan.sample(7, binarize="bernoulli").unique().tolist()) <= {0.0, 1.0}


def test_batch_norm_generator_is_declared_compiled_and_saved(tmp_path) -> None:
    spec = gd.GAN(2, latent=4, generator_hidden=[8, 8], batch_norm=True)
    assert "batch norm" in repr(spec)
    gan = gd.compile(spec)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in gan.generator.modules()) == 2
    gd.io.save_spec(spec, tmp_path / "bn.json")
    assert gd.io.load_spec(tmp_path / "bn.json").batch_norm is True


def test_compiled_gan_errors_name_the_shape_and_the_fix() -> None:
    gan = gd.compile(small(pack=2))
    with pytest.raises(gd.SpecError, match=r"\(batch, 4\)"):
        gan.generate(torch.zeros(3, 5))
    with pytest.raises(gd.SpecError, match="pack=2"):
        gan.discriminate(torch.zeros(3, 2))
    with pytest.raises(gd.CapabilityError, match="no likelihood"):
        gd.sample(gan, 3, evidence={"x[0]": 1.0})
    for ask in (lambda m: gd.query(m), lambda m: gd.map_query(m), lambda m: gd.log_partition(m)):
        with pytest.raises(gd.CapabilityError, match="no likelihood"):
            ask(gan)
        with pytest.raises(gd.CapabilityError, match="forward_backward"):
            ask(gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0)))
        with pytest.raises(gd.CapabilityError, match="stationary"):
            ask(gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]])))
    with pytest.raises(gd.CapabilityError, match="adversarial"):
        gd.fit(gan, torch.zeros(8, 2), method="pcd")
    with pytest.raises(gd.SpecError, match="unknown option"):
        gd.fit(gd.compile(gd.RBM(4, 2)), torch.zeros(8, 4), loss="hinge", progress=False)


def test_user_modules_plug_in_and_factories_are_called() -> None:
    gen = nn.Sequential(nn.Linear(3, 2))
    gan = gd.compile(gd.GAN(2, latent=3, generator=gen, discriminator=lambda: nn.Linear(2, 1)))
    assert gan.generator is not gen  # compile copies the user's module
    assert torch.allclose(gan.generate(torch.ones(1, 3)), gen(torch.ones(1, 3)))
    assert gan.discriminate(torch.zeros(4, 2)).shape == (4,)
    with pytest.raises(gd.SpecError, match="must return a torch.nn.Module"):
        gd.compile(gd.GAN(2, discriminator=lambda: "not a module"))


# ------------------------------------------------------------------ losses
def test_losses_equal_their_formulas() -> None:
    real, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([-0.5, 0.8, 0.1])
    sig = torch.sigmoid
    ns = -(torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
    assert torch.allclose(discriminator_loss("non_saturating", real, fake), ns)
    assert torch.allclose(generator_loss("non_saturating", fake), -torch.log(sig(fake)).mean())
    assert torch.allclose(discriminator_loss("hinge", real, fake), (1 - real).clamp_min(0).mean() + (1 + fake).clamp_min(0).mean())
    assert torch.allclose(discriminator_loss("wgan_gp", real, fake), fake.mean() - real.mean())
    with pytest.raises(gd.SpecError, match="unknown GAN loss"):
        discriminator_loss("lsgan", real, fake)


@pytest.mark.parametrize("pack", [1, 2])
def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared(pack) -> None:
    gan = gd.compile(gd.GAN(3, latent=2, pack=pack, discriminator_hidden=[1]), dtype=torch.float64)
    lin = nn.Linear(3 * pack, 1).double()
    gan.discriminator.net = nn.Sequential(lin)  # D(x) = w·x + b: ||∇D|| = ||w|| everywhere
    g = torch.Generator().manual_seed(0)
    gp = gradient_penalty(gan, torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64), g)
    assert torch.allclose(gp, (lin.weight.norm() - 1) ** 2)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm() -> None:
    gan = gd.compile(gd.GAN(3, latent=2, discriminator_hidden=[1]), dtype=torch.float64)
    lin = nn.Linear(3, 1).double()
    gan.discriminator.net = nn.Sequential(lin)
    assert torch.allclose(r1_penalty(gan, torch.randn(5, 3, dtype=torch.float64)), lin.weight.pow(2).sum())


def test_a_schedule_decays_both_learning_rates() -> None:
    gan = gd.compile(small())
    seen: list[float] = []
    gd.fit(gan, torch.randn(64, 2), method="adversarial", epochs=4, batch_size=16, lr=1e-3, schedule="linear", r1=1.0,
           progress=False, callbacks=[lambda e, r: seen.append(r["lr"])])
    assert seen == pytest.approx([7.5e-4, 5e-4, 2.5e-4, 0.0])  # the generator's, stepped by the loop
    with pytest.raises(gd.SpecError, match="penalty weights"):
        Adversarial(gan, r1=-1.0)


def test_adversarial_step_updates_discriminator_itself_and_leaves_generator_grads_for_the_loop() -> None:
    gan = gd.compile(small())
    d0 = {n: p.detach().clone() for n, p in gan.discriminator.named_parameters() if "weight" in n}  # a critic's last bias gets no gradient
    obj = Adversarial(gan, "wgan_gp", d_steps=2, lr_d=1e-2)
    figures = obj.backward(torch.randn(16, 2))
    assert set(figures) == {"loss_d", "loss_g", "gradient_penalty"}
    assert all(not torch.equal(d0[n], p) for n, p in gan.discriminator.named_parameters() if n in d0)
    assert all(p.grad is not None for p in gan.generator.parameters())
    assert [n for n, _ in obj.named_parameters()] == ["generator." + n for n, _ in gan.generator.named_parameters()]
    with pytest.raises(gd.SpecError, match="too small"):
        obj.backward(torch.randn(1, 2))


# ------------------------------------------------------------------ training
def test_bad_training_data_is_a_clear_error() -> None:
    gan = gd.compile(small())
    with pytest.raises(gd.SpecError, match=r"\(examples, \*\(2,\)\)"):
        gd.fit(gan, torch.zeros(8, 3), method="adversarial", progress=False)
    with pytest.raises(gd.SpecError, match="NaN"):
        gd.fit(gan, torch.full((8, 2), float("nan")), method="adversarial", progress=False)
    with pytest.raises(gd.SpecError, match="empty"):
        gd.fit(gan, torch.zeros(0, 2), method="adversarial", progress=False)
    chain = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
    with pytest.raises(gd.SpecError, match="no sequences"):
        gd.fit(chain, [], method="mle")
    with pytest.raises(gd.SpecError, match="binary"):
        gd.fit(gd.compile(small(data="binary")), torch.full((8, 2), 0.5), method="adversarial", progress=False)
    with pytest.raises(gd.SpecError, match="unknown GAN loss"):
        gd.fit(gan, torch.zeros(8, 2), method="adversarial", loss="lsgan", progress=False)


@pytest.mark.statistical
@pytest.mark.parametrize("loss, epochs", [("non_saturating", 12), ("wgan_gp", 40), ("hinge", 30)])
def test_training_moves_the_generator_onto_a_2d_gaussian(loss, epochs) -> None:
    # 2-D on purpose: in 1-D a WGAN-GP critic cannot turn its slope from -1 to +1 without crossing
    # the penalty's barrier at slope 0, and the generator runs away (a known 1-D pathology)
    mu = torch.tensor([1.5, -1.0])
    x = torch.randn(2048, 2, generator=torch.Generator().manual_seed(0)) * 0.5 + mu
    gan = gd.compile(gd.GAN(2, latent=4, generator_hidden=[32, 32], discriminator_hidden=[32, 32], seed=1))
    before = gan.sample(2000, seed=5)
    gd.fit(gan, x, method="adversarial", loss=loss, epochs=epochs, batch_size=64, lr=1e-3, progress=False, seed=2)
    after = gan.sample(2000, seed=5)
    assert float((before.mean(0) - mu).norm()) > 1.5  # it starts far away
    assert float((after.mean(0) - mu).norm()) < 0.6, after.mean(0)
    assert bool(((after.std(0) > 0.1) & (after.std(0) < 1.0)).all()), after.std(0)


def test_history_metrics_sample_grids_and_exact_resume(tmp_path) -> None:
    x = gd.data.ring_of_gaussians().sample(256, seed=0)

    def run(epochs: int, resume: bool = False, **kw) -> tuple[torch.nn.Module, gd.learn.History]:
        gan = gd.compile(small())
        h = gd.fit(gan, x, method="adversarial", epochs=epochs, batch_size=32, progress=False,
                   checkpoint=tmp_path / "gan.pt", resume=resume, **kw)
        return gan, h

    straight, h = run(4, metrics=lambda m: {"mean_norm": float(m.sample(64).norm(dim=1).mean())},
                      sample_every=2, sample_dir=tmp_path / "grids")
    assert len(h) == 4 and {"loss_d", "loss_g", "mean_norm"} <= set(h.last)
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["samples_epoch0002.png", "samples_epoch0004.png"]
    os.remove(tmp_path / "gan.pt")
    run(2)
    resumed, h2 = run(4, resume=True)
    assert len(h2) == 4
    for (n, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), n  # generator, discriminator, both optimizers and the noise all resume exactly


def test_image_sample_grid_is_written(tmp_path) -> None:
    gan = gd.compile(gd.GAN((8, 8), latent=4, generator="dcgan", discriminator="dcgan", channels=4, data="binary"))
    x = torch.bernoulli(torch.full((32, 8, 8), 0.3), generator=torch.Generator().manual_seed(0))
    gd.fit(gan, x, method="adversarial", epochs=1, batch_size=16, sample_every=1, sample_dir=tmp_path, progress=False)
    assert (tmp_path / "samples_epoch0001.png").read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------ io and drawings
def test_save_and_load_keep_spec_and_weights(tmp_path) -> None:
    spec = gd.GAN((8, 8), latent=5, generator="dcgan", discriminator="mlp", channels=4, data="binary", pack=2, seed=3)
    gd.io.save_spec(spec, tmp_path / "gan.json")
    back = gd.io.load_spec(tmp_path / "gan.json")
    assert repr(back) == repr(spec) and json.loads((tmp_path / "gan.json").read_text())["family"] == "gan"
    gan = gd.compile(spec)
    gd.fit(gan, torch.bernoulli(torch.full((16, 8, 8), 0.5)), method="adversarial", epochs=1, batch_size=8, progress=False)
    loaded = gd.io.load(gd.io.save(gan, tmp_path / "gan.pt"))
    assert torch.equal(loaded.sample(6, seed=0), gan.sample(6, seed=0))  # batch-norm statistics included
    with pytest.raises(gd.FormatError, match="user's torch module"):
        gd.io.save_spec(gd.GAN(2, generator=nn.Linear(64, 2)), tmp_path / "custom.json")


def test_draw_shows_both_networks_and_where_they_meet() -> None:
    src = gd.draw(gd.compile(gd.GAN((28, 28), generator="dcgan", discriminator="dcgan", data="binary", pack=2))).source
    for piece in ("cluster_generator", "cluster_discriminator", "z -> G", "G -> x", "x -> D", "data -> D", "D -> score",
                  "dcgan, 64 channels", "per 2 samples"):
        assert piece in src, piece


# ------------------------------------------------------------------ sample quality
def test_mode_coverage_counts_modes_and_high_quality_samples() -> None:
    ring = gd.data.ring_of_gaussians()
    assert torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    perfect = gd.infer.mode_coverage(ring.sample(2000, seed=0), ring.centers, ring.std)
    assert perfect.modes_covered == 8 and perfect.high_quality > 0.98  # 3 std in 2-D holds 98.9%
    collapsed = ring.centers[torch.tensor([0, 1, 2])].repeat(300, 1) + 0.001
    m = gd.infer.mode_coverage(torch.cat([collapsed, torch.zeros(100, 2)]), ring.centers, ring.std)
    assert m.modes_covered == 3 and m.high_quality == pytest.approx(900 / 1000)
    assert m.counts.tolist() == [300, 300, 300, 0, 0, 0, 0, 0]
    grid = gd.data.grid_of_gaussians()
    assert gd.infer.mode_coverage(grid.sample(2500, seed=1), grid.centers, grid.std).modes_covered == 25


def test_kernel_mmd_and_knn_precision_recall() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 5, generator=g), torch.randn(300, 5, generator=g)
    same, shifted = gd.infer.kernel_mmd(a, b), gd.infer.kernel_mmd(a, b + 0.5)
    assert abs(same) < 0.01 < shifted
    # by hand: Gaussian kernel with σ = 1 on two points each
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [2.0]])
    k = lambda d: torch.exp(torch.tensor(-d * d / 2.0))  # noqa: E731
    expected = 2 * k(1.0) / 2 + 2 * k(2.0) / 2 - 2 * (k(0.0) + k(2.0) + k(1.0) + k(1.0)) / 4
    assert gd.infer.kernel_mmd(x, y, bandwidth=1.0) == pytest.approx(float(expected))
    p, r = gd.infer.knn_precision_recall(a, a[:150], k=3)
    assert p == 1.0 and 0.3 < r < 1.0  # samples on the data are all "real"; half the data is fewer modes covered
    p, r = gd.infer.knn_precision_recall(a, a + 100.0, k=3)
    assert p == 0.0 and r == 0.0
    with pytest.raises(gd.SpecError, match="features"):
        gd.infer.kernel_mmd(a, torch.zeros(4, 3))


# ------------------------------------------------------------------ distributed


def _gan_worker(rank: int, world: int, out_dir: str) -> None:
    init_gloo(rank, world, out_dir)
    try:
        torch.set_num_threads(1)
        gan = gd.compile(small())
        x = gd.data.ring_of_gaussians().sample(64, seed=0)
        gd.fit(gan, x, method="adversarial", loss="wgan_gp", epochs=1, batch_size=8, d_steps=2, progress=False,
               distributed=True)
        torch.save({k: v.detach() for k, v in gan.state_dict().items()}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_two_ranks_keep_generator_and_discriminator_in_step(tmp_path) -> None:
    mp.spawn(_gan_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    s0, s1 = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    start = gd.compile(small()).state_dict()
    for k in s0:
        assert torch.equal(s0[k], s1[k]), f"{k} differs between ranks"  # each rank drew its own noise and data
        if k.endswith("weight"):
            assert not torch.equal(s0[k], start[k]), f"{k} did not train"


# ------------------------------------------------------------------ device
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_sampling_and_chain_models(tmp_path) -> None:
    gan = gd.compile(gd.GAN((8, 8), latent=4, generator="dcgan", discriminator="dcgan", channels=4, data="binary"), device="cuda")
    x = torch.bernoulli(torch.full((32, 8, 8), 0.3)).cuda()
    h = gd.fit(gan, x, method="adversarial", loss="wgan_gp", epochs=1, batch_size=8, d_steps=2, r1=1.0, progress=False)
    assert gan.sample(4).device.type == "cuda" and set(h.last) >= {"loss_d", "loss_g"}
    chain = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
    gpu = chain.to("cuda")
    assert torch.allclose(gpu.stationary().cpu(), torch.tensor([5 / 6, 1 / 6], dtype=torch.float64))
    hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=["x", "y", "z"], seed=0))
    obs = [["x", "y", "z", "x"], ["z", "z"]]
    cpu_post, cpu_ll = hmm.forward_backward(obs)
    gpu_post, gpu_ll = hmm.to("cuda").forward_backward(obs)
    torch.testing.assert_close(gpu_post.cpu(), cpu_post)
    torch.testing.assert_close(gpu_ll.cpu(), cpu_ll)


def test_sample_counts_and_shapes_must_be_whole_positive_numbers() -> None:
    model = gd.compile(gd.GAN(2, latent=2, generator_hidden=[4], discriminator_hidden=[4]))
    for n in (2.7, -1, 0, True):
        with pytest.raises(gd.SpecError, match=r"^n \(the number of samples\)"):
            model.sample(n)
    with pytest.raises(gd.SpecError, match="batch_size"):
        model.sample(4, batch_size=-5)
    with pytest.raises(gd.SpecError, match=r"data_shape \(2.7, 3\)"):
        gd.GAN((2.7, 3))  # was silently (2, 3)
    with pytest.raises(gd.SpecError, match="data_shape"):
        gd.GAN(2.7)
    assert model.sample(3).shape == (3, 2)


def _gan_local_worker(rank: int, world: int, out_dir: str) -> None:
    init_gloo(rank, world, out_dir)
    try:
        torch.set_num_threads(1)
        gan = gd.compile(small())
        x = gd.data.ring_of_gaussians().sample(64, seed=rank)  # each rank its own data
        gd.fit(gan, x, method="adversarial", epochs=1, batch_size=8, progress=False, distributed=False)
        torch.save({k: v.detach() for k, v in gan.state_dict().items()}, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_distributed_false_trains_each_rank_alone_inside_a_process_group(tmp_path) -> None:
    """distributed=False reaches the discriminator too: its gradients were all-reduced regardless
    (and a rank with fewer steps would have hung)."""
    mp.spawn(_gan_local_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    s0, s1 = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    disc = [k for k in s0 if k.startswith("discriminator") and k.endswith("weight")]
    assert disc and all(not torch.equal(s0[k], s1[k]) for k in disc)
