"""The README's Python examples run as written, each on its own (every block imports what it uses)."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the examples write drawings to the working directory
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})  # a fresh namespace: a block that needs another's names fails
    assert (tmp_path / "grid.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
