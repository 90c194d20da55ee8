"""The compiled deep belief network: a stack of compiled RBMs sharing their middle layers.

Generatively, the top two layers are an RBM and every lower layer is drawn from the one above by
the lower RBM's visible conditional (a sigmoid belief net pointing down); recognition goes up with
the same weights transposed.
"""
from __future__ import annotations

import copy
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from graphdgm.compiler.methods import CompiledModel
from graphdgm.compiler.names import NamedVariables
from graphdgm.compiler.rbm import CompiledRBM
from graphdgm.spec.rbm import DBN


class CompiledDBN(NamedVariables, CompiledModel):
    """A :class:`~graphdgm.DBN` lowered to torch: ``rbms`` (one :class:`CompiledRBM` per pair of layers).

    >>> import graphdgm as gd
    >>> dbn = gd.compile(gd.DBN([6, 4, 3]))
    >>> x = dbn.sample(5, steps=10)
    >>> x.shape, dbn.transform(x).shape
    (torch.Size([5, 6]), torch.Size([5, 4]))
    """

    # a stack of trainable layers (``rbms``: greedy layer-wise training applies), and a variational
    # bound on log p(v) through the recognition pass (what gd.log_likelihood gives)
    capabilities = frozenset({"layerwise", "recognition_bound", "sample"})

    def __init__(self, spec: DBN, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.spec = copy.deepcopy(spec)
        self.variables: tuple[str, ...] = tuple(spec.variables)
        self.index = MappingProxyType({n: i for i, n in enumerate(self.variables)})
        self.rbms = nn.ModuleList(CompiledRBM(r, dtype=dtype) for r in spec.rbms)
        self.register_buffer("cards", torch.tensor([d.cardinality or 0 for d in spec.domains()], dtype=torch.long))

    @property
    def V(self) -> int:
        """Number of visible units (the bottom RBM's visible layer)."""
        return self.rbms[0].V

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the RBMs' parameters."""
        return self.rbms[0].dtype

    @property
    def top(self) -> CompiledRBM:
        """The top RBM (the undirected top two layers)."""
        return self.rbms[-1]

    @torch.no_grad()
    def up(self, v: torch.Tensor, generator: torch.Generator | None = None, sample: bool = False) -> list[torch.Tensor]:
        """Recognition pass: the states (``sample=True``) or probabilities of every hidden layer."""
        out, x = [], v
        for r in self.rbms:  # a loop over layers
            p = r.hidden_probs(x)  # (B, H_l)
            x = (torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device) < p).to(p.dtype) if sample else p
            out.append(x)
        return out

    def transform(self, v: torch.Tensor, layer: int = 1) -> torch.Tensor:
        """Features p(h_layer | v) from the mean-field upward pass (layer 1 is the first hidden layer)."""
        return self.up(v)[layer - 1]

    @torch.no_grad()
    def down(self, top_visible: torch.Tensor, generator: torch.Generator | None = None, means: bool = False) -> torch.Tensor:
        """Generative pass from the top RBM's visible layer h_{L-1} down to v (means at the bottom if asked)."""
        x = top_visible
        for i, r in enumerate(reversed(self.rbms[:-1])):  # a loop over layers, top down
            last = i == len(self.rbms) - 2
            x = r.visible_mean(x) if (means and last) else r.sample_visible(x, generator)
        return x

    def encode_evidence(self, evidence: dict[str, Any] | None) -> dict[int, Any]:
        """Evidence as {packed index: value} from variable names, block names or packed indices (values
        kept as given); ``None`` gives ``{}``.
        """
        return {i: x for i, x in self._evidence_items(evidence or {}, "value")}

    def extra_repr(self) -> str:
        """The layer sizes, bottom to top, for the module's repr (``layers=6-4-3``)."""
        return "layers=" + "-".join(str(r.V) for r in self.rbms) + f"-{self.top.H}"
