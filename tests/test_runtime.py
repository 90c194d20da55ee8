"""The runtime helpers: torch.distributed in one place (one process and two gloo ranks), the seeded
global generator, and no private names imported across graphdgm modules."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import graphdgm as gd
from conftest import exit_worker, init_gloo
from graphdgm.runtime.distributed import (
    all_gather_cat,
    all_reduce_grads_,
    all_reduce_mean_,
    all_reduce_sum_,
    broadcast_,
    is_distributed,
    rank_and_world,
    rank_seed,
)
from graphdgm.runtime.random import seeded_global_rng

PACKAGE = Path(gd.__file__).parent


# ------------------------------------------------------------------ one process
def test_without_a_process_group_every_helper_is_the_identity() -> None:
    t = torch.tensor([1.0, 2.0])
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    assert not is_distributed() and rank_and_world() == (0, 1)
    assert all_reduce_sum_(t) is t and all_reduce_mean_(t) is t and broadcast_(t) is t and all_gather_cat(t, 0) is t
    all_reduce_grads_([p])
    assert t.tolist() == [1.0, 2.0] and p.grad.tolist() == [3.0, 4.0]


def test_distributed_true_without_a_process_group_names_the_fix() -> None:
    with pytest.raises(gd.SpecError, match="init_process_group"):
        rank_and_world(True)
    with pytest.raises(gd.SpecError, match="init_process_group"):
        all_reduce_sum_(torch.ones(1), distributed=True)


def test_rank_seed_with_one_process_returns_the_seed_as_given() -> None:
    g = torch.Generator().manual_seed(1)
    assert rank_seed(5) == 5 and rank_seed(5, stride=1000) == 5 and rank_seed(g) is g


def test_seeded_global_rng_repeats_draws_and_restores_the_callers_state() -> None:
    torch.manual_seed(11)
    expected_next = torch.rand(3)
    torch.manual_seed(11)
    with seeded_global_rng(4):
        a = torch.rand(3)
    after = torch.rand(3)
    with seeded_global_rng(4):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(after, expected_next)


# ------------------------------------------------------------------ two gloo ranks
def _worker(rank: int, world: int, out_dir: str) -> None:
    init_gloo(rank, world, out_dir)
    try:
        r = float(rank)
        p = torch.nn.Parameter(torch.zeros(2))
        p.grad = torch.tensor([r, 2 * r])
        q = torch.nn.Parameter(torch.zeros(1))  # no gradient: skipped
        all_reduce_grads_([p, q])
        out = {
            "rank_and_world": rank_and_world(), "off": rank_and_world(False), "on": is_distributed(),
            "sum": all_reduce_sum_(torch.tensor([r + 1])), "mean": all_reduce_mean_(torch.tensor([r + 1, 10.0])),
            "not_summed": all_reduce_sum_(torch.tensor([r + 1]), distributed=False),
            "gather": all_gather_cat(torch.tensor([[r, r]]), 0), "broadcast": broadcast_(torch.tensor([r + 7])),
            "grad": p.grad, "q_grad": q.grad, "seed": rank_seed(3), "seed_1000": rank_seed(3, stride=1000),
        }
        try:
            rank_seed(torch.Generator())
        except gd.SpecError as e:
            out["generator_error"] = str(e)
        torch.save(out, os.path.join(out_dir, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()
    exit_worker()


@pytest.mark.slow
def test_two_gloo_ranks_sum_average_gather_and_broadcast(tmp_path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        o = torch.load(tmp_path / f"{rank}.pt")
        assert o["rank_and_world"] == (rank, 2) and o["off"] == (0, 1) and o["on"]
        assert o["sum"].tolist() == [3.0] and o["mean"].tolist() == [1.5, 10.0]
        assert o["not_summed"].tolist() == [rank + 1.0]
        assert o["gather"].tolist() == [[0.0, 0.0], [1.0, 1.0]] and o["broadcast"].tolist() == [7.0]
        assert o["grad"].tolist() == [0.5, 1.0] and o["q_grad"] is None
        assert o["seed"] == 3 + rank and o["seed_1000"] == 3 + 1000 * rank
        assert "int seed" in o["generator_error"]


# ------------------------------------------------------------------ no private imports across modules
# (file, name) pairs that may stay, each with the reason; empty: every module imports public names only.
ALLOWED_PRIVATE_IMPORTS: dict[tuple[str, str], str] = {}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(root: Path, dotted: str) -> bool:
    p = root.parent.joinpath(*dotted.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _absolute(root: Path, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = list(path.relative_to(root.parent).with_suffix("").parts)[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, what) for every private name a graphdgm module takes from another one:
    ``from graphdgm.x import _y``, and ``m._y`` where ``m`` is an imported graphdgm module."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = str(path.relative_to(root.parent))
        tree = ast.parse(path.read_text(encoding="utf-8"), rel)
        modules = {}  # local name -> graphdgm module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = _absolute(root, path, node)
                if mod.split(".")[0] != root.name:
                    continue
                for a in node.names:
                    if _is_private(a.name) or any(_is_private(part) for part in mod.split(".")):
                        found.append((rel, node.lineno, f"from {mod} import {a.name}"))
                    elif _is_module(root, f"{mod}.{a.name}"):
                        modules[a.asname or a.name] = f"{mod}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == root.name:
                        if any(_is_private(part) for part in a.name.split(".")):
                            found.append((rel, node.lineno, f"import {a.name}"))
                        modules[a.asname or root.name] = a.name if a.asname else root.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                base, chain = node.value, [node.attr]
                while isinstance(base, ast.Attribute):
                    chain.insert(0, base.attr)
                    base = base.value
                if isinstance(base, ast.Name) and base.id in modules:
                    found.append((rel, node.lineno, ".".join([base.id, *chain])))
    return [f for f in found if (f[0], f[2].rsplit(" ", 1)[-1].rsplit(".", 1)[-1]) not in ALLOWED_PRIVATE_IMPORTS]


def test_no_module_imports_a_private_name_from_another_graphdgm_module() -> None:
    found = private_imports(PACKAGE)
    assert not found, "private names used across modules (make them public or move them to graphdgm/runtime/):\n" + \
        "\n".join(f"{f}:{line}: {what}" for f, line, what in found)


def test_private_import_scan_sees_both_forms(tmp_path) -> None:
    pkg = tmp_path / "graphdgm"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("_x = 1\n__all__ = []\n")
    (pkg / "sub" / "b.py").write_text("from graphdgm.sub.a import _x\nfrom . import a\ny = a._x\nfrom graphdgm.sub.a import __all__\n")
    assert [(f, line) for f, line, _ in private_imports(pkg)] == [("graphdgm/sub/b.py", 1), ("graphdgm/sub/b.py", 3)]
