"""LogStore: the one object embedders, the HTTP API and the CLI hold (store + LogQL engine).

with LogStore() as store:                       # in memory; LogStore("data") for a folder
    store.push({"job": "app"}, [(time.time_ns(), "hello")])
    store.select('{job="app"}')                 # -> [StreamEntries(labels, entries)]
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lokipy.config import Config, Limits
from lokipy.gcpause import gc_paused
from lokipy.logql.engine import Engine, QueryLimits
from lokipy.logql.results import QueryResult, to_loki_data
from lokipy.model.entry import Entry, Metadata, PushRequest, PushStream, StreamEntries
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import Labels
from lokipy.model.matchers import LabelMatcher
from lokipy.model.querier import Direction
from lokipy.model.selector import parse_selector
from lokipy.store.store import PushResult, Store

DEFAULT_TENANT = "fake"
HOUR_NS = 3600 * 10**9

EntryLike = tuple[int, str | bytes] | tuple[int, str | bytes, Mapping[str, str]]


class LogStore:
    """A Loki-compatible log store. Thread-safe; use as a context manager or call ``close()``.

    ``path`` None keeps everything in memory (no WAL, nothing on disk): the fast choice for
    tests. With a path, data lives in that folder and survives restarts and crashes.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        config: Config | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        config = config or Config()
        if path is not None:
            config = replace(config, data_dir=Path(path))
        self.config = config
        self.tenant = tenant
        self.store = Store(config)
        self._engines: dict[Limits, Engine] = {}

    # --- writing ----------------------------------------------------------------------------

    def push(
        self,
        labels: str | Mapping[str, str] | Labels,
        entries: Iterable[EntryLike],
        *,
        tenant: str | None = None,
    ) -> PushResult:
        """Push entries of one stream. Lines may be str or bytes; timestamps are unix ns."""
        if isinstance(labels, Mapping):
            labels = Labels.from_map(labels)
        timestamps: list[int] = []
        lines: list[bytes] = []
        metadata: list[Metadata] = []
        for entry in entries:
            ts, line = entry[0], entry[1]
            timestamps.append(int(ts))
            lines.append(line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line))
            md = entry[2] if len(entry) > 2 else None  # type: ignore[misc]
            metadata.append(tuple(sorted(md.items())) if md else ())
        stream = PushStream(labels, timestamps, lines, metadata if any(metadata) else None)
        return self.push_request(PushRequest([stream]), tenant=tenant)

    def push_request(self, req: PushRequest, *, tenant: str | None = None) -> PushResult:
        return self.store.push(req, tenant or self.tenant)

    def push_body(
        self,
        body: bytes,
        content_type: str | None,
        content_encoding: str | None = None,
        *,
        tenant: str | None = None,
        legacy: bool = False,
    ) -> PushResult:
        """Decode a Loki push body (JSON, gzip/deflate, protobuf+snappy) and push it."""
        from lokipy.wire import decode_push

        with gc_paused():  # one object per entry, none in a cycle: see lokipy/gcpause.py
            req = decode_push(
                body,
                content_type,
                content_encoding,
                legacy=legacy,
                max_decompressed_bytes=self.config.server.max_decompressed_size,
            )
            result = self.push_request(req, tenant=tenant)
            # Freed while still paused, so a collection that resuming triggers does not walk
            # the request's objects.
            del req
        return result

    # --- reading ----------------------------------------------------------------------------

    def select(
        self,
        selector: str | Sequence[LabelMatcher],
        start: int | None = None,
        end: int | None = None,
        *,
        limit: int = 100,
        direction: Direction | str = Direction.BACKWARD,
        tenant: str | None = None,
    ) -> list[StreamEntries]:
        """Entries of the streams matching ``selector`` with ``start <= ts < end``.

        ``limit`` applies across all streams in ``direction`` order, as Loki does; streams come
        sorted by label text, each with its entries in ``direction`` order.
        """
        matchers = parse_selector(selector) if isinstance(selector, str) else list(selector)
        end = time.time_ns() if end is None else end
        start = end - HOUR_NS if start is None else start
        direction = Direction(str(direction).lower())
        if limit <= 0:
            raise InvalidInput("limit must be a positive value")
        tenant = tenant or self.tenant
        per_stream: list[list[tuple[int, int, Entry, Labels]]] = []
        for order, labels in enumerate(self.store.select_streams(tenant, matchers, start, end)):
            taken: list[tuple[int, int, Entry, Labels]] = []
            for batch in self.store.select_batches(tenant, labels, start, end, direction):
                idx = range(len(batch)) if direction is Direction.FORWARD else range(len(batch) - 1, -1, -1)
                for i in idx:
                    ts = batch.timestamps[i]
                    key = ts if direction is Direction.FORWARD else -ts
                    taken.append((key, order, Entry(ts, batch.line(i), batch.metadata_at(i)), labels))
                    if len(taken) >= limit:
                        break
                if len(taken) >= limit:
                    break
            per_stream.append(taken)
        chosen = heapq.merge(*per_stream, key=lambda t: (t[0], t[1]))
        grouped: dict[Labels, list[Entry]] = {}
        for n, (_, _, entry, labels) in enumerate(chosen):
            if n >= limit:
                break
            grouped.setdefault(labels, []).append(entry)
        return [StreamEntries(ls, tuple(es)) for ls, es in sorted(grouped.items(), key=lambda kv: str(kv[0]))]

    def labels(
        self,
        start: int | None = None,
        end: int | None = None,
        *,
        query: str | None = None,
        tenant: str | None = None,
    ) -> list[str]:
        start, end = _range(start, end)
        matchers = parse_selector(query) if query else []
        return self.store.label_names(tenant or self.tenant, start, end, matchers)

    def label_values(
        self,
        name: str,
        start: int | None = None,
        end: int | None = None,
        *,
        query: str | None = None,
        tenant: str | None = None,
    ) -> list[str]:
        start, end = _range(start, end)
        matchers = parse_selector(query) if query else []
        return self.store.label_values(tenant or self.tenant, name, start, end, matchers)

    def series(
        self,
        *selectors: str,
        start: int | None = None,
        end: int | None = None,
        tenant: str | None = None,
    ) -> list[dict[str, str]]:
        start, end = _range(start, end)
        sets = [parse_selector(s) for s in selectors]
        return [ls.as_dict() for ls in self.store.series(tenant or self.tenant, sets, start, end)]

    # --- LogQL ------------------------------------------------------------------------------

    def query_range(
        self,
        query: str,
        start: int | None = None,
        end: int | None = None,
        step: int | None = None,
        *,
        limit: int = 100,
        direction: Direction | str = Direction.BACKWARD,
        interval: int = 0,
        tenant: str | None = None,
    ) -> QueryResult:
        """Run a LogQL range query (log or metric) over ``[start, end]`` (unix ns).

        Defaults as Loki's ``/query_range``: the last hour, ``step`` = range / 250 (≥ 1 s).
        Returns typed results: ``Streams``, ``Matrix``, ``Vector`` or ``Scalar`` in ``.value``.
        """
        end = time.time_ns() if end is None else end
        start = end - HOUR_NS if start is None else start
        if step is None:
            step = max((end - start) // 250 // 10**9 * 10**9, 10**9)
        tenant = tenant or self.tenant
        return self._engine_for(tenant).query_range(
            tenant, query, start, end, step, limit=limit,
            direction=Direction(str(direction).lower()), interval=interval,
        )  # fmt: skip

    def query(
        self,
        query: str,
        time_ns: int | None = None,
        *,
        limit: int = 100,
        direction: Direction | str = Direction.BACKWARD,
        tenant: str | None = None,
    ) -> QueryResult:
        """Run a LogQL instant query (metric queries only, as in Loki ≥ 3.2) at ``time_ns``."""
        ts = time.time_ns() if time_ns is None else time_ns
        tenant = tenant or self.tenant
        return self._engine_for(tenant).query_instant(
            tenant, query, ts, limit=limit, direction=Direction(str(direction).lower())
        )

    def query_range_data(
        self,
        query: str,
        start: int,
        end: int,
        step: int,
        *,
        limit: int = 100,
        direction: Direction = Direction.BACKWARD,
        interval: int = 0,
        tenant: str | None = None,
        encoding_flags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Loki's ``data`` object for a range query (what ``/query_range`` returns)."""
        result = self.query_range(
            query, start, end, step, limit=limit, direction=direction, interval=interval, tenant=tenant
        )
        return _data(result, encoding_flags)

    def query_instant_data(
        self,
        query: str,
        ts: int,
        *,
        limit: int = 100,
        direction: Direction = Direction.BACKWARD,
        tenant: str | None = None,
        encoding_flags: Sequence[str] = (),
    ) -> dict[str, Any]:
        result = self.query(query, ts, limit=limit, direction=direction, tenant=tenant)
        return _data(result, encoding_flags)

    def _engine_for(self, tenant: str) -> Engine:
        limits = self.config.limits_for(tenant)
        engine = self._engines.get(limits)
        if engine is None:
            engine = self._engines[limits] = Engine(
                self.store,
                QueryLimits(
                    max_entries_limit_per_query=limits.max_entries_limit_per_query,
                    max_query_series=limits.max_query_series,
                    max_query_length=limits.max_query_length,
                    # The engine's own deadline, so a query the API gave up on (504) stops too.
                    query_timeout=limits.query_timeout / 1e9,
                ),
            )
        return engine

    # --- lifecycle --------------------------------------------------------------------------

    def flush(self) -> int:
        """Write every head to chunk files now (in memory mode: to the in-memory object store)."""
        return self.store.flush()

    def disk_usage(self) -> int:
        return self.store.disk_usage()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _range(start: int | None, end: int | None) -> tuple[int, int]:
    end = time.time_ns() if end is None else end
    return (end - 6 * HOUR_NS if start is None else start), end


def _data(result: QueryResult, encoding_flags: Sequence[str]) -> dict[str, Any]:
    """Loki's JSON ``data``; ``encodingFlags`` is echoed when the client sent any."""
    flags = list(encoding_flags)
    data = to_loki_data(result, categorize_labels="categorize-labels" in flags, encoding_flags=flags or None)
    if result.warnings:
        data["warnings"] = list(result.warnings)  # the API lifts these to the top level
    return data
