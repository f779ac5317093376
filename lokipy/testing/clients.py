"""The two fixture flavours: a LogStore in this process, or a real lokipy server over HTTP.

* :class:`StoreClient` calls a :class:`LogStore` directly (milliseconds to create); its
  ``.url`` starts an HTTP server on that same store the first time it is read, for tests that
  need one only sometimes.
* :class:`HTTPClient` talks to any lokipy (or Loki) over its HTTP API with the standard library:
  protobuf+snappy pushes, as promtail sends them, and ``/loki/api/v1/query_range``.
* :class:`LokipyServer` is a real server on an ephemeral 127.0.0.1 port: uvicorn in a thread
  over an in-memory store, or in sink mode (``sink=True``) counting pushes without storing.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from lokipy.config import Config
from lokipy.logstore import LogStore
from lokipy.model.entry import PushRequest
from lokipy.model.errors import LokipyError
from lokipy.model.querier import Direction
from lokipy.sink.counter import Sink
from lokipy.testing.client import LokiQueryError, LokiTestClient, PushRejected
from lokipy.wire import encode_push_proto

CATEGORIZE = "categorize-labels"


class LokipyServer:
    """A lokipy HTTP server over an in-memory store, listening on 127.0.0.1:<ephemeral>."""

    def __init__(
        self, config: Config | None = None, logstore: LogStore | None = None, *, sink: bool | Sink = False
    ) -> None:
        self.owns_store = logstore is None
        self.store = logstore if logstore is not None else LogStore(config=config)
        # Sink mode: pushes are counted by ``self.sink`` and stored nowhere.
        self.sink: Sink | None = Sink() if sink is True else (sink if isinstance(sink, Sink) else None)
        self._server: Any = None

    def start(self) -> LokipyServer:
        from lokipy.api.app import create_app
        from lokipy.testing.server import ThreadServer

        app = create_app(self.store, self.store.config)
        if self.sink is not None:
            from lokipy.api.sink import install_sink

            install_sink(app, self.sink)
        self._server = ThreadServer(app).start()
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the lokipy server is not running")
        return str(self._server.url)

    def client(self, tenant: str = "fake") -> HTTPClient:
        return HTTPClient(self.url, tenant)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.owns_store:
            self.store.close()

    def __enter__(self) -> LokipyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StoreClient(LokiTestClient):
    """Fixture object over an in-process :class:`LogStore`."""

    def __init__(self, store: LogStore, tenant: str = "fake") -> None:
        super().__init__(tenant)
        self.store = store
        self._server: LokipyServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Base URL of an HTTP server on this store, started on first use."""
        with self._lock:
            if self._server is None:
                self._server = LokipyServer(logstore=self.store).start()
            return self._server.url

    def close(self) -> None:
        super().close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _push_request(self, req: PushRequest, tenant: str) -> None:
        try:
            result = self.store.push_request(req, tenant=tenant)
        except LokipyError as err:
            raise PushRejected(str(err)) from err
        if result.errors:
            raise PushRejected(result.message)

    def _range_data(
        self, query: str, start: int, end: int, step: int, limit: int, direction: str, tenant: str
    ) -> Mapping[str, Any]:
        try:
            return self.store.query_range_data(
                query, start, end, step, limit=limit, direction=Direction(direction),
                tenant=tenant, encoding_flags=(CATEGORIZE,),
            )  # fmt: skip
        except LokipyError as err:
            raise LokiQueryError(str(err)) from err

    def _instant_data(
        self, query: str, ts: int, limit: int, direction: str, tenant: str
    ) -> Mapping[str, Any]:
        try:
            return self.store.query_instant_data(
                query,
                ts,
                limit=limit,
                direction=Direction(direction),
                tenant=tenant,
                encoding_flags=(CATEGORIZE,),
            )
        except LokipyError as err:
            raise LokiQueryError(str(err)) from err

    def _series(self, start: int, end: int, tenant: str) -> list[dict[str, str]]:
        return self.store.series(start=start, end=end, tenant=tenant)


class HTTPClient(LokiTestClient):
    """Fixture object over Loki's HTTP API (lokipy, or a real Loki)."""

    def __init__(self, url: str, tenant: str = "fake", *, timeout: float = 30.0) -> None:
        super().__init__(tenant)
        self._url = url.rstrip("/")
        self.timeout = timeout

    @property
    def url(self) -> str:
        return self._url

    def _request(self, method: str, path: str, tenant: str, *, params: Mapping[str, str] | None = None,
                 body: bytes | None = None, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        url = self._url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        req = urllib.request.Request(
            url, data=body, method=method, headers={"X-Scope-OrgID": tenant, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def _get_data(self, path: str, params: Mapping[str, str], tenant: str) -> Any:
        status, body = self._request(
            "GET", path, tenant, params=params, headers={"X-Loki-Response-Encoding-Flags": CATEGORIZE}
        )
        if status != 200:
            raise LokiQueryError(f"HTTP {status} from {path}: {body.decode('utf-8', 'replace').strip()}")
        return json.loads(body)["data"]

    def _push_request(self, req: PushRequest, tenant: str) -> None:
        status, body = self._request(
            "POST", "/loki/api/v1/push", tenant, body=encode_push_proto(req),
            headers={"Content-Type": "application/x-protobuf"},
        )  # fmt: skip
        if status != 204 and status != 200:
            raise PushRejected(f"HTTP {status}: {body.decode('utf-8', 'replace').strip()}")

    def _range_data(
        self, query: str, start: int, end: int, step: int, limit: int, direction: str, tenant: str
    ) -> Mapping[str, Any]:
        params = {
            "query": query,
            "start": str(start),
            "end": str(end),
            "step": str(step // 10**9) if step % 10**9 == 0 else repr(step / 1e9),
            "limit": str(limit),
            "direction": direction,
        }
        return self._get_data("/loki/api/v1/query_range", params, tenant)  # type: ignore[no-any-return]

    def _instant_data(
        self, query: str, ts: int, limit: int, direction: str, tenant: str
    ) -> Mapping[str, Any]:
        params = {"query": query, "time": str(ts), "limit": str(limit), "direction": direction}
        return self._get_data("/loki/api/v1/query", params, tenant)  # type: ignore[no-any-return]

    def _series(self, start: int, end: int, tenant: str) -> list[dict[str, str]]:
        return self._get_data("/loki/api/v1/series", {"start": str(start), "end": str(end)}, tenant)  # type: ignore[no-any-return]
