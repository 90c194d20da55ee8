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
    if num_variables == 0:
        return []
    labels = two_colouring(num_variables, edges)
    if labels is None:  # not bipartite: greedy colouring, fewest colours over several strategies
        g = nx.Graph()
        g.add_nodes_from(range(num_variables))
        g.add_edges_from(map(tuple, edges.tolist()))
        best = None
        for strategy in _STRATEGIES:
            c = nx.greedy_color(g, strategy=strategy)
            if best is None or max(c.values()) < max(best.values()):
                best = c
        labels = np.array([best[v] for v in range(num_variables)])
    return [np.flatnonzero(labels == c) for c in range(labels.max() + 1) if np.any(labels == c)]


def two_colouring(num_variables: int, edges: np.ndarray) -> np.ndarray | None:
    """Colours 0/1 with no edge inside a colour, or None when the graph is not bipartite.

    Breadth-first search (scipy, compiled) from a virtual root joined to the first variable of
    each connected component; a variable's colour is the parity of its depth, found by pointer
    jumping over the BFS tree in O(log depth) vectorised steps. Each component's first variable
    (so variable 0, and every isolated variable) gets colour 0. A 1000x1000 grid takes ~1 s.

    >>> two_colouring(4, np.array([[0, 1], [1, 2], [2, 3]])).tolist()
    [0, 1, 0, 1]
    >>> two_colouring(3, np.array([[0, 1], [1, 2], [0, 2]])) is None
    True
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    n = num_variables
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    _, comp = connected_components(adj, directed=False)
    roots = np.unique(comp, return_index=True)[1]  # first variable of each component
    rows = np.concatenate([edges[:, 0], np.full(len(roots), n)])
    cols = np.concatenate([edges[:, 1], roots])
    tree = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    _, pred = breadth_first_order(tree, n, directed=False, return_predecessors=True)
    parent = np.where(pred < 0, n, pred)  # the virtual root n is its own parent
    depth = (np.arange(n + 1) != n).astype(np.int64)  # distance to parent, then to the root
    while np.any(parent != n):  # pointer jumping: depth[v] += depth[parent[v]]
        depth = depth + np.where(parent != n, depth[parent], 0)
        parent = np.where(parent != n, parent[parent], n)
    colour = (depth[:n] - 1) % 2
    if len(edges) and np.any(colour[edges[:, 0]] == colour[edges[:, 1]]):
        return None
    return colour
