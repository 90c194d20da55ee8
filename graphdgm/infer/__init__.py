"""Inference backends behind one protocol, and the query API."""
from graphdgm.infer.api import log_partition, map_query, query
from graphdgm.infer.exact.backend import Exact
from graphdgm.infer.registry import (
    Backend, available_backends, check_capabilities, get_backend, register_backend, unregister_backend,
)
from graphdgm.infer.results import DiscreteMarginal, JointDistribution, MAPResult, Marginals

register_backend("exact", Exact)

__all__ = [
    "Backend", "DiscreteMarginal", "Exact", "JointDistribution", "MAPResult", "Marginals", "available_backends",
    "check_capabilities", "get_backend", "log_partition", "map_query", "query", "register_backend", "unregister_backend",
]
