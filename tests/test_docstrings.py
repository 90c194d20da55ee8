"""Every public class, function and method of the package has a docstring (read from the source:
a name not starting with an underscore, in a public module and scope; property setters excepted)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "graphdgm"


def _missing() -> list[str]:
    out: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        public_module = not path.name.startswith("_") or path.name == "__init__.py"

        def visit(node: ast.AST, prefix: str, public: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    continue
                visible = public and not child.name.startswith("_")
                if isinstance(child, ast.ClassDef):
                    if visible and not ast.get_docstring(child):
                        out.append(f"{path.relative_to(PACKAGE.parent)}:{child.lineno} class {prefix}{child.name}")
                    visit(child, f"{prefix}{child.name}.", visible)
                elif visible and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in child.decorator_list):
                        continue
                    if not ast.get_docstring(child):
                        out.append(f"{path.relative_to(PACKAGE.parent)}:{child.lineno} {prefix}{child.name}")

        visit(ast.parse(path.read_text(encoding="utf-8")), "", public_module)
    return out


def test_every_public_callable_has_a_docstring() -> None:
    missing = _missing()
    assert not missing, f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)
