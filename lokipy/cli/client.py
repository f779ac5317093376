"""A small Loki HTTP client for the CLI: the requests logcli makes, with logcli's paging.

Talks to any Loki-compatible server (lokipy or Loki itself). Errors come back as
:class:`ClientError` with a message meant for a person.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from lokipy import __version__

USER_AGENT = f"lokipy-cli/{__version__}"


class ClientError(Exception):
    """Something a user must fix or know about: bad address, server refusal, bad answer."""


@dataclass(frozen=True, slots=True)
class Entry:
    labels: tuple[tuple[str, str], ...]
    ts: int
    line: str
    extra: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    addr: str = "http://127.0.0.1:3100"
    org_id: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Cache-Control": "no-cache"}
        if self.org_id:
            headers["X-Scope-OrgID"] = self.org_id
        if self.username or self.password:
            token = base64.b64encode(f"{self.username or ''}:{self.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers


class LokiClient:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.http = httpx.Client(
            base_url=config.addr.rstrip("/"), headers=config.headers(), timeout=config.timeout
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> LokiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ----------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | list[tuple[str, str]]) -> Any:
        try:
            resp = self.http.get(path, params=params)
        except httpx.ConnectError as err:
            raise ClientError(
                f"cannot connect to {self.config.addr}: {err}. Is the server running? "
                "Set --addr or LOKI_ADDR."
            ) from None
        except httpx.TimeoutException:
            raise ClientError(
                f"no answer from {self.config.addr} within {self.config.timeout:g}s "
                "(raise --timeout, or narrow the query)"
            ) from None
        except httpx.HTTPError as err:
            raise ClientError(f"request to {self.config.addr}{path} failed: {err}") from None
        if resp.status_code >= 400:
            body = resp.text.strip() or resp.reason_phrase
            raise ClientError(f"error response from server ({resp.status_code}): {body}")
        try:
            return resp.json()
        except ValueError:
            raise ClientError(f"the server's answer to {path} is not JSON: {resp.text[:200]!r}") from None

    # --- endpoints ---------------------------------------------------------------------------

    def query_range(
        self,
        query: str,
        start: int,
        end: int,
        limit: int,
        *,
        forward: bool = False,
        step: str | None = None,
        interval: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "query": query,
            "limit": limit,
            "start": str(start),
            "end": str(end),
            "direction": "FORWARD" if forward else "BACKWARD",
        }
        if step:
            params["step"] = step
        if interval:
            params["interval"] = interval
        return _data(self.get("/loki/api/v1/query_range", params))

    def query_instant(self, query: str, ts: int, limit: int, *, forward: bool = False) -> dict[str, Any]:
        params = {
            "query": query,
            "limit": limit,
            "time": str(ts),
            "direction": "FORWARD" if forward else "BACKWARD",
        }
        return _data(self.get("/loki/api/v1/query", params))

    def labels(self, start: int, end: int, query: str | None = None) -> list[str]:
        params: dict[str, Any] = {"start": str(start), "end": str(end)}
        if query:
            params["query"] = query
        return list(self.get("/loki/api/v1/labels", params).get("data") or [])

    def label_values(self, name: str, start: int, end: int, query: str | None = None) -> list[str]:
        params: dict[str, Any] = {"start": str(start), "end": str(end)}
        if query:
            params["query"] = query
        return list(self.get(f"/loki/api/v1/label/{name}/values", params).get("data") or [])

    def series(self, selectors: list[str], start: int, end: int) -> list[dict[str, str]]:
        params = [("match", s) for s in selectors] + [("start", str(start)), ("end", str(end))]
        return list(self.get("/loki/api/v1/series", params).get("data") or [])

    def index_stats(self, query: str, start: int, end: int) -> dict[str, int]:
        params = {"query": query, "start": str(start), "end": str(end)}
        body = self.get("/loki/api/v1/index/stats", params)
        if not isinstance(body, dict):
            raise ClientError(f"unexpected answer from server: {str(body)[:200]}")
        return body

    def volume(
        self,
        query: str,
        start: int,
        end: int,
        limit: int,
        *,
        targets: str | None = None,
        aggregate_by: str = "series",
        step: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "query": query,
            "start": str(start),
            "end": str(end),
            "limit": limit,
            "aggregateBy": aggregate_by,
        }
        if targets:
            params["targetLabels"] = targets
        if step:
            params["step"] = step
        path = "/loki/api/v1/index/volume_range" if step else "/loki/api/v1/index/volume"
        return _data(self.get(path, params))

    def log_entries(
        self,
        query: str,
        start: int,
        end: int,
        limit: int,
        *,
        forward: bool = False,
        batch: int = 1000,
        interval: str | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> Iterator[Entry]:
        """Up to ``limit`` entries in ``[start, end)``, paging ``batch`` at a time like logcli.

        Forward: the next page starts at the last timestamp seen; backward: it ends just after
        it (``end`` is exclusive). Entries at that boundary come twice and are skipped.
        """
        total = 0
        boundary: set[Entry] = set()
        while total < limit:
            want = min(batch, limit - total)
            # Ask for the overlap too, so a page of equal timestamps still moves forward.
            data = self.query_range(
                query, start, end, want + len(boundary), forward=forward, interval=interval
            )
            if data.get("resultType") != "streams":
                raise ClientError(f"expected a log query, got a {data.get('resultType')} result")
            page = streams_entries(data["result"], forward)
            fresh = [e for e in page if e not in boundary]
            if not fresh:
                return
            for e in fresh[: limit - total]:
                yield e
                total += 1
            if on_batch is not None:
                on_batch(total)
            if len(page) < want + len(boundary):
                return  # the server had no more
            last = page[-1].ts
            boundary = {e for e in page if e.ts == last}
            if forward:
                start = last
            else:
                end = last + 1


def _data(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("status") != "success" or "data" not in body:
        raise ClientError(f"unexpected answer from server: {str(body)[:200]}")
    data = body["data"]
    if not isinstance(data, dict) or "resultType" not in data:
        raise ClientError("the server's answer has no data.resultType")
    return data


def streams_entries(result: list[dict[str, Any]], forward: bool) -> list[Entry]:
    """A ``streams`` result as one list in the query's direction (ties by label text)."""
    out = []
    for s in result:
        labels = tuple(sorted(s["stream"].items()))
        for v in s["values"]:
            extra = v[2] if len(v) > 2 and v[2] else None
            out.append(Entry(labels, int(v[0]), v[1], extra))
    out.sort(key=lambda e: (e.ts if forward else -e.ts, e.labels))
    return out
