"""Benchmark scripts that have a --quick mode run in the suite at tiny sizes, so they cannot rot."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ar_sampling_quick_runs_and_reports_both_paths() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ar_sampling.py"), "--quick", "--threads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if "cached rows" in line]
    assert len(lines) == 2 and all("ratio" in line and "identical samples:" in line for line in lines), proc.stdout
    # exact equality of the two float32 paths is checked in float64 by the unit tests; here the script must run
