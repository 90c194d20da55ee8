"""An MkDocs hook: the pictures beside docs/benchmarks.md (docs/*.png) are served at the site's
root, so docs/site/benchmarks.md can include that file with pymdownx.snippets unchanged."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

SHARED = Path(__file__).resolve().parents[2]  # docs/


def on_files(files: Files, config: Any) -> Files:
    for png in sorted(SHARED.glob("*.png")):
        if files.get_file_from_path(png.name) is None:
            files.append(File(png.name, str(SHARED), config["site_dir"], config["use_directory_urls"]))
    return files
