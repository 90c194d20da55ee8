"""benchmarks/gpu.py, the script that records the GPU figures, runs end to end with --quick on
the CPU (tiny sizes, seconds), so that it cannot rot between the runs a GPU is lent for."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_script_quick_run_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "gpu.md"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--quick", "--device", "cpu", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    tasks = [r[0].strip() for r in rows]
    assert tasks == ["block Gibbs", "block Gibbs", "loopy BP", "RBM CD-1", "exact marginals", "PixelCNN"], tasks
    for r in rows:
        value = float(r[3])
        assert math.isfinite(value) and value > 0, r
    assert "converged in" in rows[2][1], rows[2]  # BP on the small ferromagnetic grid converges
    assert float(rows[5][3]) < 784 * math.log(2), rows[5]  # trained PixelCNN beats the uniform model
    assert out.read_text() in res.stdout  # the same table is printed
