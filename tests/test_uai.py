"""UAI model and evidence files: round trips, the format's table layout, BAYES files and every error path."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import graphdgm as gd
from conftest import random_network
from graphdgm.io import evidence_to_names, read_evidence, read_uai, write_evidence, write_uai

SEEDS = list(range(10))


def assert_same_tables(a: gd.MarkovNetwork, b: gd.MarkovNetwork) -> None:
    """Every table factor of ``a`` and ``b``, in order: same scope (by packed index) and the same log table."""
    fa, fb = a.table_factors(), b.table_factors()
    assert len(fa) == len(fb)
    assert a.cardinalities() == b.cardinalities()
    for x, y in zip(fa, fb):
        assert [a.index_of(v) for v in x.scope] == [b.index_of(v) for v in y.scope]
        np.testing.assert_array_equal(np.isneginf(x.log_table), np.isneginf(y.log_table))
        np.testing.assert_allclose(x.log_table, y.log_table, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_round_trip(seed: int) -> None:
    mn = random_network(seed)
    back = read_uai(write_uai(mn))
    assert back.variables == [f"v{i}" for i in range(mn.num_variables)]
    assert_same_tables(mn, back)


def test_round_trip_expands_couplings_and_fields(tmp_path) -> None:
    rng = np.random.default_rng(0)
    mn = gd.MarkovNetwork.ising_grid(2, 3, coupling=rng.normal(size=7), field=rng.normal(size=(2, 3)))
    mn.add_variable("c", gd.Categorical(3, labels=("r", "g", "b")))
    mn.add_factor(["c", "x[1,2]"], [[0.0, 1.0], [2.0, 3.0], [4.0, 0.5]])
    path = tmp_path / "grid.uai"
    text = write_uai(mn, path)
    assert path.read_text() == text
    for source in (path, str(path), text):
        assert_same_tables(mn, read_uai(source))
    potts = gd.MarkovNetwork.potts_grid(2, 2, k=3, coupling=0.7, field=rng.normal(size=3))
    assert_same_tables(potts, read_uai(write_uai(potts)))


def test_unsorted_scope_follows_listed_order_last_fastest() -> None:
    # scope "3  2 3 1": table axes (v2, v3, v1), v1 changing fastest; tokens spread over lines at will
    text = """MARKOV
    4
    2 3
    2 2
    2
    1 0   3 2 3
    1
    2
    1.5 2.5
    12
    1 2 3 4 5 6
    7 8 9 10 11 0
    """
    mn = read_uai(text)
    assert mn.cardinalities() == [2, 3, 2, 2]
    f0, f1 = mn.factors
    assert f0.scope == ("v0",) and f1.scope == ("v2", "v3", "v1")
    entries = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0]
    for a, b, c in itertools.product(range(2), range(2), range(3)):
        expected = entries[(a * 2 + b) * 3 + c]
        got = f1.log_table[a, b, c]
        assert got == (math.log(expected) if expected else -math.inf)
    np.testing.assert_array_equal(np.exp(f0.log_table), [1.5, 2.5])


def test_cardinality_one_and_zero_entries() -> None:
    mn = read_uai("MARKOV 2 1 2 1 2 0 1 2 0.0 4.0\n")
    assert mn.domains()[0] == gd.Categorical(1)
    np.testing.assert_array_equal(mn.factors[0].log_table, [[-np.inf, math.log(4.0)]])


BAYES = """BAYES
3
2 3 2
3
1 0
2 0 1
3 1 0 2
2 0.25 0.75
6 0.1 0.2 0.7
  0.5 0.5 0.0
12 0.9 0.1  0.8 0.2  0.3 0.7  0.6 0.4  1.0 0.0  0.5 0.5
"""


def test_bayes_file_is_the_product_of_its_cpts() -> None:
    mn = read_uai(BAYES)
    p0 = np.array([0.25, 0.75])
    p1 = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])  # p1[v0, v1]
    p2 = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4, 1.0, 0.0, 0.5, 0.5]).reshape(3, 2, 2)  # [v1, v0, v2]
    total = 0.0
    for x0, x1, x2 in itertools.product(range(2), range(3), range(2)):
        logp = sum(f.log_table[tuple({"v0": x0, "v1": x1, "v2": x2}[v] for v in f.scope)] for f in mn.factors)
        expected = p0[x0] * p1[x0, x1] * p2[x1, x0, x2]
        assert math.isclose(math.exp(logp), expected, rel_tol=1e-12, abs_tol=0)
        total += math.exp(logp)
    assert math.isclose(total, 1.0, rel_tol=1e-12)
    assert mn.factors[2].scope == ("v1", "v0", "v2")


def test_bayes_rows_must_sum_to_one() -> None:
    bad = BAYES.replace("6 0.1 0.2 0.7", "6 0.1 0.2 0.6")
    with pytest.raises(gd.FormatError, match=r"BAYES function 1 .*sums to 0\.9"):
        read_uai(bad)
    read_uai(BAYES.replace("6 0.1 0.2 0.7", "6 0.1 0.2 0.7000000001"))  # within 1e-6


@pytest.mark.parametrize(
    "text, message",
    [
        ("MARKOW 1 2 1 1 0 2 1 1\n", "unknown preamble 'MARKOW'"),
        ("markov 1 2 1 1 0 2 1 1\nx", "trailing junk 'x'"),  # the preamble is read case-blind
        ("MARKOV 2 2\n", r"truncated file .*expected the cardinality of variable 1"),
        ("MARKOV 2 2 2 1 2 0 1 4 1 2\n", r"truncated file .*holds 13 tokens but it has only 11"),
        ("MARKOV 1 2 1 1 0 2\n", r"truncated file .*expected 2 entries"),
        ("MARKOV 1 two 1 1 0 2 1 1\n", r"line 1: expected the cardinality of variable 0 .*'two', a non-numeric token"),
        ("MARKOV 1 2 1 1 0 2 1 x\n", r"table of function 0 holds the non-numeric token 'x'"),
        ("MARKOV 1 2.5 1 1 0 2 1 1\n", r"'2\.5', a number but not an integer"),
        ("MARKOV 2 2 3 1 2 0 1 5 1 1 1 1 1\n", r"function 0 over variables \[0, 1\] has 5 entries .*need 6"),
        ("MARKOV 2 2 3 1 2 0 2 6 1 1 1 1 1 1\n", r"variable index 2 out of range.*declares 2 variables"),
        ("MARKOV 1 2 1 1 0 2 1 -1\n", "negative entry"),
        ("MARKOV 1 2 1 1 0 2 1 1 junk\n", r"trailing junk 'junk' \(1 extra tokens\)"),
        ("MARKOV 1 2 1 1 0 2 1 1\n2 1\n", r"line 2: trailing junk '2' \(2 extra tokens\)"),
        ("MARKOV 2 2 2 1 2 0 0 4 1 1 1 1\n", "lists a variable twice"),
        ("MARKOV 1 0 0\n", "cardinality of variable 0 .* must be >= 1"),
        ("MARKOV 1 2 1 1 0 2 1 nan\n", "non-finite entry"),
        ("MARKOV 1 2 1 1 0 2 0 0\n", "function 0: .*zero everywhere"),
        ("\n", "expected the preamble"),
    ],
)
def test_malformed_model_files(text: str, message: str) -> None:
    with pytest.raises(gd.FormatError, match=message):
        read_uai(text)


def test_write_uai_rejects_real_variables_and_overflow() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("r", gd.Real())
    with pytest.raises(gd.SpecError, match="discrete variables only"):
        write_uai(mn)
    mn = gd.MarkovNetwork()
    mn.add_variable("a", gd.Binary())
    mn.add_factor(["a"], log_table=[0.0, 800.0], name="big")
    with pytest.raises(gd.SpecError, match="factor 'big' .*overflows"):
        write_uai(mn)


def test_missing_file_is_reported(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="containing a newline"):
        read_uai(tmp_path / "nope.uai")


# ----------------------------------------------------------------------------------------- evidence
def test_evidence_formats(tmp_path) -> None:
    assert read_evidence("3  0 1  4 0\n 2 2\n") == {0: 1, 4: 0, 2: 2}  # old format, free whitespace
    assert read_evidence("1\n3 0 1 4 0 2 2\n") == {0: 1, 4: 0, 2: 2}  # newer format with a sample count
    assert read_evidence("2\n1 0 1\n2 3 0 1 1\n") == {0: 1}  # first sample is used
    assert read_evidence("1\n0\n") == {} and read_evidence("0\n") == {} and read_evidence("\n") == {}
    path = tmp_path / "e.evid"
    for header in (False, True):
        text = write_evidence({3: 1, 0: 2}, path, samples_header=header)
        assert path.read_text() == text
        assert read_evidence(path) == read_evidence(str(path)) == {3: 1, 0: 2}


def test_evidence_checked_against_spec() -> None:
    mn = read_uai(BAYES)
    assert read_evidence("2 1 2 2 1\n", spec=mn) == {1: 2, 2: 1}
    with pytest.raises(gd.EvidenceError, match=r"variable index 3, but the model has 3 variables"):
        read_evidence("1 3 0\n", spec=mn)
    with pytest.raises(gd.EvidenceError, match=r"variable 0 \('v0'\) state 2, but it has 2 states"):
        read_evidence("1 0 2\n", spec=mn)
    with pytest.raises(gd.EvidenceError, match="two states"):
        read_evidence("2 0 1 0 0\n")


@pytest.mark.parametrize(
    "text, message",
    [
        ("2 0 1 3\n", "truncated file .*expected the state of variable 3"),
        ("1 0 x\n", "'x', a non-numeric token"),
        ("1 0 -1\n", "must be >= 0"),
        ("1\n1 0 1 9 9\n", r"trailing junk '9'"),
    ],
)
def test_malformed_evidence(text: str, message: str) -> None:
    with pytest.raises(gd.FormatError, match=message):
        read_evidence(text)


def test_evidence_to_names_uses_labels() -> None:
    mn = gd.MarkovNetwork()
    mn.add_variable("c", gd.Categorical(3, labels=("r", "g", "b")))
    mn.add_block("s", (2,), gd.Spin())
    assert evidence_to_names(mn, {0: 2, 2: 1}) == {"c": "b", "s[1]": 1}
    with pytest.raises(gd.EvidenceError, match="state 3"):
        evidence_to_names(mn, {0: 3})
    with pytest.raises(gd.EvidenceError, match="ints >= 0"):
        write_evidence({0: -1})


# ---------------------------------------------------------- issue 14: every malformed input is a FormatError
VALID_UAI = "MARKOV\n2\n2 3\n2\n1 0\n2 0 1\n2\n0.4 0.6\n6\n1 2 3 4 5 6\n"


def test_read_uai_reports_empty_nonutf8_and_truncated_input_as_format_errors(tmp_path) -> None:
    with pytest.raises(gd.FormatError, match="expected the preamble"):
        read_uai("")
    empty = tmp_path / "empty.uai"
    empty.write_bytes(b"")
    with pytest.raises(gd.FormatError, match="expected the preamble"):
        read_uai(empty)
    latin = tmp_path / "latin.uai"
    latin.write_bytes(b"MARKOV\n1\n2\n1\n1 0\n2\n0.5 0.5 \xe9\n")
    with pytest.raises(gd.FormatError, match=r"line 7: byte 0xe9 .* not UTF-8"):
        read_uai(latin)
    with pytest.raises(gd.FormatError, match="not UTF-8"):
        read_uai(b"\xff\xfeM\x00")
    with pytest.raises(gd.FormatError, match="truncated"):
        read_uai(VALID_UAI[: VALID_UAI.index("5")])
    with pytest.raises(gd.FormatError, match="cardinality of variable 0.*1,048,576"):
        read_uai("MARKOV\n1\n1000000000000\n1\n1 0\n1 1\n")
    with pytest.raises(gd.FormatError, match="path, the file's text or its bytes"):
        read_uai(3.5)


def test_read_uai_fuzzed_files_only_raise_format_errors() -> None:
    """300 seeded mutations of a valid file (token deleted, duplicated, replaced, bytes flipped):
    each either reads (a valid file) or raises a FormatError, never another exception."""
    rng = np.random.default_rng(14)
    assert read_uai(VALID_UAI).num_variables == 2
    junk = ["-1", "0", "2.5", "nan", "inf", "1e999", "x", "BAYES", "9" * 30, "", "\x00", "é"]
    outcomes = {"read": 0, "FormatError": 0}
    for _ in range(300):
        toks = VALID_UAI.split()
        for _ in range(int(rng.integers(1, 4))):
            i, op = int(rng.integers(len(toks))), int(rng.integers(4))
            if op == 0 and len(toks) > 1:
                del toks[i]
            elif op == 1:
                toks.insert(i, toks[i])
            elif op == 2:
                toks[i] = junk[int(rng.integers(len(junk)))]
            else:
                toks[i] = toks[i][::-1]
        data = "\n".join(toks).encode("utf-8") + b"\n"
        if rng.random() < 0.2:
            data = data.replace(b"0", bytes([int(rng.integers(128, 256))]), 1)
        try:
            read_uai(data)
            outcomes["read"] += 1
        except gd.FormatError as e:
            assert str(e)
            outcomes["FormatError"] += 1
    assert outcomes["FormatError"] > 200  # most mutations break the file, and each says so


def test_write_uai_and_write_evidence_replace_files_atomically(tmp_path, monkeypatch) -> None:
    import graphdgm.io.uai as uai

    written = []
    real = uai.atomic_write_text
    monkeypatch.setattr(uai, "atomic_write_text", lambda path, text: written.append(path) or real(path, text))
    path = tmp_path / "m.uai"
    write_uai(read_uai(VALID_UAI), path)
    write_evidence({0: 1}, tmp_path / "m.evid")
    assert written == [path, tmp_path / "m.evid"] and read_uai(path).num_variables == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.evid", "m.uai"]  # no temporary files left
