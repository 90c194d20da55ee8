"""The backend registry: names, instances, capability checks and entry points."""
from __future__ import annotations

from importlib import metadata

import pytest
import torch

import graphdgm as gd
from graphdgm.infer import registry


class UniformBackend:
    """A deliberately crude third-party backend: uniform marginals."""

    name = "uniform"
    requires = frozenset({"discrete"})
    approximate = True

    def marginals(self, model, variables, evidence):
        return [torch.full((int(model.cards[v]),), 1.0 / int(model.cards[v]), dtype=torch.float64) for v in variables]


class NeedsGradients:
    name = "needs_gradients"
    requires = frozenset({"gradient_of_energy_wrt_real_state"})
    approximate = True


def test_register_use_and_unregister() -> None:
    gd.infer.register_backend("uniform", UniformBackend)
    try:
        m = gd.query(gd.MarkovNetwork.ising_grid(2, 2), ["x[0,0]"], backend="uniform")
        assert m["x[0,0]"].to_dict() == {-1: 0.5, 1: 0.5}
        with pytest.raises(gd.GraphdgmError, match="already registered"):
            gd.infer.register_backend("uniform", UniformBackend)
        assert "uniform" in gd.infer.available_backends()
        with pytest.raises(gd.InferenceError, match="uniform"):  # too-wide errors name approximate backends
            gd.query(gd.MarkovNetwork.ising_grid(8, 8), backend=gd.infer.Exact(max_table_log2=4, max_slices=1))
    finally:
        gd.infer.unregister_backend("uniform")


def test_missing_method_and_capability_are_clear_errors() -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2))
    with pytest.raises(gd.CapabilityError, match="does not answer map"):
        gd.map_query(model, backend=UniformBackend())
    with pytest.raises(gd.CapabilityError, match=r"needs \['gradient_of_energy_wrt_real_state'\].*backends that fit.*exact"):
        gd.query(model, backend=NeedsGradients())


def test_entry_points_are_loaded(monkeypatch) -> None:
    ep = metadata.EntryPoint(name="from_plugin", value="test_registry:UniformBackend", group="graphdgm.backends")

    def fake_entry_points(group=None, **kw):
        return [ep] if group == "graphdgm.backends" else []

    monkeypatch.setattr(registry.metadata, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_ENTRY_POINTS_LOADED", False)
    try:
        assert "from_plugin" in gd.infer.available_backends()
        m = gd.query(gd.MarkovNetwork.ising_grid(1, 2), backend="from_plugin")
        assert m["x[0,1]"][1] == 0.5
    finally:
        gd.infer.unregister_backend("from_plugin")
