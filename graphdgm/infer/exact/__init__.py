"""Exact inference: elimination orders, contraction plans and their execution."""
from graphdgm.infer.exact.backend import Exact
from graphdgm.infer.exact.order import EliminationOrder, find_order

__all__ = ["EliminationOrder", "Exact", "find_order"]
