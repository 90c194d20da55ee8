"""The classification RBM, a family added as one constructor file: its class posterior p(y | v)
from free energies equals brute-force enumeration, and training on two separable classes learns
to classify them."""
from __future__ import annotations

import itertools

import torch

import graphdgm as gd
from graphdgm.infer.enumeration import exact_log_likelihood


def test_class_posterior_from_free_energies_matches_enumeration() -> None:
    model = gd.compile(gd.ClassRBM(3, 2, 3, init_std=0.8, seed=4))
    with torch.no_grad():
        for p in model.bias:
            p.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    v = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    ys = torch.arange(3, dtype=torch.float64)[:, None]
    f = model.free_energy({"v": v.expand(3, -1), "y": ys}).detach()  # h summed out analytically
    posterior = torch.softmax(-f, 0)
    states = torch.tensor(list(itertools.product([0, 1], [0, 1], [0, 1], [0, 1, 2], [0, 1], [0, 1])), dtype=torch.float64)
    lp = model.log_potential(states).detach()
    match = (states[:, :3] == v).all(1)
    brute = torch.stack([torch.logsumexp(lp[match & (states[:, 3] == y)], 0) for y in range(3)])
    torch.testing.assert_close(posterior, torch.softmax(brute, 0))
    joint = exact_log_likelihood(model, {"v": v.expand(3, -1), "y": ys})
    torch.testing.assert_close(torch.softmax(joint, 0), posterior)


def test_training_learns_two_separable_classes() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(2, (200, 1), generator=g).to(torch.float64)
    v = torch.where(torch.rand(200, 6, generator=g) < 0.9, y.expand(-1, 6), 1 - y.expand(-1, 6))  # noisy copies of y
    model = gd.compile(gd.ClassRBM(6, 4, 2, init_std=0.1))
    gd.fit(model, {"v": v, "y": y}, method="cd", epochs=60, batch_size=20, lr=0.1, progress=False)
    with torch.no_grad():
        f = torch.stack([model.free_energy({"v": v, "y": torch.full_like(y, c)}) for c in (0.0, 1.0)], 1)  # (200, 2)
    accuracy = float((f.argmin(1) == y[:, 0].long()).double().mean())
    assert accuracy > 0.9, accuracy
