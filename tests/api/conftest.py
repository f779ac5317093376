from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from lokipy.api.app import create_app
from lokipy.config import Config, Limits
from lokipy.logstore import LogStore
from lokipy.testing.server import ThreadServer

# No ingestion-time labels (service_name, detected_level) so pushed streams read back exactly;
# old samples allowed so captured fixtures (from 2023–2026) can be replayed as sent.
PLAIN_LIMITS = Limits(discover_service_name=(), discover_log_levels=False, reject_old_samples=False)


DAY_NS = 24 * 3600 * 10**9


def recent(start: int | None = None, end: int | None = None) -> tuple[int, int]:
    """A query range around now, inside Loki's 721h max query length."""
    now = time.time_ns()
    return (now - DAY_NS if start is None else start), (now + 3600 * 10**9 if end is None else end)


class Server:
    def __init__(self, store: LogStore, url: str) -> None:
        self.store = store
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def streams(
        self, query: str, start: int | None = None, end: int | None = None, **params: object
    ) -> list[dict]:  # type: ignore[type-arg]
        start, end = recent(start, end)
        resp = self.http.get(
            "/loki/api/v1/query_range",
            params={
                "query": query,
                "start": str(start),
                "end": str(end),
                "limit": 5000,
                "direction": "forward",
                **params,
            },
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["status"] == "success" and body["data"]["resultType"] == "streams"
        return body["data"]["result"]  # type: ignore[no-any-return]


def make_server(tmp: Path, limits: Limits = PLAIN_LIMITS) -> Iterator[Server]:
    config = replace(Config(data_dir=tmp), limits=limits)
    store = LogStore(config=config)
    with ThreadServer(create_app(store, config)) as srv:
        server = Server(store, srv.url)
        yield server
        server.http.close()
    store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from make_server(tmp_path_factory.mktemp("lokipy"))


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path)
