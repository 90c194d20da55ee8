"""The compiled Bayesian network: its CPTs as factors (for every undirected backend) plus padded
tables and topological generations for batched ancestral sampling (``infer/ancestral.py``), a
normalised ``log_prob`` and the parent-configuration index that table counting
(``learn/counting.py``) uses."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.markov import CompiledMarkovNetwork
from graphdgm.errors import SpecError
from graphdgm.runtime.random import seeded_global_rng
from graphdgm.spec.bayesian_network import BayesianNetwork


class CompiledBayesianNetwork(CompiledMarkovNetwork):
    """A :class:`~graphdgm.BayesianNetwork` lowered to torch.

    It is a compiled Markov network over the CPT factors (log Z = 0), so ``query``,
    ``map_query`` and ``log_partition`` run on the exact, BP and MCMC backends unchanged. On top:
    ``log_prob(x)``; ``sample(n, evidence)`` (ancestral, one batched step per topological
    generation) and ``fit_tables(data, pseudo_count)`` come from the algorithms by capability.

    Inside, CPT i is padded to ``(C, K)``: C the largest number of parent configurations and K
    the largest cardinality, with -inf for missing states, so one gather serves every variable
    of a generation.

    >>> import torch, graphdgm as gd
    >>> bn = gd.BayesianNetwork(); _ = bn.add_variable("a", gd.Binary()); _ = bn.add_variable("b", gd.Binary())
    >>> _ = bn.add_cpd("a", [], [0.3, 0.7]); _ = bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.2, 0.8]])
    >>> model = gd.compile(bn)
    >>> round(float(model.log_prob(torch.tensor([[1, 1]])).exp()), 4)  # 0.7 * 0.8
    0.56
    """

    capabilities = CompiledMarkovNetwork.capabilities | {"log_prob", "dag", "sample", "cpd_factors"}

    def __init__(self, spec: BayesianNetwork, dtype: torch.dtype = torch.float64) -> None:
        spec.check_complete()
        super().__init__(spec, dtype=dtype)
        n = self.num_variables
        idx = {v: i for i, v in enumerate(spec.variables)}
        cards = self.cards.numpy()
        P = max([len(ps) for ps in spec.parents.values()] + [1])
        C = max(int(np.prod([cards[idx[p]] for p in spec.parents[v]])) for v in spec.variables)
        K = self.max_card
        parent_idx = np.zeros((n, P), dtype=np.int64)
        strides = np.zeros((n, P), dtype=np.int64)  # stride 0 pads variables with fewer parents
        for v, ps in spec.parents.items():  # compile-time layout, once per variable
            i = idx[v]
            pc = [int(cards[idx[p]]) for p in ps]
            st = np.cumprod([1, *pc[::-1]])[:-1][::-1] if pc else np.array([], dtype=np.int64)
            parent_idx[i, : len(ps)] = [idx[p] for p in ps]
            strides[i, : len(ps)] = st
        self.register_buffer("parent_index", torch.from_numpy(parent_idx))  # (n, P)
        self.register_buffer("parent_strides", torch.from_numpy(strides))  # (n, P)
        self.register_buffer("cpt_log", self._padded(spec, idx, C, K))  # (n, C, K)
        depth: dict[str, int] = {}
        for v in spec.ordering:
            depth[v] = 1 + max((depth[p] for p in spec.parents[v]), default=-1)
        gens = [[idx[v] for v in spec.ordering if depth[v] == d] for d in range(max(depth.values()) + 1)]
        self.generations = [torch.tensor(g, dtype=torch.long) for g in gens]
        self._factor_slots = {}  # CPT name -> (group, row) in the stacked factor groups
        for gi, g in enumerate(self.groups):
            for r, name in enumerate(getattr(g, "factor_names", ())):
                self._factor_slots[name] = (gi, r)
        # neural CPDs: an MLP over the one-hot parents per such variable, tabulated into cpt_log
        self.neural = nn.ModuleDict()
        self.neural_variables: tuple[int, ...] = tuple(idx[v] for v in spec.ordering if v in spec.neural_cpds)
        for v in spec.ordering:
            if v not in spec.neural_cpds:
                continue
            i, cfg = idx[v], spec.neural_cpds[v]
            pc = [int(cards[idx[p]]) for p in spec.parents[v]]
            states = np.indices(pc).reshape(len(pc), -1).T  # (C_v, P): every parent configuration, C order
            onehot = np.concatenate([np.eye(k)[states[:, j]] for j, k in enumerate(pc)], 1)  # (C_v, Σ cards)
            self.register_buffer(f"parent_onehot_{i}", torch.from_numpy(onehot).to(dtype), persistent=False)
            with seeded_global_rng(cfg["seed"]):  # torch layers draw from the global generator
                sizes = [onehot.shape[1], *cfg["hidden"]]
                layers: list[nn.Module] = []
                for a, b in zip(sizes, sizes[1:]):
                    layers += [nn.Linear(a, b, dtype=dtype), nn.Tanh()]
                layers.append(nn.Linear(sizes[-1], int(cards[i]), dtype=dtype))
            self.neural[str(i)] = nn.Sequential(*layers)
        if self.neural_variables:  # the tables follow the networks' weights: now, and after loading saved weights
            self.capabilities = self.capabilities | {"neural_cpds"}
            self.tabulate()
            self.register_load_state_dict_post_hook(lambda module, _keys: module.tabulate())

    def factor_children(self) -> list[int]:
        """Per factor, in :meth:`factor_tables` order, the variable it is the conditional
        distribution of (every CPT's last axis is its child): what exact inference reads to drop
        barren variables.

        >>> import graphdgm as gd
        >>> bn = gd.BayesianNetwork(); _ = bn.add_variable("a", gd.Binary()); _ = bn.add_variable("b", gd.Binary())
        >>> _ = bn.add_cpd("a", [], [0.3, 0.7]); _ = bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.2, 0.8]])
        >>> sorted(gd.compile(bn).factor_children())
        [0, 1]
        """
        return [int(c) for g in self.groups for c in g.scope[:, -1].tolist()]

    def neural_log_cpd(self, i: int, configs: torch.Tensor | None = None) -> torch.Tensor:
        """log P(x_i | parent configuration) (C, K_i) from variable ``i``'s network, for the given
        configuration indices (all of them by default); differentiable."""
        onehot = getattr(self, f"parent_onehot_{i}")
        inputs = onehot if configs is None else onehot[configs]
        return torch.log_softmax(self.neural[str(i)](inputs), -1)

    @torch.no_grad()
    def tabulate(self) -> None:
        """Write every neural CPD's table (all parent configurations) into ``cpt_log``, the factor
        groups and the spec, so exact inference, sampling and export see the networks' CPDs.
        ``gd.fit`` and loading saved weights call it; after changing the networks' weights in a
        loop of your own, call ``model.tabulate()`` before querying or sampling, since those read
        the tables.

        >>> import graphdgm as gd
        >>> bn = gd.BayesianNetwork.empty_like({"a": []}, {"a": gd.Binary()})
        >>> _ = bn.add_variable("b", gd.Binary()); _ = bn.add_neural_cpd("b", ["a"], hidden=[4])
        >>> model = gd.compile(bn)
        >>> with torch.no_grad():
        ...     _ = model.neural[str(model.index["b"])][-1].bias.fill_(3.0)   # a change the tables do not see yet
        >>> model.tabulate()
        >>> bool((model.cpt_log[1, :2, :2].exp() - model.neural_log_cpd(1).exp()).abs().max() < 1e-12)
        True
        """
        for i in self.neural_variables:
            t = self.neural_log_cpd(i)  # (C_v, K_v)
            self.cpt_log[i, : t.shape[0], : t.shape[1]] = t.to(self.cpt_log.dtype)
        self.write_tables()

    def _padded(self, spec: BayesianNetwork, idx: dict[str, int], C: int, K: int) -> torch.Tensor:
        out = torch.full((self.num_variables, C, K), float("-inf"), dtype=self.values.dtype)
        for v, table in spec.cpds.items():
            k = table.shape[-1]
            with np.errstate(divide="ignore"):
                flat = np.log(table.reshape(-1, k))
            out[idx[v], : flat.shape[0], :k] = torch.from_numpy(flat)
        return out

    def configs(self, x: torch.Tensor, rows: torch.Tensor | slice) -> torch.Tensor:
        """Parent-configuration index of variables ``rows`` for states x (B, n) -> (B, m)."""
        pidx, pst = self.parent_index[rows], self.parent_strides[rows]  # (m, P)
        return (x[:, pidx] * pst).sum(-1)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Normalised log p(x) (B,): Σ_v log P(x_v | parents), for states (B, n) in the form
        :meth:`encode_data` reads (state indices, state labels, or a data frame by column name)."""
        x = self.encode_data(x, "states")
        conf = self.configs(x, slice(None))  # (B, n)
        rows = torch.arange(self.num_variables, device=x.device)
        lp = self.cpt_log[rows, conf, x]  # (B, n)
        if self.neural_variables and torch.is_grad_enabled():  # through the networks, so gradients reach them
            lp = lp.clone()
            for i in self.neural_variables:  # a loop over neural CPDs, each batched over examples
                lp[:, i] = self.neural_log_cpd(i, conf[:, i]).gather(1, x[:, i : i + 1])[:, 0].to(lp.dtype)
        return lp.sum(1)

    def encode_data(self, data: Any, what: str = "data") -> torch.Tensor:
        """Complete data as state indices (N, n) in ``model.variables`` order.

        ``data`` is a (N, n) tensor or array of state indices, or of state labels (strings, mapped
        through each variable's labels), or a pandas DataFrame (or a dict of columns) whose columns
        are matched to the variables **by name**, in any order. Numbers are state indices.

        >>> import graphdgm as gd, pandas as pd
        >>> bn = gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]},
        ...                                    {"a": gd.Categorical(2, labels=("no", "yes")), "b": gd.Binary()})
        >>> gd.compile(bn).encode_data(pd.DataFrame({"b": [1, 0], "a": ["yes", "no"]})).tolist()
        [[1, 1], [0, 0]]
        """
        n = self.num_variables
        if hasattr(data, "columns") or isinstance(data, Mapping):
            names = [str(c) for c in (data.columns if hasattr(data, "columns") else data.keys())]
            missing = [v for v in self.variables if v not in names]
            extra = [c for c in names if c not in self.index]
            if missing or extra or len(set(names)) != len(names):
                raise SpecError(f"{what}: columns are matched to variables by name; missing {missing}, unknown "
                                f"{extra}{' (some names repeat)' if len(set(names)) != len(names) else ''}. The "
                                f"network's variables are {list(self.variables)}; rename the columns to match")
            by_name = dict(zip(names, (data.columns if hasattr(data, "columns") else data.keys())))
            cols = [np.asarray(data[by_name[v]]) for v in self.variables]  # a loop over columns, once per call
            if len({len(c) for c in cols}) > 1:
                raise SpecError(f"{what}: the columns have different lengths {[len(c) for c in cols]}")
            x = torch.as_tensor(np.stack([self._encode_column(i, c, what) for i, c in enumerate(cols)], 1)
                                if cols else np.zeros((0, 0), dtype=np.int64))
        elif torch.is_tensor(data):
            x = data.detach()
        else:
            arr = np.asarray(data)
            if arr.dtype.kind in "USO":  # labels: encode column by column
                arr2 = arr[None] if arr.ndim == 1 else arr
                if arr2.ndim != 2 or arr2.shape[1] != n:
                    raise SpecError(f"{what} has shape {arr.shape}; it needs (examples, {n}), one column per variable "
                                    f"in model.variables order {list(self.variables)[:6]}")
                arr = np.stack([self._encode_column(i, arr2[:, i], what) for i in range(n)], 1) if len(arr2) else \
                    np.zeros((0, n), dtype=np.int64)
            x = torch.as_tensor(arr)
        if x.is_complex():
            raise SpecError(f"{what} must hold state indices (integers) or state labels, not {x.dtype}")
        x = x[None] if x.dim() == 1 else x
        if x.dim() != 2 or x.shape[1] != n:
            raise SpecError(f"{what} has shape {tuple(x.shape)}; it needs (examples, {n}), one column per variable "
                            f"in model.variables order {list(self.variables)[:6]} (or a DataFrame with those columns)")
        x = x.to(self.cards.device)
        if x.is_floating_point():
            if not bool(torch.isfinite(x).all()):
                raise SpecError(f"{what} holds NaN or inf; every entry must be a state index or label")
            if bool((x != x.round()).any()):
                raise SpecError(f"{what} must hold state indices (integers) or state labels; found fractional values")
        x = x.long()
        bad = ((x < 0) | (x >= self.cards)).any(0)  # (n,)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise SpecError(f"{what} column {i} ({self.variables[i]!r}) holds values outside 0..{int(self.cards[i]) - 1}; "
                            f"give state indices or the labels {list(self.state_labels(i))}")
        return x

    def _encode_column(self, i: int, col: np.ndarray, what: str) -> np.ndarray:
        """One column (N,) of labels or indices -> state indices (N,) of variable ``i``."""
        if col.dtype.kind in "iub":
            return col.astype(np.int64)
        if col.dtype.kind == "f":
            return col
        keys = col.astype(str) if col.dtype.kind in "US" else np.array([f"{type(v).__name__}:{v}" for v in col])
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        labels = [str(lab) for lab in self.state_labels(i)]
        codes = np.empty(len(first), dtype=np.int64)
        for k, row in enumerate(first):  # a loop over distinct values, not examples
            v = col[row]
            if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
                codes[k] = int(v)  # an index; its range is checked with the others
            elif str(v) in labels:
                codes[k] = labels.index(str(v))
            else:
                raise SpecError(f"{what} column {self.variables[i]!r} holds {v!r}, which is not a state of "
                                f"{self.variables[i]!r}; its states are {list(self.state_labels(i))}")
        return codes[inverse.reshape(-1)]

    def write_tables(self) -> None:
        """Copy the padded CPTs (``cpt_log``) back into the factor groups and the frozen spec (one per CPT)."""
        idx = {v: i for i, v in enumerate(self.variables)}
        for v, table in self.spec.cpds.items():
            i = idx[v]
            k = table.shape[-1]
            rows = int(np.prod(table.shape[:-1]))
            t = self.cpt_log[i, :rows, :k].reshape(table.shape)
            self.spec.cpds[v] = t.exp().cpu().numpy()
            name = f"P({v}{'|' + ','.join(self.spec.parents[v]) if self.spec.parents[v] else ''})"
            gi, r = self._factor_slots[name]
            self.groups[gi].log_table.data[r] = t.to(self.groups[gi].log_table.dtype)
            for f in self.spec.factors:
                if f.name == name:
                    f.log_table[...] = t.cpu().numpy()
        # samplers' cached block conditionals re-read the factor tables on every use (refresh())
