"""The documentation site (mkdocs.yml, docs/site/): every ```python block runs, page by page in
order in one fresh namespace; `mkdocs build --strict` passes; headless screenshots are not blank.

A block opts out only with the marker ``<!-- skip: reason -->`` on the line just before its fence.
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "site"
PAGES = sorted(p for p in SITE.rglob("*.md"))
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")
SKIP = re.compile(r"^<!--\s*skip:\s*(?P<reason>\S.*?)\s*-->$")


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(first line number, code, skip reason or None) for each ```python fence of a page."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, lang, indent = i, m.group("lang"), m.group("indent")
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1  # the closing fence
        if lang != "python":
            continue
        assert not indent, f"line {start + 1}: a ```python fence must start its line (indented ones are not run)"
        prev = lines[start - 1].strip() if start else ""
        skip = SKIP.match(prev)
        blocks.append((start + 2, "\n".join(body) + "\n", skip.group("reason") if skip else None))
    return blocks


def test_block_extraction_and_skip_marker() -> None:
    text = "# t\n\n```python\nx = 1\n```\n\n<!-- skip: needs a GPU -->\n```python\ny = 2\n```\n```pycon\n>>> 1\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n", None), (9, "y = 2\n", "needs a GPU")]
    with pytest.raises(AssertionError, match="must start its line"):
        python_blocks("!!! note\n    ```python\n    x = 1\n    ```\n")


def test_every_page_has_been_checked_for_blocks() -> None:
    assert len(PAGES) >= 20, PAGES
    runnable = sum(1 for p in PAGES for *_, skip in python_blocks(p.read_text()) if skip is None)
    skipped = [(p.name, n) for p in PAGES for n, _, skip in python_blocks(p.read_text()) if skip is not None]
    assert runnable >= 30 and len(skipped) <= 6, (runnable, skipped)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(SITE)) for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples may write drawings or checkpoints to the working directory
    namespace: dict = {"__name__": "__docs__"}
    rel = page.relative_to(ROOT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples that show a warning say so in the text
        for line, code, skip in python_blocks(page.read_text()):
            if skip is not None:
                continue
            try:
                exec(compile("\n" * (line - 1) + code, str(rel), "exec"), namespace)
            except Exception as e:  # noqa: BLE001 - re-raised with the page and line
                raise AssertionError(f"{rel}, block at line {line}: {type(e).__name__}: {e}") from e


def test_images_the_pages_use_exist() -> None:
    for page in PAGES:
        for src in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text()):
            if not src.startswith(("http:", "https:")):
                target = (page.parent / src).resolve()
                assert target.is_file(), f"{page.relative_to(ROOT)} shows {src}, which does not exist"
                assert target.read_text()[:200].lstrip().startswith(("<?xml", "<svg")), target


def test_doctest_fences_wrap_examples() -> None:
    spec = importlib.util.spec_from_file_location("doctest_fences", SITE / "hooks" / "doctest_fences.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = "Intro:\n\n    >>> m[0][1]\n    2\n\nAfter.\n```python\n>>> kept\n```"
    assert mod.fence_doctests(text) == ("Intro:\n\n    ```pycon\n    >>> m[0][1]\n    2\n    ```\n\nAfter.\n"
                                        "```python\n>>> kept\n```")


def _mkdocs(out: Path) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip("mkdocs or mkdocstrings is not installed (pip install -e '.[docs]')")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = _mkdocs(out)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def test_mkdocs_build_strict(built_site: Path) -> None:
    index = (built_site / "index.html").read_text()
    assert "graphdgm" in index
    api = (built_site / "api" / "index.html").read_text()
    for name in ("graphdgm.compile", "graphdgm.infer.query", "graphdgm.learn.fit", "graphdgm.io.read_uai"):
        assert f'id="{name}"' in api, name
    assert (built_site / "img" / "rbm.svg").is_file()
    assert "arithmatex" in (built_site / "models" / "rbm" / "index.html").read_text()


def _png_is_not_blank(path: Path) -> bool:
    """Whether a PNG's pixels are not all one colour (read with Pillow, which matplotlib brings)."""
    image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshots")
    with image.open(path) as im:
        assert im.format == "PNG", f"{path} is not a PNG"
        low, high = im.convert("L").getextrema()
    return high - low > 32


def test_headless_screenshots_are_not_blank(built_site: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed: the headless screenshot check needs it")
    for page in ("index.html", "models/rbm/index.html", "api/index.html"):
        shot = tmp_path / (page.replace("/", "_") + ".png")
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                        "--window-size=1200,900", (built_site / page).as_uri()],
                       capture_output=True, timeout=120, check=False)
        assert shot.is_file() and shot.stat().st_size > 1000, f"no screenshot of {page}"
        assert _png_is_not_blank(shot), f"the screenshot of {page} is blank"
