"""Property-based bad input: no exception other than a GraphdgmError escapes a public entry point.

Hypothesis throws generated input (wrong types, non-integer sizes, NaN, complex numbers, unknown
names, random bytes ...) at the spec constructors, ``compile``, the query API, ``fit``, the readers
and the drawings. Every call must either succeed (the input happened to be valid) or raise a
:class:`graphdgm.GraphdgmError` subclass with a non-empty message. Runs are derandomised (a fixed
seed) and bounded, so the module takes well under a minute on one core.

The last test writes the tally (examples tried, how many ended in a named error, by class) to
``$GRAPHDGM_PROPERTY_REPORT`` (default: ``graphdgm_bad_input_properties.json`` in the temp folder)
and prints it (``pytest -rP`` shows it).
"""
from __future__ import annotations

import collections
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import graphdgm as gd  # noqa: E402
from graphdgm.errors import GraphdgmError  # noqa: E402

TALLY: collections.Counter[str] = collections.Counter()  # outcomes of the tests expected to pass
RAW: dict[str, str] = {}  # "entry point: exception type" -> one message, for every raw exception seen
FAST = settings(derandomize=True, deadline=None, max_examples=60, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
FEW = settings(FAST, max_examples=25)
SCRATCH = Path(tempfile.mkdtemp(prefix="graphdgm_props_"))


def check(entry: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; success or a GraphdgmError with a message passes, anything else fails the example."""
    tally = TALLY
    tally["tried"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are answers with caveats, not escapes
            out = fn(*args, **kwargs)
    except GraphdgmError as e:
        assert str(e).strip(), f"{entry} raised {type(e).__name__} with an empty message"
        tally["named error"] += 1
        tally[f"named error: {type(e).__name__}"] += 1
        return e
    except Exception as e:  # noqa: BLE001 - the property under test
        tally["raw exception"] += 1
        RAW.setdefault(f"{entry}: {type(e).__name__}", str(e)[:160])
        raise AssertionError(f"{type(e).__name__} escaped {entry}: {e}") from e
    tally["succeeded"] += 1
    return out


# ------------------------------------------------------------------------------ strategies
junk_scalars = st.one_of(
    st.integers(-3, 6), st.floats(allow_nan=True, allow_infinity=True, width=32), st.booleans(), st.none(),
    st.text(max_size=3), st.complex_numbers(max_magnitude=3, allow_nan=False), st.just(10**12),
    st.sampled_from([np.int64(3), np.float64(2.5), torch.tensor(2), torch.tensor(2.5)]),
)
sizes = st.one_of(junk_scalars, st.lists(junk_scalars, max_size=3).map(tuple), st.lists(st.integers(-1, 4), max_size=3))
names = st.one_of(
    st.text(max_size=6), st.integers(-2, 5), st.none(), st.tuples(st.integers(0, 2), st.integers(0, 2)),
    st.sampled_from(["x", "x[0,0]", "x[1,1]", "x[2,2]", "x[0]", "x[0,0,0]", "x[-1,0]", "x [0, 1]", "a b", "", "y", "x[0,",
                     "<b>x</b>", 'a"b', "a\\b", "{}", "ü"]),
)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-3, 3),
                    st.complex_numbers(max_magnitude=2, allow_nan=False), st.text(max_size=2), st.none(), st.booleans())
arrays = st.one_of(
    numbers, st.lists(numbers, max_size=5), st.lists(st.lists(numbers, max_size=3), max_size=3),
    st.integers(0, 3).flatmap(lambda n: st.lists(st.floats(-2, 2), min_size=n * n, max_size=n * n).map(
        lambda v, n=n: np.array(v, dtype=np.float64).reshape(n, n) if n else np.zeros((0, 0)))),
)
domains = st.one_of(st.just(gd.Spin()), st.just(gd.Binary()), st.builds(lambda k: gd.Categorical(k), st.integers(1, 4)),
                    st.just(gd.Real()), st.just("spin"), st.none())
options = st.dictionaries(st.sampled_from(["epochs", "batch_size", "lr", "k", "chains", "steps", "seed", "epoch",
                                           "psuedo_count", "momentum", "weight_decay", "validation"]),
                          st.one_of(st.integers(-2, 3), st.floats(allow_nan=True, width=32), st.text(max_size=2), st.none()),
                          max_size=3)


def _ising_model() -> Any:
    return gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.4, field=0.1))


MODEL = _ising_model()


# ----------------------------------------------------------------------- spec constructors
@FAST
@given(name=names, shape=sizes, k=junk_scalars)
def test_markov_network_blocks_and_domains_fail_only_with_named_errors(name: Any, shape: Any, k: Any) -> None:
    dom = check("Categorical", gd.Categorical, k)
    check("MarkovNetwork.add_block", gd.MarkovNetwork().add_block, name, shape, dom if isinstance(dom, gd.Domain) else dom)
    check("MarkovNetwork.add_variable", gd.MarkovNetwork().add_variable, name, gd.Spin())


@FAST
@given(scope=st.one_of(names, st.lists(names, max_size=3)), table=arrays, log=st.booleans(), dom=domains)
def test_add_factor_fails_only_with_named_errors(scope: Any, table: Any, log: bool, dom: Any) -> None:
    mn = gd.MarkovNetwork()
    mn.add_block("x", (2, 2), gd.Spin())
    check("MarkovNetwork.add_variable", mn.add_variable, "y", dom)
    check("MarkovNetwork.add_factor", mn.add_factor, scope, **({"log_table": table} if log else {"table": table}))


@FAST
@given(pairs=st.one_of(names, st.lists(st.one_of(st.tuples(names, names), names, st.tuples(names)), max_size=3),
                       st.sampled_from([np.array([[0, 1]]), np.array([0, 1, 2]), np.array([[0, 9]]), np.array([[1, 1]])])),
       weight=arrays, kind=st.one_of(st.sampled_from(["ising", "potts", "table", "bogus"]), st.none(), st.integers()),
       variables=st.one_of(names, st.lists(names, max_size=3)))
def test_couplings_and_fields_fail_only_with_named_errors(pairs: Any, weight: Any, kind: Any, variables: Any) -> None:
    mn = gd.MarkovNetwork()
    mn.add_block("x", (2, 2), gd.Spin())
    check("MarkovNetwork.add_coupling", mn.add_coupling, pairs, weight, kind=kind if kind is not None else "ising")
    check("MarkovNetwork.add_field", mn.add_field, variables, weight, kind=kind)


@FAST
@given(rows=junk_scalars, cols=junk_scalars, coupling=arrays, field=arrays, periodic=st.booleans())
def test_ising_and_potts_grids_fail_only_with_named_errors(rows: Any, cols: Any, coupling: Any, field: Any, periodic: bool) -> None:
    small = lambda v: v if not (isinstance(v, int) and v > 6) else 6  # noqa: E731 - keep valid grids small
    check("MarkovNetwork.ising_grid", gd.MarkovNetwork.ising_grid, small(rows), small(cols), coupling, field, periodic=periodic)
    check("MarkovNetwork.potts_grid", gd.MarkovNetwork.potts_grid, small(rows), small(cols), 3, coupling, field)


@FAST
@given(visible=sizes, hidden=sizes, visible_type=st.one_of(st.sampled_from(["bernoulli", "gaussian", "categorical", "x"]), st.integers()),
       categories=junk_scalars, weights=arrays, sigma=arrays, init_std=junk_scalars)
def test_rbm_and_dbn_constructors_fail_only_with_named_errors(visible: Any, hidden: Any, visible_type: Any, categories: Any,
                                                              weights: Any, sigma: Any, init_std: Any) -> None:
    check("RBM", gd.RBM, visible, hidden, visible_type=visible_type, categories=categories, weights=weights,
          sigma=sigma, init_std=init_std)
    check("DBN", gd.DBN, [visible, hidden] if not isinstance(visible, tuple) else visible)


def _small_bn() -> Any:
    bn = gd.BayesianNetwork()
    bn.add_variable("x", gd.Binary())
    bn.add_block("y", (2,), gd.Categorical(3))
    return bn


@FAST
@given(child=names, parents=st.one_of(names.filter(lambda n: isinstance(n, str)), st.lists(names, max_size=2)), table=arrays)
def test_bayesian_network_add_cpd_fails_only_with_named_errors(child: Any, parents: Any, table: Any) -> None:
    check("BayesianNetwork.add_cpd", _small_bn().add_cpd, child, parents, table)


@FEW
@given(parents=st.one_of(st.integers(), st.none(), st.floats()))
def test_bayesian_network_add_cpd_with_non_list_parents_fails_only_with_named_errors(parents: Any) -> None:
    check("BayesianNetwork.add_cpd", _small_bn().add_cpd, "x", parents, [0.5, 0.5])


@FAST
@given(shape=st.one_of(st.integers(-2, 6), st.lists(st.integers(-1, 3), max_size=2).map(tuple)),
       hidden=st.one_of(st.integers(-1, 8), st.lists(st.integers(-1, 8), max_size=2)), masks=st.integers(-1, 3),
       ordering=st.one_of(st.none(), st.sampled_from(["natural", "random", "bogus"]), st.lists(st.integers(-1, 4), max_size=4)))
def test_made_constructor_with_integer_sizes_fails_only_with_named_errors(shape: Any, hidden: Any, masks: Any, ordering: Any) -> None:
    check("MADE", gd.MADE, shape, hidden, masks=masks, ordering=ordering)


@FEW
@given(shape=st.one_of(st.integers(1, 4), junk_scalars), hidden=st.one_of(st.integers(1, 4), junk_scalars), masks=junk_scalars)
def test_made_constructor_with_junk_sizes_fails_only_with_named_errors(shape: Any, hidden: Any, masks: Any) -> None:
    if isinstance(masks, int) and masks > 8:
        return  # a valid but large model: not what this test is about
    check("MADE", gd.MADE, shape, hidden, masks=masks)


@FAST
@given(states=st.one_of(junk_scalars, st.lists(names, max_size=3)), transition=arrays, initial=arrays, order=junk_scalars)
def test_markov_chain_and_hmm_constructors_fail_only_with_named_errors(states: Any, transition: Any, initial: Any, order: Any) -> None:
    if isinstance(order, int) and order > 3 or isinstance(states, int) and states > 50:
        return
    check("MarkovChain", gd.MarkovChain, states, transition, initial, order)
    emission = check("CategoricalEmission", gd.CategoricalEmission, transition)
    if not isinstance(emission, GraphdgmError):
        check("HiddenMarkovModel", gd.HiddenMarkovModel, states, transition, emission, initial)


# ------------------------------------------------------------------------------- compile
@FAST
@given(dtype=st.one_of(st.sampled_from(["float32", "float64", "int64", "float", "complex64", "", "torch.float32"]),
                       st.sampled_from([torch.float32, torch.float64, torch.int64, torch.complex64, torch.bool, np.float32]),
                       junk_scalars),
       device=st.one_of(st.none(), st.sampled_from(["cpu", "cuda:99", "blah", "cpu:0", "", "meta:x"]), junk_scalars))
def test_compile_dtype_and_device_fail_only_with_named_errors(dtype: Any, device: Any) -> None:
    check("compile", gd.compile, gd.MarkovNetwork.ising_grid(2, 2), device=device, dtype=dtype)


@FAST
@given(spec=st.one_of(junk_scalars, st.just(gd.MarkovNetwork()), st.just(gd.GaussianMarkovNetwork()), st.just(gd.BayesianNetwork())))
def test_compile_of_non_specs_and_empty_specs_fails_only_with_named_errors(spec: Any) -> None:
    check("compile", gd.compile, spec)


# ----------------------------------------------------------------------------- query API
evidence = st.one_of(st.none(), junk_scalars, st.lists(names, max_size=2),
                     st.dictionaries(st.one_of(names, st.integers(-1, 5)), st.one_of(numbers, st.sampled_from([-1, 1, 0, 2])), max_size=3))
backends = st.one_of(st.sampled_from(["exact", "gibbs", "bp", "mean_field", "bogus", "", "EXACT"]), junk_scalars)


@FAST
@given(variables=st.one_of(names, st.lists(names, max_size=3)), ev=evidence, joint=st.booleans())
def test_query_with_random_names_and_evidence_fails_only_with_named_errors(variables: Any, ev: Any, joint: bool) -> None:
    check("query", gd.query, MODEL, variables, ev, joint=joint)
    check("map_query", gd.map_query, MODEL, ev)
    check("log_partition", gd.log_partition, MODEL, ev)


@FEW
@given(backend=backends)
def test_query_with_bad_backends_fails_only_with_named_errors(backend: Any) -> None:
    check("query", gd.query, MODEL, ["x[0,0]"], backend=backend)
    check("log_partition", gd.log_partition, MODEL, backend=backend)


@FEW
@given(backend=st.sampled_from([getattr(gd.infer, n) for n in ("Exact", "Gibbs", "BeliefPropagation") if hasattr(gd.infer, n)]))
def test_query_with_a_backend_class_instead_of_an_instance_fails_only_with_named_errors(backend: Any) -> None:
    check("query", gd.query, MODEL, ["x[0,0]"], backend=backend)


@FEW
@given(model=st.one_of(junk_scalars, st.just(gd.MarkovNetwork.ising_grid(2, 2)), st.just(torch.nn.Linear(2, 2))))
def test_query_on_non_models_fails_only_with_named_errors(model: Any) -> None:
    check("query", gd.query, model, ["x[0,0]"])


# ------------------------------------------------------------------------------------ fit
data_arrays = st.sampled_from([np.zeros((0, 4)), np.full((3, 4), np.nan), np.ones((3, 5)), np.ones((2, 2, 2)),
                               np.ones((4, 4)) * 2, -np.ones((4, 4)), np.ones((4, 4)), torch.ones(3, 4), np.ones(4)])
junk_data = st.one_of(junk_scalars, st.lists(numbers, max_size=4),
                      st.sampled_from([np.array([["a"] * 4]), np.ones((4, 4), dtype=complex)]))


@FEW
@given(data=data_arrays, method=st.one_of(st.sampled_from(["pcd", "cd", "mle", "bogus", ""]), junk_scalars), opts=options)
def test_fit_with_bad_data_and_options_fails_only_with_named_errors(data: Any, method: Any, opts: dict[str, Any]) -> None:
    model = gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.1))
    opts = {k: v for k, v in opts.items() if not (isinstance(v, int) and v > 2)}
    check("fit", gd.fit, model, data, method, **opts)


@FEW
@given(data=junk_data)
def test_fit_with_non_numeric_or_complex_data_fails_only_with_named_errors(data: Any) -> None:
    check("fit", gd.fit, gd.compile(gd.MarkovNetwork.ising_grid(2, 2, coupling=0.1)), data, epochs=1)


# -------------------------------------------------------------------------------- readers
@FAST
@given(data=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode),
                      st.lists(st.sampled_from(["MARKOV", "BAYES", "1", "2", "0", "3", "-1", "0.5", "nan", "x", "\n"]),
                               max_size=25).map(lambda t: " ".join(t).encode())))
def test_read_uai_on_random_bytes_fails_only_with_named_errors(data: bytes) -> None:
    path = SCRATCH / "random.uai"
    path.write_bytes(data)
    check("io.read_uai(path)", gd.io.read_uai, path)
    check("io.read_uai(bytes)", gd.io.read_uai, data)
    check("io.read_evidence(path)", gd.io.read_evidence, path)


json_docs = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.text(max_size=4)),
                         lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
                             st.sampled_from(["kind", "format", "name", "blocks", "factors", "shape", "domain", "variables",
                                              "cardinality", "labels", "couplings", "weights"]), inner, max_size=4)),
                         max_leaves=10)


@FAST
@given(doc=st.one_of(json_docs, st.sampled_from([{"kind": "markov_network"}, {"kind": "rbm"}, {"format": 1, "kind": "gan"}])))
def test_load_spec_on_random_json_fails_only_with_named_errors(doc: Any) -> None:
    path = SCRATCH / "random.json"
    path.write_text(json.dumps(doc))
    check("io.load_spec", gd.io.load_spec, path)


@FEW
@given(data=st.binary(min_size=1, max_size=40).filter(lambda b: not _utf8(b)))
def test_load_spec_on_non_utf8_files_fails_only_with_named_errors(data: bytes) -> None:
    path = SCRATCH / "random.json"
    path.write_bytes(data)
    check("io.load_spec", gd.io.load_spec, path)


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@FEW
@given(data=st.one_of(st.binary(max_size=40), st.sampled_from([b"{}", b"PK\x03\x04junk", b"\x80\x02}q\x00."])))
def test_load_on_random_files_fails_only_with_named_errors(data: bytes) -> None:
    path = SCRATCH / "random.pt"
    path.write_bytes(data)
    check("io.load", gd.io.load, path)


# ------------------------------------------------------------------------------- drawings
hostile = st.one_of(st.sampled_from(["<b>x</b>", 'a"b', "a\\b", "end\\", "{}", "ü∑", "a:b", "&lt;", "<<>>", "--", "->"]),
                    st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"),
                                          blacklist_characters="[],"), min_size=1, max_size=5))


@FEW
@given(a=hostile, b=hostile, view=st.sampled_from(["auto", "variables", "factors", "blocks", "dag", "bogus", 3]))
def test_drawings_with_hostile_names_fail_only_with_named_errors(a: str, b: str, view: Any) -> None:
    mn = gd.MarkovNetwork(a)
    mn.add_variable(a, gd.Spin())
    if b != a:
        mn.add_variable(b, gd.Spin())
        mn.add_coupling([(a, b)], 0.3)
    g = check("draw", gd.draw, mn, view)
    if not isinstance(g, GraphdgmError) and gd.viz.find_renderer() is not None:
        check("viz.save", gd.viz.save, g, SCRATCH / "drawing.svg")


# ------------------------------------------------------------------------------- the figure
def test_zz_report_the_number_of_examples_and_named_errors() -> None:
    """The tally of this module's run: every example either succeeded or ended in a named error."""
    figure = {"examples_tried": TALLY["tried"], "named_errors": TALLY["named error"], "succeeded": TALLY["succeeded"],
              "raw_exceptions": TALLY["raw exception"],
              "by_class": {k.split(": ", 1)[1]: v for k, v in sorted(TALLY.items()) if k.startswith("named error: ")},
              "raw": RAW}
    out = Path(os.environ.get("GRAPHDGM_PROPERTY_REPORT", Path(tempfile.gettempdir()) / "graphdgm_bad_input_properties.json"))
    out.write_text(json.dumps(figure, indent=1))
    print(f"bad-input properties: {figure['examples_tried']} calls tried, {figure['named_errors']} ended in a named "
          f"GraphdgmError, {figure['succeeded']} succeeded, {figure['raw_exceptions']} raw exceptions; written to {out}")
    assert figure["raw_exceptions"] == 0, RAW
    if TALLY["tried"]:  # the module ran (not this test alone)
        assert figure["named_errors"] + figure["succeeded"] == figure["examples_tried"]
