"""The compiled Markov network: packing, energy, colouring and block conditionals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import graphdgm as gd
from conftest import random_network


def test_energy_equals_sum_of_table_factors() -> None:
    mn = gd.MarkovNetwork.potts_grid(2, 3, k=3, coupling=0.4, field=np.random.default_rng(0).normal(size=(2, 3, 3)))
    mn.add_factor(["x[0,0]", "x[1,2]", "x[0,1]"], np.random.default_rng(1).random((3, 3, 3)) + 0.1)
    model = gd.compile(mn)
    states = torch.randint(0, 3, (50, 6), generator=torch.Generator().manual_seed(0))
    expected = torch.zeros(50, dtype=torch.float64)
    for f in mn.table_factors():
        idx = tuple(states[:, mn.index_of(v)] for v in f.scope)
        expected += torch.from_numpy(f.log_table)[idx]
    torch.testing.assert_close(model.energy(states), -expected)


@pytest.mark.parametrize("seed", range(4))
def test_blocks_are_independent_sets_covering_all_variables(seed: int) -> None:
    model = gd.compile(random_network(seed, n_vars=8, n_factors=10))
    edges = {tuple(e) for e in model.markov_edges().tolist()}
    seen = torch.cat(list(model.blocks)).sort().values
    assert seen.tolist() == list(range(model.num_variables))
    for block in model.blocks:
        members = block.tolist()
        assert not any((a, b) in edges or (b, a) in edges for a in members for b in members if a < b)


def test_bipartite_grid_gets_two_blocks() -> None:
    assert len(gd.compile(gd.MarkovNetwork.ising_grid(7, 9)).blocks) == 2


@pytest.mark.parametrize("seed", range(4))
def test_conditionals_equal_energy_differences(seed: int) -> None:
    model = gd.compile(random_network(seed, n_vars=7, n_factors=9, zeros=False))
    g = torch.Generator().manual_seed(seed)
    states = torch.stack([torch.randint(0, int(k), (20,), generator=g) for k in model.cards], 1)
    for b, block in enumerate(model.blocks):
        logits = model.conditional_logits(states, b)  # (B, m, kmax)
        for j, v in enumerate(block.tolist()):
            k = int(model.cards[v])
            expected = []
            for s in range(k):
                x = states.clone()
                x[:, v] = s
                expected.append(-model.energy(x))
            expected = torch.stack(expected, 1)
            got = logits[:, j, :k]
            torch.testing.assert_close(got - got[:, :1], expected - expected[:, :1], rtol=1e-9, atol=1e-9)
            assert torch.all(logits[:, j, k:] == -np.inf)


def test_bad_state_shape_is_a_clear_error() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2))
    with pytest.raises(gd.SpecError, match=r"shape \(batch, 4\)"):
        model.energy(torch.zeros(3, 5, dtype=torch.long))


def test_parameters_are_learnable_and_structure_is_fixed() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.1, field=0.2))
    names = {n for n, _ in model.named_parameters()}
    assert names == {"groups.0.weight", "groups.1.weight"}
    assert "scope" in dict(model.groups[0].named_buffers())
    assert model.capabilities >= {"energy", "factor_tables", "blocks", "conditionals"}


def test_compile_rejects_unknown_specs_and_bad_dtypes() -> None:
    with pytest.raises(gd.SpecError, match="cannot compile a dict"):
        gd.compile({})
    with pytest.raises(gd.SpecError, match="floating dtype"):
        gd.compile(gd.MarkovNetwork.ising_grid(2, 2), dtype=torch.int64)
    with pytest.raises(gd.SpecError, match="empty network"):
        gd.compile(gd.MarkovNetwork())


# ------------------------------------------------------------------ issue 14: dtype and device arguments
@pytest.mark.parametrize("dtype, expected", [("float32", torch.float32), ("float64", torch.float64),
                                             ("torch.float32", torch.float32), (torch.float32, torch.float32)])
def test_compile_accepts_dtype_names_and_torch_dtypes(dtype, expected) -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3), dtype=dtype)
    assert {p.dtype for p in model.parameters()} == {expected}
    assert float(gd.log_partition(model)) == pytest.approx(
        float(gd.log_partition(gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3)))), rel=1e-5)


@pytest.mark.parametrize("dtype", ["int64", "float", 3, torch.int64, torch.complex64, torch.bool, np.float32])
def test_compile_rejects_other_dtypes_listing_the_allowed_ones(dtype) -> None:
    with pytest.raises(gd.SpecError, match="'float32', 'float64'"):
        gd.compile(gd.MarkovNetwork.ising_grid(2, 2), dtype=dtype)


@pytest.mark.parametrize("device", ["blah", "cuda:99", 3.5, ["cpu"]])
def test_compile_rejects_unknown_devices_naming_them(device) -> None:
    with pytest.raises(gd.SpecError, match="device"):
        gd.compile(gd.MarkovNetwork.ising_grid(2, 2), device=device)
