"""Files: a write killed half-way leaves the previous file loadable; loads never unpickle; a model
file with non-finite parameters is refused."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import graphdgm as gd

# Runs in a child process: every file that runtime.atomic_write opens writes half of its first
# chunk, then the process is killed (SIGKILL: no clean-up, no exception handler runs).
_KILL_MID_WRITE = textwrap.dedent("""
    import os, signal, sys
    import graphdgm as gd
    import graphdgm.runtime.files as files

    real_fdopen = os.fdopen

    class Dying:
        def __init__(self, f):
            self.f = f
        def write(self, data):
            self.f.write(data[: max(1, len(data) // 2)])
            self.f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        def __getattr__(self, name):
            return getattr(self.f, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    files.os.fdopen = lambda fd, *a, **k: Dying(real_fdopen(fd, *a, **k))
    what, path = sys.argv[1], sys.argv[2]
    spec = gd.MarkovNetwork.ising_grid(3, 3, coupling=0.9, field=0.5)
    if what == "model":
        gd.io.save(gd.compile(spec), path)
    else:
        gd.io.save_spec(spec, path)
    print("not killed")
""")


def _run_killed(what: str, path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILL_MID_WRITE, what, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, (proc.returncode, proc.stdout, proc.stderr[-2000:])


def test_model_save_killed_mid_write_leaves_the_previous_file_loadable(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    original = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3))
    gd.io.save(original, path)
    _run_killed("model", path)
    loaded = gd.io.load(path)
    assert float(gd.log_partition(loaded)) == float(gd.log_partition(original))
    assert loaded.num_variables == 4


def test_spec_save_killed_mid_write_leaves_the_previous_file_loadable(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    gd.io.save_spec(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3), path)
    _run_killed("spec", path)
    assert gd.io.load_spec(path).num_variables == 4


def test_model_file_with_nan_parameters_is_refused(tmp_path: Path) -> None:
    model = gd.compile(gd.RBM(4, 3))
    path = gd.io.save(model, tmp_path / "rbm.pt")
    blob = torch.load(path, weights_only=True)
    key = next(k for k, v in blob["state_dict"].items() if v.is_floating_point())
    blob["state_dict"][key] = torch.full_like(blob["state_dict"][key], float("nan"))
    torch.save(blob, path)
    with pytest.raises(gd.FormatError, match="NaN or inf"):
        gd.io.load(path)
    with torch.no_grad():
        next(model.parameters()).fill_(float("inf"))
    with pytest.raises(gd.FormatError, match="NaN or inf"):
        gd.io.save(model, tmp_path / "bad.pt")


class _WritesMarker:
    """Unpickling this object would create a file: what a crafted model file could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_model_file_is_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "graphdgm.model", "version": 1, "spec": _WritesMarker(str(marker))}, path)
    with pytest.raises(gd.FormatError, match="never unpickles"):
        gd.io.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"\x80\x81\xfe not utf-8", b"{not json", b"[1, 2]", b'{"format": "graphdgm.spec"}'])
def test_malformed_spec_files_are_format_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "spec.json"
    path.write_bytes(content)
    with pytest.raises(gd.FormatError):
        gd.io.load_spec(path)


def test_malformed_model_files_are_format_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(gd.FormatError):
        gd.io.load(path)
    good = gd.io.save(gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.3)), tmp_path / "good.pt")
    blob = torch.load(good, weights_only=True)
    blob["state_dict"] = {"groups.0.weights": torch.zeros(7)}
    torch.save(blob, path)
    with pytest.raises(gd.FormatError, match="do not fit"):
        gd.io.load(path)


def test_atomic_write_refuses_read_modes_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    from graphdgm.runtime import atomic_write

    with pytest.raises(gd.SpecError, match="mode 'w'"):
        with atomic_write(tmp_path / "x.txt", "r"):
            pass
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(tmp_path / "y.txt", "w") as f:
            f.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file is left
