"""Save and load a declaration as JSON, exactly (log tables bit for bit, ``-inf`` included).

Every :class:`~graphdgm.Graph` (and so every family: an RBM, a DBN, MADE, a Bayesian network, an
HMM, a GAN, ...) is written one way: its blocks (shape, domain with state labels, unit, role,
initial bias), its edges (pattern and the pattern's arguments) and its Markov-network layer
(tables, pairs, fields). ``"family"`` names the graph's class by its tag (``"graph"`` for a plain
graph); loading builds the graph through ``connect`` (every edge validated again) and then the
class with ``from_graph``. A :class:`~graphdgm.MarkovNetwork` and a
:class:`~graphdgm.GaussianMarkovNetwork` have their own layouts, and files written before
families were graphs load through :mod:`graphdgm.io.legacy` (a file without ``"family"`` is a
Markov network).

Arrays are stored as ``{"shape": [...], "data": [...]}`` with the data flattened in C order; floats
are written by ``json`` with ``repr`` precision, so they round-trip exactly, and ``-inf`` (a zero
potential) is stored as the string ``"-inf"``. State labels must be JSON scalars (str, int, float,
bool or None).
"""
from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any, Union

import numpy as np

from graphdgm.errors import FormatError, GraphdgmError, SpecError
from graphdgm.runtime import atomic_write_text
from graphdgm.spec.domains import Domain
from graphdgm.spec.gaussian import GaussianMarkovNetwork
from graphdgm.spec.markov_network import MarkovNetwork
from graphdgm.graph.graph import GRAPH_CLASSES, Edge, Graph
from graphdgm.graph.patterns import AUTOREGRESSIVE_PATTERNS, CPT, Autoregressive, Dense, Emission, Grid, NeuralMap, Pairs, Transition
from graphdgm.graph.units import Unit
from graphdgm.io.legacy import legacy_readers

FORMAT = "graphdgm.spec"
VERSION = 1
Spec = Union[Graph, MarkovNetwork, GaussianMarkovNetwork]


def _encode_array(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        return {"shape": list(a.shape), "data": [int(x) for x in a.ravel()]}
    if np.any(np.isnan(a)) or np.any(a == np.inf):
        raise SpecError("cannot save NaN or +inf values; log-potentials are finite or -inf")
    return {"shape": list(a.shape), "data": ["-inf" if x == -math.inf else float(x) for x in a.ravel().tolist()]}


def _decode_array(d: Any, what: str, dtype: type = np.float64) -> np.ndarray:
    try:
        shape = tuple(int(s) for s in d["shape"])
        data = [-math.inf if x == "-inf" else x for x in d["data"]]
        return np.array(data, dtype=dtype).reshape(shape)
    except (KeyError, TypeError, ValueError) as e:
        raise FormatError(f"{what}: expected {{'shape': [...], 'data': [...]}} holding numbers or '-inf': {e}") from None


def _label(x: Any) -> Any:
    x = x.item() if isinstance(x, np.generic) else x
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    raise SpecError(f"state label {x!r} of type {type(x).__name__} cannot be saved; labels must be str, int, float, bool or None")


def _domain_dict(d: Domain) -> dict[str, Any]:
    out = d.to_dict()
    out["labels"] = [_label(x) for x in out["labels"]]
    return out


def spec_to_dict(spec: Spec) -> dict[str, Any]:
    """A JSON-safe dict (lists, str, int, float only) describing ``spec`` completely.

    >>> import graphdgm as gd
    >>> d = spec_to_dict(gd.MarkovNetwork.ising_grid(2, 2))
    >>> d["format"], d["version"], d["family"], d["blocks"][0]["shape"], d["couplings"][0]["kind"]
    ('graphdgm.spec', 1, 'markov_network', [2, 2], 'ising')
    """
    if isinstance(spec, Graph):
        return {"format": FORMAT, "version": VERSION, "family": spec.family_tag, **_graph_to_dict(spec)}
    if isinstance(spec, GaussianMarkovNetwork):
        return {"format": FORMAT, "version": VERSION, "family": "gaussian_markov_network", **_gaussian_to_dict(spec)}
    if isinstance(spec, MarkovNetwork):
        return {"format": FORMAT, "version": VERSION, "family": "markov_network", **_markov_to_dict(spec)}
    raise SpecError(f"cannot save a {type(spec).__name__}; savable specs are graphs (gd.Graph and every family), "
                    f"MarkovNetwork and GaussianMarkovNetwork")


def _markov_to_dict(spec: MarkovNetwork) -> dict[str, Any]:
    return {
        "name": spec.name,
        "blocks": [{"name": b.name, "shape": list(b.shape), "domain": _domain_dict(b.domain)} for b in spec.blocks.values()],
        "factors": [{"name": f.name, "scope": list(f.scope), "log_table": _encode_array(f.log_table)} for f in spec.factors],
        "couplings": [
            {
                "name": c.name, "kind": c.kind, "pairs": _encode_array(np.asarray(c.pairs, dtype=np.int64)),
                "weights": _encode_array(c.weights), "pattern": c.pattern,
            }
            for c in spec.couplings
        ],
        "fields": [
            {
                "name": f.name, "kind": f.kind, "variables": _encode_array(np.asarray(f.variables, dtype=np.int64)),
                "weights": _encode_array(f.weights), "block": f.block, "meta": f.meta,
            }
            for f in spec.fields
        ],
    }


def _gaussian_to_dict(spec: GaussianMarkovNetwork) -> dict[str, Any]:
    return {
        "name": spec.name,
        "blocks": [{"name": b.name, "shape": list(b.shape), "domain": _domain_dict(b.domain)} for b in spec.blocks.values()],
        "quadratics": [
            {"name": q.name, "pairs": _encode_array(np.asarray(q.pairs, dtype=np.int64)), "weights": _encode_array(q.weights)}
            for q in spec.quadratics
        ],
        "linears": [
            {
                "name": lg.name, "variables": _encode_array(np.asarray(lg.variables, dtype=np.int64)),
                "weights": _encode_array(lg.weights), "block": lg.block,
            }
            for lg in spec.linears
        ],
    }


def spec_from_dict(d: dict[str, Any]) -> Spec:
    """Rebuild the spec saved by :func:`spec_to_dict` (validated through the spec's own ``add_*`` methods).

    >>> import graphdgm as gd
    >>> spec_from_dict(spec_to_dict(gd.MarkovNetwork.potts_grid(2, 2, k=3))).variables
    ['x[0,0]', 'x[0,1]', 'x[1,0]', 'x[1,1]']
    >>> spec_from_dict(spec_to_dict(gd.GaussianMarkovNetwork.from_precision([[2.0, 0.5], [0.5, 1.0]]))).precision_matrix().tolist()
    [[2.0, 0.5], [0.5, 1.0]]
    """
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        got = d.get("format") if isinstance(d, dict) else type(d).__name__
        raise FormatError(f"not a saved graphdgm spec: expected 'format': {FORMAT!r}, got {got!r}")
    if d.get("version") != VERSION:
        raise FormatError(f"saved spec has version {d.get('version')!r}; this graphdgm reads version {VERSION}")
    family = d.get("family", "markov_network")
    if family in GRAPH_CLASSES and "units" in d:  # blocks and edges: every graph class
        build: Any = lambda d: GRAPH_CLASSES[family].from_graph(_build_graph(d))  # noqa: E731
    else:
        build = _READERS.get(family)
    if build is None:
        raise FormatError(f"saved spec has family {family!r}; this graphdgm reads {sorted(set(_READERS) | set(GRAPH_CLASSES))}")
    try:
        return build(d)
    except GraphdgmError:
        raise  # the spec's own validation names the problem
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise FormatError(f"saved spec is missing or has a malformed entry: {type(e).__name__}: {e}") from None


def _build(d: dict[str, Any]) -> MarkovNetwork:
    mn = MarkovNetwork(name=d.get("name", "markov_network"))
    for b in d["blocks"]:
        mn.add_block(b["name"], tuple(b["shape"]), Domain.from_dict(b["domain"]))
    return _add_markov_layer(mn, d)


def _add_markov_layer(mn: MarkovNetwork, d: dict[str, Any]) -> MarkovNetwork:
    """The saved tables, couplings and fields, added to ``mn`` through its own validation."""
    for f in d["factors"]:
        mn.add_factor(f["scope"], log_table=_decode_array(f["log_table"], f"factor {f['name']!r}"), name=f["name"])
    for c in d["couplings"]:
        pairs = _decode_array(c["pairs"], f"coupling {c['name']!r} pairs", np.int64).reshape(-1, 2)
        w = _decode_array(c["weights"], f"coupling {c['name']!r} weights")
        mn.add_coupling(pairs, w, kind=c["kind"], name=c["name"], pattern=c["pattern"])
    for f in d["fields"]:
        idx = _decode_array(f["variables"], f"field {f['name']!r} variables", np.int64).reshape(-1)
        w = _decode_array(f["weights"], f"field {f['name']!r} weights")
        names = mn.variables
        mn.add_field(f["block"] or [names[int(i)] for i in idx], w, kind=f["kind"], name=f["name"])
        got = mn.fields[-1]
        if not np.array_equal(got.variables, idx):
            raise FormatError(f"field {f['name']!r}: its block {f['block']!r} does not cover the saved variables")
        got.meta.update(f.get("meta") or {})
    return mn


def _build_gaussian(d: dict[str, Any]) -> GaussianMarkovNetwork:
    g = GaussianMarkovNetwork(name=d.get("name", "gaussian_markov_network"))
    for b in d["blocks"]:
        if Domain.from_dict(b["domain"]).kind != "real":
            raise FormatError(f"block {b['name']!r} of a Gaussian network must be real, got {b['domain']!r}")
        g.add_block(b["name"], tuple(b["shape"]))
    for q in d["quadratics"]:
        pairs = _decode_array(q["pairs"], f"quadratic {q['name']!r} pairs", np.int64).reshape(-1, 2)
        g.add_quadratic(pairs, _decode_array(q["weights"], f"quadratic {q['name']!r} weights"), name=q["name"])
    names = g.variables
    for lg in d["linears"]:
        idx = _decode_array(lg["variables"], f"linear {lg['name']!r} variables", np.int64).reshape(-1)
        w = _decode_array(lg["weights"], f"linear {lg['name']!r} weights")
        if len(idx) and (idx.min() < 0 or idx.max() >= len(names)):
            raise FormatError(f"linear {lg['name']!r}: variable index outside 0..{len(names) - 1}")
        g.add_linear(lg["block"] or [names[int(i)] for i in idx], w, name=lg["name"])
        if not np.array_equal(g.linears[-1].variables, idx):
            raise FormatError(f"linear {lg['name']!r}: its block {lg['block']!r} does not cover the saved variables")
    return g


def _graph_to_dict(spec: Graph) -> dict[str, Any]:
    """A graph: its Markov-network layer (blocks, tables, pairs, fields) plus units, roles,
    initial biases and edges (dense weights, or None when initialised at compile time)."""
    d = _markov_to_dict(spec)
    if spec.cpt_edges():
        d["factors"] = []  # a Bayesian network's factors are its CPTs' logarithms, rebuilt from the CPT edges
    d["units"] = {b: spec.units[b].to_dict() for b in spec.blocks}
    d["roles"] = dict(spec.roles)
    d["biases"] = {b: (None if v is None else _encode_array(v)) for b, v in spec.biases.items()}
    edges = []
    for e in spec.edges.values():
        entry: dict[str, Any] = {"name": e.name, "a": e.a, "b": e.b, "pattern": e.pattern.kind}
        if isinstance(e.pattern, Dense):
            entry.update(weights=None if e.pattern.weights is None else _encode_array(e.pattern.weights),
                         init_std=e.pattern.init_std, seed=e.pattern.seed)
        elif isinstance(e.pattern, Grid):
            entry["periodic"] = e.pattern.periodic
        elif isinstance(e.pattern, CPT):  # a neural CPD's weights travel in the model's state dict
            entry.update(parents=list(e.sources), table=_encode_array(e.pattern.table), hidden=e.pattern.hidden,
                         seed=e.pattern.seed)
        elif isinstance(e.pattern, NeuralMap):
            options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in e.pattern.options.items()}
            bad = [k for k, v in options.items() if not isinstance(v, (str, int, float, bool, list, type(None)))]
            if bad:
                raise FormatError(f"{type(spec).__name__} {spec.name!r}: edge {e.name!r} uses a user's torch module "
                                  f"({', '.join(bad)}), which JSON cannot hold; save its weights with "
                                  f"torch.save(model.state_dict(), path) and rebuild the spec in code")
            entry.update(options=options, seed=e.pattern.seed)
        elif isinstance(e.pattern, Transition):
            entry.update(table=_encode_array(e.pattern.table), order=e.pattern.order,
                         initial=None if e.pattern.initial is None else _encode_array(e.pattern.initial))
        elif isinstance(e.pattern, Emission):
            q = e.pattern
            entry.update(table=None if q.table is None else _encode_array(q.table),
                         means=None if q.means is None else _encode_array(q.means),
                         stds=None if q.stds is None else _encode_array(q.stds),
                         models=None if q.models is None else [spec_to_dict(m) for m in q.models])
        elif isinstance(e.pattern, Autoregressive):  # the declaration; weights travel in the model's state dict
            opts = dict(e.pattern.options)
            if opts.get("ordering") is not None and not isinstance(opts["ordering"], str):
                opts["ordering"] = np.asarray(opts["ordering"]).tolist()
            entry.update(options=opts, seed=e.pattern.seed)
        edges.append(entry)
    d["edges"] = edges
    return d


def _build_graph(d: dict[str, Any]) -> Graph:
    g = Graph(name=d.get("name", "graph"))
    units, roles, biases = d["units"], d["roles"], d["biases"]
    for b in d["blocks"]:
        name = b["name"]
        bias: Any = False
        if name in biases:
            bias = True if biases[name] is None else _decode_array(biases[name], f"block {name!r} bias")
        unit, domain = Unit.from_dict(units[name]), Domain.from_dict(b["domain"])
        g.block(name, tuple(b["shape"]), domain if domain.is_discrete and unit.discrete else unit, role=roles[name], bias=bias)
        if g.units[name] != unit or g.blocks[name].domain != domain:
            raise FormatError(f"block {name!r}: its unit {units[name]!r} does not match its saved domain {b['domain']!r}")
    coupling_edges = {e["name"] for e in d["edges"] if e["pattern"] in ("pairs", "grid")}
    rest = dict(d, couplings=[c for c in d["couplings"] if c["name"] not in coupling_edges], blocks=[])
    _add_markov_layer(g, rest)
    for c in d["couplings"]:
        if c["name"] in coupling_edges:  # pairs and grids come back as the edges that made them
            pairs = _decode_array(c["pairs"], f"coupling {c['name']!r} pairs", np.int64).reshape(-1, 2)
            g.add_coupling(pairs, _decode_array(c["weights"], f"coupling {c['name']!r} weights"), kind=c["kind"],
                           name=c["name"], pattern=c["pattern"])
    for e in d["edges"]:
        if e["pattern"] == "neural map":
            g.connect(e["a"], e["b"], NeuralMap(**e["options"], seed=int(e["seed"])), name=e["name"])
        elif e["pattern"] == "transition":
            init = None if e["initial"] is None else _decode_array(e["initial"], f"edge {e['name']!r} initial")
            g.connect(e["a"], e["b"], Transition(_decode_array(e["table"], f"edge {e['name']!r} table"), initial=init,
                                                 order=int(e["order"])), name=e["name"])
        elif e["pattern"] == "emission":
            arrays = {k: None if e[k] is None else _decode_array(e[k], f"edge {e['name']!r} {k}") for k in ("table", "means", "stds")}
            models = None if e["models"] is None else [spec_from_dict(m) for m in e["models"]]
            g.connect(e["a"], e["b"], Emission(arrays["table"], means=arrays["means"], stds=arrays["stds"], models=models),
                      name=e["name"])
        elif e["pattern"] == "cpt":
            cpt = CPT(_decode_array(e["table"], f"edge {e['name']!r} table"), hidden=e.get("hidden"), seed=int(e.get("seed", 0)))
            g.connect(e["parents"], e["b"], cpt, name=e["name"])
        elif e["pattern"] in AUTOREGRESSIVE_PATTERNS:
            g.connect(e["a"], e["b"], AUTOREGRESSIVE_PATTERNS[e["pattern"]](**e["options"], seed=int(e["seed"])), name=e["name"])
        elif e["pattern"] == "dense":
            w = None if e["weights"] is None else _decode_array(e["weights"], f"edge {e['name']!r} weights")
            g.connect(e["a"], e["b"], Dense(w, init_std=e["init_std"], seed=e["seed"]), name=e["name"])
        else:
            c = next(c for c in g.couplings if c.name == e["name"])
            oa, ob = g.offset(e["a"]), g.offset(e["b"])
            local = np.stack([c.pairs[:, 0] - oa, c.pairs[:, 1] - ob], 1)
            pattern = (Grid(c.weights, kind=c.kind, periodic=bool(e.get("periodic", False))) if e["pattern"] == "grid"
                       else Pairs(local, c.weights, kind=c.kind))
            g.edges[e["name"]] = Edge(e["name"], e["a"], e["b"], pattern)
    return g


_READERS: dict[str, Any] = {"markov_network": _build, "gaussian_markov_network": _build_gaussian,
                            **legacy_readers(_decode_array, spec_from_dict)}


def save_spec(spec: Spec, path: Union[str, os.PathLike]) -> None:
    """Save ``spec`` as a JSON file (see :func:`spec_to_dict`).

    >>> import graphdgm as gd, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.json")
    >>> save_spec(gd.MarkovNetwork.ising_grid(2, 3, field=0.2), p)
    >>> load_spec(p).num_variables
    6
    """
    try:
        text = json.dumps(spec_to_dict(spec), allow_nan=False, indent=1)
    except ValueError as e:  # NaN or inf somewhere in the spec's numbers
        raise FormatError(f"cannot save spec {getattr(spec, 'name', '')!r}: {e}; JSON holds finite numbers only") from None
    atomic_write_text(path, text + "\n")  # a write killed half-way leaves the previous file intact


def load_spec(path: Union[str, os.PathLike]) -> Spec:
    """Load a spec saved by :func:`save_spec` (FormatError on a file that is not one)."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"{str(path)!r} is not a UTF-8 text file (byte {e.start}); a saved spec is JSON") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"{str(path)!r} is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}") from None
    return spec_from_dict(d)


__all__ = ["spec_to_dict", "spec_from_dict", "save_spec", "load_spec"]
