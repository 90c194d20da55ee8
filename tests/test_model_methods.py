"""Algorithms live in infer/ and learn/ and reach compiled models as methods chosen by capability;
the layers import one way (spec -> compiler -> infer -> learn)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import graphdgm as gd
from graphdgm.compiler.methods import CompiledModel, model_method, registered_methods, unregister_model_method

PACKAGE = Path(gd.__file__).parent
FAMILY_NAMES = {"rbm", "dbn", "hmm", "gan", "sequence", "autoregressive", "bayesian_network", "markov_chain"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (at top level or inside functions), as absolute names."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the file's package
                base = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level])
                out.add(f"{base}.{node.module}")
            else:
                out.add(node.module)
    return out


@pytest.mark.parametrize("layer, forbidden", [("compiler", ("graphdgm.infer", "graphdgm.learn")),
                                              ("spec", ("graphdgm.compiler", "graphdgm.io", "graphdgm.infer",
                                                        "graphdgm.learn")),
                                              ("graph", ("graphdgm.compiler", "graphdgm.io", "graphdgm.infer",
                                                         "graphdgm.learn")),
                                              ("runtime", ("graphdgm.spec", "graphdgm.graph", "graphdgm.compiler",
                                                           "graphdgm.io", "graphdgm.infer", "graphdgm.learn"))])
def test_layers_import_one_way(layer, forbidden) -> None:
    bad = [(p.name, m) for p in sorted((PACKAGE / layer).glob("*.py")) for m in imported_modules(p)
           if m.startswith(forbidden)]
    assert bad == []


def compiled_models() -> list[torch.nn.Module]:
    bn = gd.BayesianNetwork.empty_like({"a": [], "b": ["a"]}, {"a": gd.Binary(), "b": gd.Binary()})
    specs = [gd.MarkovNetwork.ising_grid(2, 2), gd.RBM(4, 2), gd.DBN([4, 3, 2]), bn, gd.NADE(4, hidden=3),
             gd.MADE(4, hidden=[8]), gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]),
             gd.HiddenMarkovModel.random(2, symbols=3, seed=0), gd.GAN(2, latent=2)]
    return [gd.compile(s) for s in specs]


def test_no_compiled_model_names_its_family_in_its_capabilities() -> None:
    for model in compiled_models():
        assert isinstance(model, CompiledModel)
        assert not (FAMILY_NAMES & set(model.capabilities)), type(model).__name__


def test_methods_follow_capabilities() -> None:
    by_type = {type(m).__name__: m for m in compiled_models()}
    hmm, chain, bn = by_type["CompiledHMM"], by_type["CompiledMarkovChain"], by_type["CompiledBayesianNetwork"]
    mn, made = by_type["CompiledMarkovNetwork"], by_type["CompiledMADE"]
    assert hasattr(hmm, "viterbi") and hasattr(hmm, "forward_backward") and not hasattr(hmm, "stationary")
    assert hasattr(chain, "stationary") and not hasattr(chain, "viterbi")
    assert hasattr(bn, "fit_tables") and hasattr(made, "inpaint") and not hasattr(mn, "inpaint")
    assert not hasattr(mn, "sample")  # a Markov network samples through the MCMC driver, not a method
    with pytest.raises(AttributeError, match=r"has no method 'viterbi': it needs the capabilities \{emission\}"):
        mn.viterbi  # noqa: B018  (the message says what is missing, not torch's bare one)
    # the method and the module-level function are one implementation
    obs = [[0, 1, 2, 1]]
    assert torch.equal(hmm.viterbi(obs)[0], gd.infer.viterbi(hmm, obs)[0])
    assert {"viterbi", "forward_backward", "log_prob", "sample"} <= set(registered_methods(hmm))


def test_a_registered_method_reaches_every_model_with_the_capability() -> None:
    calls = []

    @model_method("probe_for_test", {"context_transitions"})
    def probe(model, x):
        calls.append((type(model).__name__, x))
        return x + 1

    try:
        chain = gd.compile(gd.MarkovChain(["a", "b"], [[0.9, 0.1], [0.5, 0.5]]))
        assert chain.probe_for_test(1) == 2 and calls == [("CompiledMarkovChain", 1)]
        assert not hasattr(gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=0)), "probe_for_test")
    finally:
        unregister_model_method("probe_for_test", probe)
    assert not hasattr(CompiledModel, "probe_for_test")
    with pytest.raises(ValueError, match="public identifier"):
        model_method("_private", {"dag"})


def test_one_inpaint_for_every_model_that_can_inpaint() -> None:
    g = torch.Generator().manual_seed(0)
    known = torch.tensor([True, True, False, False])
    x = (torch.rand(3, 4, generator=g) < 0.5).double()
    for spec in (gd.MADE(4, hidden=[8]), gd.NADE(4, hidden=3), gd.RBM(4, 3), gd.DBN([4, 3, 2])):
        model = gd.compile(spec)
        filled = gd.inpaint(model, x, known, seed=1)
        assert filled.shape == (3, 4)
        assert torch.equal(filled[:, :2].double(), x[:, :2])  # the known part is kept
        assert bool(((filled == 0) | (filled == 1)).all())
    with pytest.raises(gd.CapabilityError, match="no conditional sampler"):
        gd.inpaint(gd.compile(gd.MarkovNetwork.ising_grid(2, 2)), torch.zeros(1, 4), known)


def test_the_drawing_modules_import_each_other_without_a_circle() -> None:
    import networkx as nx

    g = nx.DiGraph()
    for p in sorted((PACKAGE / "viz").glob("*.py")):
        me = f"graphdgm.viz.{p.stem}"
        g.add_node(me)
        g.add_edges_from((me, m) for m in imported_modules(p) if m.startswith("graphdgm.viz.") and m != me)
    assert nx.is_directed_acyclic_graph(g), nx.find_cycle(g)
    assert not any(m.startswith("graphdgm.viz.draw") for m in imported_modules(PACKAGE / "viz" / "styles.py"))
