"""lokipy for other people's test suites: fixture clients, servers, and query results.

The pytest fixtures live in :mod:`lokipy.testing.plugin` (loaded automatically through the
``pytest11`` entry point); everything here also works without pytest.
"""

from __future__ import annotations

from lokipy.testing.client import LokiQueryError, LokiTestClient, PushRejected
from lokipy.testing.clients import HTTPClient, LokipyServer, StoreClient
from lokipy.testing.results import LogEntry, LogStream, QueryResult, Series

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
