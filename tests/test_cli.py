"""The ``graphdgm`` command line: ``solve`` against the Python API on UAI files, ``draw``, ``fit``
then ``sample``, ``--help`` and one-line errors with exit status 2."""
from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.cli import main

UAI = Path(__file__).parent / "data" / "uai"
MODELS = ["markov5.uai", "bayes4.uai"]
REPO = Path(__file__).resolve().parents[1]


def run_module(*args: str) -> subprocess.CompletedProcess:
    """``python -m graphdgm ARGS`` in a fresh interpreter (the command as a user runs it)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "graphdgm", *args], capture_output=True, text=True, timeout=120, env=env)


def parse_result(path: Path) -> tuple[str, list[str]]:
    """A UAI result file: its task line and the tokens of its solution line."""
    lines = path.read_text().splitlines()
    assert len(lines) == 2, lines
    return lines[0], lines[1].split()


def reference(name: str, with_evidence: bool = True):
    spec = gd.io.read_uai(UAI / name)
    evid = gd.io.read_evidence(UAI / f"{name}.evid", spec) if with_evidence else {}
    return spec, evid, gd.io.evidence_to_names(spec, evid)


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    for name in MODELS:
        shutil.copy(UAI / name, tmp_path / name)
        shutil.copy(UAI / f"{name}.evid", tmp_path / f"{name}.evid")
    return tmp_path


# ------------------------------------------------------------------------------------------- solve


@pytest.mark.parametrize("name", MODELS)
def test_solve_mar_matches_query(models: Path, name: str) -> None:
    spec, evid, ev = reference(name)
    assert main(["solve", str(models / name), "--evid", str(models / f"{name}.evid"), "--task", "MAR"]) == 0
    task, tok = parse_result(models / f"{name}.MAR")  # default output: MODEL.TASK beside the model
    want = gd.query(gd.compile(spec), None, ev)
    assert task == "MAR" and int(tok[0]) == spec.num_variables
    pos = 1
    for i, var in enumerate(spec.variables):
        k = int(tok[pos])
        probs = np.array([float(t) for t in tok[pos + 1:pos + 1 + k]])
        pos += 1 + k
        assert k == spec.domains()[i].cardinality
        np.testing.assert_allclose(probs, want[var].probs.numpy(), rtol=0, atol=1e-9)
        if i in evid:  # evidence variables: point masses
            assert probs.tolist() == [1.0 if s == evid[i] else 0.0 for s in range(k)]
    assert pos == len(tok)


@pytest.mark.parametrize("name", MODELS)
def test_solve_pr_is_log10_of_log_partition(models: Path, name: str) -> None:
    spec, _, ev = reference(name)
    out = models / "answer.PR"
    assert main(["solve", str(models / name), "-e", str(models / f"{name}.evid"), "--task", "pr", "-o", str(out)]) == 0
    task, tok = parse_result(out)
    want = float(gd.log_partition(gd.compile(spec), ev)) / math.log(10)
    assert task == "PR" and len(tok) == 1
    assert abs(float(tok[0]) - want) < 1e-9


def test_solve_pr_of_bayes_net_is_probability_of_evidence(models: Path) -> None:
    spec, _, ev = reference("bayes4.uai")
    assert main(["solve", str(models / "bayes4.uai"), "--task", "PR", "-o", str(models / "z.PR")]) == 0
    assert abs(float(parse_result(models / "z.PR")[1][0])) < 1e-12  # no evidence: log10 1
    p = gd.query(gd.compile(spec), ["v3"])["v3"][1]  # the evidence file observes v3 = 1
    assert main(["solve", str(models / "bayes4.uai"), "--evid", str(models / "bayes4.uai.evid"), "--task", "PR"]) == 0
    assert abs(float(parse_result(models / "bayes4.uai.PR")[1][0]) - math.log10(p)) < 1e-9


@pytest.mark.parametrize("name", MODELS)
def test_solve_map_matches_map_query(models: Path, name: str, capsys: pytest.CaptureFixture) -> None:
    spec, evid, ev = reference(name)
    assert main(["solve", str(models / name), "--evid", str(models / f"{name}.evid"), "--task", "MAP", "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    want = gd.map_query(gd.compile(spec), evidence=ev).state.tolist()
    assert lines[0] == "MAP" and [int(t) for t in lines[1].split()] == [spec.num_variables, *want]
    assert all(want[v] == s for v, s in evid.items())


def test_solve_through_python_m(models: Path) -> None:
    spec, _, _ = reference("markov5.uai", with_evidence=False)
    r = run_module("solve", str(models / "markov5.uai"), "--task", "PR", "-o", "-")
    assert r.returncode == 0, r.stderr
    task, value = r.stdout.split()
    assert task == "PR" and abs(float(value) - float(gd.log_partition(gd.compile(spec))) / math.log(10)) < 1e-9


# ------------------------------------------------------------------------------------------- draw


@pytest.mark.skipif(gd.viz.find_renderer() is None, reason="no Graphviz renderer (dot or graphviz-pure) installed")
@pytest.mark.parametrize("source", ["json", "uai"])
def test_draw_writes_valid_svg(tmp_path: Path, source: str) -> None:
    if source == "json":
        spec_path = tmp_path / "ising.json"
        gd.io.save_spec(gd.MarkovNetwork.ising_grid(2, 3, coupling=0.3), spec_path)
    else:
        spec_path = UAI / "markov5.uai"
    out = tmp_path / "picture.svg"
    assert main(["draw", str(spec_path), "-o", str(out), "--view", "variables"]) == 0
    root = ET.fromstring(out.read_bytes())
    assert root.tag.endswith("svg")
    text = out.read_text()
    assert ("x[1,2]" if source == "json" else "v4") in text  # every variable is drawn


# ------------------------------------------------------------------------------------------- fit / sample


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_fit_then_sample_rbm(tmp_path: Path) -> None:
    spec_path, data_path, model_path = tmp_path / "rbm.json", tmp_path / "x.csv", tmp_path / "rbm.pt"
    gd.io.save_spec(gd.RBM((3, 3), 4, seed=1), spec_path)
    x = (np.random.default_rng(0).random((40, 9)) < 0.3).astype(int)
    np.savetxt(data_path, x, fmt="%d", delimiter=",")  # no header: columns in variable order
    assert main(["fit", str(spec_path), str(data_path), "-o", str(model_path), "--epochs", "2", "--seed", "3"]) == 0

    want = gd.compile(gd.RBM((3, 3), 4, seed=1))  # the same training through the Python API
    gd.fit(want, torch.as_tensor(x, dtype=torch.float64), epochs=2, seed=3, progress=False)
    got = gd.io.load(model_path)
    for k, v in want.state_dict().items():
        torch.testing.assert_close(got.state_dict()[k], v, rtol=0, atol=1e-12)

    png = tmp_path / "s.png"
    assert main(["sample", str(model_path), "-n", "4", "-o", str(png), "--steps", "5", "--scale", "1"]) == 0
    assert png_size(png) == (9, 9)  # 2x2 tiles of 3x3 pixels with 1-pixel gaps
    npy = tmp_path / "s.npy"
    assert main(["sample", str(model_path), "-n", "4", "-o", str(npy), "--steps", "5", "--seed", "7"]) == 0
    np.testing.assert_array_equal(np.load(npy), gd.sample(got, 4, steps=5, seed=7).numpy())


def sprinkler(rain=(0.5, 0.5), wet=(((0.5, 0.5), (0.5, 0.5)), ((0.5, 0.5), (0.5, 0.5)))) -> gd.BayesianNetwork:
    bn = gd.BayesianNetwork("sprinkler")
    for v in ("rain", "sprinkler", "wet"):
        bn.add_variable(v, gd.Binary())
    bn.add_cpd("rain", [], list(rain))
    bn.add_cpd("sprinkler", ["rain"], [[0.5, 0.5], [0.5, 0.5]])
    bn.add_cpd("wet", ["rain", "sprinkler"], np.array(wet))
    return bn


def test_fit_then_sample_bayesian_network_csv_with_header(tmp_path: Path) -> None:
    spec_path, data_path, model_path = tmp_path / "bn.json", tmp_path / "d.csv", tmp_path / "bn.pt"
    gd.io.save_spec(sprinkler(), spec_path)
    d = np.random.default_rng(1).integers(0, 2, (30, 3))  # columns rain, sprinkler, wet
    data_path.write_text("wet,rain,sprinkler\n" + "".join(f"{r[2]},{r[0]},{r[1]}\n" for r in d))  # any column order
    assert main(["fit", str(spec_path), str(data_path), "-o", str(model_path)]) == 0

    want = gd.compile(sprinkler())
    gd.fit(want, torch.as_tensor(d), progress=False)
    got = gd.io.load(model_path)
    q_got, q_want = gd.query(got, None, {"wet": 1}), gd.query(want, None, {"wet": 1})
    for v in ("rain", "sprinkler", "wet"):
        torch.testing.assert_close(q_got[v].probs, q_want[v].probs, rtol=0, atol=1e-12)

    out = tmp_path / "s.csv"
    assert main(["sample", str(model_path), "-n", "6", "-o", str(out), "--seed", "2"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "rain,sprinkler,wet"
    rows = [[int(t) for t in line.split(",")] for line in lines[1:]]
    assert rows == gd.sample(got, 6, seed=2).tolist()


# ------------------------------------------------------------------------------------------- help and errors


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("solve", "draw", "fit", "sample"))
    for cmd in ("solve", "draw", "fit", "sample"):
        assert main([cmd, "--help"]) == 0
        assert "examples:" in capsys.readouterr().out


def test_help_through_python_m() -> None:
    r = run_module("--help")
    assert r.returncode == 0 and all(cmd in r.stdout for cmd in ("solve", "draw", "fit", "sample"))


def test_missing_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "no_such.uai"
    assert main(["solve", str(missing), "--task", "MAR"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "does not exist" in err and len(err.splitlines()) == 1


def test_malformed_uai_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.uai"
    bad.write_text("MARKOV\n2\n2 2\n1\n2 0 1\n4 1 2 3\n")  # a table one entry short
    assert main(["solve", str(bad), "--task", "PR"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "truncated" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_evidence_and_bad_task(models: Path, capsys: pytest.CaptureFixture) -> None:
    evid = models / "wrong.evid"
    evid.write_text("1 0 7\n")  # state 7 of a binary variable
    assert main(["solve", str(models / "markov5.uai"), "--evid", str(evid), "--task", "MAR"]) == 2
    err = capsys.readouterr().err
    assert str(evid) in err and "state 7" in err
    assert main(["solve", str(models / "markov5.uai"), "--task", "MARGINALS"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_csv_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec_path, data_path = tmp_path / "bn.json", tmp_path / "d.csv"
    gd.io.save_spec(sprinkler(), spec_path)
    data_path.write_text("rain,sprinkler,wet\n0,1,0\n1,yes,0\n")
    assert main(["fit", str(spec_path), str(data_path), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert str(data_path) in err and "line 3" in err and "'yes'" in err
    assert not (tmp_path / "m.pt").exists()


def test_verbose_shows_traceback_through_python_m(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.uai"
    bad.write_text("MARKOF\n1\n2\n0\n")
    assert main(["solve", str(bad), "--task", "MAR"]) == 2
    quiet = capsys.readouterr().err
    assert "Traceback" not in quiet and str(bad) in quiet and "unknown preamble" in quiet
    loud = run_module("solve", str(bad), "--task", "MAR", "--verbose")
    assert loud.returncode == 2 and "Traceback" in loud.stderr and "unknown preamble" in loud.stderr


def test_solve_mar_with_gibbs_backend_options(models: Path) -> None:
    spec, evid, ev = reference("markov5.uai")
    out = models / "gibbs.MAR"
    args = ["solve", str(models / "markov5.uai"), "--evid", str(models / "markov5.uai.evid"), "--task", "MAR",
            "-o", str(out), "--backend", "gibbs"]
    opts = ["--backend-option", "chains=256", "--backend-option", "sweeps=300", "--backend-option", "seed=0"]
    assert main(args + opts) == 0
    tok = parse_result(out)[1]
    want = gd.query(gd.compile(spec), None, ev)
    pos = 1
    for i, var in enumerate(spec.variables):
        k = int(tok[pos])
        probs = np.array([float(t) for t in tok[pos + 1:pos + 1 + k]])
        pos += 1 + k
        np.testing.assert_allclose(probs, want[var].probs.numpy(), atol=0.03)  # a sampler's answer, close to exact
        if i in evid:
            assert probs[evid[i]] == 1.0
    assert main(args + ["--backend-option", "no_such_option=1"]) == 2


def test_solve_and_draw_bif(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    readwrite = pytest.importorskip("pgmpy.readwrite", reason="reading .bif files needs pgmpy")
    bif = tmp_path / "sprinkler.bif"
    bn = sprinkler(rain=(0.7, 0.3), wet=(((0.9, 0.1), (0.2, 0.8)), ((0.3, 0.7), (0.05, 0.95))))
    writer = readwrite.BIFWriter(gd.io.to_pgmpy(bn))
    (writer.write if hasattr(writer, "write") else writer.write_bif)(str(bif))
    assert main(["solve", str(bif), "--task", "MAR", "-o", "-"]) == 0
    tok = capsys.readouterr().out.split()
    want = gd.query(gd.compile(bn), None)
    assert tok[:2] == ["MAR", "3"]
    got = {v: [float(tok[3 + 3 * i]), float(tok[4 + 3 * i])] for i, v in enumerate(["rain", "sprinkler", "wet"])}
    for v, probs in got.items():
        np.testing.assert_allclose(probs, want[v].probs.numpy(), rtol=0, atol=1e-9)
    if gd.viz.find_renderer() is not None:
        assert main(["draw", str(bif), "-o", str(tmp_path / "bn.svg")]) == 0
        assert "wet" in (tmp_path / "bn.svg").read_text()
