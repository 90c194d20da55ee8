"""Shared fixtures: random small networks and brute-force answers by enumeration."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import graphdgm as gd


def random_network(seed: int, n_vars: int = 6, n_factors: int = 8, max_card: int = 4, zeros: bool = True) -> gd.MarkovNetwork:
    """Mixed cardinalities (1..max_card), factors of arity 1-3, optional zero entries."""
    rng = np.random.default_rng(seed)
    mn = gd.MarkovNetwork(name=f"random{seed}")
    cards = rng.integers(1, max_card + 1, size=n_vars)
    cards[: min(2, n_vars)] = np.maximum(cards[: min(2, n_vars)], 2)
    for i, k in enumerate(cards):
        mn.add_variable(f"v{i}", gd.Categorical(int(k)))
    for f in range(n_factors):
        arity = int(rng.integers(1, 4))
        scope = rng.choice(n_vars, size=min(arity, n_vars), replace=False)
        shape = [int(cards[i]) for i in scope]
        table = rng.gamma(1.0, 1.0, size=shape)
        if zeros and table.size > 2:
            table[rng.random(shape) < 0.15] = 0.0
            if table.max() == 0:
                table.flat[0] = 1.0
        mn.add_factor([f"v{i}" for i in scope], table)
    return mn


def enumerate_states(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """All joint states (S, n) and their unnormalised log-probabilities (S,)."""
    cards = model.cards.tolist()
    states = torch.tensor(list(itertools.product(*[range(k) for k in cards])), dtype=torch.long)
    with torch.no_grad():
        return states, model.log_potential(states)


def brute_marginal(states: torch.Tensor, logp: torch.Tensor, v: int, k: int, evidence: dict[int, int] | None = None) -> torch.Tensor:
    mask = torch.ones(len(states), dtype=torch.bool)
    for u, s in (evidence or {}).items():
        mask &= states[:, u] == s
    lp = torch.where(mask, logp, torch.full_like(logp, -np.inf))
    p = torch.softmax(lp, 0)
    return torch.zeros(k, dtype=p.dtype).index_add_(0, states[:, v], p)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The binarized MNIST npz: $GRAPHDGM_DATA, else ../shared/data beside the clone; skip if absent."""
    from graphdgm.data import find_binarized_mnist

    p = find_binarized_mnist(os.environ.get("GRAPHDGM_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if p is None:
        pytest.skip("binarized_mnist.npz not found: set GRAPHDGM_DATA to its folder (CI has it in ../shared/data)")
    return p


def init_gloo(rank: int, world: int, out_dir: str) -> None:
    """Join a gloo process group through a file in the test's own folder. A file store needs no
    TCP port, so two tests (or another job) can never race for one."""
    import torch.distributed as dist

    store = os.path.join(out_dir, "gloo_store")
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)


def exit_worker() -> None:
    """End a spawned worker that finished its work (results saved, group destroyed) without the
    interpreter's teardown, during which gloo's background threads sometimes abort the process
    (SIGABRT, "terminate called without an active exception"): a crash after the work is done,
    not a failure of it. A worker that raised never gets here, so its error still reaches spawn."""
    os._exit(0)


def randomise_biases(model: torch.nn.Module, seed: int, std: float = 0.5) -> torch.nn.Module:
    """Non-trivial biases for a compiled graph (its constructors start them at zero), seeded."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for b in model.bias:
            b.copy_(std * torch.randn(b.shape, generator=g, dtype=b.dtype))
    return model
