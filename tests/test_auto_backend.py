"""backend="auto": exact inference where the width allows, parallel tempering otherwise, saying
which; on a frustrated 10x10 spin glass the tempered sampler it falls back to reaches every
marginal within 0.03 of exact (fixed seed)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.spec import grid_edges


def spin_glass(L: int = 10, seed: int = 0) -> gd.MarkovNetwork:
    """Couplings N(0, 2) (strong and frustrated) and fields N(0, 0.5) on an L x L grid."""
    rng = np.random.default_rng(seed)
    return gd.MarkovNetwork.ising_grid(L, L, coupling=rng.normal(0, 2.0, size=len(grid_edges(L, L))),
                                      field=rng.normal(0, 0.5, size=(L, L)))


def test_auto_answers_exactly_where_the_width_allows() -> None:
    model = gd.compile(spin_glass(5))
    auto = gd.infer.Auto()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the answer is exact
        got = gd.query(model, backend=auto).tensor()
        log_z = gd.log_partition(model, backend=auto)
    assert auto.choice == "exact"
    torch.testing.assert_close(got, gd.query(model).tensor(), rtol=0, atol=1e-12)
    assert float(log_z) == pytest.approx(float(gd.log_partition(model)), abs=1e-10)
    assert gd.query(model, backend="auto").diagnostics is None  # by name too; exact answers carry no diagnostics


def test_auto_falls_back_to_tempering_and_says_why() -> None:
    model = gd.compile(spin_glass(4))
    auto = gd.infer.Auto(max_table_log2=3, max_slices=1, chains=8, sweeps=200)
    with pytest.warns(UserWarning, match="parallel tempering.*induced width"):
        res = gd.query(model, backend=auto)
    assert auto.choice.startswith("tempering") and "above the limit 2^3" in auto.choice
    assert res.diagnostics is not None  # the sampler's R-hat and ESS
    with pytest.raises(gd.EvidenceError):  # other errors are not mistaken for "too wide"
        mn = gd.MarkovNetwork()
        mn.add_variable("a", gd.Binary())
        mn.add_variable("b", gd.Binary())
        mn.add_factor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
        gd.query(gd.compile(mn), ["a"], evidence={"a": 0, "b": 1}, backend="auto")


def test_auto_slices_a_problem_that_fits_in_a_few_slices() -> None:
    model = gd.compile(spin_glass(4))
    auto = gd.infer.Auto(max_table_log2=3, max_slices=64)  # width 4 needs 2^5 entries: a few slices fit 2^3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact (sliced): no warning
        got = gd.query(model, backend=auto).tensor()
    assert auto.choice == "exact"
    torch.testing.assert_close(got, gd.query(model).tensor(), rtol=0, atol=1e-12)
    with pytest.warns(UserWarning, match="slicing on"):  # more slices than allowed: sampled, saying why
        gd.query(model, backend=gd.infer.Auto(max_table_log2=1, max_slices=2, chains=4, sweeps=50))


@pytest.mark.statistical
def test_tempering_reaches_frustrated_grid_marginals_within_0_03() -> None:
    """The 10x10 spin glass: exact inference answers it (width 10), so exact is disallowed and
    the tempered sampler must get every marginal within 0.03 (seed 0; 32 chains x 4000 sweeps,
    24 temperatures down to beta 0.05: about 10 s on one CPU core)."""
    model = gd.compile(spin_glass(10))
    exact = gd.query(model).tensor()
    auto = gd.infer.Auto(allow_exact=False, seed=0)
    with pytest.warns(UserWarning, match="not allowed"):
        got = gd.query(model, backend=auto).tensor()
    err = float((got - exact).abs().max())
    assert err < 0.03, err


@pytest.mark.parametrize("options, message", [
    ({"max_table_log2": float("nan")}, "max_table_log2"), ({"max_table_log2": -1}, "max_table_log2"),
    ({"chains": 0}, "chains"), ({"beta_min": 2.0}, "beta_min"), ({"sweeps": "many"}, "sweeps"),
])
def test_bad_auto_options_are_named(options: dict, message: str) -> None:
    with pytest.raises(gd.SpecError, match=message):
        gd.infer.Auto(**options)
