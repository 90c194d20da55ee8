"""CD / PCD with latent and input blocks on compiled graphs, and greedy DBM pre-training, checked
against autodiff of the exactly enumerated log-likelihood on tiny models."""
from __future__ import annotations

import pytest
import torch

import graphdgm as gd
from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.enumeration import exact_log_likelihood
from graphdgm.learn.contrastive_divergence import ContrastiveDivergence
from graphdgm.learn.dbm_pretraining import layer_chain, pretrain_dbm
from graphdgm.learn.graph_contrastive import GraphChains, graph_training_data

TOL = 0.02  # max abs difference between the PCD / CD gradient and the exact one


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _perturb(model: torch.nn.Module, scale: float = 0.5) -> torch.nn.Module:
    """Move every parameter away from zero (seeded) so the gradients are not trivially small."""
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.add_(scale * torch.randn(p.shape, generator=_gen(100 + i), dtype=p.dtype))
    return model


def _gaussian_rbm() -> gd.Graph:
    g = gd.Graph("gaussian rbm")
    g.block("v", 3, gd.Gaussian(1.0))
    g.block("h", 3, gd.Bernoulli(), role="latent")
    g.connect("v", "h", gd.Dense(init_std=0.3))
    return g


def _binary(rows: int, cols: int, seed: int, p: float = 0.4) -> torch.Tensor:
    return torch.bernoulli(torch.full((rows, cols), p, dtype=torch.float64), generator=_gen(seed))


def _exact_grads(model: torch.nn.Module, data) -> list[torch.Tensor]:
    model.zero_grad()
    (-exact_log_likelihood(model, data).mean()).backward()
    return [p.grad.clone() for p in model.parameters()]


def _cd_grads(model: torch.nn.Module, batch: torch.Tensor, **options) -> list[torch.Tensor]:
    model.zero_grad()
    ContrastiveDivergence(model, seed=1, **options).loss(batch).backward()
    return [p.grad.clone() for p in model.parameters()]


def _max_gap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


@pytest.mark.statistical
@pytest.mark.parametrize("name, build, data, positive, chains", [
    ("srbm", lambda: gd.SRBM(4, 3), lambda: _binary(16, 4, 0), "mean_field", 24_000),
    ("dbm", lambda: gd.DBM([4, 3, 2]), lambda: _binary(16, 4, 1), "exact", 24_000),
    # real-valued visible states: the visible-bias gradient is noisier, so more chains
    ("gaussian_rbm", _gaussian_rbm, lambda: torch.randn(16, 3, generator=_gen(2), dtype=torch.float64), "mean_field", 64_000),
])
def test_pcd_gradient_matches_autodiff_of_exact_log_likelihood(name, build, data, positive, chains):
    # persistent chains after 60 sweeps: the largest Monte Carlo error over all entries is ~0.005-0.01
    model = _perturb(gd.compile(build()))
    x = data()
    exact = _exact_grads(model, x)
    est = _cd_grads(model, graph_training_data(model, x), k=60, persistent=True, chains=chains, positive=positive)
    assert _max_gap(exact, est) < TOL, name


@pytest.mark.statistical
def test_cd_gradient_of_conditional_rbm_matches_exact_with_inputs_clamped():
    model = _perturb(gd.compile(gd.CRBM(3, 4, 2)))
    data = {"u": _binary(16, 3, 3, 0.5), "v": _binary(16, 4, 4)}
    exact = _exact_grads(model, data)
    batch = graph_training_data(model, data).repeat(1500, 1)  # 1,500 chains per example, 60 sweeps each
    est = _cd_grads(model, batch, k=60, persistent=False)
    assert _max_gap(exact, est) < TOL


def test_dbm_sums_out_one_hidden_layer_and_mean_fields_the_other():
    phases = GraphChains(gd.compile(gd.DBM([4, 3, 2])))
    assert (phases.summed, phases.approximated) == (["h1"], ["h2"])
    rbm_like = GraphChains(gd.compile(gd.SRBM(4, 3)))
    assert (rbm_like.summed, rbm_like.approximated) == (["h"], [])


def test_mean_field_positive_phase_gives_the_mean_field_gradient():
    # at the fixed point, -dF_R(v, mu2)/dW = E_q[v h1^T], E_q[h1 h2^T] with q's means mu1, mu2
    model = _perturb(gd.compile(gd.DBM([4, 3, 2])))
    x = _binary(8, 4, 5)
    phases = GraphChains(model, mean_field_steps=200)
    mu = phases.mean_field({"v": x})
    model.zero_grad()
    phases.data_free_energy(x)[0].mean().backward()
    w1, w2 = model.edge("W_v_h1").weight.grad, model.edge("W_h1_h2").weight.grad
    assert torch.allclose(-w1, x.t() @ mu["h1"] / len(x), atol=1e-8)
    assert torch.allclose(-w2, mu["h1"].t() @ mu["h2"] / len(x), atol=1e-8)


@pytest.mark.statistical
@pytest.mark.parametrize("positive", ["mean_field", "gibbs"])
def test_dbm_training_increases_exact_log_likelihood(positive):
    g = _gen(6)
    proto = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=torch.float64)
    x = proto[torch.randint(2, (200,), generator=g)]
    x = torch.where(torch.rand(x.shape, generator=g, dtype=torch.float64) < 0.05, 1 - x, x)
    model = gd.compile(gd.DBM([4, 3, 2], init_std=0.1))
    with torch.no_grad():
        before = float(exact_log_likelihood(model, x).mean())
    history = gd.fit(model, x, method="pcd", epochs=12, batch_size=20, lr=0.1, momentum=0.5, chains=200,
                     positive=positive, progress=False)
    with torch.no_grad():
        after = float(exact_log_likelihood(model, x).mean())
    assert after > before + 0.4  # about -2.77 (uniform) to about -2.0; the optimum is about -1.49
    assert history.last["log_likelihood"] == pytest.approx(after)


def test_negative_chains_keep_input_blocks_clamped_to_the_batch():
    model = _perturb(gd.compile(gd.CRBM(3, 4, 2)))
    data = {"u": _binary(32, 3, 7, 0.5), "v": _binary(32, 4, 8)}
    cd = ContrastiveDivergence(model, k=5, persistent=False, seed=0)
    batch = graph_training_data(model, data)
    neg = model.split(cd.negatives(batch))
    assert torch.equal(neg["u"], data["u"])
    assert not torch.equal(neg["v"], data["v"])  # the visible block is sampled


def test_pcd_on_a_conditional_model_is_refused_with_the_cd_fix():
    model = gd.compile(gd.CRBM(3, 4, 2))
    data = {"u": _binary(8, 3, 9), "v": _binary(8, 4, 10)}
    with pytest.raises(gd.CapabilityError, match="method=.cd."):
        gd.fit(model, data, method="pcd", epochs=1, progress=False)
    history = gd.fit(model, data, method="cd", epochs=2, batch_size=4, progress=False)
    assert len(history) == 2


def test_graph_training_data_names_latent_and_missing_blocks():
    crbm = gd.compile(gd.CRBM(2, 3, 2))
    with pytest.raises(SpecError, match="missing \\['u'\\]"):
        graph_training_data(crbm, {"v": torch.zeros(4, 3)})
    with pytest.raises(SpecError, match="latent"):
        graph_training_data(crbm, {"u": torch.zeros(4, 2), "v": torch.zeros(4, 3), "h": torch.zeros(4, 2)})
    with pytest.raises(SpecError, match="dict"):
        graph_training_data(crbm, torch.zeros(4, 3))


@pytest.mark.statistical
def test_pretrain_dbm_fills_the_edges_and_beats_random_init():
    g = _gen(11)
    proto = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0]], dtype=torch.float64)
    x = proto[torch.randint(3, (300,), generator=g)]
    x = torch.where(torch.rand(x.shape, generator=g, dtype=torch.float64) < 0.05, 1 - x, x)
    model = gd.compile(gd.DBM([6, 4, 3]))
    start = [op.weight.detach().clone() for op in model.dense]
    baseline = gd.compile(gd.DBM([6, 4, 3])).init_bias_from_data("v", x)  # random weights, visible bias from data
    histories = pretrain_dbm(model, x, epochs=20, batch_size=20, lr=0.1, momentum=0.5, monitor_size=0, progress=False)
    assert [len(h) for h in histories] == [20, 20]
    assert all(float((op.weight - w0).abs().max()) > 0.1 for op, w0 in zip(model.dense, start))
    with torch.no_grad():
        pretrained, random_init = (float(exact_log_likelihood(m, x).mean()) for m in (model, baseline))
    assert pretrained > random_init + 0.8  # about -2.7 against -3.94


def test_layer_chain_finds_edges_structurally_and_rejects_non_layered_graphs():
    g = gd.Graph("reversed")
    g.block("top", 2, gd.Bernoulli(), role="latent")
    g.block("v", 3, gd.Bernoulli())
    g.block("mid", 2, gd.Bernoulli(), role="latent")
    g.connect("mid", "v", gd.Dense())
    g.connect("top", "mid", gd.Dense())
    blocks, edges = layer_chain(gd.compile(g))
    assert blocks == ["v", "mid", "top"] and [flipped for _, flipped in edges] == [True, True]
    with pytest.raises(CapabilityError, match="lateral"):
        layer_chain(gd.compile(gd.SRBM(4, 3)))
    with pytest.raises(CapabilityError, match="input"):
        pretrain_dbm(gd.compile(gd.CRBM(2, 3, 2)), {"u": torch.zeros(4, 2), "v": torch.zeros(4, 3)})
