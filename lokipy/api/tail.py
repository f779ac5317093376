"""Live tail: the ``/loki/api/v1/tail`` websocket (and the legacy ``/api/prom/tail``).

Parameters (``query``, ``limit``, ``start``, ``delay_for``) are checked and the backfill query
is run *before* the upgrade, so every mistake is a plain-text 400 as Loki gives it. Then:

* the backfill: the newest ``limit`` entries in ``[start, now)``, sent oldest first;
* a poller re-reads ``[watermark - LATE_WINDOW, now - delay_for)`` every ``POLL_SECONDS``
  through the same range-query path as ``/query_range`` (so pipelines work exactly alike),
  skipping the read when nothing was pushed since (but reading at least every
  ``IDLE_READ_SECONDS``, for entries that come due later), and forgets what it already sent;
* a bounded queue between poller and socket: a slow client never slows pushes or the poller;
  when the queue is full, entries are dropped and reported in the next message's
  ``dropped_entries`` (labels + timestamp), as Loki's tailer does.

Polling by timestamp means an entry that arrives more than ``LATE_WINDOW`` behind the newest
time already read is not shown (Loki tails the ingest path and would show it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MultiDict
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocketDisconnect

from lokipy.api.errors import error_response
from lokipy.api.params import encoding_flags, limit_param, query_param, timestamp_param
from lokipy.api.responses import CATEGORIZE_LABELS
from lokipy.api.state import AppState
from lokipy.api.tenant import tenant_of
from lokipy.model.errors import InvalidInput, LokipyError
from lokipy.model.labels import Labels
from lokipy.model.querier import Direction
from lokipy.model.timeparse import format_rfc3339_nano

log = logging.getLogger(__name__)
router = APIRouter()

POLL_SECONDS = 0.25
IDLE_READ_SECONDS = 1.0
LATE_WINDOW_NS = 3 * 10**9  # how far behind the read watermark a late push is still caught
MAX_DELAY_FOR = 5
PAGE = 1000  # entries per read (and at most per message)
QUEUE_ENTRIES = 10_000  # per client; past it entries are dropped and reported
MAX_DROPPED_PER_MESSAGE = 1000
HOUR_NS = 3600 * 10**9


@dataclass(slots=True)
class TailHub:
    """Counters across every tail session (read by ``/metrics``)."""

    active: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class TailEntry:
    """One entry as the tailer carries it; equal entries are the same entry (dedupe key)."""

    labels: tuple[tuple[str, str], ...]
    ts: int
    line: str
    extra_key: bytes = b""  # the JSON of a categorize-labels 3rd element, for hashing
    extra: Any = field(default=None, compare=False, hash=False)

    def value(self) -> list[Any]:
        if self.extra is None:
            return [str(self.ts), self.line]
        return [str(self.ts), self.line, self.extra]


@dataclass(frozen=True, slots=True)
class TailParams:
    query: str
    limit: int
    start: int
    delay_for: int
    flags: tuple[str, ...]
    tenant: str


def parse_tail_params(params: MultiDict, headers: Mapping[str, str], tenant: str) -> TailParams:
    query = query_param(params)
    limit = limit_param(params)
    now = time.time_ns()
    start = timestamp_param(params, "start", now - HOUR_NS)
    raw_delay = params.get("delay_for") or "0"
    try:
        delay = int(raw_delay)
    except ValueError:
        raise InvalidInput(f'strconv.Atoi: parsing "{raw_delay}": invalid syntax') from None
    if delay > MAX_DELAY_FOR:
        raise InvalidInput(f"delay_for can't be greater than {MAX_DELAY_FOR}")
    flags = tuple(f for f in encoding_flags(headers) if f == CATEGORIZE_LABELS)
    return TailParams(query, limit, start, max(delay, 0), flags, tenant)


def entries_of(data: Mapping[str, Any]) -> list[TailEntry]:
    """Flatten a ``streams`` result into entries, oldest first."""
    if data.get("resultType") != "streams":
        raise InvalidInput("tail queries must be log queries")
    out = []
    for s in data["result"]:
        labels = tuple(s["stream"].items())
        for v in s["values"]:
            if len(v) > 2:
                out.append(
                    TailEntry(labels, int(v[0]), v[1], orjson.dumps(v[2], option=orjson.OPT_SORT_KEYS), v[2])
                )
            else:
                out.append(TailEntry(labels, int(v[0]), v[1]))
    out.sort(key=lambda e: e.ts)
    return out


def v1_message(entries: list[TailEntry], dropped: list[TailEntry], flags: tuple[str, ...]) -> bytes:
    msg: dict[str, Any] = {}
    if flags:
        msg["encodingFlags"] = list(flags)
    if entries:
        grouped: dict[tuple[tuple[str, str], ...], list[Any]] = {}
        for e in entries:
            grouped.setdefault(e.labels, []).append(e.value())
        msg["streams"] = [{"stream": dict(k), "values": v} for k, v in grouped.items()]
    if dropped:
        msg["dropped_entries"] = [{"timestamp": str(e.ts), "labels": dict(e.labels)} for e in dropped]
    return orjson.dumps(msg)


def legacy_message(entries: list[TailEntry], dropped: list[TailEntry], flags: tuple[str, ...]) -> bytes:
    grouped: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for e in entries:
        grouped.setdefault(e.labels, []).append({"ts": format_rfc3339_nano(e.ts), "line": e.line})
    streams = [{"labels": str(Labels(k)), "entries": v} for k, v in grouped.items()]
    drops = [{"Timestamp": format_rfc3339_nano(e.ts), "Labels": str(Labels(e.labels))} for e in dropped]
    return orjson.dumps({"streams": streams, "dropped_entries": drops or None})


@dataclass(slots=True)
class TailSession:
    state: AppState
    params: TailParams
    legacy: bool
    queue: asyncio.Queue[list[TailEntry]] = field(default_factory=asyncio.Queue)
    queued: int = 0
    dropped: list[TailEntry] = field(default_factory=list)
    sent: dict[TailEntry, None] = field(default_factory=dict)  # entries sent, inside the window
    watermark: int = 0  # reads so far covered [.., watermark)
    floor: int = 0  # live reads never go below this (see backfill)

    def _read(self, start: int, end: int, direction: Direction, limit: int) -> list[TailEntry]:
        p = self.params
        data = self.state.logstore.query_range_data(
            p.query, start, end, 10**9, limit=limit, direction=direction, tenant=p.tenant,
            encoding_flags=p.flags,
        )  # fmt: skip
        return entries_of(data)

    def backfill(self) -> list[TailEntry]:
        now = time.time_ns()
        found = self._read(self.params.start, now, Direction.BACKWARD, self.params.limit)
        self.watermark = now
        # A full backfill left older entries out on purpose: never read below what it sent.
        # Otherwise everything since `start` was sent, and `sent` filters re-reads.
        self.floor = found[0].ts + 1 if len(found) >= self.params.limit else self.params.start
        for e in found:
            self.sent[e] = None
        return found

    def poll(self) -> list[TailEntry]:
        """Entries not yet sent in ``[watermark - LATE_WINDOW, now - delay_for)``, oldest first."""
        end = time.time_ns() - self.params.delay_for * 10**9
        lo = max(self.floor, self.watermark - LATE_WINDOW_NS)
        if end <= lo:
            return []
        fresh: list[TailEntry] = []
        start = lo
        for _ in range(100):  # page through bursts; equal timestamps straddle pages, hence `sent`
            page = self._read(start, end, Direction.FORWARD, PAGE)
            fresh.extend(e for e in page if e not in self.sent)
            for e in page:
                self.sent[e] = None
            if len(page) < PAGE or page[-1].ts == start:
                break
            start = page[-1].ts
        self.watermark = max(self.watermark, end)
        horizon = self.watermark - LATE_WINDOW_NS
        self.sent = {e: None for e in self.sent if e.ts >= horizon}
        fresh.sort(key=lambda e: e.ts)
        return fresh

    def offer(self, entries: list[TailEntry]) -> None:
        """Queue for the sender, or drop (and remember) what does not fit."""
        for i in range(0, len(entries), PAGE):
            batch = entries[i : i + PAGE]
            if self.queued + len(batch) > QUEUE_ENTRIES:
                self.dropped.extend(batch)
                hub = self.state.extra.get("tail")
                if isinstance(hub, TailHub):
                    hub.dropped += len(batch)
                continue
            self.queued += len(batch)
            self.queue.put_nowait(batch)

    def message(self, batch: list[TailEntry]) -> bytes:
        dropped, self.dropped = self.dropped[:MAX_DROPPED_PER_MESSAGE], self.dropped[MAX_DROPPED_PER_MESSAGE:]
        build = legacy_message if self.legacy else v1_message
        return build(batch, dropped, self.params.flags)


async def _poller(session: TailSession) -> None:
    store = session.state.logstore.store
    seen_lines = -1
    last_read = 0.0
    while True:
        received = store.stats.lines_received
        # Nothing pushed since the last read: skip it, but still read now and then, for entries
        # stamped a little in the future (or held back by delay_for) that come due later.
        if received != seen_lines or time.monotonic() - last_read >= IDLE_READ_SECONDS:
            seen_lines = received
            last_read = time.monotonic()
            fresh = await run_in_threadpool(session.poll)
            if fresh:
                session.offer(fresh)
        if session.dropped and session.queue.empty():
            session.queue.put_nowait([])  # a message that carries only dropped_entries
        await asyncio.sleep(POLL_SECONDS)


async def _sender(session: TailSession, ws: WebSocket) -> None:
    while True:
        batch = await session.queue.get()
        session.queued -= len(batch)
        await ws.send_text(session.message(batch).decode())


async def _receiver(ws: WebSocket) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _tail(ws: WebSocket, legacy: bool) -> None:
    state: AppState = ws.app.state.lokipy
    try:
        tenant = tenant_of(ws, state.config.server.auth_enabled)  # type: ignore[arg-type]
        params = parse_tail_params(MultiDict(ws.query_params.multi_items()), ws.headers, tenant)
        session = TailSession(state, params, legacy)
        backfill = await run_in_threadpool(session.backfill)
    except LokipyError as err:
        await ws.send_denial_response(error_response(err))
        return
    hub = state.extra.setdefault("tail", TailHub())
    await ws.accept()
    hub.active += 1  # type: ignore[attr-defined]
    session.offer(backfill)
    tasks = [
        asyncio.create_task(_poller(session)),
        asyncio.create_task(_sender(session, ws)),
        asyncio.create_task(_receiver(ws)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            err = task.exception()
            if err is not None and not isinstance(err, WebSocketDisconnect | OSError):
                log.warning("tail ended with an error: %s", err)
                with contextlib.suppress(Exception):
                    await ws.close(code=1011, reason=str(err)[:120])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        hub.active -= 1  # type: ignore[attr-defined]


@router.websocket("/loki/api/v1/tail")
async def tail_v1(ws: WebSocket) -> None:
    await _tail(ws, legacy=False)


@router.websocket("/api/prom/tail")
async def tail_legacy(ws: WebSocket) -> None:
    await _tail(ws, legacy=True)


@router.get("/loki/api/v1/tail")
@router.get("/api/prom/tail")
async def tail_plain_http(request: Request) -> Response:
    # Loki's auth middleware runs first (401 without an org id), then its websocket upgrader
    # answers a request that is not an upgrade.
    state: AppState = request.app.state.lokipy
    tenant_of(request, state.config.server.auth_enabled)
    return PlainTextResponse("Bad Request\n", status_code=400)
