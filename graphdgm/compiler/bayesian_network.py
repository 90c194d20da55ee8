"""The compiled Bayesian network: its CPTs as factors (for every undirected backend) plus padded
tables for batched ancestral sampling, a normalised ``log_prob`` and table fitting from data."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from graphdgm.compiler.markov import CompiledMarkovNetwork
from graphdgm.errors import EvidenceError, SpecError
from graphdgm.spec.bayesian_network import BayesianNetwork


class CompiledBayesianNetwork(CompiledMarkovNetwork):
    """A :class:`~graphdgm.BayesianNetwork` lowered to torch.

    It is a compiled Markov network over the CPT factors (log Z = 0), so ``query``,
    ``map_query`` and ``log_partition`` run on the exact, BP and MCMC backends unchanged. On top:
    ``log_prob(x)``, ``sample(n, evidence)`` (ancestral, one batched step per topological
    generation) and ``fit_tables(data, pseudo_count)``.

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

    capabilities = CompiledMarkovNetwork.capabilities | {"log_prob", "bayesian_network", "sample"}

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

    def _padded(self, spec: BayesianNetwork, idx: dict[str, int], C: int, K: int) -> torch.Tensor:
        out = torch.full((self.num_variables, C, K), float("-inf"), dtype=self.values.dtype)
        for v, table in spec.cpds.items():
            k = table.shape[-1]
            with np.errstate(divide="ignore"):
                flat = np.log(table.reshape(-1, k))
            out[idx[v], : flat.shape[0], :k] = torch.from_numpy(flat)
        return out

    def _configs(self, x: torch.Tensor, rows: torch.Tensor | slice) -> torch.Tensor:
        """Parent-configuration index of variables ``rows`` for states x (B, n) -> (B, m)."""
        pidx, pst = self.parent_index[rows], self.parent_strides[rows]  # (m, P)
        return (x[:, pidx] * pst).sum(-1)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Normalised log p(x) (B,) of packed states (B, n) of state indices: Σ_v log P(x_v | parents)."""
        x = self._check_state(torch.as_tensor(x)).to(self.cards.device).long()
        if bool(((x < 0) | (x >= self.cards)).any()):
            raise SpecError(f"states must be state indices 0..card-1 per variable (cards {self.cards.tolist()[:8]}...)")
        conf = self._configs(x, slice(None))  # (B, n)
        rows = torch.arange(self.num_variables, device=x.device)
        return self.cpt_log[rows, conf, x].sum(1)

    @torch.no_grad()
    def sample(self, n: int, *, evidence: dict[str, Any] | None = None, seed: int | torch.Generator = 0,
               steps: int = 500) -> torch.Tensor:
        """``n`` samples (n, num_variables) of state indices from p(x | evidence).

        Evidence on an ancestrally closed set (every parent of an observed variable observed too,
        e.g. root causes) keeps ancestral sampling exact. Other evidence (an observed effect) runs
        ``n`` block Gibbs chains for ``steps`` sweeps through the MCMC driver on the network's
        factors and returns their last states.

        >>> import graphdgm as gd
        >>> bn = gd.BayesianNetwork(); _ = bn.add_variable("a", gd.Binary()); _ = bn.add_variable("b", gd.Binary())
        >>> _ = bn.add_cpd("a", [], [0.3, 0.7]); _ = bn.add_cpd("b", ["a"], [[0.9, 0.1], [0.2, 0.8]])
        >>> gd.compile(bn).sample(4, evidence={"a": 1}).shape
        torch.Size([4, 2])
        """
        n = int(n)
        if n < 1:
            raise SpecError(f"n must be a positive number of samples, got {n}")
        ev = self.encode_evidence(evidence)
        dev = self.cards.device
        g = seed if isinstance(seed, torch.Generator) else torch.Generator(device=dev).manual_seed(int(seed))
        obs = torch.zeros(self.num_variables, dtype=torch.bool, device=dev)
        vals = torch.zeros(self.num_variables, dtype=torch.long, device=dev)
        for i, s in ev.items():
            obs[i], vals[i] = True, s
        if ev and float(self._evidence_log_prob(ev)) == float("-inf"):
            raise EvidenceError(f"evidence {evidence} has probability zero under this network")
        closed = not bool((obs[:, None] & ~obs[self.parent_index] & (self.parent_strides > 0)).any())
        if closed:
            x = torch.zeros(n, self.num_variables, dtype=torch.long, device=dev)
            for gen in self.generations:  # a loop over topological generations, each one batched
                gen = gen.to(dev)
                logits = self.cpt_log[gen[:, None], self._configs(x, gen).t()]  # (m, B, K)
                u = torch.rand(logits.shape, generator=g, device=dev, dtype=logits.dtype).clamp_min(1e-300)
                draw = (logits - torch.log(-torch.log(u))).argmax(-1).t()  # Gumbel-max (B, m)
                x[:, gen] = torch.where(obs[gen], vals[gen], draw)
            return x
        from graphdgm.infer.mcmc import BlockGibbs, sample_chains

        res = sample_chains(self, BlockGibbs(), chains=n, sweeps=2, burn_in=int(steps), evidence=ev, seed=g,
                            keep="all", progress=False)
        return res.samples[-1].long()

    def _evidence_log_prob(self, ev: dict[int, int]) -> torch.Tensor:
        """log P(evidence) by the exact backend when feasible, else 0 (no check)."""
        from graphdgm.errors import InferenceError
        from graphdgm.infer.api import log_partition

        try:
            return log_partition(self, {self.variables[i]: self.state_labels(i)[s] for i, s in ev.items()})
        except InferenceError:
            return torch.zeros(())

    @torch.no_grad()
    def fit_tables(self, data: Any, pseudo_count: float = 0.0) -> "CompiledBayesianNetwork":
        """Set every CPT to its maximum-likelihood estimate from complete data (N, n) of state
        indices, or the posterior mean under a symmetric Dirichlet(``pseudo_count``) prior; a
        parent configuration never seen gets a uniform row. One batched count (bincount) for all
        tables. Returns self.

        >>> import torch, graphdgm as gd
        >>> bn = gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]}, {"a": gd.Binary(), "b": gd.Binary()})
        >>> model = gd.compile(bn).fit_tables(torch.tensor([[0, 0], [0, 1], [1, 1], [1, 1]]))
        >>> model.cpt_log[1, :2, :2].exp().tolist()
        [[0.5, 0.5], [0.0, 1.0]]
        """
        if pseudo_count < 0 or not np.isfinite(pseudo_count):
            raise SpecError(f"pseudo_count must be a finite number >= 0, got {pseudo_count}")
        x = torch.as_tensor(data.detach() if hasattr(data, "detach") else np.asarray(data)).to(self.cards.device)
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise SpecError("data holds NaN or inf; every entry must be a state index")
        x = self._check_state(x)
        if x.shape[0] == 0:
            raise SpecError("data is empty: give at least one complete example (rows of state indices)")
        if x.is_floating_point():
            if bool((x != x.round()).any()):
                raise SpecError("data must hold state indices (integers); encode labels with model.domains[i].index(label)")
            x = x.long()
        if bool(((x < 0) | (x >= self.cards)).any()):
            bad = int(((x < 0) | (x >= self.cards)).any(0).nonzero()[0, 0])
            raise SpecError(f"data column {bad} ({self.variables[bad]!r}) holds values outside 0..{int(self.cards[bad]) - 1}")
        n, (_, C, K) = self.num_variables, self.cpt_log.shape
        conf = self._configs(x, slice(None))  # (N, n)
        flat = (torch.arange(n, device=x.device) * C * K + conf * K + x).reshape(-1)
        counts = torch.bincount(flat, minlength=n * C * K).reshape(n, C, K).to(self.cpt_log.dtype)
        valid = torch.isfinite(self.cpt_log) | (torch.arange(K, device=x.device) < self.cards[:, None, None])
        counts = (counts + float(pseudo_count)) * valid
        tot = counts.sum(-1, keepdim=True)
        probs = torch.where(tot > 0, counts / tot.clamp_min(1e-300), valid / valid.sum(-1, keepdim=True).clamp_min(1))
        self.cpt_log.copy_(torch.log(probs))
        self._write_factors()
        return self

    def _write_factors(self) -> None:
        """Copy the padded CPTs back into the factor groups and the frozen spec (one per CPT)."""
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
        cache = self.__dict__.get("_block_conditionals")
        if cache:
            cache.clear()
