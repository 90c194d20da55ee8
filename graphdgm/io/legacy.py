"""Readers of the spec files written before every family was a graph (format version 1 with a
per-family layout: ``"rbm"``, ``"dbn"``, ``"bayesian_network"``, ``"markov_chain"``,
``"hidden_markov_model"``, ``"nade"``, ``"made"``, ``"pixelcnn"``, ``"pixelrnn"``, ``"gan"``).
Files written now hold blocks and edges (see :mod:`graphdgm.io.serialize`); these readers keep old
files loading. Each rebuilds the family through its constructor, which validates every entry.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphdgm.errors import FormatError
from graphdgm.spec.autoregressive import MADE, NADE, AutoregressiveModel, PixelCNN, PixelRNN
from graphdgm.spec.bayesian_network import BayesianNetwork
from graphdgm.spec.domains import Domain
from graphdgm.spec.gan import GAN
from graphdgm.spec.hmm import CategoricalEmission, DensityEmission, GaussianEmission, HiddenMarkovModel
from graphdgm.spec.markov_chain import MarkovChain
from graphdgm.spec.rbm import DBN, RBM


def legacy_readers(decode_array: Callable[..., Any], read_spec: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Tag -> reader of that tag's old layout; ``decode_array`` reads a saved array and
    ``read_spec`` a nested saved spec (an HMM's emission models)."""
    _decode_array = decode_array
    spec_from_dict = read_spec

    _RBM_ARRAYS = ("weights", "visible_bias", "hidden_bias", "sigma")


    def _build_rbm(d: dict[str, Any]) -> RBM:
        arrays = {a: None if d.get(a) is None else _decode_array(d[a], f"RBM {a}") for a in _RBM_ARRAYS}
        return RBM(tuple(d["visible"]), int(d["hidden"]), visible_type=d["visible_type"], categories=d.get("categories"),
                   init_std=float(d["init_std"]), seed=int(d["seed"]), name=d["name"], visible_name=d["visible_name"],
                   hidden_name=d["hidden_name"], **arrays)


    def _build_dbn(d: dict[str, Any]) -> DBN:
        return DBN(d["layers"], visible_type=d["visible_type"], categories=d.get("categories"), init_std=float(d["init_std"]),
                   seed=int(d["seed"]), name=d["name"])


    def _build_bn(d: dict[str, Any]) -> BayesianNetwork:
        bn = BayesianNetwork(name=d.get("name", "bayesian_network"))
        for b in d["blocks"]:
            bn.add_block(b["name"], tuple(b["shape"]), Domain.from_dict(b["domain"]))
        neural = d.get("neural_cpds", {})
        for c in d["cpds"]:
            if c["child"] in neural:
                cfg = neural[c["child"]]
                bn.add_neural_cpd(c["child"], c["parents"], [int(h) for h in cfg["hidden"]], seed=int(cfg["seed"]))
            else:
                bn.add_cpd(c["child"], c["parents"], _decode_array(c["table"], f"CPT of {c['child']!r}"))
        return bn


    def _build_chain(d: dict[str, Any]) -> MarkovChain:
        return MarkovChain(d["states"], _decode_array(d["transition"], "chain transition"),
                           _decode_array(d["initial"], "chain initial distribution"), order=int(d["order"]), name=d["name"])


    def _build_hmm(d: dict[str, Any]) -> HiddenMarkovModel:
        e = d["emission"]
        if e["kind"] == "categorical":
            emission: Any = CategoricalEmission(_decode_array(e["table"], "emission table"), e["symbols"])
        elif e["kind"] == "gaussian":
            emission = GaussianEmission(_decode_array(e["means"], "emission means"), _decode_array(e["stds"], "emission stds"))
        elif e["kind"] == "density":
            emission = DensityEmission([spec_from_dict(m) for m in e["models"]])
        else:
            raise FormatError(f"HMM emission kind {e['kind']!r}; this graphdgm reads 'categorical', 'gaussian' and 'density'")
        return HiddenMarkovModel(d["states"], _decode_array(d["transition"], "HMM transition"), emission,
                                 initial=_decode_array(d["initial"], "HMM initial distribution"), name=d["name"])


    _AR_ARGS = {NADE: ("hidden",), MADE: ("hidden", "num_masks", "direct"), PixelCNN: ("channels", "num_layers", "kernel", "first_kernel", "gated"),
                PixelRNN: ("hidden", "num_layers", "kernel")}
    _AR_KWARGS = {"num_masks": "masks", "num_layers": "layers"}


    def _ar_builder(cls: type) -> Any:
        def build(d: dict[str, Any]) -> AutoregressiveModel:
            kwargs = {_AR_KWARGS.get(a, a): d[a] for a in _AR_ARGS[cls]}
            if cls in (NADE, MADE):
                kwargs["ordering"] = d["ordering"]
            return cls(tuple(d["shape"]), name=d["name"], seed=int(d["seed"]), **kwargs)

        return build


    _GAN_ARGS = ("latent", "generator", "discriminator", "generator_hidden", "discriminator_hidden", "channels", "data",
                 "latent_distribution", "pack", "batch_norm", "seed", "name")


    def _build_gan(d: dict[str, Any]) -> GAN:
        return GAN(tuple(d["data_shape"]), **{a: d[a] for a in _GAN_ARGS if a in d})

    return {"rbm": _build_rbm, "dbn": _build_dbn, "bayesian_network": _build_bn, "markov_chain": _build_chain,
            "hidden_markov_model": _build_hmm, "nade": _ar_builder(NADE), "made": _ar_builder(MADE),
            "pixelcnn": _ar_builder(PixelCNN), "pixelrnn": _ar_builder(PixelRNN), "gan": _build_gan}


__all__ = ["legacy_readers"]
