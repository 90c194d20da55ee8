"""Convergence honesty: every approximate backend warns when its answer may be wrong, and not when
it is well mixed; diagnostics under one name; bad options are named; samplers are thread-safe."""
from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import ConvergenceWarning, SpecError
from graphdgm.infer.diagnostics import Diagnostics
from graphdgm.infer.mcmc import BlockGibbs, annealed_importance_sampling, sample_chains
from graphdgm.infer.rbm_ais import rbm_ais
from graphdgm.infer.results import JointDistribution, MAPResult, Marginals


def _frustrated_grid(n: int = 10, seed: int = 0) -> gd.MarkovNetwork:
    rng = np.random.default_rng(seed)
    return gd.MarkovNetwork.ising_grid(n, n, coupling=rng.normal(0.0, 2.0, size=2 * n * (n - 1)))


# ------------------------------------------------------------------ samplers
def test_gibbs_warns_when_chains_disagree_on_a_strong_ferromagnet() -> None:
    """Issue reproducer: 8x8 grid at J=5, x[0,0]=+1; exact P(x[3,3]=+1) is 1, stuck chains give ~0.5."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    gibbs = gd.infer.Gibbs(chains=64, sweeps=200)
    with pytest.warns(ConvergenceWarning, match=r"have not mixed.*R-hat.*Tempering") as record:
        gd.query(model, ["x[3,3]"], evidence={"x[0,0]": 1}, backend=gibbs)
    message = str(record[0].message)
    assert "'x[" in message and "'x[0,0]'" not in message  # worst free variables named, evidence left out
    assert "sweeps=200" in message and "backend='exact'" in message  # an 8x8 grid is narrow enough
    d = gibbs.diagnostics
    assert isinstance(d, Diagnostics) and not d.converged and d.rhat_max == math.inf
    assert gibbs.last_result.diagnostics is d


def test_gibbs_warns_on_a_frustrated_grid() -> None:
    model = gd.compile(_frustrated_grid())
    gibbs = gd.infer.Gibbs(chains=32, sweeps=200)
    with pytest.warns(ConvergenceWarning, match="have not mixed"):
        gd.query(model, ["x[3,3]"], backend=gibbs)
    assert gibbs.diagnostics.rhat_max > 1.05


def test_gibbs_does_not_warn_when_well_mixed() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    gibbs = gd.infer.Gibbs(chains=256, sweeps=400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gd.query(model, ["x[1,1]"], backend=gibbs)
    d = gibbs.diagnostics
    assert d.converged and d.rhat_max < 1.05 and d.ess_min > 1000 and d.messages == ()


def test_rhat_threshold_is_settable_and_none_turns_the_warning_off() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    quiet = gd.infer.Gibbs(chains=16, sweeps=50, rhat_threshold=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gd.query(model, ["x[3,3]"], evidence={"x[0,0]": 1}, backend=quiet)
    assert quiet.diagnostics.converged and quiet.diagnostics.rhat_max == math.inf  # figures kept, no warning
    small = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    with pytest.warns(ConvergenceWarning, match="above 1.0001"):  # a threshold no finite run meets
        sample_chains(small, BlockGibbs(), chains=8, sweeps=40, seed=0, rhat_threshold=1.0001)


def test_tempering_and_metropolis_report_diagnostics() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.1))
    for backend in (gd.infer.Metropolis(chains=128, sweeps=300), gd.infer.Tempering(chains=32, sweeps=300, num_temps=3)):
        gd.query(model, ["x[0,0]"], backend=backend)
        assert backend.diagnostics.converged and backend.diagnostics.backend in ("metropolis", "tempering")


# ----------------------------------------------------------------------- AIS
def test_ais_warns_when_its_importance_weights_degenerate() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=2.0))
    with pytest.warns(ConvergenceWarning, match="effective sample size"):
        r = annealed_importance_sampling(model, chains=64, steps=20, seed=0)
    assert r.diagnostics.ess_min == pytest.approx(r.effective_sample_size) and r.effective_sample_size < 10
    ais = gd.infer.AIS(chains=64, steps=20, ess_fraction=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gd.log_partition(model, backend=ais)
    assert ais.diagnostics.ess_min < 10


def test_ais_does_not_warn_on_a_slow_anneal() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3))
    ais = gd.infer.AIS(chains=256, steps=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gd.log_partition(model, backend=ais)
    assert ais.diagnostics.converged and ais.diagnostics.ess_min > 0.5 * 256


def test_rbm_ais_warns_on_a_low_effective_sample_size() -> None:
    rough = gd.compile(gd.RBM(10, 5, init_std=3.0))
    with pytest.warns(ConvergenceWarning, match="effective sample size"):
        r = rbm_ais(rough, runs=64, betas=5)
    assert not r.diagnostics.converged and r.diagnostics.ess_min == pytest.approx(r.effective_sample_size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fine = rbm_ais(gd.compile(gd.RBM(10, 5, init_std=0.5)), runs=200, betas=1000)
    assert fine.diagnostics.converged


# -------------------------------------------------------- mean field and BP
def test_bp_leaves_the_symmetric_fixed_point_of_a_zero_field_ferromagnet() -> None:
    """Issue reproducer: 8x8 zero-field grid at J=5, exact log Z = 112·5 + log 2 = 560.69; BP
    used to stop at the symmetric point (526.7) after one iteration and call that converged."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    exact = float(gd.log_partition(model).detach())
    bp = gd.infer.BeliefPropagation()
    with pytest.warns(ConvergenceWarning, match="several fixed points"):  # the two mirrored magnetised states
        z = float(gd.log_partition(model, backend=bp))
    assert abs(z - exact) < 1.0 and bp.diagnostics.restarts == 3 and bp.diagnostics.iterations > 1
    symmetric = gd.infer.BeliefPropagation(restarts=1, perturbation=0.0)
    with pytest.warns(ConvergenceWarning, match="symmetric fixed point"):
        z_sym = float(gd.log_partition(model, backend=symmetric))
    assert z_sym < exact - 30 and symmetric.diagnostics.details["symmetric"]


def test_mean_field_leaves_the_symmetric_fixed_point() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    mf = gd.infer.MeanField()
    with pytest.warns(ConvergenceWarning, match="several fixed points"):
        elbo = float(gd.log_partition(model, backend=mf))
    assert elbo > 550 > 64 * math.log(2)  # the old answer was n log 2 = 44.4 at any coupling
    with pytest.warns(ConvergenceWarning, match="symmetric fixed point"):
        gd.log_partition(model, backend=gd.infer.MeanField(restarts=1, perturbation=0.0))


def test_variational_backends_do_not_warn_with_a_unique_fixed_point() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(6, 6, coupling=0.2, field=0.1))
    for backend in (gd.infer.BeliefPropagation(), gd.infer.MeanField()):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            gd.query(model, ["x[2,2]"], backend=backend)
        # the mirrored pair of starts meets at the one fixed point, so the third restart is spared
        assert backend.diagnostics.converged and backend.diagnostics.restarts == 2


def test_bp_warns_when_it_hits_the_iteration_cap() -> None:
    model = gd.compile(_frustrated_grid(6))
    bp = gd.infer.BeliefPropagation(max_iters=2, restarts=1)
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        gd.query(model, ["x[0,0]"], backend=bp)
    assert not bp.diagnostics.converged


def test_restarts_are_reproducible_from_the_seed() -> None:
    model = gd.compile(_frustrated_grid(5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = gd.query(model, backend=gd.infer.BeliefPropagation(seed=3, damping=0.3)).tensor()
        b = gd.query(model, backend=gd.infer.BeliefPropagation(seed=3, damping=0.3)).tensor()
    assert torch.equal(a, b)


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("make, option", [
    (lambda: gd.infer.BeliefPropagation(max_iters=0), "max_iters"),
    (lambda: gd.infer.BeliefPropagation(tol=-1e-3), "tol"),
    (lambda: gd.infer.BeliefPropagation(damping=1.0), "damping"),
    (lambda: gd.infer.BeliefPropagation(schedule="random"), "schedule"),
    (lambda: gd.infer.BeliefPropagation(restarts=0), "restarts"),
    (lambda: gd.infer.MeanField(damping=-0.1), "damping"),
    (lambda: gd.infer.MeanField(max_iters=2.7), "max_iters"),
    (lambda: gd.infer.MeanField(schedule="residual"), "schedule"),
    (lambda: gd.infer.AIS(chains=0), "chains"),
    (lambda: gd.infer.AIS(steps=-5), "steps"),
    (lambda: gd.infer.AIS(schedule="cosine"), "schedule"),
    (lambda: gd.infer.AIS(ess_fraction=2.0), "ess_fraction"),
    (lambda: gd.infer.Gibbs(chains=0), "chains"),
    (lambda: gd.infer.Gibbs(chains=2.7), "chains"),
    (lambda: gd.infer.Gibbs(sweeps=-5), "sweeps"),
    (lambda: gd.infer.Gibbs(burn_in=-1), "burn_in"),
    (lambda: gd.infer.Gibbs(rhat_threshold=0.9), "rhat_threshold"),
    (lambda: gd.infer.Metropolis(block_size=0), "block_size"),
    (lambda: gd.infer.Tempering(num_temps=1), "num_temps"),
    (lambda: gd.infer.Tempering(beta_min=1.5), "beta_min"),
    (lambda: gd.infer.SimulatedAnnealing(chains=True), "chains"),
    (lambda: gd.infer.SimulatedAnnealing(beta_start=0.0), "beta_start"),
])
def test_bad_backend_options_are_spec_errors_naming_the_option(make, option: str) -> None:
    with pytest.raises(SpecError, match=rf"{option}=.*{option} must|{option}=.*unknown {option}"):
        make()


# ------------------------------------------------------- threads and caches
def test_two_threads_sampling_one_model_match_the_serial_answers() -> None:
    model = gd.compile(gd.MarkovNetwork.potts_grid(3, 3, 3, coupling=0.4))
    evidence = [{0: 0}, {0: 2}]
    serial = [sample_chains(model, BlockGibbs(), chains=16, sweeps=60, evidence=e, seed=1, rhat_threshold=None).counts
              for e in evidence]
    out: dict[int, list[torch.Tensor]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                out[i].append(sample_chains(model, BlockGibbs(), chains=16, sweeps=60, evidence=evidence[i], seed=1,
                                            rhat_threshold=None).counts)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(torch.equal(c, serial[i]) for i in (0, 1) for c in out[i])
    assert "_block_conditionals" not in model.__dict__


def test_sampling_sees_parameters_moved_after_the_first_run() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.1, field=0.01))
    before = sample_chains(model, BlockGibbs(), chains=64, sweeps=100, seed=0).marginals()[0, 1]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # a positive field of about 1: P(x=+1) well above one half
    after = sample_chains(model, BlockGibbs(), chains=64, sweeps=100, seed=0).marginals()[0, 1]
    exact_after = gd.query(model, ["x[0,0]"])["x[0,0]"][1]
    assert exact_after > 0.8 and abs(float(after) - exact_after) < 0.05 and abs(float(before) - 0.5) < 0.1


# ------------------------------------------------------------ diagnostics
def test_diagnostics_repr_is_compact_and_results_carry_it() -> None:
    d = Diagnostics("bp", True, iterations=7, restarts=3)
    assert repr(d) == "Diagnostics(bp: converged, iterations=7, restarts=3)"
    m = Marginals([], diagnostics=d)
    assert m.diagnostics is d and Marginals([]).diagnostics is None
    j = JointDistribution(("a",), ((0, 1),), torch.tensor([0.5, 0.5]), diagnostics=d)
    assert j.diagnostics is d and JointDistribution(("a",), ((0, 1),), torch.tensor([0.5, 0.5])).diagnostics is None
    r = MAPResult({"a": 1}, torch.tensor([1]), 0.0)
    assert r.diagnostics is None and MAPResult({"a": 1}, torch.tensor([1]), 0.0, d).diagnostics is d


def test_map_by_annealing_and_svi_set_diagnostics() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.5, field=0.1))
    sa = gd.infer.SimulatedAnnealing(sweeps=50)
    gd.map_query(model, backend=sa)
    assert sa.diagnostics.backend == "annealing" and sa.diagnostics.iterations == 50
    from graphdgm.infer.svi import SVI

    gauss = gd.compile(gd.GaussianMarkovNetwork.from_precision([[1.0, 0.3], [0.3, 1.0]], [0.5, 0.0]))
    svi = SVI(steps=100, lr=0.05, guide="normal")
    svi.fit(gauss, {"x[1]": 0.0})
    assert svi.diagnostics.backend == "svi" and svi.diagnostics.iterations == 100


def test_runs_too_short_to_judge_warn_and_say_so() -> None:
    """Two draws per chain have no split R-hat: the run cannot vouch for itself, so it warns (a
    caller that knows its chains are independent, as the Bayesian network's evidence sampler,
    passes rhat_threshold=None)."""
    model = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    with pytest.warns(ConvergenceWarning, match="too few to judge mixing"):
        r = sample_chains(model, BlockGibbs(), chains=16, sweeps=2, burn_in=10, seed=0)
    assert not r.diagnostics.converged and "too few" in r.diagnostics.details["note"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        quiet = sample_chains(model, BlockGibbs(), chains=16, sweeps=2, burn_in=10, seed=0, rhat_threshold=None)
    assert not quiet.diagnostics.converged and not quiet.diagnostics.messages


def test_a_backend_shared_between_threads_gives_each_result_its_own_diagnostics() -> None:
    """One Gibbs instance, two threads: a stuck model and a well-mixed one; each result keeps the
    diagnostics of its own run."""
    import threading

    stuck = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=5.0))
    mixed = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.3, field=0.2))
    gibbs = gd.infer.Gibbs(chains=64, sweeps=200, seed=0)
    out: dict[str, list] = {"stuck": [], "mixed": []}
    barrier = threading.Barrier(2)

    def worker(name: str, model) -> None:
        barrier.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(3):
                r = gd.query(model, ["x[1,1]"], backend=gibbs)
                out[name].append((r.diagnostics, gibbs.diagnostics))

    threads = [threading.Thread(target=worker, args=("stuck", stuck)), threading.Thread(target=worker, args=("mixed", mixed))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not d.converged and d is own for d, own in out["stuck"])
    assert all(d.converged and d is own for d, own in out["mixed"])
    assert gibbs.diagnostics is None  # this thread ran nothing
