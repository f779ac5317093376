"""Every third-party module the package imports is a declared runtime dependency.

The test environment has more installed (the test extras), so a missing runtime dependency
would pass the suite and break the README's server command; this keeps the two in step.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ (or come with another dependency)
PROVIDED_BY = {
    "google": "protobuf",
    "re2": "google-re2",
    "yaml": "pyyaml",
    "starlette": "fastapi",
    "anyio": "fastapi",
}
# Modules only imported where their host program provides them.
HOSTED = {"pytest": "lokipy/testing/plugin.py is loaded by pytest itself"}


def declared() -> set[str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in deps}


def imported_modules() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((REPO / "lokipy").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "lokipy" and top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    deps = declared()
    missing = {
        module: where
        for module, where in imported_modules().items()
        if module not in HOSTED and PROVIDED_BY.get(module, module).lower() not in deps
    }
    assert not missing, f"imported but not in [project].dependencies: {missing}"
