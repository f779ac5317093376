"""lokipy for other people's test suites: fixture clients, servers, and query results.

The pytest fixtures live in :mod:`lokipy.testing.plugin` (loaded automatically through the
``pytest11`` entry point); everything here also works without pytest. Names are imported on
first use: pytest imports this package in every session of an environment where lokipy is
installed, and that must not cost the store's and the web framework's import time.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lokipy.testing.client import LokiQueryError, LokiTestClient, PushRejected
    from lokipy.testing.clients import HTTPClient, LokipyServer, StoreClient
    from lokipy.testing.results import LogEntry, LogStream, QueryResult, Series

_WHERE = {
    "LokiQueryError": "lokipy.testing.client",
    "LokiTestClient": "lokipy.testing.client",
    "PushRejected": "lokipy.testing.client",
    "HTTPClient": "lokipy.testing.clients",
    "LokipyServer": "lokipy.testing.clients",
    "StoreClient": "lokipy.testing.clients",
    "LogEntry": "lokipy.testing.results",
    "LogStream": "lokipy.testing.results",
    "QueryResult": "lokipy.testing.results",
    "Series": "lokipy.testing.results",
}

__all__ = [
    "HTTPClient",
    "LogEntry",
    "LogStream",
    "LokiQueryError",
    "LokiTestClient",
    "LokipyServer",
    "PushRejected",
    "QueryResult",
    "Series",
    "StoreClient",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'lokipy.testing' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
