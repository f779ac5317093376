"""The README's promises: two quickstart commands, .ci/run runs the test one, the example runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def test_quickstart_is_exactly_two_commands() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "lokipy serve" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    assert quickstart_commands()[1] in (REPO / ".ci" / "run").read_text()


def test_python_example_runs() -> None:
    block = README.split("## In Python", 1)[1]
    code = re.search(r"```python\n(.*?)\n```", block, re.S)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {})


def test_pytest_fixture_example_runs(lokipy_server) -> None:  # type: ignore[no-untyped-def]
    import logging

    block = README.split("## In your test suite", 1)[1]
    code = re.search(r"```python\n(.*?)\n```", block, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    try:
        namespace["test_my_app_logs_a_login"](lokipy_server)  # type: ignore[operator]
    finally:
        for handler in list(logging.getLogger("shop").handlers):
            logging.getLogger("shop").removeHandler(handler)
            handler.close()
