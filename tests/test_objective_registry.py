"""The objective registry behind gd.fit: registering and removing objectives, a third-party
objective trained through gd.fit, options as dataclasses whose defaults are the runners', and
the structural capabilities (not family names) that RBMs and DBNs are trained and scored by."""
from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import graphdgm as gd
from graphdgm.errors import GraphdgmError
from graphdgm.infer.rbm_ais import dbn_log_likelihood_bound
from graphdgm.learn import (History, Objective, available_objectives, methods_for, register_objective,
                            unregister_objective)
from graphdgm.learn.registry import registered_objectives

ROOT = Path(__file__).resolve().parents[1]


def binary(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, d), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(seed))


@dataclass(frozen=True)
class MomentOptions:
    rate: float = 1.0
    epochs: int = 1
    progress: bool | None = None


def fit_moments(model: torch.nn.Module, data: torch.Tensor, *, rate: float = 1.0, epochs: int = 1,
                progress: bool | None = None) -> History:
    """A tiny third-party objective: move the visible bias towards the data's log-odds."""
    p = data.double().mean(0).clamp(0.05, 0.95)  # (V,)
    records = []
    with torch.no_grad():
        for epoch in range(epochs):  # a loop over epochs
            model.visible_bias += rate * (torch.log(p / (1 - p)) - model.visible_bias)
            records.append({"epoch": epoch + 1, "rate": rate})
    return History(records)


MOMENTS = Objective(fit_moments, MomentOptions, frozenset({"free_energy", "bipartite"}), "a model with a free energy")


@pytest.fixture
def moments():
    register_objective("moments", MOMENTS, aliases=("moment_matching",))
    yield MOMENTS
    unregister_objective("moments")


def test_registering_an_objective_makes_it_available_and_unregistering_removes_it() -> None:
    assert "moments" not in available_objectives()
    register_objective("moments", MOMENTS, aliases=("moment_matching",))
    try:
        assert {"moments", "moment_matching"} <= set(available_objectives())
        assert methods_for(gd.compile(gd.RBM(4, 2))) == ["pcd", "cd", "moments"]  # after the built-ins
        assert "moments" not in methods_for(gd.compile(gd.MADE(4, hidden=[6])))  # requires not met
        with pytest.raises(GraphdgmError, match="already registered.*overwrite=True"):
            register_objective("moments", MOMENTS)
        faster = dataclasses.replace(MOMENTS, models="a model with a free energy (faster)")
        register_objective("moments", faster, overwrite=True)
        assert [e.objective for e in registered_objectives() if e.name == "moments"] == [faster]  # replaced in place
    finally:
        unregister_objective("moments")
    assert "moments" not in available_objectives() and "moment_matching" not in available_objectives()
    assert methods_for(gd.compile(gd.RBM(4, 2))) == ["pcd", "cd"]


def test_a_third_party_objective_trains_through_fit_with_its_options(moments) -> None:
    rbm = gd.compile(gd.RBM(4, 2))
    x = binary(64, 4)
    h = gd.fit(rbm, x, method="moments", rate=0.5, epochs=3, progress=False)
    assert isinstance(h, History) and len(h) == 3 and h.last["rate"] == 0.5
    p = x.mean(0).clamp(0.05, 0.95)
    target = torch.log(p / (1 - p))
    assert torch.allclose(rbm.visible_bias, target * (1 - 0.5 ** 3), atol=1e-12)  # three half-steps from 0
    h = gd.fit(gd.compile(gd.RBM(4, 2)), x, method="moment_matching")  # an alias, the dataclass's defaults
    assert len(h) == 1 and h.last["rate"] == 1.0


def test_a_third_party_objective_rejects_options_it_does_not_declare(moments) -> None:
    rbm = gd.compile(gd.RBM(4, 2))
    with pytest.raises(gd.SpecError, match=r"unknown option.*'rat' \(did you mean 'rate'\?\).*Its options are: rate, "
                                           r"epochs, progress"):
        gd.fit(rbm, binary(8, 4), method="moments", rat=0.5)
    with pytest.raises(gd.SpecError, match=r"'k' \(an option of 'pcd', 'cd', not of this method\)"):
        gd.fit(rbm, binary(8, 4), method="moments", k=2)
    with pytest.raises(gd.CapabilityError, match=r"'moments' trains a model with a free energy, needs capabilities "
                                                 r"\['bipartite', 'free_energy'\].*trains by 'mle'"):
        gd.fit(gd.compile(gd.MADE(4, hidden=[6])), binary(8, 4), method="moments")


def test_objectives_sharing_a_name_resolve_to_the_first_that_applies() -> None:
    register_objective("mle", MOMENTS)  # "mle" for energy models, beside the built-in ones
    try:
        rbm = gd.compile(gd.RBM(4, 2))
        assert methods_for(rbm) == ["pcd", "cd", "mle"]
        assert gd.fit(rbm, binary(16, 4), method="mle", rate=0.25).last["rate"] == 0.25
        made = gd.compile(gd.MADE(4, hidden=[6]))
        h = gd.fit(made, binary(16, 4), method="mle", epochs=1, progress=False)  # still gradient MLE
        assert "rate" not in h.last
        with pytest.raises(gd.SpecError, match="'rate'"):
            gd.fit(made, binary(16, 4), method="mle", rate=0.25)
    finally:
        unregister_objective("mle", MOMENTS)
    assert methods_for(gd.compile(gd.RBM(4, 2))) == ["pcd", "cd"]
    assert methods_for(gd.compile(gd.MADE(4, hidden=[6])))[0] == "mle"  # the built-in "mle" objectives stay


def test_an_objective_is_checked_when_it_is_declared() -> None:
    with pytest.raises(gd.SpecError, match="dataclass"):
        Objective(fit_moments, dict, frozenset())
    with pytest.raises(gd.SpecError, match="runner"):
        Objective("fit_moments", MomentOptions, frozenset())
    with pytest.raises(gd.SpecError, match="Objective"):
        register_objective("moments", fit_moments)


def test_each_builtin_objectives_options_are_its_runners_keywords_and_defaults() -> None:
    for entry in registered_objectives():
        ob = entry.objective
        assert dataclasses.fields(ob.options) and ob.options.__dataclass_params__.frozen, entry.name
        fixed = dict(getattr(ob.runner, "keywords", {}))  # a functools.partial's fixed keywords
        runner = getattr(ob.runner, "func", ob.runner)
        params = {p.name: p.default for p in list(inspect.signature(runner).parameters.values())[2:]}
        expected = {k: v for k, v in params.items() if k not in fixed}
        if entry.name == "cd":
            assert expected.pop("chains") is None  # CD restarts at the data: no persistent chains to size
        assert ob.defaults() == expected, entry.name
        assert "progress" in ob.option_names, entry.name


def test_rbm_and_dbn_declare_structure_not_their_family() -> None:
    rbm = gd.compile(gd.RBM(4, 2))
    assert {"bipartite", "marginalisable:h", "free_energy", "energy"} <= rbm.capabilities
    for vtype in ("bernoulli", "gaussian"):
        assert "rbm" not in gd.compile(gd.RBM(4, 2, visible_type=vtype)).capabilities
    dbn = gd.compile(gd.DBN([6, 4, 3]))
    assert {"layerwise", "recognition_bound"} <= dbn.capabilities and "dbn" not in dbn.capabilities
    family = re.compile(r"""["'](rbm|dbn)["']""")
    hits = [f"{p.relative_to(ROOT)}:{i}" for pkg in ("infer", "learn") for p in sorted((ROOT / "graphdgm" / pkg).rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1) if family.search(line)]
    assert hits == []


@pytest.mark.filterwarnings("ignore::graphdgm.errors.ConvergenceWarning")  # a tiny AIS: same answer both ways is the point
def test_log_likelihood_of_a_dbn_is_still_its_recognition_bound() -> None:
    dbn = gd.compile(gd.DBN([6, 4, 3]))
    x = binary(10, 6)
    options = {"runs": 8, "betas": 50, "seed": 3, "progress": False}
    assert gd.log_likelihood(dbn, x, backend="ais", **options) == dbn_log_likelihood_bound(dbn, x, **options).bound
    with pytest.raises(gd.CapabilityError, match="intractable.*backend='ais'"):
        gd.log_likelihood(dbn, x)


def test_an_rbm_likelihood_is_free_energy_plus_log_z_and_exact_enumeration_still_applies() -> None:
    rbm = gd.compile(gd.RBM(5, 3, init_std=0.5))
    x = binary(6, 5)
    exact = gd.log_likelihood(rbm, x)
    z = gd.log_partition(gd.compile(rbm.to_markov_network()), backend="exact")
    assert exact == pytest.approx(float(-rbm.free_energy(x).mean() - z), abs=1e-10)
    with pytest.raises(gd.SpecError, match="use 'exact' or 'ais'"):
        gd.log_likelihood(rbm, x, backend="gibbs")


def test_a_dbn_is_pointed_to_layerwise_training_and_layerwise_needs_a_stack() -> None:
    dbn = gd.compile(gd.DBN([6, 4, 3]))
    assert methods_for(dbn) == []
    with pytest.raises(gd.CapabilityError, match=r"no training method.*fit_layerwise"):
        gd.fit(dbn, binary(8, 6))
    hs = gd.learn.fit_layerwise(dbn, binary(32, 6), epochs=1, batch_size=16, progress=False)
    assert [len(h) for h in hs] == [1, 1]
    with pytest.raises(gd.CapabilityError, match="fit_layerwise trains"):
        gd.learn.fit_layerwise(gd.compile(gd.RBM(6, 3)), binary(8, 6))
