"""Load the lokipy plugin here unless its ``pytest11`` entry point already did (installed)."""

from __future__ import annotations

import importlib.metadata

PLUGIN = "lokipy.testing.plugin"


def plugin_installed() -> bool:
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


# Registering a module twice (entry point and pytest_plugins) is an error in pytest.
pytest_plugins = ["pytester"] + ([] if plugin_installed() else [PLUGIN])
# What an inner pytest run (pytester) needs on its command line to get the fixtures.
PLUGIN_ARGS: list[str] = [] if plugin_installed() else ["-p", PLUGIN]
