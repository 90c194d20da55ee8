"""Core-API conventions: ``model(x)`` on every compiled model (and DistributedDataParallel around
one), ``gd.fit`` on a DataLoader and on a DataFrame by column name, and ``gd.map_query`` taking its
arguments in ``gd.query``'s order."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset

import graphdgm as gd
from graphdgm.errors import CapabilityError, SpecError


def _bits(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, d), 0.4, dtype=torch.float64), generator=g).to(dtype)


def _bn() -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork()
    bn.add_variable("a", gd.Binary()); bn.add_variable("b", gd.Binary())
    bn.add_cpd("a", [], [0.3, 0.7]); bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.2, 0.8]])
    return bn


# ------------------------------------------------------------------------------ forward
def test_forward_is_log_prob_for_normalised_models() -> None:
    torch.manual_seed(0)
    bn = gd.compile(_bn())
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert torch.equal(bn(x), bn.log_prob(x))
    torch.testing.assert_close(bn(x).exp(), torch.tensor([0.27, 0.03, 0.14, 0.56], dtype=torch.float64))  # by hand
    for spec, data in [(gd.NADE(5, hidden=4), _bits(3, 5, 1, torch.float32)),
                       (gd.MADE(5, hidden=[8]), _bits(3, 5, 2, torch.float32)),
                       (gd.PixelCNN((3, 3), channels=4, layers=1), _bits(2, 9, 3, torch.float32).reshape(2, 3, 3)),
                       (gd.PixelRNN((3, 3), hidden=4, layers=1), _bits(2, 9, 4, torch.float32).reshape(2, 3, 3))]:
        model = gd.compile(spec)
        assert torch.equal(model(data), model.log_prob(data)), type(model).__name__
    hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
    seqs = [[0, 2, 1], [1]]
    assert torch.equal(hmm(seqs), hmm.log_prob(seqs))
    chain = gd.compile(gd.MarkovChain([0, 1], [[0.9, 0.1], [0.5, 0.5]]))
    torch.testing.assert_close(chain([[0, 1, 1], [1]]).exp(), torch.tensor([0.025, 0.5], dtype=torch.float64))  # .5*.1*.5, .5


def test_forward_is_unnormalised_log_density_for_energy_models() -> None:
    torch.manual_seed(0)
    rbm = gd.compile(gd.RBM(4, 3))
    v = _bits(5, 4, 0)
    assert torch.equal(rbm(v), -rbm.free_energy(v))
    # against the definition: log sum_h exp(-E(v, h)) by enumerating h
    h = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=torch.float64)] * 3)  # (8, 3)
    joint = torch.cat([v.repeat_interleave(8, 0), h.repeat(5, 1)], 1)  # (40, 7)
    torch.testing.assert_close(rbm(v), rbm.log_potential(joint).view(5, 8).logsumexp(1))
    ising = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.4, field=0.1))
    s = torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1]])
    assert torch.equal(ising(s), ising.log_potential(s))
    srbm = gd.compile(gd.SRBM(3, 2))  # a graph whose latent block sums out
    assert torch.equal(srbm(_bits(4, 3, 1)), -srbm.free_energy(_bits(4, 3, 1)))
    bm = gd.compile(gd.BoltzmannMachine(3, 2))  # latent units that do not sum out: the joint log-potential
    full = _bits(4, 5, 2)
    assert torch.equal(bm(full), bm.log_potential(full))
    gauss = gd.compile(gd.GaussianMarkovNetwork.from_precision([[2.0, -0.5], [-0.5, 1.0]], [1.0, 0.0]))
    y = torch.tensor([[0.3, -1.0], [1.0, 2.0]], dtype=torch.float64)
    assert torch.equal(gauss(y), gauss.log_potential(y))


def test_forward_of_a_gan_is_its_generator_and_a_dbn_has_none() -> None:
    torch.manual_seed(0)
    gan = gd.compile(gd.GAN(2, latent=3, generator_hidden=[8]))
    z = gan.noise(4, torch.Generator().manual_seed(0))
    assert gan(z).shape == (4, 2) and torch.equal(gan(z), gan.generate(z))
    dbn = gd.compile(gd.DBN([4, 3, 2]))
    with pytest.raises(CapabilityError, match="rbms"):
        dbn(_bits(2, 4, 0))
    v = _bits(2, 4, 0)
    assert torch.equal(dbn.rbms[0](v), -dbn.rbms[0].free_energy(v))


def test_distributed_data_parallel_wraps_a_compiled_model(tmp_path) -> None:
    if not (dist.is_available() and dist.is_gloo_available()) or dist.is_initialized():
        pytest.skip("needs torch.distributed with gloo and no process group already running")
    torch.manual_seed(0)
    rbm = gd.compile(gd.RBM(6, 3))
    v = _bits(8, 6, 0)
    (-rbm(v).mean()).backward()
    want = {n: p.grad.clone() for n, p in rbm.named_parameters()}
    rbm.zero_grad()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ddp = torch.nn.parallel.DistributedDataParallel(rbm)
        out = ddp(v)
        assert torch.equal(out, -rbm.free_energy(v))
        (-out.mean()).backward()
    finally:
        dist.destroy_process_group()
    for n, p in rbm.named_parameters():
        torch.testing.assert_close(p.grad, want[n])


# ------------------------------------------------------------------------------ fit: DataLoader
def test_fit_on_a_data_loader_matches_the_tensor() -> None:
    x = _bits(48, 6, 5)
    loader = DataLoader(TensorDataset(x), batch_size=12)
    torch.manual_seed(0)
    a = gd.compile(gd.RBM(6, 3))
    ha = gd.fit(a, loader, method="cd", epochs=2, seed=1, progress=False)
    torch.manual_seed(0)
    b = gd.compile(gd.RBM(6, 3))
    hb = gd.fit(b, x, method="cd", epochs=2, batch_size=12, seed=1, progress=False)
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), n
    assert ha["pseudo_log_likelihood"] == hb["pseudo_log_likelihood"]
    # bare tensors as batches, and the same batch size given twice, agree
    gd.fit(gd.compile(gd.RBM(6, 3)), DataLoader(x, batch_size=12), method="cd", epochs=1, batch_size=12, progress=False)


def test_fit_on_a_data_loader_errors_name_the_fix() -> None:
    x = _bits(16, 6, 0)
    rbm = gd.compile(gd.RBM(6, 3))
    with pytest.raises(SpecError, match=r"batch_size=5 disagrees with the DataLoader.*batch_size=8"):
        gd.fit(rbm, DataLoader(TensorDataset(x), batch_size=8), method="cd", batch_size=5, progress=False)
    with pytest.raises(SpecError, match="holds 2 tensors"):
        gd.fit(rbm, DataLoader(TensorDataset(x, x[:, 0]), batch_size=8), method="cd", progress=False)


def test_fit_on_a_data_loader_of_sequences_runs_baum_welch() -> None:
    truth = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=1))
    _, y = truth.sample(20, 10, seed=0)
    a = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=2))
    b = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=2))
    ha = gd.fit(a, DataLoader(y, batch_size=7), iterations=3, progress=False)  # no batch_size option: all rows
    hb = gd.fit(b, y, iterations=3, progress=False)
    assert ha["log_likelihood"] == pytest.approx(hb["log_likelihood"], rel=1e-12)


# ------------------------------------------------------------------------------ fit: DataFrame
def test_fit_on_a_data_frame_matches_columns_by_name() -> None:
    pd = pytest.importorskip("pandas")
    x = _bits(40, 4, 7)
    frame = pd.DataFrame({f"v[{i}]": x[:, i].numpy() for i in (2, 0, 3, 1)})  # shuffled column order
    torch.manual_seed(0)
    a = gd.compile(gd.RBM(4, 2))
    gd.fit(a, frame, method="cd", epochs=2, batch_size=10, progress=False)
    torch.manual_seed(0)
    b = gd.compile(gd.RBM(4, 2))
    gd.fit(b, x, method="cd", epochs=2, batch_size=10, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    made = gd.compile(gd.MADE(3, hidden=[6]))  # another objective (mle) reads frames the same way
    gd.fit(made, pd.DataFrame({"x[1]": [0, 1], "x[0]": [1, 1], "x[2]": [0, 0]}), epochs=1, batch_size=2, progress=False)


def test_fit_on_a_data_frame_names_missing_and_extra_columns() -> None:
    pd = pytest.importorskip("pandas")
    rbm = gd.compile(gd.RBM(3, 2))
    with pytest.raises(SpecError, match=r"missing columns \['v\[2\]'\], extra columns \['label'\]"):
        gd.fit(rbm, pd.DataFrame({"v[0]": [0, 1], "v[1]": [1, 1], "label": [0, 0]}), method="cd", progress=False)
    hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
    with pytest.raises(SpecError, match="trains on sequences"):
        gd.fit(hmm, pd.DataFrame({"x": [0, 1]}), progress=False)


def test_fit_on_a_data_frame_reads_state_labels() -> None:
    pd = pytest.importorskip("pandas")
    mn = gd.MarkovNetwork()
    mn.add_variable("w", gd.Categorical(2, labels=("sun", "rain"))); mn.add_variable("u", gd.Binary())
    mn.add_factor(["w", "u"], [[2.0, 1.0], [1.0, 2.0]])
    model = gd.compile(mn)
    frame = pd.DataFrame({"u": [1, 0, 1], "w": ["rain", "sun", "rain"]})
    from graphdgm.learn.contrastive_training import frame_to_matrix

    assert frame_to_matrix(model, frame).tolist() == [[1, 1], [0, 0], [1, 1]]
    with pytest.raises(SpecError, match=r"column 'w' holds labels \['snow'\]"):
        frame_to_matrix(model, pd.DataFrame({"u": [1], "w": ["snow"]}))


def test_bayesian_network_frames_keep_working() -> None:
    pd = pytest.importorskip("pandas")
    bn = gd.compile(_bn())
    h = gd.fit(bn, pd.DataFrame({"b": [1, 0, 1, 1], "a": [1, 0, 1, 0]}), progress=False)
    assert h.last["examples"] == 4
    assert bn.log_prob(torch.tensor([[1, 1]])).exp().item() == pytest.approx(0.5 * 1.0)  # p(a=1)=2/4, p(b=1|a=1)=2/2


# ------------------------------------------------------------------------------ map_query
def test_map_query_takes_query_order_and_warns_on_the_old_one() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.5, field=0.1))
    ev = {"x[1,1]": -1}
    new = gd.map_query(model, ["x[0,0]"], ev)
    assert new.assignment == gd.map_query(model, variables=["x[0,0]"], evidence=ev).assignment
    assert new.assignment == gd.map_query(model, ["x[0,0]"], evidence=ev).assignment
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new forms never warn
        gd.map_query(model, evidence=ev)
        gd.map_query(model, None, ev)
    with pytest.warns(FutureWarning, match="evidence="):
        old = gd.map_query(model, ev, variables=["x[0,0]"])  # the old order still answers the same
    assert old.assignment == new.assignment and old.log_score == new.log_score
    with pytest.warns(FutureWarning):
        assert gd.map_query(model, ev).assignment == gd.map_query(model, evidence=ev).assignment
    # brute force: the MAP over all spins with x[1,1] = -1
    states = torch.cartesian_prod(*[torch.tensor([0, 1])] * 4)
    ok = states[:, 3] == 0
    best = states[ok][model.log_potential(states[ok]).argmax()]
    assert gd.map_query(model, evidence=ev).state.tolist() == best.tolist()
    with pytest.raises(SpecError, match="evidence twice"), pytest.warns(FutureWarning):
        gd.map_query(model, ev, evidence=ev)
    with pytest.raises(SpecError, match="variables twice"):
        gd.map_query(model, ["x[0,0]"], variables=["x[0,0]"])


def test_map_query_keeps_old_positional_evidence_of_any_kind_as_evidence() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2))
    with pytest.warns(FutureWarning), pytest.raises(gd.errors.GraphdgmError):
        gd.map_query(model, torch.tensor(2))  # not names: evidence, as before, rejected by the evidence check
    with pytest.raises(SpecError, match="at most 2 positional"):
        gd.map_query(model, None, None, "exact")
