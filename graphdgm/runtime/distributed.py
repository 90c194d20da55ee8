"""``torch.distributed`` in one place: the process group's rank and size, sums and means over
processes, gathers, broadcasts and per-rank seeds.

Every helper takes ``distributed``: ``False`` means one process whatever is initialised, ``None``
(the default) means the process group when one is initialised and one process otherwise, and
``True`` asks for the process group and is a :class:`~graphdgm.errors.SpecError` without one. With
one process every helper is the identity, so the same code runs with and without
``torch.distributed``.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist

from graphdgm.errors import SpecError


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group is initialised in this process.

    >>> is_distributed()
    False
    """
    return dist.is_available() and dist.is_initialized()


def rank_and_world(distributed: bool | None = None) -> tuple[int, int]:
    """``(rank, world size)`` of this process: the process group's, or ``(0, 1)`` with one process.

    >>> rank_and_world(), rank_and_world(False)
    ((0, 1), (0, 1))
    """
    on = is_distributed()
    if distributed and not on:
        raise SpecError("distributed=True needs torch.distributed initialised first: call "
                        "torch.distributed.init_process_group(...) in every process, or pass distributed=False")
    if not on or distributed is False:
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def all_reduce_sum_(t: torch.Tensor, distributed: bool | None = None) -> torch.Tensor:
    """Sum ``t`` in place over the processes (every rank gets the total); returns ``t``.

    >>> all_reduce_sum_(torch.ones(2)).tolist()  # one process: unchanged
    [1.0, 1.0]
    """
    if rank_and_world(distributed)[1] > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_mean_(t: torch.Tensor, distributed: bool | None = None) -> torch.Tensor:
    """Average ``t`` in place over the processes (the sum, then divided by the world size); returns ``t``.

    >>> all_reduce_mean_(torch.tensor([2.0, 4.0])).tolist()
    [2.0, 4.0]
    """
    world = rank_and_world(distributed)[1]
    if world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= world
    return t


def all_reduce_grads_(params: Iterable[torch.Tensor], distributed: bool | None = None) -> None:
    """Average the gradients of ``params`` over the processes, in place (data parallelism: each
    rank's gradient of its share of the batch becomes the gradient of the whole batch).

    >>> p = torch.nn.Parameter(torch.ones(2)); p.grad = torch.full((2,), 3.0)
    >>> all_reduce_grads_([p]); p.grad.tolist()
    [3.0, 3.0]
    """
    if rank_and_world(distributed)[1] == 1:
        return
    for p in params:  # a loop over parameter tensors
        if p.grad is not None:
            all_reduce_mean_(p.grad, distributed)


def all_gather_cat(t: torch.Tensor, dim: int, distributed: bool | None = None) -> torch.Tensor:
    """Gather ``t`` from every rank (the same shape on each) and concatenate along ``dim`` in rank order.

    >>> all_gather_cat(torch.arange(3), 0).tolist()  # one process: ``t`` itself
    [0, 1, 2]
    """
    world = rank_and_world(distributed)[1]
    if world == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim)


def broadcast_(t: torch.Tensor, src: int = 0, distributed: bool | None = None) -> torch.Tensor:
    """Overwrite ``t`` in place on every rank with rank ``src``'s values; returns ``t``.

    >>> broadcast_(torch.ones(2)).tolist()
    [1.0, 1.0]
    """
    if rank_and_world(distributed)[1] > 1:
        dist.broadcast(t, src)
    return t


def rank_seed(seed: int | torch.Generator | None, stride: int = 1, distributed: bool | None = None) -> int | torch.Generator | None:
    """A different seed on each rank: ``seed + stride * rank``. With one process ``seed`` comes
    back as it is (a ``torch.Generator`` included); with several it must be an int.

    >>> rank_seed(7), rank_seed(7, stride=1000)
    (7, 7)
    """
    rank, world = rank_and_world(distributed)
    if world == 1:
        return seed
    if isinstance(seed, torch.Generator) or seed is None:
        raise SpecError(f"distributed runs need an int seed (each rank uses seed + {stride} * rank), "
                        f"not {type(seed).__name__}; pass seed=0 or another int")
    return int(seed) + stride * rank


__all__ = ["all_gather_cat", "all_reduce_grads_", "all_reduce_mean_", "all_reduce_sum_", "broadcast_", "is_distributed",
           "rank_and_world", "rank_seed"]
