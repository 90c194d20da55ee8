"""Blocks of conditionally independent variables by graph colouring of the Markov graph."""
from __future__ import annotations

import networkx as nx
import numpy as np

_STRATEGIES = ("largest_first", "smallest_last", "independent_set", "connected_sequential_bfs", "DSATUR")


def colour_blocks(num_variables: int, edges: np.ndarray) -> list[np.ndarray]:
    """Partition variables into colour classes (no edge inside a class); fewest colours found wins.

    ``edges`` is (E, 2) packed indices. A bipartite graph always gets two blocks.

    >>> [b.tolist() for b in colour_blocks(4, np.array([[0, 1], [1, 2], [2, 3]]))]
    [[0, 2], [1, 3]]
    """
    g = nx.Graph()
    g.add_nodes_from(range(num_variables))
    g.add_edges_from(map(tuple, edges.tolist()))
    if num_variables == 0:
        return []
    if nx.is_bipartite(g):
        colour = nx.bipartite.color(g)
        # make the block holding variable 0 come first, and isolated nodes join block 0
        if colour.get(0, 0) == 1:
            colour = {v: 1 - c for v, c in colour.items()}
        best = colour
    else:
        best = None
        for strategy in _STRATEGIES:
            c = nx.greedy_color(g, strategy=strategy)
            if best is None or max(c.values()) < max(best.values()):
                best = c
    labels = np.array([best[v] for v in range(num_variables)])
    return [np.flatnonzero(labels == c) for c in range(labels.max() + 1) if np.any(labels == c)]
