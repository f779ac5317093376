"""Imports point down only: the core never imports the web layer (design.md, style.md §5)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lokipy"
WEB = ("fastapi", "starlette", "uvicorn", "pydantic", "lokipy.api", "lokipy.cli")
RULES = {
    "model": WEB + ("lokipy.chunk", "lokipy.store", "lokipy.logql", "lokipy.logstore", "lokipy.wire"),
    "chunk": WEB + ("lokipy.store", "lokipy.logql", "lokipy.logstore", "lokipy.wire"),
    "store": WEB + ("lokipy.logql", "lokipy.logstore"),
    "logql": WEB + ("lokipy.store", "lokipy.chunk", "lokipy.logstore"),
    "wire": WEB + ("lokipy.store", "lokipy.chunk", "lokipy.logql", "lokipy.logstore"),
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_point_down(layer: str) -> None:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in RULES[layer]):
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not bad, "\n".join(bad)


def test_logstore_does_not_import_the_web_layer() -> None:
    names = imports_of(PACKAGE / "logstore.py")
    assert not [n for n in names if any(n == f or n.startswith(f + ".") for f in WEB)]
