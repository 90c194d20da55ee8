"""The main job: declare models, draw them, ask them questions, fit a small one, write a summary.

    python examples/demo.py --out out/demo
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import graphdgm as gd


def section(lines: list[str], title: str) -> None:
    lines.append("")
    lines.append(f"## {title}")
    print(f"\n== {title}")


def say(lines: list[str], text: str) -> None:
    lines.append(text)
    print(text)


def weather_network() -> gd.MarkovNetwork:
    """A small hand-written factor graph with labelled categorical states."""
    mn = gd.MarkovNetwork(name="weather")
    mn.add_variable("season", gd.Categorical(4, labels=("winter", "spring", "summer", "autumn")))
    mn.add_variable("weather", gd.Categorical(3, labels=("sun", "rain", "snow")))
    mn.add_variable("umbrella", gd.Binary())
    mn.add_variable("wet_grass", gd.Binary())
    mn.add_factor(["season", "weather"], [[0.3, 0.3, 0.4], [0.5, 0.45, 0.05], [0.8, 0.2, 0.0], [0.4, 0.5, 0.1]])
    mn.add_factor(["weather", "umbrella"], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    mn.add_factor(["weather", "wet_grass", "umbrella"], np.array([[[5, 1], [1, 1]], [[1, 1], [6, 3]], [[3, 1], [2, 2]]], dtype=float))
    return mn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--grid", type=int, default=16, help="side of the Ising grid")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# graphdgm demo", f"torch {torch.__version__}, graphdgm {gd.__version__}"]
    t_start = time.perf_counter()

    # ------------------------------------------------------------------ a grid
    L = args.grid
    section(lines, f"Ising grid {L}x{L} (coupling 0.4, field 0.1)")
    grid = gd.MarkovNetwork.ising_grid(L, L, coupling=0.4, field=0.1)
    say(lines, repr(grid))
    files = [gd.viz.save(gd.viz.draw(grid, view="blocks"), out / "ising_blocks.svg")]
    files.append(gd.viz.save(gd.viz.draw(gd.MarkovNetwork.ising_grid(5, 5), view="variables"), out / "ising5x5_variables.svg"))
    model = gd.compile(grid)
    t = time.perf_counter()
    marg = gd.query(model)
    say(lines, f"all {model.num_variables} marginals, exact, in {time.perf_counter() - t:.2f} s; "
               f"P(x[3,4]=+1) = {marg['x[3,4]'][1]:.4f}")
    cond = gd.query(model, ["x[3,4]"], evidence={"x[0,0]": 1, "x[3,3]": -1})
    say(lines, f"P(x[3,4]=+1 | x[0,0]=+1, x[3,3]=-1) = {cond['x[3,4]'][1]:.4f}")
    joint = gd.query(model, ["x[3,4]", "x[3,5]"], joint=True)
    say(lines, f"P(x[3,4]=+1, x[3,5]=+1) = {joint[1, 1]:.4f}")
    say(lines, f"log Z = {gd.log_partition(model).item():.4f}")
    mp = gd.map_query(model, evidence={"x[0,0]": -1})
    ups = sum(1 for v in mp.assignment.values() if v == 1)
    say(lines, f"MAP given x[0,0]=-1: {ups} of {model.num_variables} spins up, log score {mp.log_score:.3f}")
    plan = gd.infer.Exact().plan(model, {}, indicators=tuple(range(model.num_variables)))  # the marginals query's plan
    say(lines, f"elimination order: {plan.order.heuristic}, induced width {plan.order.width}")

    # ------------------------------------------------------------- sampling
    section(lines, "Sampling the same grid: block Gibbs, AIS, tempering, annealing")
    gibbs = gd.infer.Gibbs(chains=256, sweeps=1000, seed=0)
    t = time.perf_counter()
    approx = gd.query(model, backend=gibbs)
    err = (approx.tensor() - marg.tensor()).abs().max().item()
    say(lines, f"Gibbs, 256 chains x 1000 sweeps in {time.perf_counter() - t:.2f} s: largest marginal error vs exact "
               f"{err:.4f}; split R-hat max {gibbs.last_result.rhat.max().item():.3f}")
    ais = gd.infer.AIS(chains=256, steps=1000, seed=0)
    log_z_ais = gd.log_partition(model, backend=ais).item()
    say(lines, f"AIS log Z = {log_z_ais:.4f} ± {ais.last_result.stderr:.4f} (exact {gd.log_partition(model).item():.4f})")
    cold = gd.compile(gd.MarkovNetwork.ising_grid(8, 8, coupling=0.8))
    stuck = gd.infer.mcmc.sample_chains(cold, gd.infer.mcmc.BlockGibbs(), chains=16, sweeps=400, seed=0)
    mixed = gd.infer.mcmc.sample_chains(cold, gd.infer.mcmc.ParallelTempering(num_temps=16, beta_min=0.2),
                                        chains=16, sweeps=400, seed=0)
    say(lines, f"8x8 grid at coupling 0.8: split R-hat max {stuck.rhat.max().item():.2f} for Gibbs (stuck in one "
               f"magnetised mode per chain), {mixed.rhat.max().item():.3f} for parallel tempering (16 temperatures)")
    sa = gd.map_query(model, evidence={"x[0,0]": -1}, backend="annealing")
    say(lines, f"simulated annealing MAP log score {sa.log_score:.3f} (exact {mp.log_score:.3f})")

    # ------------------------------------------------------------ variational
    section(lines, "Variational inference on the same grid: loopy BP and mean field")
    bp = gd.infer.BeliefPropagation()
    t = time.perf_counter()
    bp_marg = gd.query(model, backend=bp)
    say(lines, f"loopy BP: {bp.last_result.iterations} iterations in {time.perf_counter() - t:.3f} s, mean |error| vs exact "
               f"{(bp_marg.tensor() - marg.tensor()).abs().mean().item():.4f}; Bethe log Z "
               f"{gd.log_partition(model, backend=bp).item():.4f}")
    mf = gd.infer.MeanField()
    mf_marg = gd.query(model, backend=mf)
    say(lines, f"mean field: mean |error| {(mf_marg.tensor() - marg.tensor()).abs().mean().item():.4f}; ELBO "
               f"{mf.last_result.elbo.item():.4f} <= log Z {gd.log_partition(model).item():.4f}")
    bp_map = gd.map_query(model, evidence={"x[0,0]": -1}, backend="bp")
    say(lines, f"max-product BP MAP log score {bp_map.log_score:.3f} (exact {mp.log_score:.3f})")
    big = gd.compile(gd.MarkovNetwork.ising_grid(300, 300, coupling=0.3, field=0.1))
    t = time.perf_counter()
    gd.query(big, ["x[150,150]"], backend=bp)
    say(lines, f"300x300 grid (90,000 variables): loopy BP converged in {bp.last_result.iterations} iterations, "
               f"{time.perf_counter() - t:.2f} s")

    # ------------------------------------------------------- real-valued model
    section(lines, "A Gaussian Markov network: Pyro NUTS on the compiled energy vs the analytic answer")
    chain = gd.GaussianMarkovNetwork(name="gaussian_chain")
    chain.add_block("z", (4,))
    chain.add_quadratic([(f"z[{i}]", f"z[{i}]") for i in range(4)], [2.0] * 4)
    chain.add_quadratic([(f"z[{i}]", f"z[{i + 1}]") for i in range(3)], [-0.8] * 3)
    chain.add_linear("z[0]", 1.0)
    gm = gd.compile(chain)
    nuts = gd.infer.NUTS(samples=1000, warmup=500, seed=0)
    got = gd.query(gm, evidence={"z[3]": 0.5}, backend=nuts)
    exact_g = gd.query(gm, evidence={"z[3]": 0.5})
    say(lines, "posterior means given z[3]=0.5, NUTS vs exact: " + ", ".join(
        f"{v} {got[v].mean:+.3f}/{exact_g[v].mean:+.3f}" for v in ("z[0]", "z[1]", "z[2]")))

    # ------------------------------------------------------- a labelled network
    section(lines, "A labelled factor graph")
    mn = weather_network()
    say(lines, repr(mn))
    files.append(gd.viz.save(gd.viz.draw(mn, view="factors"), out / "weather_factor_graph.svg"))
    files.append(gd.viz.save(gd.viz.draw(mn, view="variables"), out / "weather_markov_graph.svg"))
    wm = gd.compile(mn)
    say(lines, repr(gd.query(wm, ["weather"], evidence={"wet_grass": 1})["weather"]) + "  given wet grass")
    say(lines, f"MAP: {gd.map_query(wm).assignment}")
    say(lines, f"most likely season and weather with the rest summed out: "
               f"{gd.map_query(wm, variables=['season', 'weather'], evidence={'umbrella': 1}).assignment}")
    df = gd.query(wm, ["season", "weather"], joint=True).to_pandas()
    df.to_csv(out / "season_weather_joint.csv", index=False)
    files.append(out / "season_weather_joint.csv")
    uai = gd.io.write_uai(mn, out / "weather.uai")
    back = gd.io.read_uai(out / "weather.uai")
    same = gd.log_partition(gd.compile(back)).item() - gd.log_partition(wm).item()
    say(lines, f"UAI round trip: {len(uai.splitlines())} lines, log Z differs by {same:.1e}")
    files.append(out / "weather.uai")

    # -------------------------------------------------------- fit a small model
    section(lines, "Fitting a 3x3 Ising model by exact maximum likelihood")
    truth = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=np.linspace(-0.8, 0.8, 12), field=0.2))
    states = torch.cartesian_prod(*[torch.arange(2)] * 9)
    with torch.no_grad():
        p = torch.softmax(truth.log_potential(states), 0)
    g = torch.Generator().manual_seed(0)
    data = states[torch.multinomial(p, 5000, replacement=True, generator=g)]
    student = gd.compile(gd.MarkovNetwork.ising_grid(3, 3, coupling=0.0, field=0.0))
    opt = torch.optim.Adam(student.parameters(), lr=0.05)
    for step in range(300):
        opt.zero_grad()
        nll = gd.log_partition(student) - student.log_potential(data).mean()  # exact NLL per example
        nll.backward()
        opt.step()
    err = (student.groups[0].weight - truth.groups[0].weight).abs().max().item()
    say(lines, f"NLL {nll.item():.4f} nats per sample after 300 Adam steps; largest coupling error {err:.3f} (5000 samples)")

    # ------------------------------------------------------------ RBM and DBN
    section(lines, "A restricted Boltzmann machine and a deep belief network")
    from graphdgm.data import find_binarized_mnist, load_binarized_mnist

    here = Path(__file__).resolve().parents[1]
    path = find_binarized_mnist(os.environ.get("GRAPHDGM_DATA") or here.parent / "shared" / "data") or find_binarized_mnist()
    if path is not None:  # the shared copy, $GRAPHDGM_DATA or the cache (gd.data.download_binarized_mnist fills it)
        shape = (28, 28)
        x_train = load_binarized_mnist("train", path, limit=10000)
        x_test = load_binarized_mnist("test", path)[::10]  # 1,000 images of every digit (the split is ordered by digit)
        where = f"binarized MNIST from {path} (10,000 training images)"
    else:  # no MNIST here: scikit-learn's handwritten digits, installed with graphdgm, 8 x 8 pixels
        shape = (8, 8)
        x_all, y_all = gd.data.load_digits_binary()
        order = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(0))
        x_train, x_test = x_all[order[:1500]], x_all[order[1500:]]
        where = ("scikit-learn's digits, binarized (1,500 training and 297 test images of 8 x 8 pixels; "
                 "binarized MNIST not found: set GRAPHDGM_DATA or call gd.data.download_binarized_mnist())")
    pixels = shape[0] * shape[1]
    say(lines, f"data: {where}")
    rbm_spec = gd.RBM(shape, 100)
    say(lines, repr(rbm_spec) + f"  (two blocks and one dense edge, not {pixels * 100:,} edges)")
    files.append(gd.viz.save(gd.viz.draw(rbm_spec), out / "rbm_layers.svg"))
    files.append(gd.viz.save(gd.viz.draw(gd.DBN([pixels, 500, 2000])), out / "dbn_layers.svg"))
    step = max(1, len(x_test) // 8)
    rbm = gd.compile(rbm_spec, dtype=torch.float32)
    t = time.perf_counter()
    hist = gd.fit(rbm, x_train, method="cd", epochs=10, lr=0.1, schedule="linear", validation=x_test, progress=False)
    say(lines, f"CD-1 on {where.split(' (')[0]}: 10 epochs in {time.perf_counter() - t:.1f} s; reconstruction error "
               f"{hist['reconstruction_error'][0]:.1f} -> {hist['reconstruction_error'][-1]:.1f}, pseudo-log-likelihood "
               f"{hist['pseudo_log_likelihood'][-1]:.1f}")
    t = time.perf_counter()
    ais_res = gd.infer.rbm_ais.rbm_log_likelihood(rbm, x_test, runs=100, betas=3000, base_data=x_train)
    say(lines, f"AIS (base-rate RBM, 3,000 temperatures, 100 runs, {time.perf_counter() - t:.1f} s): log Z = "
               f"{float(ais_res.log_z):.2f}, test log-likelihood {ais_res.log_likelihood:.2f} nats per image")
    small = gd.compile(gd.RBM(30, 16, init_std=0.3))
    small_ais = gd.infer.rbm_ais.rbm_ais(small, runs=100, betas=3000)
    say(lines, f"a 30x16 RBM: AIS log Z {float(small_ais.log_z):.4f} vs exact (2^16 hidden states enumerated) "
               f"{gd.log_partition(small).detach().item():.4f}")
    with torch.no_grad():
        v = rbm.sample(64, steps=500)
        files.append(gd.viz.save_image_grid(rbm.visible_mean(rbm.sample_hidden(v)), out / "rbm_samples.png", shape=shape, ncols=8, scale=2 if pixels > 100 else 6))
        known = torch.zeros(pixels, dtype=torch.bool)
        known[: pixels // 2] = True
        filled = rbm.inpaint(x_test[::step][:8], known, steps=200)
        files.append(gd.viz.save_image_grid(torch.cat([x_test[::step][:8], filled]), out / "rbm_inpainting.png", shape=shape, ncols=8, scale=2 if pixels > 100 else 6))
    say(lines, "samples (500 Gibbs sweeps) and inpainting of the bottom halves written as PNG grids")
    dbn = gd.compile(gd.DBN([pixels, 100, 50]), dtype=torch.float32)
    gd.learn.fit_layerwise(dbn, x_train, epochs=5, lr=0.05, schedule="linear", progress=False)
    bound = gd.log_likelihood(dbn, x_test, backend="ais", betas=2000, base_data=x_train)
    say(lines, f"DBN {pixels}-100-50 trained greedily (5 epochs per layer): test log-likelihood >= {bound:.2f} nats (variational bound)")

    # ------------------------------------------------------------ directed models
    section(lines, "A Bayesian network and autoregressive models")
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("cloudy", "rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("cloudy", [], [0.5, 0.5])
    bn.add_cpd("rain", ["cloudy"], [[0.8, 0.2], [0.2, 0.8]])
    bn.add_cpd("sprinkler", ["cloudy"], [[0.5, 0.5], [0.9, 0.1]])
    bn.add_cpd("wet", ["rain", "sprinkler"], [[[1.0, 0.0], [0.1, 0.9]], [[0.1, 0.9], [0.01, 0.99]]])
    files.append(gd.viz.save(gd.draw(bn), out / "sprinkler_dag.svg"))
    bn_model = gd.compile(bn)
    from pgmpy.inference import VariableElimination

    ours = gd.query(bn_model, ["rain"], evidence={"wet": 1})["rain"].probs[1].item()
    theirs = VariableElimination(gd.io.to_pgmpy(bn)).query(["rain"], evidence={"wet": 1}, show_progress=False).values[1]
    say(lines, f"{bn!r}: P(rain | wet) = {ours:.6f} (pgmpy VariableElimination: {theirs:.6f})")
    refit = gd.compile(gd.BayesianNetwork.empty_like(bn.parents, {v: gd.Binary() for v in bn.variables}))
    gd.fit(refit, bn_model.sample(20000, seed=0), method="mle", pseudo_count=1.0)
    err = max(abs(refit.spec.cpds[v] - bn.cpds[v]).max() for v in bn.variables)
    say(lines, f"CPTs refitted from 20,000 ancestral samples (Dirichlet(1) smoothing): largest error {err:.3f}")
    alarm = gd.data.bnlearn_network("alarm")  # a real network, read offline from pgmpy's copy of bnlearn
    alarm_model = gd.compile(alarm)
    ev = {"HRBP": "HIGH", "CO": "LOW", "BP": "LOW"}
    t = time.perf_counter()
    ours = gd.query(alarm_model, ["HYPOVOLEMIA", "LVFAILURE"], ev)
    t_ours = time.perf_counter() - t
    ve = VariableElimination(gd.io.to_pgmpy(alarm))
    t = time.perf_counter()
    theirs = ve.query(["HYPOVOLEMIA", "LVFAILURE"], evidence=ev, joint=False, show_progress=False)
    t_theirs = time.perf_counter() - t
    diff = max(abs(ours[v][lab] - float(theirs[v].values[theirs[v].state_names[v].index(lab)]))
               for v in ("HYPOVOLEMIA", "LVFAILURE") for lab in ours[v].labels)
    say(lines, f"bnlearn's alarm ({len(alarm.variables)} variables): P(HYPOVOLEMIA = TRUE | HRBP high, CO low, BP low) = "
               f"{ours['HYPOVOLEMIA']['TRUE']:.4f}, P(LVFAILURE = TRUE | ...) = {ours['LVFAILURE']['TRUE']:.4f}; "
               f"largest difference from pgmpy {diff:.1e} ({t_ours * 1e3:.1f} ms against pgmpy's {t_theirs * 1e3:.1f} ms, "
               "a first query: planning included)")
    files.append(gd.viz.save(gd.draw(alarm), out / "alarm_dag.svg"))
    made_spec = gd.MADE(shape, hidden=[500 if pixels > 100 else 128], direct=True)
    files.append(gd.viz.save(gd.draw(gd.MADE(4, hidden=[6])), out / "made_masks.svg"))
    files.append(gd.viz.save(gd.draw(gd.PixelCNN((28, 28), channels=32, layers=5)), out / "pixelcnn_layers.svg"))
    made = gd.compile(made_spec)
    t = time.perf_counter()
    hist = gd.fit(made, x_train, method="mle", epochs=10, lr=3e-3, validation=x_test, progress=False)
    say(lines, f"{made_spec!r} on {where.split(' (')[0]}: 10 epochs of maximum likelihood in {time.perf_counter() - t:.1f} s; "
               f"test NLL {hist['valid_nll'][0]:.1f} -> {hist['valid_nll'][-1]:.1f} nats per image (exact: no AIS needed)")
    with torch.no_grad():
        files.append(gd.viz.save_image_grid(made.sample(32, seed=0), out / "made_samples.png", shape=shape, ncols=8, scale=2 if pixels > 100 else 6))
        tops = x_test[::step][:8]
        filled = made.inpaint(tops, known)  # top halves known: a prefix of the ordering, so exact in one pass
        files.append(gd.viz.save_image_grid(torch.cat([tops, filled]), out / "made_inpainting.png", shape=shape, ncols=8, scale=2 if pixels > 100 else 6))
    say(lines, "MADE samples and exact inpainting of the bottom halves written as PNG grids")

    # ------------------------------------------------- chains, HMMs and GANs
    section(lines, "Markov chains, hidden Markov models and a GAN")
    weather = gd.MarkovChain(["sun", "cloud", "rain"], [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]], name="weather")
    files.append(gd.viz.save(gd.draw(weather), out / "weather_chain.svg"))
    chain = gd.compile(weather)
    pi = chain.stationary()
    P = torch.as_tensor(weather.transition)
    evec = torch.linalg.eig(P.T)
    v = evec.eigenvectors[:, evec.eigenvalues.real.argmax()].real
    say(lines, f"{weather.name}: stationary {dict((s, round(p, 4)) for s, p in zip(weather.states, pi.tolist()))}; "
               f"max |pi - left eigenvector of P for eigenvalue 1| = {float((pi - v / v.sum()).abs().max()):.1e}")
    say(lines, f"P(x_3 | x_0 = rain) = {[round(p, 4) for p in chain.distribution(3, initial='rain').tolist()]}")
    seqs = chain.sample(2000, length=50, seed=0)
    refit = gd.compile(gd.MarkovChain.from_sequences(seqs, states=weather.states))
    say(lines, f"refitted from 2,000 sampled sequences of 50 steps: largest transition error "
               f"{float(abs(refit.spec.transition - weather.transition).max()):.4f}")
    ruin = gd.compile(gd.MarkovChain([0, 1, 2, 3, 4], [[1, 0, 0, 0, 0], [0.5, 0, 0.5, 0, 0], [0, 0.5, 0, 0.5, 0],
                                                        [0, 0, 0.5, 0, 0.5], [0, 0, 0, 0, 1]], name="gamblers_ruin"))
    say(lines, f"gambler's ruin with 4 coins: absorbing states {ruin.absorbing_states()}, irreducible: {ruin.is_irreducible}; "
               f"from 1 coin, P(ruin) = {float(ruin.absorption_probabilities()[1, 0]):.3f} (closed form 3/4), expected "
               f"duration {float(ruin.absorption_times()[1]):.1f} steps (closed form 1 x 3 = 3)")
    hmm = gd.HiddenMarkovModel(["healthy", "fever"], [[0.7, 0.3], [0.4, 0.6]],
                               gd.CategoricalEmission([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]], ["normal", "cold", "dizzy"]),
                               initial=[0.6, 0.4], name="doctor")
    files.append(gd.viz.save(gd.draw(hmm), out / "doctor_hmm.svg"))
    hmm_model = gd.compile(hmm)
    path, score = hmm_model.viterbi([["normal", "cold", "dizzy"]])
    say(lines, f"HMM {hmm.name!r}: Viterbi path for normal, cold, dizzy = {hmm.chain.decode(path)[0]} "
               f"(probability {float(score.exp()):.5f}; Wikipedia's worked example gives 0.01512)")
    _, observed = hmm_model.sample(300, length=40, seed=1)
    learner = gd.compile(gd.HiddenMarkovModel.random(2, symbols=["normal", "cold", "dizzy"], seed=3))
    bw = gd.fit(learner, observed, method="baum_welch", iterations=30, progress=False)
    lls = bw["log_likelihood"]
    say(lines, f"Baum-Welch on 300 sampled sequences: log-likelihood {lls[0]:.1f} -> {lls[-1]:.1f} in {len(lls)} "
               f"iterations, never decreasing: {all(b >= a - 1e-9 for a, b in zip(lls, lls[1:]))}")
    years, flow = gd.data.nile_flow()  # a real series: the Nile's annual flow at Aswan, 1871-1970 (from statsmodels)
    z = torch.as_tensor((flow - flow.mean()) / flow.std())[None, :, None]
    nile = gd.compile(gd.HiddenMarkovModel(["high", "low"], [[0.95, 0.05], [0.05, 0.95]],
                                           gd.GaussianEmission([1.0, -1.0], [1.0, 1.0]), initial=[0.5, 0.5], name="nile"))
    bw = gd.fit(nile, z, method="baum_welch", iterations=50, progress=False)
    path, _ = nile.viterbi(z)
    states = path[0].tolist()
    changes = [int(years[i]) for i in range(1, len(states)) if states[i] != states[i - 1]]
    levels = nile.spec.emission.means.ravel() * flow.std() + flow.mean()
    say(lines, f"a 2-state Gaussian HMM on the Nile's annual flow 1871-1970 (Baum-Welch, log-likelihood "
               f"{bw['log_likelihood'][0]:.1f} -> {bw['log_likelihood'][-1]:.1f}): levels {levels[0]:.0f} and {levels[1]:.0f} "
               f"(10^8 m^3); the Viterbi path changes state in {changes} (the series' known drop is at 1898-1899)")
    ring = gd.data.ring_of_gaussians(std=0.1)  # wider than the standard 0.02 ring, so 30 s of training suffice
    gan_spec = gd.GAN(2, latent=16, generator_hidden=[128] * 3, discriminator_hidden=[128] * 3, pack=2, name="ring_gan")
    files.append(gd.viz.save(gd.draw(gan_spec), out / "gan.svg"))
    gan = gd.compile(gan_spec)
    t = time.perf_counter()
    gd.fit(gan, ring.sample(20000, seed=0), method="adversarial", epochs=25, batch_size=256, lr=1e-3, r1=1.0,
           schedule="linear", progress=False)
    cover = gd.infer.mode_coverage(gan.sample(2500, seed=1), ring.centers, ring.std)
    say(lines, f"{gan_spec!r}: {time.perf_counter() - t:.0f} s of adversarial training (non-saturating + R1) on a ring of 8 "
               f"Gaussians with std 0.1 -> {cover} (the standard std 0.02 ring and the 5x5 grid: benchmarks/gan_toy.py)")

    image_gan = gd.compile(gd.GAN(pixels, latent=16, generator_hidden=[128, 128], discriminator_hidden=[128, 128],
                                  name="image_gan"))
    t = time.perf_counter()
    gan_epochs = 120 if pixels <= 100 else 5
    gd.fit(image_gan, x_train, method="adversarial", epochs=gan_epochs, batch_size=64, lr=1e-3, r1=1.0, schedule="linear",
           progress=False)
    with torch.no_grad():
        files.append(gd.viz.save_image_grid(image_gan.sample(32, seed=1).clamp(0, 1), out / "gan_samples.png", shape=shape,
                                            ncols=8, scale=2 if pixels > 100 else 6))
    say(lines, f"a GAN on {where.split(' (')[0]}: {gan_epochs} epochs in {time.perf_counter() - t:.0f} s, samples written "
               "as a PNG grid (a short run: the shapes of digits, with noise)")

    section(lines, "Files")
    for f in files:
        say(lines, f"- {Path(f).name}")
    say(lines, f"\ndone in {time.perf_counter() - t_start:.1f} s")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out / 'summary.md'}")


if __name__ == "__main__":
    main()
