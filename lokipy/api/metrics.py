"""``GET /metrics``: Prometheus text exposition (format 0.0.4), written by hand.

Names follow Loki where a dashboard looks for them (``loki_distributor_lines_received_total``,
``loki_ingester_memory_streams``, ``loki_request_duration_seconds`` with ``method``, ``route``,
``status_code``, ``ws`` ...); lokipy's own figures are ``lokipy_*``. Request timing comes from
:class:`RequestMetricsMiddleware`, a plain ASGI middleware so websockets are timed too.
"""

from __future__ import annotations

import bisect
import os
import re
import resource
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lokipy import __version__
from lokipy.api.state import AppState

router = APIRouter()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# dskit's request-duration buckets (seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0)
_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]+")

RequestKey = tuple[str, str, str, str]  # method, route, status_code, ws


def route_label(path: str) -> str:
    """dskit's ``MakeLabelValue``: ``/loki/api/v1/label/{name}/values`` → ``loki_api_v1_label_name_values``."""
    value = _NON_ALNUM.sub("_", path).strip("_").lower()
    return value or "root"


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(BUCKETS, value)
        if i < len(BUCKETS):
            self.counts[i] += 1
        self.total += value
        self.n += 1


class RequestMetrics:
    """Request durations by (method, route, status_code, ws), plus requests in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.durations: dict[RequestKey, _Histogram] = {}
        self.inflight = 0

    def observe(self, method: str, route: str, status: int, ws: bool, seconds: float) -> None:
        key = (method, route, str(status), "true" if ws else "false")
        with self._lock:
            hist = self.durations.get(key)
            if hist is None:
                hist = self.durations[key] = _Histogram()
            hist.observe(seconds)

    def snapshot(self) -> dict[RequestKey, _Histogram]:
        with self._lock:
            return {k: _Histogram(list(h.counts), h.total, h.n) for k, h in self.durations.items()}


class RequestMetricsMiddleware:
    """Times every HTTP request and websocket session; the route is known only after routing."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ws = scope["type"] == "websocket"
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and not status:
                status = 403  # closed before the upgrade: refused
            await send(message)

        began = time.perf_counter()
        self.metrics.inflight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.inflight -= 1
            route = scope.get("route")
            path = getattr(route, "path", None)
            name = route_label(path) if path is not None else "notfound"
            method = "GET" if ws else scope["method"]
            self.metrics.observe(method, name, status or 500, ws, time.perf_counter() - began)


# --- exposition ------------------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    body = ",".join(f'{n}="{_escape(v)}"' for n, v in pairs)
    return "{" + body + "}" if body else ""


class Exposition:
    """Builds the text: each family once, HELP and TYPE first, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Iterable[tuple[str, str]] = ()) -> None:
        self.lines.append(f"{name}{_labels(labels)} {_num(value)}")

    def single(self, name: str, kind: str, help_text: str, value: float) -> None:
        self.family(name, kind, help_text)
        self.sample(name, value)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _histograms(out: Exposition, name: str, data: dict[RequestKey, _Histogram]) -> None:
    out.family(name, "histogram", "Time (in seconds) spent serving HTTP requests.")
    for (method, route, status, ws), h in sorted(data.items()):
        base = [("method", method), ("route", route), ("status_code", status), ("ws", ws)]
        running = 0
        for le, count in zip(BUCKETS, h.counts, strict=True):
            running += count
            out.sample(f"{name}_bucket", running, [*base, ("le", _num(le))])
        out.sample(f"{name}_bucket", h.n, [*base, ("le", "+Inf")])
        out.sample(f"{name}_sum", h.total, base)
        out.sample(f"{name}_count", h.n, base)


def _process(out: Exposition, started_ns: int) -> None:
    times = os.times()
    out.single("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
               times.user + times.system)  # fmt: skip
    rss = 0
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss)
    out.single("process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.", started_ns / 1e9)  # fmt: skip


def render(state: AppState) -> str:
    store = state.logstore.store
    stats = store.stats
    out = Exposition()
    out.family("loki_build_info", "gauge", "A metric with a constant '1' value labeled by version.")
    out.sample("loki_build_info", 1, [("version", __version__), ("branch", "lokipy"), ("revision", "lokipy")])
    out.single("loki_distributor_lines_received_total", "counter",
               "The total number of lines received.", stats.lines_received)  # fmt: skip
    out.single("loki_distributor_bytes_received_total", "counter",
               "The total number of uncompressed bytes received.", stats.bytes_received)  # fmt: skip
    out.single("loki_ingester_memory_streams", "gauge",
               "The total number of streams in memory.", store.memory_streams())  # fmt: skip
    out.family("loki_ingester_chunks_flushed_total", "counter", "Total flushed chunks per reason.")
    reasons = dict(stats.flush_reasons)
    if not reasons:
        out.sample("loki_ingester_chunks_flushed_total", 0, [("reason", "full")])
    for reason, n in sorted(reasons.items()):
        out.sample("loki_ingester_chunks_flushed_total", n, [("reason", reason)])
    out.single("loki_ingester_chunk_stored_bytes_total", "counter",
               "Total bytes stored in chunks.", stats.chunk_bytes_flushed)  # fmt: skip
    out.single("lokipy_ingester_duplicate_entries_total", "counter",
               "Entries dropped silently as exact duplicates.", stats.duplicates)  # fmt: skip
    out.single("lokipy_distributor_rejected_entries_total", "counter",
               "Entries refused by validation or limits.", stats.rejected)  # fmt: skip
    out.single("lokipy_corrupt_files_total", "counter",
               "Damaged files found at start-up: index segments quarantined, WAL records skipped.",
               stats.corrupt_files)  # fmt: skip
    out.single("lokipy_corrupt_blocks_total", "counter",
               "Damaged chunks or blocks skipped at query time (the rest of the answer is served).",
               stats.corrupt_blocks)  # fmt: skip
    wal = store.wal.size_bytes() if store.wal is not None else 0
    out.single("lokipy_wal_bytes", "gauge", "Bytes of write-ahead log segments on disk.", wal)
    chunks = sum(1 for _ in store.objects.list("chunks/"))
    out.single("lokipy_chunks_on_disk", "gauge", "Chunk files in the object store.", chunks)
    out.single("lokipy_disk_bytes", "gauge", "Bytes on disk: chunks, index segments and WAL.",
               store.disk_usage())  # fmt: skip
    tail = state.extra.get("tail")
    out.single("loki_querier_tail_active", "gauge", "Number of active tailers.",
               getattr(tail, "active", 0))  # fmt: skip
    out.single("lokipy_tail_dropped_entries_total", "counter",
               "Entries not sent to a tailing client because it was too slow.",
               getattr(tail, "dropped", 0))  # fmt: skip
    requests = state.extra.get("request_metrics")
    if isinstance(requests, RequestMetrics):
        out.single("loki_inflight_requests", "gauge", "Current number of inflight requests.",
                   requests.inflight)  # fmt: skip
        _histograms(out, "loki_request_duration_seconds", requests.snapshot())
    ruler = state.extra.get("ruler")
    if ruler is not None:
        from lokipy.ruler.metrics import exposition_lines

        out.lines += exposition_lines(ruler)  # type: ignore[arg-type]
    _process(out, state.started_ns)
    return out.text()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    state: AppState = request.app.state.lokipy
    text = await run_in_threadpool(render, state)  # lists the object store: keep it off the loop
    return Response(text, media_type=CONTENT_TYPE)


def install(app: Any) -> RequestMetrics:
    """Register ``/metrics`` and the timing middleware on ``app``."""
    metrics = RequestMetrics()
    app.state.lokipy.extra["request_metrics"] = metrics
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.include_router(router)
    return metrics
