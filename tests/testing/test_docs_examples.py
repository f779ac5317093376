"""Every ``# file:`` code block of docs/testing.md, run as the user would run it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.testing.conftest import PLUGIN_ARGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"```python\n# file: (?P<name>\S+)\n(?P<code>.*?)```", re.S)


def doc_files() -> dict[str, str]:
    return {m["name"]: m["code"] for m in BLOCK.finditer(DOC.read_text())}


def test_the_doc_has_the_three_examples() -> None:
    assert sorted(doc_files()) == [
        "pipeline.py",
        "shop.py",
        "test_pipeline.py",
        "test_shipper.py",
        "test_shop.py",
    ]


@pytest.mark.parametrize("test_file", ["test_shop.py", "test_pipeline.py", "test_shipper.py"])
def test_doc_example_passes(pytester: pytest.Pytester, test_file: str) -> None:
    files = doc_files()
    for name, code in files.items():
        if not name.startswith("test_") or name == test_file:
            pytester.path.joinpath(name).write_text(code)
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS, "-q", "-p", "no:cacheprovider", test_file)
    tests = len(re.findall(r"^def test_", files[test_file], re.M))
    result.assert_outcomes(passed=tests)
