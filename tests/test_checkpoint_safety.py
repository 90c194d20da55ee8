"""Training checkpoints are plain data: resume never unpickles code, every method's checkpoint
loads with weights_only=True, and files are written atomically."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.learn import History
from graphdgm.runtime import safe_torch_load


class _WritesMarker:
    """Unpickling this runs ``open(marker, "w")``: what a crafted checkpoint would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _binary(n: int, d: int) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, d), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))


def test_resume_from_a_crafted_checkpoint_runs_no_code_and_is_a_named_error(tmp_path) -> None:
    proof = tmp_path / "proof"
    torch.save({"x": _WritesMarker(str(proof))}, tmp_path / "proof.pt")
    torch.load(tmp_path / "proof.pt", weights_only=False)  # the crafted file does run code when unpickled
    assert proof.exists()
    marker = tmp_path / "marker"
    ck = tmp_path / "evil.pt"
    torch.save({"model": {}, "epoch": 1, "payload": _WritesMarker(str(marker))}, ck)
    model = gd.compile(gd.RBM(4, 2))
    with pytest.raises(gd.GraphdgmError, match="evil.pt.*training checkpoint"):
        gd.fit(model, _binary(8, 4), epochs=2, checkpoint=ck, resume=True, progress=False)
    assert not marker.exists()


def test_every_methods_checkpoint_loads_as_plain_data(tmp_path) -> None:
    runs = {
        "rbm": (gd.compile(gd.RBM(4, 2)), _binary(16, 4), {"method": "pcd", "batch_size": 8}),
        "made": (gd.compile(gd.MADE(4, hidden=[6])), _binary(16, 4), {"method": "mle", "batch_size": 8}),
        "gan": (gd.compile(gd.GAN(1, latent=2, generator_hidden=[4], discriminator_hidden=[4])), torch.randn(16, 1),
                {"method": "adversarial", "batch_size": 8, "metrics": lambda m: {"score": np.float64(0.5)}}),
    }
    for name, (model, x, options) in runs.items():
        ck = tmp_path / f"{name}.pt"
        gd.fit(model, x, epochs=1, checkpoint=ck, progress=False, **options)
        state = safe_torch_load(ck)  # weights_only=True: would raise on any pickled object
        assert state["epoch"] == 1 and isinstance(state["history"][0], dict), name
        assert torch.is_tensor(state["shuffle"]), name
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], name


def test_history_save_is_atomic_json(tmp_path) -> None:
    path = tmp_path / "h.json"
    path.write_text("previous")
    h = History([{"epoch": 1, "loss": np.float64(0.5)}])
    h.save(path)
    assert json.loads(path.read_text()) == [{"epoch": 1, "loss": 0.5}]
    bad = History([{"epoch": 1, "loss": object()}])  # not JSON: the old file must survive
    with pytest.raises(TypeError):
        bad.save(path)
    assert json.loads(path.read_text()) == [{"epoch": 1, "loss": 0.5}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.json"]
