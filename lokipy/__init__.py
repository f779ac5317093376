"""lokipy: a Loki-compatible log store in Python.

``from lokipy import LogStore`` is the embedded API; names are imported lazily so that
``import lokipy`` (e.g. by the pytest plugin entry point) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Config", "Entry", "Labels", "LogStore", "LokipyError", "StreamEntries", "__version__"]

_LAZY = {
    "LogStore": "lokipy.logstore",
    "Config": "lokipy.config",
    "Labels": "lokipy.model.labels",
    "Entry": "lokipy.model.entry",
    "StreamEntries": "lokipy.model.entry",
    "LokipyError": "lokipy.model.errors",
}

if TYPE_CHECKING:
    from lokipy.config import Config
    from lokipy.logstore import LogStore
    from lokipy.model.entry import Entry, StreamEntries
    from lokipy.model.errors import LokipyError
    from lokipy.model.labels import Labels


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lokipy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
