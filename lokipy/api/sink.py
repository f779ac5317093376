"""Sink-mode routes: the push endpoints count and answer 204, nothing is stored.

``GET /sink/stats`` (``?streams=false`` drops the per-stream detail, ``?tenant=`` picks one),
``POST /sink/reset`` (answers the stats just before the reset), ``GET /sink/metrics``
(``lokipy_sink_*`` in Prometheus text) and ``GET /metrics`` (the server's own metrics, when
``lokipy.api.metrics`` provides them, followed by ``lokipy_sink_*``). Installed ahead of the
normal routes by :func:`install_sink`, so they answer first.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from lokipy.api.push import add_push_routes
from lokipy.api.responses import LokiJSON
from lokipy.sink.counter import Sink
from lokipy.sink.metrics import render_metrics

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def sink_router(sink: Sink) -> APIRouter:
    router = APIRouter()

    async def count(request: Request, body: bytes, tenant: str, legacy: bool) -> Response:
        # Counted on the event loop: no thread hop per request, the cost is the decode itself.
        sink.push_body(
            body,
            request.headers.get("content-type"),
            request.headers.get("content-encoding"),
            tenant=tenant,
            legacy=legacy,
        )
        return Response(status_code=204)

    add_push_routes(router, count)

    @router.get("/sink/stats")
    async def stats(request: Request) -> Response:
        q = request.query_params
        return LokiJSON(sink.stats(with_streams=_flag(q.get("streams"), True), tenant=q.get("tenant")))

    @router.post("/sink/reset")
    async def reset() -> Response:
        return LokiJSON(sink.reset())

    @router.get("/sink/metrics")
    async def sink_metrics() -> Response:
        return PlainTextResponse(render_metrics(sink), media_type=METRICS_TYPE)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        # Ahead of the server's own /metrics (when lokipy.api.metrics exists): its text, then ours.
        try:
            from lokipy.api.metrics import render  # type: ignore[attr-defined,unused-ignore]
        except ImportError:
            base = ""
        else:
            base = await run_in_threadpool(render, request.app.state.lokipy)
        return PlainTextResponse(base + render_metrics(sink), media_type=METRICS_TYPE)

    return router


def install_sink(app: FastAPI, sink: Sink) -> FastAPI:
    """Put ``app`` in sink mode: the sink's routes go *ahead* of every route ``create_app``
    registered (Starlette matches in order), so pushes are counted and never stored, whatever
    order ``create_app`` includes its own routers in."""
    app.state.lokipy.extra["sink"] = sink
    app.router.routes[:0] = sink_router(sink).routes
    return app
