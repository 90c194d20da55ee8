"""The ``graphdgm`` command line: solve UAI problems, draw specs, fit and sample models.

Usage (``python -m graphdgm ...`` works the same as the ``graphdgm`` command)::

    graphdgm solve grid.uai --evid grid.uai.evid --task MAR         # writes grid.uai.MAR
    graphdgm solve grid.uai --task PR -o -                          # log10 Z(e) on stdout
    graphdgm solve grid.uai --task MAP --backend annealing
    graphdgm draw model.json -o model.svg --view blocks             # svg / png / pdf by suffix
    graphdgm fit rbm.json digits.csv -o rbm.pt --epochs 20 --seed 1
    graphdgm sample rbm.pt -n 16 -o samples.png --seed 0            # or samples.csv / samples.npy

A SPEC is a JSON spec (:func:`graphdgm.io.save_spec`), a UAI ``MARKOV`` / ``BAYES`` file
(``.uai``), a BIF file (``.bif``, read through pgmpy when installed) or a saved model (``.pt``,
:func:`graphdgm.io.save`). ``solve`` writes the UAI 2014 competition result format: the task name
on the first line, then one line holding the answer (``MAR``: the number of variables, then per
variable its cardinality and its marginal probabilities; ``PR``: log10 of the probability of the
evidence, log10 Z(e); ``MAP``: the number of variables, then each one's state index).

A bad path, a malformed file or an option a model does not take prints one line on stderr that
names the file and the fix, and exits with status 2; ``--verbose`` shows the traceback.

>>> main(["--version"]) == 0  # doctest: +ELLIPSIS
graphdgm ...
True
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphdgm.errors import GraphdgmError

PROG = "graphdgm"
TASKS = ("MAR", "PR", "MAP", "MPE")
SPEC_SUFFIXES = (".json", ".uai", ".bif", ".pt")


class CLIError(Exception):
    """A problem with the command's input: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------------------- loading


@contextlib.contextmanager
def _reading(path: Path, what: str, fix: str) -> Iterator[None]:
    """Turn graphdgm and OS errors while reading ``path`` into one CLIError naming it and the fix."""
    try:
        yield
    except CLIError:
        raise
    except FileNotFoundError:
        raise CLIError(f"{what} {str(path)!r} does not exist; check the path") from None
    except IsADirectoryError:
        raise CLIError(f"{what} {str(path)!r} is a folder, not a file; give the file's path") from None
    except (GraphdgmError, OSError, ValueError, KeyError) as e:
        msg = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise CLIError(f"cannot read {what} {str(path)!r}: {msg}; {fix}") from e


def _existing(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{what} {path!r} does not exist; check the path")
    if not p.is_file():
        raise CLIError(f"{what} {path!r} is not a file; give the file's path")
    return p


def load_spec_or_model(path: str, what: str = "spec file") -> Any:
    """The declaration (or, for a ``.pt`` file, the compiled model) stored at ``path``, by suffix.

    >>> import graphdgm as gd, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ising.json")
    >>> gd.io.save_spec(gd.MarkovNetwork.ising_grid(2, 2), p)
    >>> load_spec_or_model(p).num_variables
    4
    """
    from graphdgm import io as gio

    p = _existing(path, what)
    suffix = p.suffix.lower()
    fix = {
        ".json": "give a spec written by graphdgm.io.save_spec",
        ".uai": "give a UAI MARKOV or BAYES model file",
        ".bif": "give a BIF file that pgmpy's BIFReader reads",
        ".pt": "give a model written by graphdgm.io.save (or graphdgm fit)",
    }.get(suffix)
    if fix is None:
        raise CLIError(f"{what} {path!r} has suffix {p.suffix!r}; graphdgm reads {', '.join(SPEC_SUFFIXES)} "
                       f"(JSON specs from graphdgm.io.save_spec, UAI models, BIF models, saved models)")
    with _reading(p, what, fix):
        if suffix == ".json":
            return gio.load_spec(p)
        if suffix == ".uai":
            return gio.read_uai(p)
        if suffix == ".pt":
            return gio.load(p)
        return _read_bif(p)


def _read_bif(p: Path) -> Any:
    try:
        from pgmpy.readwrite import BIFReader
    except ImportError:
        raise CLIError(f"reading {str(p)!r} needs pgmpy (pip install pgmpy); or convert it to a JSON spec") from None
    from graphdgm.io import bayesian_network_from_pgmpy

    try:
        model = BIFReader(str(p)).get_model()
    except Exception as e:  # noqa: BLE001 - pgmpy's parser raises many kinds
        raise CLIError(f"cannot read BIF file {str(p)!r}: {type(e).__name__}: {e}; check it is a valid BIF file") from None
    return bayesian_network_from_pgmpy(model, name=p.stem)


def _as_model(obj: Any, path: str | None = None) -> torch.nn.Module:
    from graphdgm.compiler import compile

    if isinstance(obj, torch.nn.Module):
        return obj
    try:
        return compile(obj)
    except GraphdgmError as e:
        if path is None:
            raise
        raise CLIError(f"cannot compile the model in {path!r}: {e}") from e


def _option_value(text: str) -> Any:
    """``KEY=VALUE`` values: JSON when they parse (numbers, true/false/null, lists), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in pairs or ():
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"{flag} {item!r} is not KEY=VALUE; write e.g. {flag} chains=64")
        out[key.strip().replace("-", "_")] = _option_value(val)
    return out


# --------------------------------------------------------------------------------------------- writing


def _write_text(out: str, text: str) -> None:
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from graphdgm.runtime import atomic_write_text

    try:
        atomic_write_text(out, text)
    except OSError as e:
        raise CLIError(f"cannot write {out!r}: {e.strerror or e}; check the folder exists and is writable") from None


def _write_bytes(out: str, data: bytes) -> None:
    from graphdgm.runtime import atomic_write_bytes

    try:
        atomic_write_bytes(out, data)
    except OSError as e:
        raise CLIError(f"cannot write {out!r}: {e.strerror or e}; check the folder exists and is writable") from None


def _number(x: float) -> str:
    """A float written so that it reads back exactly (``repr``), ``-inf`` for a zero probability."""
    return repr(float(x)) if math.isfinite(x) else ("-inf" if x < 0 else "inf")


# --------------------------------------------------------------------------------------------- solve


def uai_result(task: str, answer: Any) -> str:
    """The UAI 2014 result-file text of ``answer``: marginals (a list of 1-D probability arrays) for
    MAR, log10 Z(e) (a float) for PR, the state indices (a list of ints) for MAP / MPE.

    >>> print(uai_result("MAR", [[0.25, 0.75], [1.0, 0.0, 0.0]]), end="")
    MAR
    2 2 0.25 0.75 3 1.0 0.0 0.0
    >>> print(uai_result("PR", -0.5), end="")
    PR
    -0.5
    >>> uai_result("MAP", [1, 0, 2])
    'MAP\\n3 1 0 2\\n'
    """
    if task == "MAR":
        parts = [str(len(answer))]
        for probs in answer:
            parts += [str(len(probs)), *(_number(p) for p in probs)]
        body = " ".join(parts)
    elif task == "PR":
        body = _number(answer)
    else:
        body = " ".join(map(str, [len(answer), *(int(s) for s in answer)]))
    return f"{task}\n{body}\n"


def solve(spec_or_model: Any, evidence: dict[int, int], task: str, backend: Any = "exact") -> Any:
    """Answer a UAI ``task`` on a model with evidence ``{variable index: state index}``: the value
    :func:`uai_result` writes (MAR marginals, PR log10 Z(e), MAP states), in variable order.

    >>> import graphdgm as gd
    >>> mn = gd.io.read_uai("MARKOV\\n2\\n2 2\\n1\\n2 0 1\\n4 1 1 1 5\\n")
    >>> round(solve(mn, {}, "PR"), 12) == round(math.log10(8), 12)   # Z = 1 + 1 + 1 + 5
    True
    >>> solve(mn, {0: 1}, "MAR")[0].tolist(), solve(mn, {}, "MAP")
    ([0.0, 1.0], [1, 1])
    """
    import graphdgm as gd
    from graphdgm.io import evidence_to_names

    model = _as_model(spec_or_model)
    ev = evidence_to_names(model.spec, evidence)
    if task == "PR":
        return float(gd.log_partition(model, ev, backend=backend).detach()) / math.log(10.0)
    if task in ("MAP", "MPE"):
        return [int(s) for s in gd.map_query(model, evidence=ev, backend=backend).state.tolist()]
    marg = gd.query(model, None, ev, backend=backend)
    out = []
    for i, name in enumerate(model.variables):
        probs = marg[name].probs.detach().to("cpu", torch.float64).numpy().copy()
        if i in evidence:  # evidence variables are point masses, whatever the backend returned
            probs[:] = 0.0
            probs[evidence[i]] = 1.0
        out.append(probs)
    return out


def _cmd_solve(args: argparse.Namespace) -> int:
    from graphdgm.infer.registry import get_backend
    from graphdgm.io import read_evidence

    task = args.task.upper()
    if task not in TASKS:
        raise CLIError(f"unknown task {args.task!r}; use one of {', '.join(TASKS)} (MPE is the 2016 name of MAP)")
    model = _as_model(load_spec_or_model(args.model, "model file"), args.model)
    evidence: dict[int, int] = {}
    if args.evid:
        p = _existing(args.evid, "evidence file")
        with _reading(p, "evidence file", "give a UAI .evid file: 'k  var state ...' with indices into the model"):
            evidence = read_evidence(p, model.spec)
    opts = _options(args.backend_option, "--backend-option")
    try:
        backend = get_backend(args.backend, **opts) if opts else args.backend
    except TypeError as e:  # an option the backend's constructor does not take
        raise CLIError(f"backend {args.backend!r} does not take the options {sorted(opts)} ({e}); see "
                       f"help(graphdgm.infer.get_backend({args.backend!r}).__class__) for its options") from None
    answer = solve(model, evidence, task, backend)
    out = args.output or f"{args.model}.{task}"
    _write_text(out, uai_result(task, answer))
    if out != "-" and args.verbose:
        print(f"wrote {out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------- draw


def _cmd_draw(args: argparse.Namespace) -> int:
    from graphdgm.viz import draw, save

    spec = load_spec_or_model(args.spec)
    out = args.output or str(Path(args.spec).with_suffix(".svg"))
    picture = draw(spec, args.view, max_variables=args.max_variables)
    save(picture, out)
    return 0


# --------------------------------------------------------------------------------------------- data


def data_columns(model: torch.nn.Module) -> list[str]:
    """The variables a data row holds for ``model``: its observed and input blocks' variables in
    block order (an RBM's visible units), or every variable of a model without latent blocks.

    >>> import graphdgm as gd
    >>> data_columns(gd.compile(gd.RBM(2, 3)))
    ['v[0]', 'v[1]']
    """
    spec = getattr(model, "spec", None)
    names = list(model.variables)
    roles = getattr(spec, "roles", None)
    if not roles or spec is None:
        return names
    out, start = [], 0
    for block, b in spec.blocks.items():
        size = math.prod(b.shape)
        if roles.get(block, "observed") != "latent":
            out += names[start:start + size]
        start += size
    return out


def _clamped_sizes(model: torch.nn.Module) -> dict[str, int]:
    spec = getattr(model, "spec", None)
    roles = getattr(spec, "roles", None) or {}
    if spec is None or not roles:
        return {}
    return {blk: math.prod(b.shape) for blk, b in spec.blocks.items() if roles.get(blk, "observed") != "latent"}


def read_table(path: str, columns: Sequence[str] | None = None) -> np.ndarray:
    """An (N, D) float array from a ``.npy`` file or a ``.csv`` (with a header of variable names,
    reordered to ``columns``, or without one, in variable order).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = open(p, "w").write("b,a\\n1,0\\n0,0\\n")
    >>> read_table(p, ["a", "b"]).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    p = _existing(path, "data file")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        with _reading(p, "data file", "give a numeric .npy array of shape (examples, variables)"):
            x = np.load(p, allow_pickle=False)
        if x.dtype.kind not in "biuf":
            raise CLIError(f"data file {path!r} holds {x.dtype} values; it needs numbers, shape (examples, variables)")
        return x.astype(np.float64).reshape(len(x), -1) if x.ndim >= 2 else x.astype(np.float64).reshape(-1, 1)
    if suffix not in (".csv", ".txt"):
        raise CLIError(f"data file {path!r} has suffix {p.suffix!r}; give a .csv (header of variable names optional) or .npy")
    with _reading(p, "data file", "give a CSV of numbers, one example per row"):
        rows = [r for r in csv.reader(io.StringIO(p.read_text(encoding="utf-8"))) if r and any(c.strip() for c in r)]
    if not rows:
        raise CLIError(f"data file {path!r} is empty; give at least one example row")
    header = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise CLIError(f"data file {path!r} has a header but no example rows")
    width = len(rows[0])
    for n, r in enumerate(rows, 2 if header else 1):
        if len(r) != width:
            raise CLIError(f"data file {path!r} line {n} has {len(r)} values, the first row {width}; every row needs the same number")
        bad = next((c for c in r if not _is_number(c)), None)
        if bad is not None:
            raise CLIError(f"data file {path!r} line {n}: {bad!r} is not a number; values are state indices or numbers")
    x = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
    if header is None or columns is None:
        return x
    if len(header) != width:
        raise CLIError(f"data file {path!r}: the header names {len(header)} columns but rows hold {width} values")
    missing = [c for c in columns if c not in header]
    unknown = [c for c in header if c not in columns]
    if missing or unknown:
        raise CLIError(f"data file {path!r}: header does not match the model's variables (missing {missing[:5]}, "
                       f"unknown {unknown[:5]}); name the columns {list(columns)[:6]}{' ...' if len(columns) > 6 else ''} "
                       f"or drop the header to give them in variable order")
    return x[:, [header.index(c) for c in columns]]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------- fit


def _cmd_fit(args: argparse.Namespace) -> int:
    import graphdgm as gd
    from graphdgm.io import save

    model = _as_model(load_spec_or_model(args.spec), args.spec)
    x = read_table(args.data, data_columns(model))
    data: Any = torch.as_tensor(x, dtype=torch.float64)
    sizes = _clamped_sizes(model)
    from graphdgm.learn.graph_contrastive import trains_by_blocks

    if len(sizes) > 1 and trains_by_blocks(model):  # several clamped blocks: a dict by block name
        if data.shape[1] != sum(sizes.values()):
            raise CLIError(f"data file {args.data!r} has {data.shape[1]} columns; the model's observed and input "
                           f"blocks {sizes} need {sum(sizes.values())}")
        data = dict(zip(sizes, torch.split(data, list(sizes.values()), dim=1)))
    options = _options(args.option, "--option")
    for key in ("epochs", "seed", "lr", "batch_size"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    options.setdefault("progress", False)
    try:
        gd.fit(model, data, args.method, **options)
    except GraphdgmError as e:
        raise CLIError(f"cannot fit {args.spec!r} on {args.data!r}: {e}") from e
    out = args.output or str(Path(args.spec).with_suffix(".pt"))
    try:
        save(model, out)
    except OSError as e:
        raise CLIError(f"cannot write {out!r}: {e.strerror or e}; check the folder exists and is writable") from None
    return 0


# --------------------------------------------------------------------------------------------- sample


def _image_shape(model: torch.nn.Module, given: str | None, width: int) -> tuple[int, int]:
    if given:
        try:
            h, w = (int(t) for t in given.lower().replace(",", "x").split("x"))
        except ValueError:
            raise CLIError(f"--image-shape {given!r} is not HxW; write e.g. --image-shape 28x28") from None
        if h * w != width:
            raise CLIError(f"--image-shape {given} has {h * w} pixels but each sample has {width} values")
        return h, w
    spec = getattr(model, "spec", None)
    roles = getattr(spec, "roles", None) or {}
    shapes = [b.shape for n, b in getattr(spec, "blocks", {}).items() if roles.get(n, "observed") == "observed"]
    if len(shapes) == 1 and len(shapes[0]) == 2 and math.prod(shapes[0]) == width:
        return int(shapes[0][0]), int(shapes[0][1])
    raise CLIError(f"the model's samples are not image-shaped (observed blocks {shapes}); write them to a .csv or "
                   f".npy file, or give --image-shape HxW")


def _cmd_sample(args: argparse.Namespace) -> int:
    import graphdgm as gd

    out = args.output
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".csv", ".npy"):
        raise CLIError(f"output {out!r} has suffix {Path(out).suffix!r}; write samples to .png (an image grid), .csv or .npy")
    model = _as_model(load_spec_or_model(args.model, "model file"), args.model)
    options = _options(args.option, "--option")
    if args.steps is not None:
        options["steps"] = args.steps
    try:
        x = gd.sample(model, args.n, seed=args.seed, **options)
    except (GraphdgmError, TypeError) as e:
        raise CLIError(f"cannot sample from {args.model!r}: {e}") from e
    x = torch.as_tensor(x).detach().to("cpu")
    x = x.reshape(len(x), -1)  # (n, D)
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, x.numpy(), allow_pickle=False)
        _write_bytes(out, buf.getvalue())
    elif suffix == ".csv":
        names = data_columns(model)
        header = names if len(names) == x.shape[1] else [f"x{i}" for i in range(x.shape[1])]
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        w.writerow(header)
        ints = not x.is_floating_point() or bool((x == x.round()).all())
        for row in x.tolist():
            w.writerow([str(int(v)) if ints else repr(float(v)) for v in row])
        _write_text(out, text.getvalue())
    else:
        from graphdgm.viz import save_image_grid

        shape = _image_shape(model, args.image_shape, x.shape[1])
        img = x.to(torch.float64)
        lo, hi = float(img.min()), float(img.max())
        if lo < 0 or hi > 1:  # outside [0, 1]: stretch to it for the picture
            img = (img - lo) / max(hi - lo, 1e-12)
        try:
            save_image_grid(img, out, shape=shape, scale=args.scale)
        except OSError as e:
            raise CLIError(f"cannot write {out!r}: {e.strerror or e}; check the folder exists and is writable") from None
    return 0


# --------------------------------------------------------------------------------------------- parser


_EXAMPLES = {
    "solve": """examples:
  graphdgm solve grid.uai --evid grid.uai.evid --task MAR       # writes grid.uai.MAR
  graphdgm solve grid.uai --task PR -o -                        # log10 Z on stdout
  graphdgm solve net.uai --evid net.uai.evid --task MAP -o net.MAP
  graphdgm solve grid.uai --task MAR --backend gibbs --backend-option chains=256

output (UAI 2014 result format): the task name, then one line:
  MAR  n, then per variable its cardinality and probabilities (evidence variables: point masses)
  PR   log10 of the probability of the evidence (of Z for a MARKOV file without evidence)
  MAP  n, then the state index of every variable""",
    "draw": """examples:
  graphdgm draw model.json -o model.svg
  graphdgm draw grid.uai -o grid.png --view factors
  graphdgm draw rbm.pt -o rbm.svg --view layers""",
    "fit": """examples:
  graphdgm fit rbm.json digits.csv -o rbm.pt --epochs 20 --seed 1
  graphdgm fit net.json records.npy -o net.pt --method mle
  graphdgm fit rbm.pt more.csv -o rbm2.pt --method cd --option k=5   # continue training

DATA: a .csv with a header of variable names (any column order) or without one (variable
order), or a .npy array (examples, variables). Values are state indices (0/1 for binary units).""",
    "sample": """examples:
  graphdgm sample rbm.pt -n 16 -o samples.png --seed 0       # image grid (2-D visible block)
  graphdgm sample net.pt -n 1000 -o samples.csv              # a table, header of variable names
  graphdgm sample made.pt -n 64 -o samples.npy
  graphdgm sample rbm.pt -n 16 -o grid.png --image-shape 8x8 --steps 2000""",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``graphdgm`` command (one sub-parser per subcommand)."""
    from graphdgm import __version__ as version  # type: ignore[attr-defined]

    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=fmt,
        description="Probabilistic graphical models from the command line: solve UAI problems, draw specs, "
                    "fit and sample models.",
        epilog="subcommands:\n  solve   answer MAR / PR / MAP on a UAI model\n  draw    draw a spec to svg/png/pdf\n"
               "  fit     train a model on a CSV/NPY file and save it\n  sample  draw samples to png/csv/npy\n\n"
               "run 'graphdgm <subcommand> --help' for its options and examples",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version}")
    parser.add_argument("--verbose", "-v", action="store_true", default=False, help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="{solve,draw,fit,sample}")
    sub.required = True

    def subparser(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=_EXAMPLES[name], formatter_class=fmt)
        p.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
        return p

    p = subparser("solve", "answer a UAI inference task (MAR, PR, MAP) in the UAI competition result format")
    p.add_argument("model", help="a UAI model file (.uai), or any SPEC (.json, .bif, .pt)")
    p.add_argument("--evid", "-e", help="a UAI evidence file (.evid): 'k  var state ...' with variable indices")
    p.add_argument("--task", "-t", required=True, type=str.upper, choices=TASKS, help="the question: MAR, PR or MAP (MPE)")
    p.add_argument("--backend", "-b", default="exact", help="inference backend: exact (default), auto, bp, gibbs, ...")
    p.add_argument("--backend-option", action="append", metavar="KEY=VALUE", help="an option of the backend (repeatable)")
    p.add_argument("-o", "--output", help="result file (default MODEL.TASK beside the model; '-' for stdout)")
    p.set_defaults(run=_cmd_solve)

    p = subparser("draw", "draw a spec (JSON, UAI, BIF or a saved model) to an svg, png or pdf file")
    p.add_argument("spec", help="a spec file: .json (graphdgm.io.save_spec), .uai, .bif or .pt")
    p.add_argument("-o", "--output", help="picture file; its suffix picks the format (default SPEC with .svg)")
    p.add_argument("--view", default="auto", help="the drawing: auto, variables, factors, blocks, graph, layers, dag, ...")
    p.add_argument("--max-variables", type=int, default=400, help="largest network drawn variable by variable (400)")
    p.set_defaults(run=_cmd_draw)

    p = subparser("fit", "train a model on data (.csv or .npy) and save it with graphdgm.io.save")
    p.add_argument("spec", help="the model to train: .json, .uai, .bif or a saved .pt")
    p.add_argument("data", help="training data: .csv (header of variable names optional) or .npy")
    p.add_argument("-o", "--output", help="where to save the trained model (default SPEC with .pt)")
    p.add_argument("--method", "-m", help="training method: pcd, cd, mle, em, ... (default: the model's own)")
    p.add_argument("--epochs", type=int, help="passes over the data (methods that have epochs)")
    p.add_argument("--seed", type=int, help="random seed of the method")
    p.add_argument("--lr", type=float, help="learning rate (gradient methods)")
    p.add_argument("--batch-size", type=int, help="examples per update (gradient methods)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="any other option of the method (repeatable)")
    p.set_defaults(run=_cmd_fit)

    p = subparser("sample", "draw samples from a saved model or a spec to .png, .csv or .npy")
    p.add_argument("model", help="a saved model (.pt) or a spec (.json, .uai, .bif)")
    p.add_argument("-n", type=int, default=16, help="number of samples (16)")
    p.add_argument("-o", "--output", required=True, help="samples.png (image grid), samples.csv or samples.npy")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--steps", type=int, help="sampler steps (Gibbs sweeps) for models that take them")
    p.add_argument("--image-shape", help="HxW of one image for .png output, when the model's block is flat")
    p.add_argument("--scale", type=int, default=2, help="pixel scale of the png (2)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="any other option of the sampler (repeatable)")
    p.set_defaults(run=_cmd_sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``graphdgm`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status:
    0 on success, 2 on bad input (one line on stderr naming the file and the fix).

    >>> main(["solve", "no/such/model.uai", "--task", "PR"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors: argparse's own status (0 or 2)
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    try:
        return int(args.run(args))
    except (CLIError, GraphdgmError, OSError) as e:
        if args.verbose:
            traceback.print_exc()
        print(f"{PROG} {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug: say so in one line, the traceback with --verbose
        if args.verbose:
            traceback.print_exc()
        print(f"{PROG} {args.command}: internal error: {type(e).__name__}: {_one_line(e)} "
              f"(rerun with --verbose for the traceback, and please report it)", file=sys.stderr)
        return 1


def _one_line(e: BaseException) -> str:
    msg = e.strerror if isinstance(e, OSError) and e.strerror and not str(e) else str(e)
    return " ".join(msg.split()) or type(e).__name__


__all__ = ["CLIError", "build_parser", "data_columns", "load_spec_or_model", "main", "read_table", "solve", "uai_result"]
