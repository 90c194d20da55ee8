"""Exact inference for RBMs small enough to enumerate one layer: the other is summed out analytically."""
from __future__ import annotations


import torch

from graphdgm.errors import CapabilityError, InferenceError


def _states(bits: int, start: int, stop: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Binary states start..stop-1 of ``bits`` units as rows (stop-start, bits), bit 0 first."""
    codes = torch.arange(start, stop, device=device)
    return ((codes[:, None] >> torch.arange(bits, device=device)) & 1).to(dtype)


class RBMEnumeration:
    """Exact log Z and marginals of an RBM by enumerating the free units of its smaller layer
    (2^k states, in chunks) and summing the other layer out analytically. Differentiable in the
    parameters, so it also gives the exact log-likelihood gradient of small RBMs.

    >>> import graphdgm as gd
    >>> rbm = gd.compile(gd.RBM(4, 3, init_std=0.5))
    >>> z1 = gd.log_partition(rbm)                                            # enumerates 2^3 hidden states
    >>> z2 = gd.log_partition(gd.compile(rbm.to_markov_network()), backend="exact")
    >>> abs(float(z1 - z2)) < 1e-10
    True
    """

    name = "rbm_exact"
    requires = frozenset({"bipartite", "marginalisable:h"})  # two layers, the hidden one summed out
    approximate = False

    def __init__(self, max_states_log2: int = 24, chunk_log2: int = 12) -> None:
        self.max_states_log2 = int(max_states_log2)
        self.chunk = 1 << int(chunk_log2)

    def _plan(self, model: torch.nn.Module, evidence: dict[int, float]) -> tuple[str, list[int]]:
        """Which layer to enumerate, and its free units."""
        V, H = model.V, model.H
        free_h = [j for j in range(H) if V + j not in evidence]
        free_v = [i for i in range(V) if i not in evidence]
        if len(free_h) <= len(free_v) or model.visible_type != "bernoulli":
            layer, free = "hidden", free_h
        else:
            layer, free = "visible", free_v
        if len(free) > self.max_states_log2:
            raise InferenceError(
                f"exact inference on this RBM would enumerate 2^{len(free)} states of its {layer} layer "
                f"(limit 2^{self.max_states_log2}); use backend='ais' for log Z or a sampler ('gibbs', 'tempering') "
                "for marginals, or clamp more units with evidence"
            )
        return layer, free

    @staticmethod
    def _clamped(model, evidence, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Evidence on packed units lo..hi-1 as (mask (hi-lo,), values (hi-lo,))."""
        dev = model.weight.device
        mask = torch.zeros(hi - lo, dtype=torch.bool, device=dev)
        vals = torch.zeros(hi - lo, dtype=model.dtype, device=dev)
        idx = [i for i in evidence if lo <= i < hi]
        if idx:
            mask[torch.tensor(idx, device=dev) - lo] = True
            vals[torch.tensor(idx, device=dev) - lo] = torch.tensor([float(evidence[i]) for i in idx], dtype=model.dtype, device=dev)
        return mask, vals

    def _log_weights(self, model, evidence, layer, free, start, stop):
        """Unnormalised log-probabilities (m,) of enumerated states m, with those layer states."""
        V, H = model.V, model.H
        vmask, vvals = self._clamped(model, evidence, 0, V)
        hmask, hvals = self._clamped(model, evidence, V, V + H)
        s = _states(len(free), start, stop, model.dtype, model.weight.device)  # (m, k)
        if layer == "hidden":
            h = hvals.expand(s.shape[0], H).clone()
            h[:, free] = s  # (m, H)
            return model.hidden_log_marginal(h, (vmask, vvals) if bool(vmask.any()) else None), h
        v = vvals.expand(s.shape[0], V).clone()
        v[:, free] = s  # (m, V)
        z = model.hidden_logits(v)  # (m, H)
        hid = torch.where(hmask, z * hvals, torch.nn.functional.softplus(z))  # clamped hidden units: h_j z_j
        return model._visible_term(v) + hid.sum(1), v

    def _chunks(self, model, evidence):
        layer, free = self._plan(model, evidence)
        n = 1 << len(free)
        for start in range(0, n, self.chunk):  # a loop over chunks of 2^chunk_log2 states
            lw, states = self._log_weights(model, evidence, layer, free, start, min(n, start + self.chunk))
            yield layer, lw, states

    def log_partition(self, model: torch.nn.Module, evidence: dict[int, float]) -> torch.Tensor:
        """log Σ p̃ over states that agree with ``evidence`` (differentiable)."""
        return torch.logsumexp(torch.cat([lw for _, lw, _ in self._chunks(model, evidence)]), 0)

    def marginals(self, model: torch.nn.Module, variables: list[int], evidence: dict[int, float]) -> list[torch.Tensor]:
        """p(x_i | evidence) for each packed index in ``variables``: (2,) or (K,) per unit."""
        if model.visible_type == "gaussian" and any(i < model.V for i in variables):
            raise CapabilityError("marginals of Gaussian visible units are densities; query hidden units, "
                                  "or sample with model.sample(...)")
        with torch.no_grad():
            log_z = self.log_partition(model, evidence)
            V, K = model.V, model.K
            pv = torch.zeros(V, K if model.visible_type == "categorical" else 2, dtype=model.dtype, device=model.weight.device)
            ph = torch.zeros(model.H, dtype=model.dtype, device=model.weight.device)
            for layer, lw, s in self._chunks(model, evidence):
                w = torch.exp(lw - log_z)  # (m,) probabilities of the enumerated states
                if layer == "hidden":
                    ph += w @ s
                    if model.visible_type == "categorical":
                        pv += torch.einsum("m,mvk->vk", w, torch.softmax(model.visible_params(s), -1))
                    else:
                        pv[:, 1] += w @ torch.sigmoid(model.visible_params(s))
                else:
                    pv[:, 1] += w @ s
                    z = model.hidden_logits(s)
                    ph += w @ torch.sigmoid(z)
            if model.visible_type != "categorical":
                pv[:, 0] = 1 - pv[:, 1]
        out = []
        for i in variables:
            if i in evidence:
                p = torch.zeros_like(pv[0] if i < V else pv[0, :2])
                p[int(evidence[i])] = 1.0
                out.append(p)
            elif i < V:
                out.append(pv[i].clamp(0, 1))
            else:
                out.append(torch.stack([1 - ph[i - V], ph[i - V]]).clamp(0, 1))
        return out

    @torch.no_grad()
    def map(self, model: torch.nn.Module, evidence: dict[int, float],
            variables: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable joint state of every unit given ``evidence``, exactly, and its
        unnormalised log-probability: enumerate the free units of the smaller layer (2^k states,
        in chunks); given each, the other layer's units are independent, so each takes the best
        value of its own conditional (logit > 0, or the largest softmax logit).

        >>> import graphdgm as gd
        >>> rbm = gd.compile(gd.RBM(4, 3, init_std=1.0, seed=1))
        >>> a = gd.map_query(rbm, {"v[0]": 1})
        >>> b = gd.map_query(gd.compile(rbm.to_markov_network()), {"v[0]": 1})
        >>> a.assignment == b.assignment, abs(a.log_score - b.log_score) < 1e-9
        (True, True)
        """
        if variables is not None:
            raise CapabilityError("backend 'rbm_exact' gives the full MAP state of an RBM; for marginal MAP over some "
                                  "units of a small RBM use gd.map_query(gd.compile(rbm.to_markov_network()), "
                                  "variables=[...]), which sums the others out")
        if model.visible_type == "gaussian":
            raise CapabilityError("the MAP state of an RBM with Gaussian visible units is a density mode; this backend "
                                  "handles binary and softmax visible units. Use backend='gibbs' (simulated annealing)")
        layer, free = self._plan(model, evidence)
        V, H = model.V, model.H
        vmask, vvals = self._clamped(model, evidence, 0, V)
        hmask, hvals = self._clamped(model, evidence, V, V + H)
        best_score, best = None, None
        n = 1 << len(free)
        for start in range(0, n, self.chunk):  # a loop over chunks of 2^chunk_log2 states
            s = _states(len(free), start, min(n, start + self.chunk), model.dtype, model.weight.device)  # (m, k)
            if layer == "hidden":
                h = hvals.expand(s.shape[0], H).clone()
                h[:, free] = s  # (m, H)
                p = model.visible_params(h)  # (m, V) logits or (m, V, K) softmax logits
                v_best = p.argmax(-1).to(model.dtype) if model.visible_type == "categorical" else (p > 0).to(model.dtype)
                v = torch.where(vmask, vvals, v_best)  # (m, V)
            else:
                v = vvals.expand(s.shape[0], V).clone()
                v[:, free] = s  # (m, V)
                h = torch.where(hmask, hvals, (model.hidden_logits(v) > 0).to(model.dtype))  # (m, H)
            score = model._visible_term(v) + (h * model.hidden_logits(v)).sum(1)  # log p~(v, h) (m,)
            i = int(score.argmax())
            if best_score is None or bool(score[i] > best_score):
                best_score, best = score[i], torch.cat([v[i], h[i]])
        return best.round().long().cpu(), best_score
