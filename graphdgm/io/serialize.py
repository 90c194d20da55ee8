"""Save and load a :class:`MarkovNetwork` or :class:`GaussianMarkovNetwork` as JSON, exactly (log
tables bit for bit, ``-inf`` included).

Each spec family has a writer and a reader, chosen by the spec's type on save and by the saved
``"family"`` entry on load (a file without one is a Markov network, as written before families).

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
from graphdgm.graph.graph import Edge, Graph
from graphdgm.graph.patterns import AUTOREGRESSIVE_PATTERNS, CPT, Autoregressive, Dense, Emission, Grid, NeuralMap, Pairs, Transition
from graphdgm.graph.units import Unit
from graphdgm.spec.rbm import DBN, RBM
from graphdgm.spec.autoregressive import MADE, NADE, AutoregressiveModel, PixelCNN, PixelRNN
from graphdgm.spec.bayesian_network import BayesianNetwork
from graphdgm.spec.hmm import CategoricalEmission, DensityEmission, GaussianEmission, HiddenMarkovModel
from graphdgm.spec.markov_chain import MarkovChain
from graphdgm.spec.gan import GAN

FORMAT = "graphdgm.spec"
VERSION = 1
Spec = Union[Graph, MarkovNetwork, GaussianMarkovNetwork, RBM, DBN]


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
    for t in type(spec).__mro__:
        if t in _WRITERS:
            family, write = _WRITERS[t]
            return {"format": FORMAT, "version": VERSION, "family": family, **write(spec)}
    known = ", ".join(t.__name__ for t in _WRITERS)
    raise SpecError(f"cannot save a {type(spec).__name__}; savable specs are: {known}")


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
    build = _READERS.get(family)
    if build is None:
        raise FormatError(f"saved spec has family {family!r}; this graphdgm reads {sorted(_READERS)}")
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


_RBM_ARRAYS = ("weights", "visible_bias", "hidden_bias", "sigma")


def _rbm_to_dict(spec: RBM) -> dict[str, Any]:
    d = {"name": spec.name, "visible": list(spec.visible_shape), "hidden": spec.num_hidden, "visible_type": spec.visible_type,
         "categories": spec.categories, "init_std": spec.init_std, "seed": spec.seed,
         "visible_name": spec.visible_name, "hidden_name": spec.hidden_name}
    for a in _RBM_ARRAYS:
        val = getattr(spec, a)
        d[a] = None if val is None else _encode_array(val)
    return d


def _build_rbm(d: dict[str, Any]) -> RBM:
    arrays = {a: None if d.get(a) is None else _decode_array(d[a], f"RBM {a}") for a in _RBM_ARRAYS}
    return RBM(tuple(d["visible"]), int(d["hidden"]), visible_type=d["visible_type"], categories=d.get("categories"),
               init_std=float(d["init_std"]), seed=int(d["seed"]), name=d["name"], visible_name=d["visible_name"],
               hidden_name=d["hidden_name"], **arrays)


def _dbn_to_dict(spec: DBN) -> dict[str, Any]:
    r0 = spec.rbms[0]
    return {"name": spec.name, "layers": [list(r0.visible_shape)] + [r.num_hidden for r in spec.rbms],
            "visible_type": spec.visible_type, "categories": r0.categories, "init_std": r0.init_std, "seed": r0.seed}


def _build_dbn(d: dict[str, Any]) -> DBN:
    return DBN(d["layers"], visible_type=d["visible_type"], categories=d.get("categories"), init_std=float(d["init_std"]),
               seed=int(d["seed"]), name=d["name"])


def _bn_to_dict(spec: BayesianNetwork) -> dict[str, Any]:
    return {"name": spec.name,
            "blocks": [{"name": b.name, "shape": list(b.shape), "domain": _domain_dict(b.domain)} for b in spec.blocks.values()],
            "cpds": [{"child": v, "parents": list(spec.parents[v]), "table": _encode_array(spec.cpds[v])} for v in spec.ordering],
            "neural_cpds": {v: dict(cfg) for v, cfg in spec.neural_cpds.items()}}  # their weights: the model's state dict


def _build_bn(d: dict[str, Any]) -> BayesianNetwork:
    bn = BayesianNetwork(name=d.get("name", "bayesian_network"))
    for b in d["blocks"]:
        bn.add_block(b["name"], tuple(b["shape"]), Domain.from_dict(b["domain"]))
    neural = d.get("neural_cpds", {})
    for c in d["cpds"]:
        if c["child"] in neural:
            cfg = neural[c["child"]]
            bn.add_neural_cpd(c["child"], c["parents"], [int(h) for h in cfg["hidden"]], seed=int(cfg["seed"]))
        else:
            bn.add_cpd(c["child"], c["parents"], _decode_array(c["table"], f"CPT of {c['child']!r}"))
    return bn


def _chain_to_dict(spec: MarkovChain) -> dict[str, Any]:
    return {"name": spec.name, "states": [_label(s) for s in spec.states], "order": spec.order,
            "transition": _encode_array(spec.transition), "initial": _encode_array(spec.initial)}


def _build_chain(d: dict[str, Any]) -> MarkovChain:
    return MarkovChain(d["states"], _decode_array(d["transition"], "chain transition"),
                       _decode_array(d["initial"], "chain initial distribution"), order=int(d["order"]), name=d["name"])


def _hmm_to_dict(spec: HiddenMarkovModel) -> dict[str, Any]:
    e = spec.emission
    if isinstance(e, CategoricalEmission):
        emission = {"kind": "categorical", "table": _encode_array(e.table), "symbols": [_label(s) for s in e.symbols]}
    elif isinstance(e, DensityEmission):  # the models' declarations; their weights travel in the model's state dict
        emission = {"kind": "density", "models": [spec_to_dict(m) for m in e.specs]}
    else:
        emission = {"kind": "gaussian", "means": _encode_array(e.means), "stds": _encode_array(e.stds)}
    return {"name": spec.name, "states": [_label(s) for s in spec.states], "transition": _encode_array(spec.transition),
            "initial": _encode_array(spec.initial), "emission": emission}


def _build_hmm(d: dict[str, Any]) -> HiddenMarkovModel:
    e = d["emission"]
    if e["kind"] == "categorical":
        emission: Any = CategoricalEmission(_decode_array(e["table"], "emission table"), e["symbols"])
    elif e["kind"] == "gaussian":
        emission = GaussianEmission(_decode_array(e["means"], "emission means"), _decode_array(e["stds"], "emission stds"))
    elif e["kind"] == "density":
        emission = DensityEmission([spec_from_dict(m) for m in e["models"]])
    else:
        raise FormatError(f"HMM emission kind {e['kind']!r}; this graphdgm reads 'categorical', 'gaussian' and 'density'")
    return HiddenMarkovModel(d["states"], _decode_array(d["transition"], "HMM transition"), emission,
                             initial=_decode_array(d["initial"], "HMM initial distribution"), name=d["name"])


_AR_ARGS = {NADE: ("hidden",), MADE: ("hidden", "num_masks", "direct"), PixelCNN: ("channels", "num_layers", "kernel", "first_kernel", "gated"),
            PixelRNN: ("hidden", "num_layers", "kernel")}
_AR_KWARGS = {"num_masks": "masks", "num_layers": "layers"}


def _ar_to_dict(spec: AutoregressiveModel) -> dict[str, Any]:
    d = {"name": spec.name, "shape": list(spec.shape), "seed": spec.seed, "ordering": spec.ordering.tolist()}
    d.update({a: getattr(spec, a) for a in _AR_ARGS[type(spec)]})
    return d


def _ar_builder(cls: type) -> Any:
    def build(d: dict[str, Any]) -> AutoregressiveModel:
        kwargs = {_AR_KWARGS.get(a, a): d[a] for a in _AR_ARGS[cls]}
        if cls in (NADE, MADE):
            kwargs["ordering"] = d["ordering"]
        return cls(tuple(d["shape"]), name=d["name"], seed=int(d["seed"]), **kwargs)

    return build


_GAN_ARGS = ("latent", "generator", "discriminator", "generator_hidden", "discriminator_hidden", "channels", "data",
             "latent_distribution", "pack", "batch_norm", "seed", "name")


def _gan_to_dict(spec: GAN) -> dict[str, Any]:
    if spec.custom:
        raise FormatError(f"GAN {spec.name!r} uses a user's torch module, which JSON cannot hold; save its weights "
                          f"with torch.save(model.state_dict(), path) and rebuild the spec in code")
    return {"data_shape": list(spec.data_shape), **{a: getattr(spec, a) for a in _GAN_ARGS}}


def _build_gan(d: dict[str, Any]) -> GAN:
    return GAN(tuple(d["data_shape"]), **{a: d[a] for a in _GAN_ARGS if a in d})


def _graph_to_dict(spec: Graph) -> dict[str, Any]:
    """A graph: its Markov-network layer (blocks, tables, pairs, fields) plus units, roles,
    initial biases and edges (dense weights, or None when initialised at compile time)."""
    d = _markov_to_dict(spec)
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
        elif isinstance(e.pattern, CPT):
            entry.update(parents=list(e.sources), table=_encode_array(e.pattern.table))
        elif isinstance(e.pattern, NeuralMap):
            entry.update(options={k: (list(v) if isinstance(v, tuple) else v) for k, v in e.pattern.options.items()},
                         seed=e.pattern.seed)
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
        g.block(name, tuple(b["shape"]), Unit.from_dict(units[name]), role=roles[name], bias=bias)
        if g.units[name].domain != Domain.from_dict(b["domain"]):
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
            g.connect(e["parents"], e["b"], CPT(_decode_array(e["table"], f"edge {e['name']!r} table")), name=e["name"])
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


_WRITERS: dict[type, tuple[str, Any]] = {
    GAN: ("gan", _gan_to_dict),
    BayesianNetwork: ("bayesian_network", _bn_to_dict),
    MarkovChain: ("markov_chain", _chain_to_dict),
    HiddenMarkovModel: ("hidden_markov_model", _hmm_to_dict),
    NADE: ("nade", _ar_to_dict),
    MADE: ("made", _ar_to_dict),
    PixelCNN: ("pixelcnn", _ar_to_dict),
    PixelRNN: ("pixelrnn", _ar_to_dict),
    RBM: ("rbm", _rbm_to_dict),
    Graph: ("graph", _graph_to_dict),
    DBN: ("dbn", _dbn_to_dict),
    MarkovNetwork: ("markov_network", _markov_to_dict),
    GaussianMarkovNetwork: ("gaussian_markov_network", _gaussian_to_dict),
}
_READERS: dict[str, Any] = {"markov_network": _build, "gaussian_markov_network": _build_gaussian, "rbm": _build_rbm, "dbn": _build_dbn,
                            "bayesian_network": _build_bn, "markov_chain": _build_chain, "hidden_markov_model": _build_hmm, "nade": _ar_builder(NADE), "made": _ar_builder(MADE),
                            "pixelcnn": _ar_builder(PixelCNN), "pixelrnn": _ar_builder(PixelRNN), "gan": _build_gan,
                            "graph": _build_graph}


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
