"""Inference on graphs: every backend against exact enumeration, the graph AIS and the DBM bound."""
from __future__ import annotations

import itertools
import warnings

import pytest
import torch

import graphdgm as gd
from graphdgm.errors import CapabilityError, ConvergenceWarning, SpecError
from graphdgm.infer.enumeration import exact_log_likelihood, exact_log_partition
from graphdgm.infer.graph_ais import (
    GraphAIS, ais_split, base_biases, graph_ais, log_z_floor, mean_field_posterior, graph_log_likelihood, graph_log_likelihood_bound,
)
from graphdgm.infer.mcmc import BlockGibbs, sample_chains

from conftest import brute_marginal, enumerate_states, randomise_biases

INPUT = [1, 0]  # the CRBM's input values in every query


randomised = randomise_biases


def dbm(std: float = 0.8) -> torch.nn.Module:
    return randomised(gd.compile(gd.DBM([4, 3, 2], init_std=std, seed=1)), 1)


def srbm(std: float = 0.8) -> torch.nn.Module:
    return randomised(gd.compile(gd.SRBM(4, 3, init_std=std, seed=2)), 2)


def crbm(std: float = 0.8) -> torch.nn.Module:
    return randomised(gd.compile(gd.CRBM(2, 3, 2, init_std=std, seed=3)), 3)


def two_block(name: str, visible: gd.graph.Unit, hidden: gd.graph.Unit, nv: int, nh: int, std: float, seed: int) -> torch.nn.Module:
    g = gd.Graph(name)
    g.connect(g.block("v", nv, visible), g.block("h", nh, hidden, role="latent"), gd.Dense(init_std=std, seed=seed))
    return randomised(gd.compile(g), seed)


def softmax_graph(std: float = 0.8) -> torch.nn.Module:
    return two_block("softmax", gd.Softmax(3), gd.Bernoulli(), 3, 2, std, 4)


DISCRETE = {"dbm": dbm, "srbm": srbm, "crbm": crbm, "softmax": softmax_graph}


def query_evidence(name: str) -> dict[str, list[int]]:
    return {"u": INPUT} if name == "crbm" else {}


def exact_answers(model: torch.nn.Module, evidence: dict) -> tuple[list[torch.Tensor], float, list[int]]:
    """Per-variable marginals, log Z and the MAP state by brute force, evidence clamped."""
    enc = model.encode_evidence(evidence)
    states, logp = enumerate_states(model)
    mask = torch.ones(len(states), dtype=torch.bool)
    for v, s in enc.items():
        mask &= states[:, v] == s
    marg = [brute_marginal(states, logp, v, int(model.cards[v]), enc) for v in range(model.num_variables)]
    masked = torch.where(mask, logp, torch.full_like(logp, -torch.inf))
    return marg, float(torch.logsumexp(masked, 0)), states[masked.argmax()].tolist()


def max_marginal_error(model: torch.nn.Module, result, exact: list[torch.Tensor]) -> float:
    return max(float((torch.as_tensor(result[model.variables[v]].probs) - exact[v]).abs().max())
               for v in range(model.num_variables))


# ------------------------------------------------------------ conditionals
GRAPHS_FOR_CONDITIONALS = {
    **DISCRETE,
    "spin": lambda: two_block("spin", gd.graph.Spin(), gd.graph.Spin(), 4, 3, 0.6, 5),
    "softmax2": lambda: two_block("softmax2", gd.Softmax(2), gd.Bernoulli(), 3, 2, 0.8, 6),
    "spin-softmax": lambda: two_block("spin-softmax", gd.Softmax(3), gd.graph.Spin(), 3, 2, 0.8, 7),
}


@pytest.mark.parametrize("name", list(GRAPHS_FOR_CONDITIONALS))
def test_block_logits_equal_log_potential_differences(name: str) -> None:
    """Each sampler block's (tempered) logits are the log-potential change of setting one unit to
    each state, every unit type (Bernoulli, spin, softmax, Softmax(2) on the binary path)."""
    model = GRAPHS_FOR_CONDITIONALS[name]()
    cond = model.block_conditionals(model.encode_evidence(query_evidence(name)))
    g = torch.Generator().manual_seed(0)
    x = cond.initial_state(5, g)  # (n, C)
    beta = torch.rand(5, generator=g, dtype=cond.dtype) * 0.7 + 0.3  # (C,)
    for blk, (a, e) in enumerate(cond.slices):  # tiny models: loop over blocks, units and states
        logits = cond.logits(x, blk, beta)  # (m, K, C)
        for i in range(a, e):
            k = int(cond.cards[i])
            lp = []
            for s in range(k):
                y = x.clone()
                y[i] = s
                lp.append(cond.log_potential(y))
            want = beta * (torch.stack(lp) - lp[0])  # (k, C)
            got = logits[i - a, :k] - logits[i - a, :1]
            assert torch.allclose(got, want, atol=1e-10), f"{name}: unit {i} logits {got} != {want}"


# ---------------------------------------------------- table-based backends
@pytest.mark.parametrize("name", list(DISCRETE))
def test_exact_backend_matches_enumeration_on_graphs(name: str) -> None:
    model = DISCRETE[name]()
    ev = query_evidence(name)
    marg, log_z, best = exact_answers(model, ev)
    assert max_marginal_error(model, gd.query(model, None, ev), marg) < 1e-10
    assert abs(float(gd.log_partition(model, ev)) - log_z) < 1e-10
    assert gd.map_query(model, evidence=ev).state.tolist() == best


@pytest.mark.parametrize("name", list(DISCRETE))
def test_log_partition_agrees_with_enumeration_module(name: str) -> None:
    model = DISCRETE[name]()
    inputs = {"u": torch.tensor([INPUT], dtype=torch.float64)} if name == "crbm" else None
    want = exact_log_partition(model, inputs)
    got = gd.log_partition(model, query_evidence(name))
    assert abs(float(got) - float(want.reshape(-1)[0])) < 1e-10


@pytest.mark.parametrize("name", list(DISCRETE))
def test_bp_and_mean_field_are_close_on_weakly_coupled_graphs(name: str) -> None:
    """Loopy BP within 0.005 and mean field within 0.02 of the exact marginals at weights of
    std 0.2; mean field's log Z is a lower bound, BP's Bethe estimate within 0.01."""
    model = DISCRETE[name](0.2)
    ev = query_evidence(name)
    marg, log_z, best = exact_answers(model, ev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert max_marginal_error(model, gd.query(model, None, ev, backend="bp"), marg) < 0.005
        assert max_marginal_error(model, gd.query(model, None, ev, backend="mean_field"), marg) < 0.02
        assert abs(float(gd.log_partition(model, ev, backend="bp")) - log_z) < 0.01
        mf = float(gd.log_partition(model, ev, backend="mean_field"))
        assert log_z - 0.05 < mf <= log_z + 1e-9
        assert gd.map_query(model, evidence=ev, backend="bp").state.tolist() == best


@pytest.mark.parametrize("name", list(DISCRETE))
def test_simulated_annealing_finds_the_map_state_of_graphs(name: str) -> None:
    model = DISCRETE[name]()
    ev = query_evidence(name)
    _, _, best = exact_answers(model, ev)
    backend = gd.infer.SimulatedAnnealing(chains=32, sweeps=200, seed=0)
    assert gd.map_query(model, evidence=ev, backend=backend).state.tolist() == best


# ------------------------------------------------------ Gaussian visible
def gaussian_rbm() -> torch.nn.Module:
    return two_block("gbrbm", gd.Gaussian(1.0), gd.Bernoulli(), 3, 3, 0.5, 8)


@pytest.mark.statistical
def test_gibbs_on_gaussian_bernoulli_graph_matches_exact_hidden_marginal() -> None:
    """Seed 0, 256 chains x 400 sweeps: the hidden histogram's total variation from the exact
    p(h) (visible integrated out) is below 0.02, and the visible mean within 0.03 of
    E[v] = Σ_h p(h) (b + σ W h)."""
    model = gaussian_rbm()
    r = sample_chains(model, BlockGibbs(), chains=256, sweeps=400, burn_in=100, seed=0, keep="all")
    H = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)  # (8, 3)
    with torch.no_grad():
        p = torch.softmax(model.clamped_log_marginal({"h": H}), 0)  # (8,)
        mean_v = (p[:, None] * (model.bias_of("v") + model.scale_of("v") * (H @ model.edge("W_v_h").weight.t()))).sum(0)
    h = r.samples[..., 3:].reshape(-1, 3)
    emp = torch.bincount((h @ torch.tensor([4.0, 2.0, 1.0], dtype=h.dtype)).long(), minlength=8).double() / len(h)
    assert 0.5 * float((emp - p).abs().sum()) < 0.02
    assert float((r.samples[..., :3].reshape(-1, 3).mean(0) - mean_v).abs().max()) < 0.03


# -------------------------------------------------------------- graph AIS
def rbm_graph() -> torch.nn.Module:
    return two_block("rbm", gd.Bernoulli(), gd.Bernoulli(), 12, 6, 1.0, 9)


def test_ais_split_sums_the_larger_or_gaussian_colour_out() -> None:
    assert ais_split(rbm_graph()).sampled == ("h",)
    assert ais_split(randomised(gd.compile(gd.DBM([5, 4, 3])), 0)).summed == ("v", "h2")
    assert ais_split(two_block("g", gd.Gaussian(1.0), gd.Bernoulli(), 2, 5, 0.5, 0)).summed == ("v",)
    assert ais_split(crbm()).inputs == ("u",)


@pytest.mark.statistical
@pytest.mark.parametrize("name", ["rbm12x6", "dbm543", "gaussian", "softmax-spin"])
def test_graph_ais_log_partition_within_005_nats(name: str) -> None:
    """Seed 0, 200 runs, 2000 temperatures: |log Ẑ - log Z| < 0.05 nats (the RBM AIS's accuracy)."""
    model = {"rbm12x6": rbm_graph, "dbm543": lambda: randomised(gd.compile(gd.DBM([5, 4, 3], init_std=1.0, seed=1)), 1),
             "gaussian": lambda: two_block("g", gd.Gaussian(1.0), gd.Bernoulli(), 5, 4, 0.5, 3),
             "softmax-spin": lambda: two_block("s", gd.Softmax(3), gd.graph.Spin(), 4, 3, 0.7, 2)}[name]()
    r = graph_ais(model, runs=200, betas=2000, seed=0)
    exact = float(exact_log_partition(model))
    assert abs(float(r.log_z) - exact) < 0.05
    assert float(r.log_z_bounds[0]) < float(r.log_z) < float(r.log_z_bounds[1])
    assert r.effective_sample_size > 50


@pytest.mark.statistical
def test_graph_ais_gives_log_z_per_input_row() -> None:
    """Seed 0, 100 runs, 1000 temperatures, four input rows: each within 0.05 nats."""
    model = randomised(gd.compile(gd.CRBM(3, 5, 3, init_std=1.0, seed=4)), 4)
    u = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 0, 0], [1, 0, 1]], dtype=torch.float64)
    r = graph_ais(model, runs=100, betas=1000, inputs=u, seed=0)
    assert r.log_z.shape == (4,) and r.log_weights.shape == (4, 100)
    assert float((r.log_z - exact_log_partition(model, {"u": u})).abs().max()) < 0.05


@pytest.mark.statistical
def test_graph_ais_with_data_base_rates_stays_accurate() -> None:
    """Seed 0: base biases from 200 data rows (the model's own marginal tilt) keep 0.05 nats."""
    model = rbm_graph()
    data = torch.bernoulli(torch.full((200, 12), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    r = graph_ais(model, runs=200, betas=2000, base_data=data, seed=0)
    assert abs(float(r.log_z) - float(exact_log_partition(model))) < 0.05


def test_graph_ais_warns_when_the_weights_degenerate() -> None:
    model = two_block("strong", gd.Bernoulli(), gd.Bernoulli(), 12, 6, 3.0, 1)
    with pytest.warns(ConvergenceWarning, match="effective sample size"):
        r = graph_ais(model, runs=200, betas=2, seed=0)
    assert not r.diagnostics.converged


def test_graph_ais_refuses_what_it_cannot_sum_out() -> None:
    with pytest.raises(CapabilityError, match="internal edges"):
        graph_ais(srbm())
    with pytest.raises(CapabilityError, match="compiled gd.Graph"):
        graph_ais(gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3)))
    with pytest.raises(SpecError, match="inputs="):
        graph_ais(crbm())
    with pytest.raises(SpecError, match="betas must rise"):
        graph_ais(dbm(), betas=torch.tensor([0.0, 0.7, 0.5, 1.0]))


def test_graph_ais_is_a_log_partition_backend() -> None:
    model = crbm()
    assert "graph_ais" in gd.infer.available_backends()
    got = gd.log_partition(model, {"u": INPUT}, backend=GraphAIS(runs=100, betas=500, seed=0))
    assert abs(float(got) - float(gd.log_partition(model, {"u": INPUT}))) < 0.05
    with pytest.raises(CapabilityError, match="evidence on"):
        gd.log_partition(model, {"u": INPUT, "v[0]": 1}, backend="graph_ais")


# -------------------------------------------------------- likelihoods
def test_mean_field_bound_is_exact_for_a_single_latent_layer() -> None:
    model = rbm_graph()
    v = torch.bernoulli(torch.full((10, 12), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    log_z = exact_log_partition(model)
    assert torch.allclose(graph_log_likelihood_bound(model, v, log_z), exact_log_likelihood(model, v), atol=1e-9)


def test_mean_field_bound_lies_below_and_near_the_dbm_log_likelihood() -> None:
    """On a [5, 4, 3] DBM with weights of std 0.3: 0 <= exact - bound < 0.06 nats for every visible
    state (the gap is KL(q || p(h | v)) of the factorised q, not an error of the expectation)."""
    model = randomised(gd.compile(gd.DBM([5, 4, 3], init_std=0.3, seed=2)), 2)
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=5)), dtype=torch.float64)  # every visible state
    gap = exact_log_likelihood(model, v) - graph_log_likelihood_bound(model, v, exact_log_partition(model), mean_field_steps=100)
    assert float(gap.min()) >= -1e-9
    assert float(gap.max()) < 0.06


def test_mean_field_bound_is_the_exact_expectation_under_q() -> None:
    """The closed form equals E_q[log p*(v, h)] + H(q) - log Z summed over all 2^7 hidden states,
    for the better of the two coordinate-ascent starts."""
    model = randomised(gd.compile(gd.DBM([5, 4, 3], init_std=0.8, seed=3)), 3)
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    H = torch.tensor(list(itertools.product([0.0, 1.0], repeat=7)), dtype=torch.float64)  # (128, 7)
    with torch.no_grad():
        log_p = model.log_potential(torch.cat([v.expand(len(H), 5), H], 1))
    brutes = []
    for start in ("bottom_up", "clamped"):
        means, _ = mean_field_posterior(model, {"v": v}, steps=30, start=start)
        q = torch.cat([means["h1"], means["h2"]], 1)[0]  # (7,)
        log_q = (H * q.log() + (1 - H) * (1 - q).log()).sum(1)
        brutes.append(float((log_q.exp() * (log_p - log_q)).sum()))
    assert abs(float(graph_log_likelihood_bound(model, v, 0.0, mean_field_steps=30)) - max(brutes)) < 1e-10


def test_mean_field_bound_keeps_the_better_start() -> None:
    """A DBM whose top layer's prior is strong: starting every latent block from the data alone
    (the top one from its bias) and starting bottom up reach different fixed points; the bound is
    the higher of the two per example, and it stays below the exact log-likelihood."""
    model = gd.compile(gd.DBM([6, 4, 4], init_std=0.1, seed=0))
    mode = torch.tensor([[1.0, 1.0, -1.0, -1.0]] * 2 + [[-1.0, -1.0, 1.0, 1.0]] * 2, dtype=torch.float64)
    with torch.no_grad():  # two modes (h 0-1, h 2-3); the data drive the second, the top prior the first
        model.dense[0].weight.copy_(torch.tensor([[0.0, 0.0, 1.5, 1.5]] * 6, dtype=torch.float64))
        model.dense[1].weight.copy_(4 * mode)
        model.bias_of("h1").fill_(0.0)
        model.bias_of("h2").copy_(torch.tensor([3.0, 3.0, -1.0, -1.0], dtype=torch.float64))
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)), dtype=torch.float64)  # every visible state
    log_z = exact_log_partition(model)
    bound = graph_log_likelihood_bound(model, v, log_z, mean_field_steps=100)
    H = torch.tensor(list(itertools.product([0.0, 1.0], repeat=8)), dtype=torch.float64)  # (256, 8) hidden states
    with torch.no_grad():
        log_p = torch.stack([model.log_potential(torch.cat([row.expand(len(H), 6), H], 1)) for row in v])  # (64, 256)
    per_start, elbos = [], []
    for start in ("bottom_up", "clamped"):
        means, _ = mean_field_posterior(model, {"v": v}, steps=100, start=start)
        q = torch.cat([means["h1"], means["h2"]], 1).clamp(1e-300, 1.0)  # (64, 8)
        log_q = H @ q.log().t() + (1 - H) @ (1 - q).clamp(1e-300).log().t()  # (256, 64)
        elbos.append((log_q.t().exp() * (log_p - log_q.t())).sum(1) - log_z)
        per_start.append(q)
    assert float((per_start[0] - per_start[1]).abs().max()) > 0.5  # the starts do reach different optima
    assert torch.allclose(bound, torch.maximum(*elbos), atol=1e-8)
    assert bool((bound <= exact_log_likelihood(model, v) + 1e-9).all())
    with pytest.raises(SpecError, match="start"):
        mean_field_posterior(model, {"v": v}, start="top_down")


@pytest.mark.statistical
@pytest.mark.parametrize("layers", [[5, 4, 3], [4, 3, 3, 2]])
def test_importance_weighted_bound_closes_on_the_exact_log_likelihood(layers: list[int]) -> None:
    """Seed 0, every visible state 50 times over, a strongly coupled DBM (weights std 1.2): the
    mean-field bound leaves a gap of more than 0.1 nats; the importance-weighted bound with the
    top layers summed out leaves less with K = 1 sample and under 0.005 nats with K = 100, and on
    average never lies above the exact value by more than three standard errors (it is a lower
    bound in expectation)."""
    model = randomised(gd.compile(gd.DBM(layers, init_std=1.2, seed=5)), 5)
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=layers[0])), dtype=torch.float64).repeat(50, 1)
    with torch.no_grad():
        log_z = exact_log_partition(model)
        exact = exact_log_likelihood(model, v)
        mf_gap = float((exact - graph_log_likelihood_bound(model, v, log_z)).mean())
        gaps = {k: exact - graph_log_likelihood_bound(model, v, log_z, samples=k, seed=0) for k in (1, 100)}
    assert mf_gap > 0.1  # the case is not trivial
    assert float(gaps[1].mean()) < mf_gap / 2
    assert abs(float(gaps[100].mean())) < 0.005
    for gap in gaps.values():
        assert float(gap.mean()) > -3 * float(gap.std()) / len(gap) ** 0.5
    with pytest.raises(SpecError, match="samples"):
        graph_log_likelihood_bound(model, v, log_z, samples=-1)


def test_base_biases_take_latent_marginals_from_the_data_posterior() -> None:
    """With data for the visible block, a DBM's latent base biases are the logits of the mean
    posterior draws (2,000 rows, so within 0.15 of the mean-field means' logits); without data
    they are zero; an explicit base_bias wins."""
    model = dbm()
    v = torch.bernoulli(torch.full((2000, 4), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(2))
    got = base_biases(model, v)
    means, _ = mean_field_posterior(model, {"v": v}, steps=30)
    for b in ("h1", "h2"):
        assert torch.allclose(got[b], torch.logit(means[b].mean(0)), atol=0.15)
    assert all(bool((t == 0).all()) for b, t in base_biases(model).items())
    assert bool((base_biases(model, v, {"h1": torch.ones(3)})["h1"] == 1).all())


@pytest.mark.statistical
def test_graph_ais_with_a_posterior_base_stays_accurate_on_a_dbm() -> None:
    """Seed 0: the posterior-marginal base for the latent layers keeps a [6, 5, 4] DBM's log Z
    within 0.05 nats."""
    model = randomised(gd.compile(gd.DBM([6, 5, 4], init_std=1.0, seed=6)), 6)
    v = torch.bernoulli(torch.full((300, 6), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(3))
    r = graph_ais(model, runs=200, betas=2000, base_data=v, seed=0)
    assert abs(float(r.log_z) - float(exact_log_partition(model))) < 0.05


@pytest.mark.statistical
@pytest.mark.parametrize("name", ["dbm", "crbm"])
def test_graph_log_likelihood_matches_exact(name: str) -> None:
    """Seed 0, 100 runs, 1000 temperatures: the CRBM's log p(v | u) within 0.05 nats of exact; the
    DBM's bound below the exact value and within 0.05 + its mean-field gap."""
    g = torch.Generator().manual_seed(0)
    if name == "crbm":
        model = crbm()
        data = {"u": torch.bernoulli(torch.full((30, 2), 0.5, dtype=torch.float64), generator=g),
                "v": torch.bernoulli(torch.full((30, 3), 0.5, dtype=torch.float64), generator=g)}
    else:
        model = randomised(gd.compile(gd.DBM([5, 4, 3], init_std=0.5, seed=2)), 2)
        data = torch.bernoulli(torch.full((30, 5), 0.5, dtype=torch.float64), generator=g)
    r = graph_log_likelihood(model, data, runs=100, betas=1000, seed=0)
    exact = float(exact_log_likelihood(model, data).mean())
    assert r.is_bound == (name == "dbm")
    assert abs(r.log_likelihood - exact) < (0.1 if r.is_bound else 0.05)


def test_random_walk_metropolis_refuses_graphs_with_discrete_units() -> None:
    from graphdgm.infer.mcmc import MetropolisHastings

    with pytest.raises(CapabilityError, match="BlockGibbs"):
        MetropolisHastings("random_walk").init(gaussian_rbm(), chains=4, generator=0)


def test_graph_log_likelihood_warns_when_ais_falls_below_an_exact_floor() -> None:
    """A strongly coupled DBM and an AIS of two temperatures and two runs: log Ẑ lies below the
    exact sum of p*(h1) over the h1 states the data suggest, and the call says so; the floor itself
    never exceeds the exact log Z, and a long walk on the same model raises no such warning."""
    model = gd.compile(gd.DBM([6, 4, 3], init_std=2.0, seed=4))
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)), dtype=torch.float64)
    with pytest.warns(ConvergenceWarning, match="below an exact lower bound"):
        r = graph_log_likelihood(model, v, runs=2, betas=2, seed=0, ess_fraction=None)
    exact = float(exact_log_partition(model))
    assert r.log_z_floor is not None and r.log_z_floor <= exact + 1e-9
    assert float(r.ais.log_z) < r.log_z_floor
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        good = graph_log_likelihood(model, v, runs=200, betas=2000, seed=0)
    assert abs(float(good.ais.log_z) - exact) < 0.1


def test_log_z_floor_refuses_bad_data() -> None:
    """Wrong width, NaN and an empty batch are refused with messages that name the problem."""
    model = gd.compile(gd.DBM([5, 4, 3], init_std=0.5))
    split = ais_split(model)
    with pytest.raises(SpecError, match="5"):
        log_z_floor(model, {"v": torch.zeros(3, 4, dtype=torch.float64)}, split)
    with pytest.raises(SpecError):
        log_z_floor(model, {"v": torch.full((3, 5), float("nan"), dtype=torch.float64)}, split)
    with pytest.raises(SpecError, match="empty"):
        log_z_floor(model, {"v": torch.zeros(0, 5, dtype=torch.float64)}, split)
