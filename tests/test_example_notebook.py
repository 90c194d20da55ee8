"""examples/tour.ipynb runs top to bottom in a fresh kernel and shows a drawing (SVG), a progress
bar, plots (PNG) and results as HTML tables."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="running the example notebook needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="running the example notebook needs nbclient")
pytest.importorskip("ipykernel", reason="running the example notebook needs ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tour.ipynb"
KERNEL = "graphdgm-tests"


@pytest.fixture
def kernel_of_this_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that starts this very interpreter (so the kernel imports this graphdgm),
    found through JUPYTER_PATH; a spec named ``python3`` may start some other ``python``."""
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "graphdgm tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the plots
    from jupyter_client.kernelspec import find_kernel_specs

    if KERNEL not in find_kernel_specs():
        pytest.skip(f"jupyter_client does not see the kernelspec written to {spec}")
    return KERNEL


@pytest.mark.slow
def test_tour_notebook_runs_and_shows_pictures(kernel_of_this_python: str) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=kernel_of_this_python, timeout=60,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the traceback, when a cell fails
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    mimes = [m for o in outputs for m in o.get("data", {})]
    assert not [o for o in outputs if o.output_type == "error"]
    assert "image/svg+xml" in mimes  # the drawing
    assert mimes.count("image/png") >= 3  # history, samples, marginal heat map
    bars = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            or (o.output_type == "stream" and "train:" in o.get("text", ""))]
    assert bars, "gd.fit showed no progress bar in the notebook"
    text = "".join(o.get("text", "") for o in bars if o.output_type == "stream")
    assert not text or "100%" in text  # a text bar ends full and stays (leave=True)
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Marginals of 16 variables" in h and "<table>" in h for h in html)
    assert any("History" in h for h in html)
