"""The compiled graph: blocks of units packed into one state tensor, one operator per edge.

A :class:`~graphdgm.Graph` lowers to a :class:`CompiledGraph`:

- every block keeps its unit (which owns the conditional, the analytic sum or integral and the
  input transform) and, unless declared without, a learnable bias ``bias[i]`` (its own term);
- every dense edge becomes one :class:`DenseOperator` holding W (n_a w_a, n_b w_b): its energy
  term f_aᵀ W f_b, and its message to either side as one matrix product;
- pairs, grids and factor tables are the Markov-network factor groups
  (:mod:`graphdgm.compiler.factor_groups`), lowered as before.

Capabilities come from the structure: ``energy``, ``blocks`` and ``conditionals`` always;
``discrete`` and ``factor_tables`` when every unit is discrete; ``free_energy`` when the latent
blocks can all be summed out analytically given the observed and input blocks;
``marginalisable:<block>`` for each latent block that sums out given the rest; ``bipartite`` when
the blocks two-colour; ``latent`` / ``inputs`` when there are such blocks.
"""
from __future__ import annotations

import copy
import math
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

from graphdgm.compiler.colouring import colour_blocks, two_colouring
from graphdgm.compiler.markov import CompiledMarkovNetwork, lower_groups
from graphdgm.errors import CapabilityError, EvidenceError, SpecError
from graphdgm.graph.graph import Graph
from graphdgm.graph.units import Unit
from graphdgm.runtime import PlanCache
from graphdgm.runtime.random import make_generator
from graphdgm.spec.domains import Domain

_STRUCTURE: PlanCache = PlanCache(max_per_model=2)  # per model: sampler blocks


class DenseOperator(nn.Module):
    """A dense edge: weight W (rows, cols) between the feature vectors of blocks ``a`` and ``b``.

    A lateral edge (``a == b``) uses the strict upper triangle at the unit level (a symmetric
    coupling with no self-interaction); its message is (U + Uᵀ) f.
    """

    def __init__(self, name: str, a: str, b: str, weight: torch.Tensor, width: int = 1,
                 shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.name, self.a, self.b = name, a, b
        self.lateral = a == b
        self.rows, self.cols = int(weight.shape[0]), int(weight.shape[1])
        # the parameter keeps the declared layout (an RBM's (V, K, H) for softmax units); matrix() is (rows, cols)
        self.weight = nn.Parameter(weight.reshape(shape) if shape is not None else weight)
        if self.lateral:
            unit = torch.arange(self.rows, device=weight.device) // width
            self.register_buffer("mask", (unit[:, None] < unit[None, :]).to(weight.dtype))

    def matrix(self) -> torch.Tensor:
        """The effective (rows, cols) matrix: W, or its strict upper triangle for a lateral edge."""
        w = self.weight if self.weight.dim() == 2 else self.weight.reshape(self.rows, self.cols)
        return w * self.mask if self.lateral else w

    def log_potential(self, fa: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
        """f_aᵀ W f_b for feature batches (B, rows), (B, cols) -> (B,)."""
        return ((fa @ self.matrix()) * fb).sum(-1)

    def message(self, f_other: torch.Tensor, to: str, bias: torch.Tensor | None = None) -> torch.Tensor:
        """The edge's input to block ``to`` given the other side's features (B, ·), plus ``bias``
        when given (one fused ``addmm``)."""
        m = self.matrix()
        if self.lateral:
            m = m + m.t()
        elif to == self.a:
            m = m.t()
        return f_other @ m if bias is None else torch.addmm(bias, f_other, m)

    def extra_repr(self) -> str:
        """The two blocks, the weight's shape and whether the edge is lateral, for the module's repr."""
        return f"{self.a}-{self.b}, {tuple(self.weight.shape)}" + (", lateral" if self.lateral else "")


class CompiledGraph(CompiledMarkovNetwork):
    """A :class:`~graphdgm.Graph` lowered to torch: p(x) ∝ exp(log_potential(x)), packed states
    (B, n) of state indices (discrete units) or values (Gaussian units) as floats.

    >>> import torch, graphdgm as gd
    >>> g = gd.Graph("rbm")
    >>> v = g.block("v", 5, gd.Bernoulli()); h = g.block("h", 3, gd.Bernoulli(), role="latent")
    >>> _ = g.connect(v, h, gd.Dense(init_std=0.5))
    >>> model = gd.compile(g)
    >>> x = torch.bernoulli(torch.full((2, 5), 0.5, dtype=torch.float64))
    >>> model.free_energy(x).shape, sorted(c for c in model.capabilities if ":" in c)
    (torch.Size([2]), ['marginalisable:h'])
    """

    def __init__(self, spec: Graph, dtype: torch.dtype = torch.float64) -> None:
        nn.Module.__init__(self)
        if spec.num_variables == 0:
            raise SpecError("cannot compile an empty graph; declare blocks with Graph.block first")
        self.spec = copy.deepcopy(spec)
        self.variables: tuple[str, ...] = tuple(spec.variables)
        self.index = MappingProxyType({n: i for i, n in enumerate(self.variables)})
        self.domains: tuple[Domain, ...] = tuple(spec.domains())
        names = list(spec.blocks)
        self.block_names: tuple[str, ...] = tuple(names)
        self.units: dict[str, Unit] = {b: spec.units[b] for b in names}
        self.roles: dict[str, str] = {b: spec.roles[b] for b in names}
        sizes = [spec.blocks[b].size for b in names]
        offsets = np.cumsum([0] + sizes)
        self.ranges: dict[str, tuple[int, int]] = {b: (int(a), int(e)) for b, a, e in zip(names, offsets[:-1], offsets[1:])}
        cards = np.repeat([self.units[b].cardinality for b in names], sizes)  # (n,); 0 = real
        self.register_buffer("cards", torch.from_numpy(cards.astype(np.int64)))
        self.max_card = max(int(cards.max()), 2 if any(not self.units[b].discrete for b in names) else 1)
        vals = np.zeros((len(cards), max(self.max_card, 1)))
        for b in names:
            a, e = self.ranges[b]
            if self.units[b].discrete:
                vals[a:e, : self.units[b].cardinality] = self.units[b].state_values()
        self.register_buffer("values", torch.tensor(vals, dtype=dtype))
        self.groups = nn.ModuleList(lower_groups(spec, cards, vals, dtype))
        # one bias per block that has an own term; indices by block name
        self.bias = nn.ParameterList()
        self._bias_index: dict[str, int] = {}
        for b in names:
            if b not in spec.biases:
                continue
            n, unit = spec.blocks[b].size, self.units[b]
            init = spec.biases[b]
            t = torch.zeros(unit.bias_shape(n), dtype=dtype) if init is None else torch.as_tensor(init, dtype=dtype).reshape(unit.bias_shape(n))
            self._bias_index[b] = len(self.bias)
            self.bias.append(nn.Parameter(t.clone()))
        self._scale_names: dict[str, str] = {}
        for i, b in enumerate(names):
            s = self.units[b].scale(spec.blocks[b].size)
            if s is not None:
                self._scale_names[b] = f"scale_{i}"
                self.register_buffer(f"scale_{i}", torch.tensor(s, dtype=dtype))
        self.dense = nn.ModuleList()
        for j, e in enumerate(spec.dense_edges()):
            ua, ub = self.units[e.a], self.units[e.b]
            na, nb = spec.blocks[e.a].size, spec.blocks[e.b].size
            rows, cols = na * ua.width, nb * ub.width
            given = e.pattern.matrix(rows, cols, (na, nb), f"edge {e.name!r}")
            if given is None:
                g = make_generator(e.pattern.seed + j)
                w = e.pattern.init_std * torch.randn(rows, cols, generator=g, dtype=torch.float64)
            else:
                w = torch.from_numpy(given)
            if e.lateral:
                w = torch.triu(w, 1) + torch.triu(w, 1).t() if given is None else w  # symmetric start
            self.dense.append(DenseOperator(e.name, e.a, e.b, w.to(dtype), width=ua.width, shape=e.pattern.layout(rows, cols)))
        self._internal = self._blocks_with_internal_edges()
        self.capabilities = frozenset(self._derive_capabilities())

    # ------------------------------------------------------------- structure
    def _blocks_with_internal_edges(self) -> set[str]:
        adj = self.spec.block_adjacency()
        return {b for b, nb in adj.items() if b in nb}

    def neighbours(self, block: str) -> set[str]:
        """Blocks sharing a dense edge or a factor with ``block`` (itself when it has internal edges)."""
        return set(self.spec.block_adjacency()[block])

    def _group_blocks(self) -> set[str]:
        """Blocks touched by a pairs / grid / table / field factor group."""
        out: set[str] = set()
        for g in self.groups:
            out.update(self.spec.blocks_of(g.scope.cpu().numpy().reshape(-1)))
        return out

    def summable(self, block: str) -> bool:
        """True when ``block`` sums (or integrates) out analytically given every other block: its
        units are independent given the rest (no internal edges) and it meets the rest only through
        dense edges and its own bias."""
        return block not in self._internal and block not in self._group_blocks()

    def _derive_capabilities(self) -> set[str]:
        caps = {"energy", "blocks", "conditionals"}
        discrete = all(u.discrete for u in self.units.values())
        if discrete:
            caps |= {"discrete", "factor_tables"}
        else:
            caps.add("continuous")
        latent = [b for b in self.block_names if self.roles[b] == "latent"]
        for b in latent:
            if self.summable(b):
                caps.add(f"marginalisable:{b}")
        adj = self.spec.block_adjacency()
        if all(self.summable(b) for b in latent) and not any(adj[a] & set(latent) for a in latent):
            caps.add("free_energy")
        if not self._internal:
            idx = {b: i for i, b in enumerate(self.block_names)}
            edges = np.array([(idx[a], idx[c]) for a in adj for c in adj[a] if idx[a] < idx[c]], dtype=np.int64).reshape(-1, 2)
            if two_colouring(len(idx), edges) is not None:
                caps.add("bipartite")
        if any(self.summable(b) for b in self.block_names):
            caps.add("block_sums")  # some block sums out in closed form given the rest: exact enumeration applies
        if latent:
            caps.add("latent")
        if any(r == "input" for r in self.roles.values()):
            caps.add("inputs")
        return caps

    def blocks_with_role(self, role: str) -> list[str]:
        """Names of the blocks whose role is ``role`` (``"visible"``, ``"latent"``, ...), in declaration order."""
        return [b for b in self.block_names if self.roles[b] == role]

    # ---------------------------------------------------------- parameters
    def bias_of(self, block: str) -> torch.Tensor | None:
        """The learnable bias of ``block`` (shape set by its unit type), or None when it has none."""
        i = self._bias_index.get(block)
        return None if i is None else self.bias[i]

    def scale_of(self, block: str) -> torch.Tensor | None:
        """The fixed scale buffer of ``block`` (a Gaussian unit's standard deviations), or None when its unit
        has none.
        """
        name = self._scale_names.get(block)
        return None if name is None else getattr(self, name)

    def edge(self, name: str) -> DenseOperator:
        """The dense operator of the edge called ``name`` (``W_a_b`` by default)."""
        for op in self.dense:
            if op.name == name:
                return op
        raise SpecError(f"no dense edge named {name!r}; dense edges are {[op.name for op in self.dense]}")

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the model's parameters."""
        return self.values.dtype

    @property
    def parameter_labels(self) -> dict[str, str]:
        """Parameter name -> what a person calls it, for messages: ``dense.0.weight`` -> the edge's
        name, ``bias.1`` -> ``bias of h``."""
        out = {f"dense.{i}.weight": op.name for i, op in enumerate(self.dense)}
        out.update({f"bias.{i}": f"bias of {b}" for b, i in self._bias_index.items()})
        return out

    # ---------------------------------------------------------------- states
    def split(self, state: torch.Tensor) -> dict[str, torch.Tensor]:
        """Packed states (B, n) -> ``{block: (B, n_b) floats}`` (views)."""
        state = self._check_state(state)
        return {b: state[:, a:e] for b, (a, e) in self.ranges.items()}

    def join(self, states: dict[str, torch.Tensor]) -> torch.Tensor:
        """``{block: (B, n_b)}`` for every block -> packed states (B, n)."""
        missing = [b for b in self.block_names if b not in states]
        if missing:
            raise SpecError(f"join needs a state for every block; missing {missing}")
        return torch.cat([states[b].to(self.dtype).reshape(states[b].shape[0], -1) for b in self.block_names], 1)

    def _check_state(self, state: torch.Tensor) -> torch.Tensor:
        return self.state_batch(state).to(self.dtype)  # floats: state indices, or values of Gaussian units

    def features(self, block: str, x: torch.Tensor) -> torch.Tensor:
        """The block's input transform: states (B, n_b) -> features (B, n_b w_b)."""
        return self.units[block].features(x.to(self.dtype), self.scale_of(block))

    # ---------------------------------------------------------------- energy
    def own(self, block: str, x: torch.Tensor) -> torch.Tensor:
        """The block's own (bias) log-potential (B,); zero when it has no bias."""
        bias = self.bias_of(block)
        if bias is None:
            return torch.zeros(x.shape[0], dtype=self.dtype, device=x.device)
        return self.units[block].own(x.to(self.dtype), bias.reshape(-1), self.scale_of(block))

    def log_potential(self, state: torch.Tensor) -> torch.Tensor:
        """Σ own terms + Σ dense edges + Σ factor groups of packed states (B, n) -> (B,)."""
        state = self._check_state(state)
        xs = self.split(state)
        feats = {b: self.features(b, x) for b, x in xs.items() if any(b in (op.a, op.b) for op in self.dense)}
        total = torch.zeros(state.shape[0], dtype=self.dtype, device=state.device)
        for b, x in xs.items():  # loop over blocks, not units
            if b in self._bias_index:
                total = total + self.own(b, x)
        for op in self.dense:  # one product per edge
            total = total + op.log_potential(feats[op.a], feats[op.b])
        if len(self.groups):
            idx = state.long()
            for g in self.groups:
                total = total + g.log_potential(idx)
        return total

    def energy(self, state: torch.Tensor) -> torch.Tensor:
        """E(x) = -log_potential(x) of packed states (B, n) -> (B,)."""
        return -self.log_potential(state)

    def field(self, block: str, states: dict[str, torch.Tensor], *, features: dict[str, torch.Tensor] | None = None,
              batch: int | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
        """The input to ``block`` from its dense edges given the neighbours' states (B, n_b w_b),
        its bias excluded unless ``bias`` is given (then added inside the first product).
        ``features`` may hold precomputed (or mean-field) feature vectors."""
        out = None
        for op in self.dense:
            if block not in (op.a, op.b):
                continue
            other = op.b if op.a == block else op.a
            f = features[other] if features is not None and other in features else None
            if f is None:
                if other not in states:
                    raise SpecError(f"the field of block {block!r} needs the state of its neighbour {other!r}")
                f = self.features(other, states[other])
            if out is None:
                out = op.message(f, block, bias=bias)
            else:
                out = out + op.message(f, block)
        if out is None:
            B = next(iter(states.values())).shape[0] if states else (batch or 1)
            n = (self.ranges[block][1] - self.ranges[block][0]) * self.units[block].width
            out = torch.zeros(B, n, dtype=self.dtype, device=self.values.device)
            if bias is not None:
                out = out + bias
        return out

    def natural_bias(self, block: str) -> torch.Tensor:
        """The block's bias, or zeros when it has none (the unit math always takes one)."""
        bias = self.bias_of(block)
        if bias is not None:
            return bias.reshape(-1)
        n = self.ranges[block][1] - self.ranges[block][0]
        return torch.zeros(math.prod(self.units[block].bias_shape(n)), dtype=self.dtype, device=self.values.device)

    def log_normaliser(self, block: str, field: torch.Tensor) -> torch.Tensor:
        """Σ_i log Σ_x exp(own_i(x) + field_i·f(x)) for ``block`` (B,): the block summed out."""
        return self.units[block].log_normaliser(field, self.natural_bias(block), self.scale_of(block))

    def mean_features(self, block: str, field: torch.Tensor) -> torch.Tensor:
        """E[features of ``block`` | field] (B, n·width) given the field (B, n·width) the edges send it and
        the block's bias and scale: σ for Bernoulli units, tanh for spins, softmax for softmax units,
        E[x/σ] for Gaussian ones."""
        return self.units[block].mean_features(field, self.natural_bias(block), self.scale_of(block))

    def sample_units(self, block: str, field: torch.Tensor, generator: torch.Generator | None = None, beta: Any = None) -> torch.Tensor:
        """Independent draws of ``block``'s units given ``field`` (B, n_b w_b) -> states (B, n_b)."""
        return self.units[block].sample(field, self.natural_bias(block), self.scale_of(block), generator, beta)

    def given(self, data: Any, *, what: str = "data", roles: tuple[str, ...] = ("observed", "input"),
              values: bool = True) -> dict[str, torch.Tensor]:
        """Data for the blocks with ``roles`` (observed and input): a tensor when there is one
        such block, else a dict by block name -> ``{block: (B, n_b)}`` validated against each
        block's unit (shapes always; the values too unless ``values=False``, for hot paths)."""
        wanted = [b for b in self.block_names if self.roles[b] in roles]
        if not isinstance(data, dict):
            if len(wanted) != 1:
                raise SpecError(f"{what}: this graph has {len(wanted)} {'/'.join(roles)} blocks {wanted}; give a dict "
                                f"{{block name: tensor}} with one entry for each")
            data = {wanted[0]: data}
        out = {}
        B = None
        for b, x in data.items():
            if b not in self.ranges:
                raise SpecError(f"{what}: {b!r} is not a block of this graph; blocks are {list(self.block_names)}")
            x = torch.as_tensor(x, device=self.values.device)
            n = self.ranges[b][1] - self.ranges[b][0]
            if x.dim() > 1 and x.shape[0] == 0:
                raise SpecError(f"{what} for block {b!r} is empty (shape {tuple(x.shape)}): give at least one example")
            x = x.reshape(x.shape[0], -1) if x.dim() > 1 else x.reshape(1, -1)
            if x.shape[1] != n:
                raise SpecError(f"{what} for block {b!r} has {x.shape[1]} columns; the block has {n} units "
                                f"(shape {self.spec.blocks[b].shape})")
            x = x.to(self.dtype)
            if values:
                self.units[b].check_states(x, f"{what} for block {b!r}")
            if B is not None and x.shape[0] != B:
                raise SpecError(f"{what}: block {b!r} has {x.shape[0]} rows, another block {B}; give one row per example in each")
            B = x.shape[0]
            out[b] = x
        return out

    def free_energy(self, data: Any) -> torch.Tensor:
        """F = -log Σ_latent exp(log_potential) (B,) with every latent block summed out
        analytically, given data for the observed and input blocks (a tensor for a single one,
        else a dict by block name). Needs the ``free_energy`` capability; otherwise use
        :func:`graphdgm.infer.exact_free_energy` (enumeration) or a variational bound."""
        if "free_energy" not in self.capabilities:
            raise CapabilityError(
                f"the latent blocks {self.blocks_with_role('latent')} of this graph do not all sum out analytically given "
                "the observed ones (two latent blocks share an edge, or one has internal edges); use "
                "gd.infer.exact_free_energy(model, data) on a small model, or a variational bound")
        xs = self.given(data, what="free_energy data", values=False)
        missing = [b for b in self.block_names if self.roles[b] != "latent" and b not in xs]
        if missing:
            raise SpecError(f"free_energy needs data for every observed and input block; missing {missing}")
        return -self.clamped_log_marginal(xs)

    def given_log_potential(self, xs: dict[str, torch.Tensor], feats: dict[str, torch.Tensor] | None = None,
                            batch: int | None = None) -> torch.Tensor:
        """The log-potential terms that involve only the blocks in ``xs`` (B,): their own terms,
        the dense edges between them and the factor groups inside them."""
        B = next(iter(xs.values())).shape[0] if xs else (batch or 1)
        feats = {b: self.features(b, x) for b, x in xs.items()} if feats is None else feats
        total = torch.zeros(B, dtype=self.dtype, device=self.values.device)
        for b, x in xs.items():  # a loop over blocks
            if b in self._bias_index:
                total = total + self.own(b, x)
        for op in self.dense:  # one product per edge
            if op.a in xs and op.b in xs:
                total = total + op.log_potential(feats[op.a], feats[op.b])
        if len(self.groups):
            probe = torch.zeros(B, self.num_variables, dtype=torch.long, device=self.values.device)
            for b, x in xs.items():
                a, e = self.ranges[b]
                probe[:, a:e] = x.long()
            for g in self.groups:
                total = total + g.log_potential(probe)
        return total

    def clamped_log_marginal(self, xs: dict[str, torch.Tensor], batch: int | None = None,
                             clamps: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None) -> torch.Tensor:
        """log Σ over the blocks *not* in ``xs`` of exp(log_potential) (B,), when those blocks
        each sum out analytically given ``xs`` and share no edge with one another (``batch``
        gives B when ``xs`` is empty). ``clamps`` fixes some units of a summed block:
        ``{block: (mask (n_b,), values (n_b,))}`` (their term is the value's, not the sum)."""
        free = [b for b in self.block_names if b not in xs]
        B = next(iter(xs.values())).shape[0] if xs else (batch or 1)
        feats = {b: self.features(b, x) for b, x in xs.items()}
        total = self.given_log_potential(xs, feats, batch=B)
        for b in free:
            unit, bias, scale = self.units[b], self.natural_bias(b), self.scale_of(b)
            if unit.discrete and not (clamps and b in clamps):  # the bias inside the product: natural parameters
                total = total + unit.log_normaliser(self.field(b, xs, features=feats, batch=B, bias=bias), 0.0)
                continue
            field = self.field(b, xs, features=feats, batch=B)
            if clamps and b in clamps:
                mask, vals = clamps[b]
                terms = unit.log_normaliser_terms(field, bias, scale)  # (B, n_b)
                fixed = unit.clamped_terms(vals.to(self.dtype).expand(B, -1), field, bias, scale)
                total = total + torch.where(mask, fixed, terms).sum(-1)
            else:
                total = total + unit.log_normaliser(field, bias, scale)
        return total

    def state_logits(self, block: str, field: torch.Tensor) -> torch.Tensor:
        """log p(x_i = s | field) up to a constant, for every unit and state: (B, n_b, k)."""
        unit = self.units[block]
        if not unit.discrete:
            raise CapabilityError(f"block {block!r} has real-valued units: its conditionals are densities, not state tables")
        n = self.ranges[block][1] - self.ranges[block][0]
        theta = (field + self.natural_bias(block)).reshape(field.shape[0], n, unit.width)
        return theta @ self._state_features(block).t()  # (B, n, k)

    def blocks_of_data(self, data: Any) -> dict[str, torch.Tensor]:
        """``data`` as ``{block: (B, n_b)}`` without validation (hot paths; ``given`` validates):
        a tensor stands for the single observed (or observed + input) block."""
        if isinstance(data, dict):
            return {b: x.to(self.dtype) for b, x in data.items()}
        wanted = [b for b in self.block_names if self.roles[b] in ("observed", "input")]
        return {wanted[0]: data.to(self.dtype)}

    @torch.no_grad()
    def accumulate_free_energy_grad(self, parts: list[tuple[Any, dict[str, torch.Tensor] | None, float]]) -> None:
        """Add ∂/∂θ Σ_parts weight · Σ_rows F(data) to the parameters' ``.grad``, for parts
        ``(data, E[f] of the summed blocks when already known, or None, weight)``, F the free energy with the blocks
        not in ``data`` summed out: the closed form of autograd on :meth:`clamped_log_marginal`
        (-f_aᵀ f_b for an edge between given blocks, -f_aᵀ E[f_b] towards a summed block, the own
        terms' gradients for biases), which contrastive divergence uses to skip the autograd graph.
        Only for graphs whose edges are all dense (``closed_form_gradient``)."""
        if not self.closed_form_gradient:
            raise CapabilityError("the closed-form free-energy gradient covers graphs whose edges are all dense; use autograd")
        grads: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id(param) -> (param, gradient in matrix form)

        def add(p: torch.Tensor, g: torch.Tensor, w: float) -> None:
            key = id(p)
            if key in grads:
                grads[key][1].add_(g, alpha=w)
            else:
                grads[key] = (p, g.mul_(w) if g._base is None and g.is_contiguous() else g * w)

        for data, means, w in parts:  # a loop over the (two) parts: data and negatives
            xs = self.blocks_of_data(data)
            feats = {b: self.features(b, x) for b, x in xs.items()}
            for b in self.block_names:  # E[f_b | given] for the summed blocks
                if b not in xs:
                    feats[b] = means[b] if means is not None and b in means else self.units[b].mean_features(
                        self.field(b, xs, features=feats, bias=self.natural_bias(b)), 0.0, self.scale_of(b)) \
                        if self.units[b].discrete else self.mean_features(b, self.field(b, xs, features=feats))
            for op in self.dense:  # one product per edge, accumulated in place
                fa, fb = feats[op.a], feats[op.b]
                key = id(op.weight)
                if key in grads:
                    grads[key][1].addmm_(fa.t(), fb, alpha=-w)
                else:
                    grads[key] = (op.weight, torch.mm(fa.t(), fb).mul_(-w))
            for b in self.block_names:
                bias = self.bias_of(b)
                if bias is None or not bias.requires_grad:
                    continue
                if b in xs:
                    add(bias, self.units[b].own_bias_grad(xs[b], self.natural_bias(b), self.scale_of(b)), -w)
                else:
                    add(bias, self._summed_bias_grad(b, feats[b]), -w)
        lateral = {id(op.weight): op.mask for op in self.dense if op.lateral}
        for p, g in grads.values():
            if id(p) in lateral:
                g = g * lateral[id(p)]
            g = g.reshape(p.shape)
            if p.requires_grad:
                p.grad = g if p.grad is None else p.grad.add_(g)

    def _summed_bias_grad(self, block: str, mean_features: torch.Tensor) -> torch.Tensor:
        """∂/∂bias of Σ_rows log_normaliser: Σ E[f] for discrete units, Σ E[(x-b)/σ²] for Gaussian ones."""
        unit = self.units[block]
        if unit.discrete:
            return mean_features.sum(0)
        s = self.scale_of(block)
        return ((mean_features - self.natural_bias(block) / s) / s).sum(0)  # E[(x - b)/σ²] = (E[x/σ] - b/σ)/σ

    @property
    def closed_form_gradient(self) -> bool:
        """True when every edge is dense (no factor groups), so the free-energy gradient has a closed form."""
        return len(self.groups) == 0

    # -------------------------------------------------- the factor-table view
    def factor_tensors(self) -> list[torch.Tensor]:
        """Every floating-point parameter and buffer: the tables also read the biases and dense edges."""
        return [t for t in (*self.parameters(), *self.buffers()) if t.is_floating_point()]

    def factor_tables(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(scope (F, a), log_tables (F, k..)), ...]`` for table-based backends (exact
        elimination, BP, mean field): the factor groups, each block's bias as unary tables, and
        each dense edge expanded to one pairwise table per unit pair (fine for small graphs; the
        sampler and learning paths never expand)."""
        if "factor_tables" not in self.capabilities:
            raise CapabilityError("factor tables need discrete units; this graph has Gaussian blocks")
        out = [(g.scope, g.log_tables()) for g in self.groups]
        dev = self.values.device
        for b, i in self._bias_index.items():
            a, e = self.ranges[b]
            out.append((torch.arange(a, e, device=dev)[:, None], self.units[b].log_table(self.bias[i].reshape(-1), e - a)))
        for op in self.dense:
            out.append(self._dense_tables(op))
        return out

    def _state_features(self, block: str) -> torch.Tensor:
        """Each state's feature vector (k, w) for the block's unit."""
        u = self.units[block]
        states = torch.arange(u.cardinality, dtype=self.dtype, device=self.values.device)[:, None]
        return u.features(states, None).reshape(u.cardinality, u.width)

    def _dense_tables(self, op: DenseOperator) -> tuple[torch.Tensor, torch.Tensor]:
        ua, ub = self.units[op.a], self.units[op.b]
        (oa, ea), (ob, eb) = self.ranges[op.a], self.ranges[op.b]
        na, nb = ea - oa, eb - ob
        W = op.matrix().reshape(na, ua.width, nb, ub.width)
        fa, fb = self._state_features(op.a), self._state_features(op.b)  # (ka, wa), (kb, wb)
        tab = torch.einsum("kw,iwjv,lv->ijkl", fa, W, fb)  # (na, nb, ka, kb)
        dev = self.values.device
        ii, jj = torch.meshgrid(torch.arange(na, device=dev), torch.arange(nb, device=dev), indexing="ij")
        keep = (ii < jj).reshape(-1) if op.lateral else torch.ones(na * nb, dtype=torch.bool, device=dev)
        scope = torch.stack([ii.reshape(-1) + oa, jj.reshape(-1) + ob], 1)[keep]
        return scope, tab.reshape(na * nb, ua.cardinality, ub.cardinality)[keep]

    @torch.no_grad()
    def to_markov_network(self):
        """This graph with its current parameters as a :class:`~graphdgm.MarkovNetwork` of explicit
        table factors (discrete graphs; one factor per unit pair of a dense edge, so keep it small),
        for pgmpy export, UAI files or cross-checks."""
        from graphdgm.spec.markov_network import MarkovNetwork

        if "factor_tables" not in self.capabilities:
            raise CapabilityError("to_markov_network needs discrete units; this graph has real-valued blocks")
        mn = MarkovNetwork(self.spec.name)
        for b in self.block_names:
            mn.add_block(b, self.spec.blocks[b].shape, self.spec.blocks[b].domain)
        k = 0
        for scope, tables in self.factor_tables():  # a loop over factor kinds; factors one by one (small graphs)
            for row, tab in zip(scope.tolist(), tables.detach().cpu().double().numpy()):
                mn.add_factor([self.variables[i] for i in row], log_table=tab, name=f"f{k}")
                k += 1
        return mn

    def markov_edges(self) -> np.ndarray:
        """Pairs of units that interact, (E, 2) packed indices (unique, i < j)."""
        parts = [super().markov_edges()]
        for op in self.dense:
            (oa, ea), (ob, eb) = self.ranges[op.a], self.ranges[op.b]
            ii, jj = np.meshgrid(np.arange(oa, ea), np.arange(ob, eb), indexing="ij")
            pairs = np.stack([ii.reshape(-1), jj.reshape(-1)], 1)
            pairs = pairs[pairs[:, 0] != pairs[:, 1]]
            parts.append(np.sort(pairs, axis=1))
        parts = [p for p in parts if len(p)]
        return np.unique(np.concatenate(parts), axis=0) if parts else np.zeros((0, 2), dtype=np.int64)

    # ----------------------------------------------------- sampler structure
    @property
    def blocks(self) -> tuple[torch.Tensor, ...]:
        """Sampler blocks: sets of units that are independent given the rest, each inside one
        declared block (a whole block when it has no internal edges, else the colour classes of
        its internal graph), ordered by a colouring of the block graph."""
        return _STRUCTURE.get(self, "blocks", self._sampler_blocks)

    def _sampler_blocks(self) -> tuple[torch.Tensor, ...]:
        dev = self.cards.device
        adj = self.spec.block_adjacency()
        idx = {b: i for i, b in enumerate(self.block_names)}
        edges = np.array([(idx[a], idx[c]) for a in adj for c in adj[a] if idx[a] < idx[c]], dtype=np.int64).reshape(-1, 2)
        colours = colour_blocks(len(idx), edges)
        order = [self.block_names[i] for c in colours for i in c]
        out = []
        all_edges = None
        for b in order:
            a, e = self.ranges[b]
            if b not in self._internal:
                out.append(torch.arange(a, e, device=dev))
                continue
            if all_edges is None:
                all_edges = self.markov_edges()
            inside = all_edges[(all_edges >= a).all(1) & (all_edges < e).all(1)] - a
            for c in colour_blocks(e - a, inside):
                out.append(torch.from_numpy(c + a).to(dev))
        return tuple(out)

    @property
    def exact_backend(self) -> str:
        """What ``backend="exact"`` means here: enumeration with blocks summed out when the graph
        has dense edges (expanding them into tables would be correct but useless), else variable
        elimination on the factor tables."""
        return "enumerate" if len(self.dense) and "block_sums" in self.capabilities else "exact"

    def _colouring(self):
        """The sampler blocks and each factor group's entries touching them (for the
        differentiable :meth:`conditional_logits`), kept in the model's plan cache."""
        def build() -> tuple:
            blocks = self.blocks
            return blocks, tuple(self._entries_for_block(b) for b in blocks)

        return _STRUCTURE.get(self, "colouring", build)

    def conditional_logits(self, state: torch.Tensor, block: int) -> torch.Tensor:
        """Logits of p(x_v | rest) for every unit v of sampler block ``blocks[block]``: (B, m, kmax),
        differentiable in the parameters (pseudo-likelihood): the factor groups' terms plus the
        unit's bias and dense fields. Discrete units only."""
        state = self._check_state(state)
        out = super().conditional_logits(state.long(), block) if len(self.groups) else None
        members = self.blocks[block].to(state.device)
        first = int(members[0])
        name = next(b for b, (lo, hi) in self.ranges.items() if lo <= first < hi)
        unit = self.units[name]
        if not unit.discrete:
            raise CapabilityError(f"block {name!r} has real-valued units: its conditionals are densities")
        logits = self.state_logits(name, self.field(name, self.split(state), bias=None) if self.dense else
                                   torch.zeros(state.shape[0], (self.ranges[name][1] - self.ranges[name][0]) * unit.width,
                                               dtype=self.dtype, device=state.device))  # (B, n_b, k) with the bias
        sl = logits[:, members - self.ranges[name][0]]  # (B, m, k)
        if out is None:
            K = self.max_card
            out = torch.full((state.shape[0], len(members), K), float("-inf"), dtype=self.dtype, device=state.device)
            out[:, :, : sl.shape[-1]] = sl
            return out
        return torch.cat([out[:, :, : sl.shape[-1]] + sl, out[:, :, sl.shape[-1]:]], -1)

    def block_conditionals(self, evidence: dict[int, Any] | None = None, dtype: torch.dtype | None = None):
        """The generic samplers' view (Gibbs, Metropolis, tempering, AIS, annealing)."""
        from graphdgm.compiler.graph_conditionals import GraphConditionals

        return GraphConditionals(self, evidence, dtype)

    def encode_evidence(self, evidence: dict[str, Any] | None) -> dict[int, Any]:
        """Names -> packed index -> state index (a value for Gaussian units). A graph with input
        blocks is a conditional model: every input unit must be given."""
        out: dict[int, Any] = {}
        for i, label in self._evidence_items(evidence or {}, "state label"):
            label = label.item() if hasattr(label, "item") else label
            if self.domains[i].is_discrete:
                try:
                    out[i] = self.domains[i].index(label)
                except SpecError as e:
                    raise EvidenceError(f"evidence for {self.variables[i]!r}: {e}") from None
            else:
                if not isinstance(label, (int, float)) or not math.isfinite(float(label)):
                    raise EvidenceError(f"evidence for {self.variables[i]!r} must be a finite number, got {label!r}")
                out[i] = float(label)
        for b in self.blocks_with_role("input"):
            a, e = self.ranges[b]
            if any(i not in out for i in range(a, e)):
                raise EvidenceError(f"block {b!r} is an input of this conditional model: give all its {e - a} values as "
                                    f"evidence, e.g. evidence={{{b!r}: values}}")
        return out

    @torch.no_grad()
    def init_bias_from_data(self, block: str, data: torch.Tensor) -> "CompiledGraph":
        """Set ``block``'s bias to match the data's marginals (log-odds, log-frequencies or mean)."""
        bias = self.bias_of(block)
        if bias is None:
            raise SpecError(f"block {block!r} has no bias")
        x = self.given({block: data}, what="init_bias_from_data data")[block] if self.roles[block] != "latent" else torch.as_tensor(data, dtype=self.dtype)
        bias.copy_(self.units[block].init_bias(x).reshape(bias.shape))
        return self

    def extra_repr(self) -> str:
        """Each block's size, unit kind and role, and the numbers of dense edges and factor groups, for the repr."""
        blocks = ", ".join(f"{b}:{self.ranges[b][1] - self.ranges[b][0]} {self.units[b].kind} {self.roles[b]}" for b in self.block_names)
        return f"blocks=[{blocks}], dense={len(self.dense)}, groups={len(self.groups)}"


__all__ = ["CompiledGraph", "DenseOperator"]
