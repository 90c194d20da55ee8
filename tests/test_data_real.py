"""Real data offline: the digits, the bnlearn networks and the Nile series load without the
network, and the MNIST download goes through pooch, checks the pixels and looks in the cache
first (tested with a stand-in for pooch: no test reaches the network)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.data import mnist


def test_digits_are_binary_and_labelled() -> None:
    x, y = gd.data.load_digits_binary()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert set(torch.unique(x).tolist()) == {0.0, 1.0}
    assert set(y.tolist()) == set(range(10))
    with pytest.raises(gd.SpecError, match="threshold"):
        gd.data.load_digits_binary(threshold=20)


def test_a_bnlearn_network_answers_like_pgmpy() -> None:
    from pgmpy.inference import VariableElimination

    bn = gd.data.bnlearn_network("asia")
    model = gd.compile(bn)
    ours = gd.query(model, ["lung"], {"smoke": "yes"})["lung"]
    theirs = VariableElimination(gd.io.to_pgmpy(bn)).query(["lung"], evidence={"smoke": "yes"}, show_progress=False)
    for k, label in enumerate(ours.labels):
        assert abs(float(ours.probs[k]) - theirs.values[theirs.state_names["lung"].index(label)]) < 1e-12
    with pytest.raises(gd.SpecError, match="alarm"):
        gd.data.bnlearn_network("alrm")


def test_nile_flow_is_the_classic_series() -> None:
    years, flow = gd.data.nile_flow()
    assert len(years) == len(flow) == 100
    assert flow[:28].mean() > flow[28:].mean() + 200  # the drop around 1898


def _fake_amat(folder: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for split in mnist.SPLITS:
        rows = (rng.random((3, 784)) < 0.2).astype(np.uint8)
        np.savetxt(folder / f"binarized_mnist_{split}.amat", rows, fmt="%d")
        out[split] = rows
    return out


def test_download_checks_the_pixels_and_writes_the_npz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pooch = pytest.importorskip("pooch")
    src = tmp_path / "server"
    src.mkdir()
    rows = _fake_amat(src, np.random.default_rng(0))
    fetched = []

    def retrieve(url, known_hash, fname, path, progressbar):  # the stand-in for the network
        fetched.append(url)
        assert url.startswith("https://")
        return str(src / fname)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    monkeypatch.setattr(mnist, "PIXEL_SHA256", {s: mnist.pixel_digest(r) for s, r in rows.items()})
    out = mnist.download_binarized_mnist(tmp_path / "cache")
    assert out.name == mnist.FILENAME and len(fetched) == 3
    for split in mnist.SPLITS:
        got = mnist.load_binarized_mnist(split, out, dtype=torch.uint8).numpy()
        np.testing.assert_array_equal(got, rows[split])
    assert not list((tmp_path / "cache").glob("*.part"))  # written atomically, nothing left over

    monkeypatch.setattr(mnist, "PIXEL_SHA256", {**mnist.PIXEL_SHA256, "valid": "0" * 64})
    with pytest.raises(OSError, match="valid split"):
        mnist.download_binarized_mnist(tmp_path / "cache2")


def test_load_with_download_uses_the_cache_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    packed = {s: np.packbits(np.ones((2, 784), dtype=np.uint8), axis=1) for s in mnist.SPLITS}
    np.savez_compressed(cache / mnist.FILENAME, **packed)
    monkeypatch.setattr(mnist, "CACHE", cache)
    monkeypatch.delenv("GRAPHDGM_DATA", raising=False)

    def no_network(*a, **k):
        raise AssertionError("downloaded although the cache holds the file")

    monkeypatch.setattr(mnist, "download_binarized_mnist", no_network)
    assert mnist.load_binarized_mnist("test", download=True).shape == (2, 784)
