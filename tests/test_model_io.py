"""Saving and loading compiled models keeps trained parameters."""
from __future__ import annotations

import pytest
import torch

import graphdgm as gd


def test_trained_parameters_survive_save_and_load(tmp_path) -> None:
    model = gd.compile(gd.MarkovNetwork.potts_grid(2, 3, k=3, coupling=0.2))
    with torch.no_grad():
        model.groups[0].weight.add_(torch.linspace(-1, 1, model.groups[0].num_factors, dtype=torch.float64))
    path = gd.io.save(model, tmp_path / "sub" / "potts.pt")
    back = gd.io.load(path)
    torch.testing.assert_close(back.groups[0].weight, model.groups[0].weight)
    assert back.variables == model.variables
    assert float(gd.log_partition(back)) == pytest.approx(float(gd.log_partition(model)), rel=1e-12)


def test_float32_model_round_trip(tmp_path) -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3), dtype=torch.float32)
    back = gd.io.load(gd.io.save(model, tmp_path / "m.pt"))
    assert back.groups[0].weight.dtype == torch.float32


def test_bad_model_files_are_clear_errors(tmp_path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(gd.FormatError, match="not a graphdgm model file"):
        gd.io.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"format": "something else"}, other)
    with pytest.raises(gd.FormatError, match="expected format"):
        gd.io.load(other)
    with pytest.raises(FileNotFoundError):
        gd.io.load(tmp_path / "missing.pt")
