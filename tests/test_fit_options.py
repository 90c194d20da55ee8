"""gd.fit: a default method per model, every method returns a History, options the method does not
use are errors, bad numbers are SpecErrors, and divergence rolls back to the last finite parameters."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import ConvergenceWarning
from graphdgm.learn import History, methods_for, train


def sprinkler() -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("cloudy", "rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Categorical(2, labels=("no", "yes")))
    bn.add_cpd("cloudy", [], [0.5, 0.5])
    bn.add_cpd("rain", ["cloudy"], [[0.8, 0.2], [0.2, 0.8]])
    bn.add_cpd("sprinkler", ["cloudy"], [[0.5, 0.5], [0.9, 0.1]])
    bn.add_cpd("wet", ["sprinkler", "rain"], [[[1.0, 0.0], [0.1, 0.9]], [[0.1, 0.9], [0.01, 0.99]]])
    return bn


def empty_sprinkler() -> torch.nn.Module:
    spec = sprinkler()
    return gd.compile(gd.BayesianNetwork.empty_like(spec.parents, {v: spec.domain_of(v) for v in spec.variables}))


def binary(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, d), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(seed))


def test_each_model_kind_gets_a_default_method_that_suits_it() -> None:
    assert methods_for(gd.compile(sprinkler()))[0] == "mle"
    assert methods_for(gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]])))[0] == "mle"
    assert methods_for(gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0)))[0] == "baum_welch"
    assert methods_for(gd.compile(gd.MADE(4, hidden=[6])))[0] == "mle"
    assert methods_for(gd.compile(gd.GAN(2, latent=2, generator_hidden=[4], discriminator_hidden=[4]))) == ["adversarial"]
    assert methods_for(gd.compile(gd.RBM(4, 2))) == ["pcd", "cd"]
    assert methods_for(gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3)))[0] == "pcd"


def test_fit_of_a_bayesian_network_without_a_method_counts_and_returns_a_history() -> None:
    truth = gd.compile(sprinkler())
    data = truth.sample(4000, seed=1)
    model = empty_sprinkler()
    h = gd.fit(model, data)  # no method: counting, not PCD
    assert isinstance(h, History) and len(h) == 1
    expected = float(model.log_prob(data).mean())
    assert h.last["log_likelihood_per_example"] == pytest.approx(expected, abs=1e-9)
    assert h.last["examples"] == 4000
    assert abs(model.spec.cpds["rain"][1, 1] - 0.8) < 0.03


def test_every_method_returns_a_history() -> None:
    chain = gd.compile(gd.MarkovChain(["a", "b"], [[0.5, 0.5], [0.5, 0.5]]))
    hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
    _, y = hmm.sample(5, 6, seed=0)
    runs = [
        gd.fit(chain, [["a", "b", "a"]]),
        gd.fit(hmm, y, iterations=2, progress=False),
        gd.fit(gd.compile(gd.MADE(4, hidden=[6])), binary(16, 4), epochs=1, progress=False),
        gd.fit(gd.compile(gd.RBM(4, 2)), binary(16, 4), epochs=1, batch_size=8, progress=False),
        gd.fit(gd.compile(gd.GAN(1, latent=2, generator_hidden=[4], discriminator_hidden=[4])), torch.randn(16, 1),
               epochs=1, batch_size=8, progress=False),
    ]
    assert all(isinstance(h, History) and len(h) >= 1 for h in runs)


@pytest.mark.parametrize("option, hint", [
    ({"epoch": 3}, "did you mean 'epochs'"),
    ({"psuedo_count": 1.0}, "did you mean 'pseudo_count'"),
    ({"chains": 10}, "an option of 'pcd'"),
])
def test_an_option_the_method_does_not_use_is_an_error_naming_it(option: dict, hint: str) -> None:
    model = gd.compile(sprinkler()) if "psuedo_count" in option or "chains" in option else gd.compile(gd.MADE(4, hidden=[6]))
    name = next(iter(option))
    with pytest.raises(gd.SpecError, match=rf"unknown option.*'{name}'.*{hint}.*Its options are"):
        gd.fit(model, torch.zeros(4, 4, dtype=torch.long), method="mle", **option)


def test_adversarial_training_rejects_options_it_ignored() -> None:
    gan = gd.compile(gd.GAN(2, latent=2, generator_hidden=[4], discriminator_hidden=[4]))
    for option in ({"validation": torch.zeros(4, 2)}, {"weight_decay": 0.1}, {"k": 2}):
        with pytest.raises(gd.SpecError, match=f"'{next(iter(option))}'"):
            gd.fit(gan, torch.zeros(8, 2), method="adversarial", progress=False, **option)


def test_a_method_that_does_not_apply_names_the_models_methods() -> None:
    with pytest.raises(gd.CapabilityError, match=r"'pcd'.*trains by 'mle'"):
        gd.fit(gd.compile(sprinkler()), torch.zeros(4, 4, dtype=torch.long), method="pcd")
    with pytest.raises(gd.CapabilityError, match="'mle'"):
        gd.fit(gd.compile(sprinkler()), torch.zeros(4, 4, dtype=torch.long), method="cd")
    dbn = gd.compile(gd.DBN([6, 4, 3]))
    for method in ("pcd", None):
        with pytest.raises(gd.CapabilityError, match=r"fit_layerwise"):
            gd.fit(dbn, binary(8, 6), method=method)
    with pytest.raises(gd.SpecError, match="Did you mean 'pcd'"):
        gd.fit(gd.compile(gd.RBM(4, 2)), binary(8, 4), method="pdc")
    with pytest.raises(gd.CapabilityError, match="gd.compile"):
        gd.fit(gd.RBM(4, 2), binary(8, 4))


@pytest.mark.parametrize("option", [
    {"batch_size": 0}, {"batch_size": -5}, {"epochs": 2.7}, {"epochs": 0}, {"lr": 0.0}, {"lr": -1.0},
    {"lr": float("nan")}, {"k": 0}, {"chains": 0}, {"k": 1.5}, {"momentum_warmup": -1},
])
def test_bad_numbers_are_spec_errors_naming_the_option(option: dict) -> None:
    model = gd.compile(gd.RBM(4, 2))
    before = model.visible_bias.detach().clone()
    with pytest.raises(gd.SpecError, match=next(iter(option))):
        gd.fit(model, binary(8, 4), progress=False, **option)
    assert torch.equal(model.visible_bias, before)  # rejected before anything changed


def test_bad_numbers_for_other_methods_are_spec_errors() -> None:
    hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0))
    _, y = hmm.sample(3, 4, seed=0)
    with pytest.raises(gd.SpecError, match="iterations"):
        gd.fit(hmm, y, iterations=2.5, progress=False)
    gan = gd.compile(gd.GAN(2, latent=2, generator_hidden=[4], discriminator_hidden=[4]))
    with pytest.raises(gd.SpecError, match="d_steps"):
        gd.fit(gan, torch.zeros(8, 2), d_steps=0, progress=False)
    with pytest.raises(gd.SpecError, match="batch_size"):
        gd.fit(gan, torch.zeros(8, 2), batch_size=-5, progress=False)
    with pytest.raises(gd.SpecError, match="pseudo_count"):
        gd.fit(gd.compile(sprinkler()), torch.zeros(4, 4, dtype=torch.long), pseudo_count=float("nan"))
    with pytest.raises(gd.SpecError, match="empty"):
        gd.fit(gd.compile(gd.RBM(4, 2)), torch.zeros(0, 4), progress=False)
    with pytest.raises(gd.SpecError, match="empty"):
        gd.fit(gd.compile(sprinkler()), torch.zeros(0, 4, dtype=torch.long))
    with pytest.raises(gd.SpecError, match="NaN"):
        gd.fit(gd.compile(sprinkler()), torch.full((3, 4), float("nan")))
    with pytest.raises(gd.SpecError, match="epochs"):
        gd.learn.fit_layerwise(gd.compile(gd.DBN([6, 4, 3])), binary(8, 6), epochs=[1, 2.5], progress=False)


class _Blowup:
    """A crafted objective: gradient -1 for four steps (two epochs of two steps), then NaN."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.step = model, 0

    def backward(self, batch: torch.Tensor) -> None:
        for p in self.model.parameters():
            p.grad = torch.full_like(p, -1.0 if self.step < 4 else float("nan"))
        self.step += 1

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def test_divergence_rolls_back_to_the_last_finite_parameters_and_says_so() -> None:
    model = torch.nn.Linear(2, 1).double()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    with pytest.warns(ConvergenceWarning, match=r"diverged in epoch 3.*'weight'.*after epoch 2.*lower the learning rate"):
        h = train(model, _Blowup(model), torch.zeros(4, 2), epochs=5, batch_size=2, lr=0.5, momentum=0.0,
                  momentum_warmup=0, progress=False)
    assert h.diverged == {"epoch": 3, "parameters": ["weight", "bias"], "restored_epoch": 2}
    assert len(h) == 2  # the records of the good epochs
    for n, p in model.named_parameters():
        assert bool(torch.isfinite(p).all())
        assert torch.allclose(p, start[n] + 4 * 0.5)  # four SGD steps of -lr * (-1): the last good parameters


def test_a_finite_run_reports_no_divergence() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        h = gd.fit(gd.compile(gd.RBM(4, 2)), binary(16, 4), epochs=2, batch_size=8, progress=False)
    assert h.diverged is None


def test_bayesian_network_fit_matches_data_frame_columns_by_name_and_reads_labels() -> None:
    truth = gd.compile(sprinkler())
    x = truth.sample(20000, seed=2).numpy()
    labels = np.array(["no", "yes"])[x]
    frame = pd.DataFrame(labels, columns=list(truth.variables))[["wet", "rain", "cloudy", "sprinkler"]]  # reordered
    model = empty_sprinkler()
    gd.fit(model, frame, method="mle")
    by_index = empty_sprinkler()
    gd.fit(by_index, torch.as_tensor(x), method="mle")
    for v in truth.variables:
        np.testing.assert_allclose(model.spec.cpds[v], by_index.spec.cpds[v], atol=1e-12)  # same counts
    p_rain = float(gd.query(model, ["rain"], evidence={"wet": "yes"})["rain"].probs[1])
    exact = float(gd.query(truth, ["rain"], evidence={"wet": "yes"})["rain"].probs[1])
    assert abs(p_rain - exact) < 0.02
    with pytest.raises(gd.SpecError, match=r"missing \['sprinkler'\].*unknown \['sprinkle'\]"):
        gd.fit(model, frame.rename(columns={"sprinkler": "sprinkle"}))
    bad = frame.copy()
    bad.loc[3, "rain"] = "maybe"
    with pytest.raises(gd.SpecError, match=r"'rain' holds 'maybe'.*'no', 'yes'"):
        gd.fit(model, bad)
    with pytest.raises(gd.SpecError, match="states"):
        gd.fit(model, [["no", "yes", "no", "x"]])  # a list of label rows: named error, never a TypeError
