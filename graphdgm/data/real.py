"""Small real data sets that are installed with graphdgm's dependencies, so they work offline:
scikit-learn's handwritten digits (binarized), the bnlearn Bayesian networks that ship inside
pgmpy, and the Nile river's annual flow (the classic change-point series, shipped with
statsmodels). The demo and the examples use them when the binarized MNIST file is absent.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from graphdgm.errors import SpecError

BNLEARN_NETWORKS = ("asia", "cancer", "earthquake", "sachs", "survey", "alarm", "barley", "child", "insurance",
                    "mildew", "water", "hailfinder", "hepar2", "win95pts", "andes", "diabetes", "link", "munin1",
                    "munin2", "munin3", "munin4", "pathfinder", "pigs", "munin")


def load_digits_binary(threshold: float = 8.0, *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten digits (8 x 8 pixels, grey levels 0-16) binarized at
    ``threshold``: a (1797, 64) tensor of 0/1 pixels and the (1797,) digit labels.

    >>> x, y = load_digits_binary()
    >>> tuple(x.shape), int(y[0]), float(x.mean()) > 0.2
    ((1797, 64), 0, True)
    """
    from sklearn.datasets import load_digits

    if not 0.0 <= float(threshold) < 16.0:
        raise SpecError(f"threshold must lie in [0, 16) (the digits' grey levels run 0-16), got {threshold!r}")
    d = load_digits()
    x = torch.as_tensor(d.data > float(threshold), dtype=dtype)
    return x, torch.as_tensor(d.target, dtype=torch.long)


def bnlearn_network(name: str) -> Any:
    """One of the bnlearn repository's Bayesian networks (``asia``, ``alarm``, ``child``, ...,
    :data:`BNLEARN_NETWORKS`) as a :class:`~graphdgm.BayesianNetwork`, read offline from the copy
    inside pgmpy.

    >>> bn = bnlearn_network("asia")
    >>> len(bn.variables)
    8
    """
    if name not in BNLEARN_NETWORKS:
        import difflib

        close = difflib.get_close_matches(str(name), BNLEARN_NETWORKS, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise SpecError(f"unknown bnlearn network {name!r}.{hint} The offline ones are {', '.join(BNLEARN_NETWORKS)}")
    from pgmpy.utils import get_example_model

    from graphdgm.io import bayesian_network_from_pgmpy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # get_example_model's deprecation notice points at a downloading loader
        net = get_example_model(name)
    return bayesian_network_from_pgmpy(net, name=name)


def nile_flow() -> tuple[np.ndarray, np.ndarray]:
    """The Nile's annual flow at Aswan, 1871-1970 (10^8 m^3; the Aswan Low Dam of 1902 and a
    drop around 1898 make it the classic change-point series): ``(years, flow)``, 100 values each.

    >>> years, flow = nile_flow()
    >>> int(years[0]), int(years[-1]), float(flow[0])
    (1871, 1970, 1120.0)
    """
    try:
        from statsmodels.datasets import nile
    except ImportError:  # pragma: no cover - statsmodels comes with pgmpy
        raise SpecError("nile_flow needs statsmodels (pip install statsmodels), which ships the series") from None
    d = nile.load_pandas().data
    return d["year"].to_numpy(dtype=np.int64), d["volume"].to_numpy(dtype=np.float64)
