"""What people see in a notebook: short reprs, HTML tables, pandas and arviz views, progress bars
and plots. Answers are checked against the results' own tensors and against exact inference."""
from __future__ import annotations

import contextlib
import io
import re
import sys

import matplotlib
import numpy as np
import pytest
import torch

import graphdgm as gd
from graphdgm.errors import CapabilityError, SpecError
from graphdgm.infer.mcmc import BlockGibbs
from graphdgm.infer.mcmc.driver import sample_chains
from graphdgm.infer.results import DiscreteMarginal, MAPResult, Marginals, Samples
from graphdgm.learn.history import History
from graphdgm.runtime import progress as progress_mod
from graphdgm.runtime.progress import QuietBar, postfix, progress_bar
from graphdgm.viz import plot_history, plot_inpainting, plot_marginals_grid, plot_samples

matplotlib.use("Agg")
pd = pytest.importorskip("pandas")


def grid(side: int = 3) -> torch.nn.Module:
    return gd.compile(gd.MarkovNetwork.ising_grid(side, side, coupling=0.4, field=0.2))


# reprs and HTML -------------------------------------------------------------------------------


def test_map_repr_of_a_16x16_grid_is_one_short_line() -> None:
    names = [f"x[{i},{j}]" for i in range(16) for j in range(16)]
    r = MAPResult({n: (i * 7) % 2 for i, n in enumerate(names)}, torch.zeros(256), -12.5)
    text = repr(r)
    assert len(text) < 120 and "\n" not in text
    assert text == "MAPResult(log_score=-12.5, x[0,0]=0, x[0,1]=1, x[0,2]=0, x[0,3]=1, ... (256 variables))"
    html = r._repr_html_()
    assert html.count("<tr>") == 1 + 20 and "256 rows" in html and "-12.5" in html


def test_map_result_shows_the_true_mode() -> None:
    model = grid()
    r = gd.map_query(model)
    assert all(v == 1 for v in r.assignment.values())  # positive field and coupling: all spins up
    assert repr(r).startswith(f"MAPResult(log_score={r.log_score:.4g}, x[0,0]=1,") and "(9 variables)" in repr(r)
    s = r.to_pandas()
    assert isinstance(s, pd.Series) and s.name == "state" and s.index.name == "variable"
    assert s.to_dict() == r.assignment


def test_marginals_html_and_wide_pandas_match_the_tensor() -> None:
    m = gd.query(grid())
    probs = m.tensor()  # (9, 2)
    html = m._repr_html_()
    assert "<th>P(-1)</th><th>P(1)</th>" in html and html.count("<tr>") == 1 + 9
    assert f"<td>x[1,1]</td><td>{float(probs[4, 0]):.4g}</td><td>{float(probs[4, 1]):.4g}</td>" in html
    wide = m.to_pandas(wide=True)
    assert list(wide.columns) == [-1, 1] and list(wide.index) == list(m)
    np.testing.assert_allclose(wide.to_numpy(), probs.numpy())
    long = m.to_pandas()  # the long form stays as it was
    assert list(long.columns) == ["variable", "state", "probability"] and len(long) == 18


def test_marginals_repr_is_cut_after_four() -> None:
    items = [DiscreteMarginal(f"v{i}", (0, 1), torch.tensor([0.5, 0.5])) for i in range(256)]
    text = repr(Marginals(items))
    assert text.endswith("; ... (256 variables))") and text.count("P(") == 4
    assert "256 rows" in Marginals(items)._repr_html_()


def test_joint_repr_names_the_most_probable_state() -> None:
    joint = gd.query(grid(), ["x[0,0]", "x[0,1]"], joint=True)
    best = divmod(int(torch.argmax(joint.probs)), 2)
    labels = (-1, 1)
    assert f"x[0,0]={labels[best[0]]}, x[0,1]={labels[best[1]]}: {float(joint.probs.max()):.4g}" in repr(joint)
    assert "2x2 table" in repr(joint)
    html = joint._repr_html_()
    assert html.count("<tr>") == 1 + 4 and f"{float(joint.probs[1, 1]):.4g}" in html


def test_history_repr_and_html_show_the_last_figures() -> None:
    h = History([{"epoch": e, "loss": 1.0 / e, "note": "<b>"} for e in range(1, 9)])
    assert repr(h) == "History(8 epochs, last: epoch=8, loss=0.125, note=<b>)"
    html = h._repr_html_()
    assert html.count("<tr>") == 1 + 5 and "last 5 shown" in html
    assert "<td>0.125</td>" in html and "&lt;b&gt;" in html and "<td><b></td>" not in html  # escaped
    h.diverged = {"epoch": 9, "parameters": ["W"], "restored_epoch": 8}
    assert "diverged in epoch 9" in repr(h) and "diverged in epoch 9" in h._repr_html_()
    assert repr(History()) == "History(0 epochs)"


# samples: pandas and arviz -------------------------------------------------------------------


def chain_samples() -> tuple[Samples, object]:
    model = grid()
    run = sample_chains(model, BlockGibbs(), chains=3, sweeps=40, seed=0, keep=[0, 4], rhat_threshold=None)
    return Samples.from_chains(run), run


def test_samples_from_chains_keep_names_and_values() -> None:
    s, run = chain_samples()
    assert s.variables == ("x[0,0]", "x[1,1]") and s.chains == 3 and s.draws == run.samples.shape[0]
    torch.testing.assert_close(s["x[1,1]"], run.samples[:, :, 1].T)  # (C, S)
    df = s.to_pandas()
    assert list(df.columns) == ["x[0,0]", "x[1,1]"] and df.index.names == ["chain", "draw"]
    assert df.loc[(2, 5), "x[1,1]"] == int(run.samples[5, 2, 1])
    assert repr(s) == f"Samples({s.draws} draws x 3 chains of 2 variables: x[0,0], x[1,1])"
    assert "<th>x[1,1]</th>" in s._repr_html_()


def test_independent_samples_to_pandas_and_bad_shapes() -> None:
    x = torch.tensor([[0, 1, 1], [1, 0, 1]])
    df = Samples(("a", "b", "c"), x).to_pandas()
    assert df["c"].tolist() == [1, 1] and df.index.name == "draw"
    with pytest.raises(SpecError, match=r"shape \(2, 3\)"):
        Samples(("a", "b"), x)
    with pytest.raises(CapabilityError, match="chains"):
        Samples(("a", "b", "c"), x).to_arviz()


def test_to_arviz_without_arviz_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    s, _ = chain_samples()
    monkeypatch.setitem(sys.modules, "arviz", None)  # import arviz now fails
    with pytest.raises(CapabilityError, match="pip install arviz"):
        s.to_arviz()


def test_to_arviz_gives_chain_by_draw_arrays() -> None:
    pytest.importorskip("arviz", reason="arviz is optional and not installed")
    s, run = chain_samples()
    idata = s.to_arviz()
    np.testing.assert_array_equal(idata.posterior["x[1,1]"].values, run.samples[:, :, 1].T.numpy())


# progress bars -------------------------------------------------------------------------------


def test_progress_none_is_quiet_off_a_terminal_and_on_in_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()  # not a terminal
    with contextlib.redirect_stderr(err):
        assert isinstance(progress_bar(range(3), None), QuietBar)
        monkeypatch.setattr(progress_mod, "in_notebook", lambda: True)
        bar = progress_bar(range(3), None, desc="nb")
        assert not isinstance(bar, QuietBar) and bar.leave is True
        assert list(bar) == [0, 1, 2]
    assert "nb" in err.getvalue()
    assert list(progress_bar(range(2), False)) == [0, 1]


def test_fit_shows_running_figures_on_a_bar_that_stays() -> None:
    rbm = gd.compile(gd.RBM(6, 3))
    x = torch.bernoulli(torch.full((32, 6), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        h = gd.fit(rbm, x, method="pcd", epochs=3, batch_size=16, progress=True)
    out = err.getvalue()
    final = out.rstrip("\n").split("\r")[-1]  # the bar's last drawing, left on screen (leave=True)
    assert final.startswith("train: 100%") and "3/3" in final
    shown = re.search(r"pseudo_log_likelihood=(-?[\d.e+-]+)", final)
    assert shown and float(shown.group(1)) == pytest.approx(h.last["pseudo_log_likelihood"], rel=1e-3)
    assert postfix(h.last).keys() == {k for k in h.last if k not in ("epoch", "seconds", "lr")}


# plots ---------------------------------------------------------------------------------------


def test_plot_history_draws_each_metric_against_the_epoch() -> None:
    h = History([{"epoch": e, "lr": 0.1, "loss": 1.0 / e, "pll": -5.0 + e} for e in range(1, 5)])
    fig = plot_history(h)
    assert [a.get_title() for a in fig.axes] == ["loss", "pll"]
    xs, ys = fig.axes[0].lines[0].get_data()
    assert list(xs) == [1, 2, 3, 4] and list(ys) == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    fig2 = plot_history(h, metrics=["loss", "pll"], ax=fig.axes[0])
    assert fig2 is fig and len(fig.axes[0].lines) == 3
    with pytest.raises(SpecError, match="nope"):
        plot_history(h, metrics=["nope"])


def test_plot_samples_tiles_and_titles() -> None:
    x = torch.zeros(4, 6)
    x[1] = 1.0
    fig = plot_samples(x, (2, 3), title="four", ncols=2)
    ax = fig.axes[0]
    assert ax.get_title() == "four"
    img = ax.images[0].get_array()
    assert img.shape == (2 * 3 + 1, 2 * 4 + 1)  # 2x2 tiles of 2x3 with 1-pixel gaps
    assert img[1:3, 5:8].min() == 1.0 and img[1:3, 1:4].max() == 0.0  # the second tile is white
    with pytest.raises(SpecError, match="2x2"):
        plot_samples(x, (2, 2))


def test_plot_inpainting_marks_the_edge_of_the_given_part() -> None:
    known = torch.zeros(4, 4, dtype=torch.bool)
    known[:2] = True  # the top half given
    g = torch.Generator().manual_seed(0)
    x, filled = torch.rand(3, 16, generator=g), torch.rand(3, 16, generator=g)
    fig = plot_inpainting(x, known.reshape(-1), filled, (4, 4), title="fill")
    assert len(fig.axes) == 6 and fig.get_suptitle() == "fill"
    top, bottom = fig.axes[0], fig.axes[1]  # the first example: given, then filled
    lines = bottom.collections[0]
    segs = [np.asarray(s) for s in lines.get_segments()]
    assert len(segs) == 4 and all(np.allclose(s[:, 1], 1.5) for s in segs)  # one line between rows 1 and 2
    assert tuple(lines.get_colors()[0][:3]) == (1.0, 0.0, 0.0)
    given = top.images[0].get_array()
    assert given.mask[2:].all() and not given.mask[:2].any()  # the unknown part is blanked in the given row
    np.testing.assert_allclose(given[:2], x.reshape(3, 4, 4)[0, :2].numpy())
    np.testing.assert_allclose(bottom.images[0].get_array(), filled.reshape(3, 4, 4)[0].numpy())


def test_plot_marginals_grid_shows_p_of_one() -> None:
    m = gd.query(grid())
    fig = plot_marginals_grid(m, (3, 3))
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(shown, m.tensor()[:, 1].reshape(3, 3).numpy())
    np.testing.assert_allclose(np.asarray(plot_marginals_grid(m.tensor(), (3, 3)).axes[0].images[0].get_array()), shown)
    with pytest.raises(SpecError, match="3x4"):
        plot_marginals_grid(m, (3, 4))


def test_plots_name_bad_values() -> None:
    import math

    with pytest.raises(SpecError, match="marginals must be a tensor"):
        gd.viz.plot_marginals_grid(None, (2, 2))
    with pytest.raises(SpecError, match="NaN"):
        gd.viz.plot_marginals_grid(torch.tensor([0.1, math.nan, 0.2, 0.3]), (2, 2))
    with pytest.raises(SpecError, match="NaN"):
        gd.viz.plot_samples(torch.full((2, 4), math.nan), (2, 2))
