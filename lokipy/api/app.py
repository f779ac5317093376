"""``create_app(logstore, config)``: the FastAPI application. Translation only, HTTP ↔ LogStore."""

from __future__ import annotations

import time
from collections.abc import Sequence

import yaml
from fastapi import APIRouter, FastAPI, Request
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse, Response

from lokipy import __version__
from lokipy.api import errors, metrics, push, query, rules, tail, volume
from lokipy.api.responses import LokiJSON
from lokipy.api.state import AppState
from lokipy.config import Config, as_dict
from lokipy.logstore import LogStore

# Clients read ``version`` to decide which features a Loki has; report the Loki release whose
# API lokipy follows, and our own version beside it.
LOKI_COMPAT_VERSION = "3.5.0"


# Every route lives in a router of its own module; extensions pass theirs to ``create_app``.
ROUTERS: tuple[APIRouter, ...] = (push.router, query.router, volume.router, tail.router)


def create_app(
    logstore: LogStore,
    config: Config | None = None,
    *,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The HTTP app: Loki's routes, ``/metrics`` with request timing, then ``routers``."""
    config = config or logstore.config
    app = FastAPI(title="lokipy", version=__version__, docs_url=None, redoc_url=None)
    app.state.lokipy = AppState(logstore=logstore, config=config, started_ns=time.time_ns())
    app.state.lokipy.extra["tail"] = tail.TailHub()
    errors.install(app)
    # Query answers compress ~10x; clients (Grafana, logcli, requests, Prometheus) all ask for
    # gzip. Level 5: most of the size win for a fraction of level 9's CPU.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=5)
    metrics.install(app)
    for router in (*ROUTERS, *routers):
        app.include_router(router)
    rules.install_ruler(app, logstore, config)  # with a ruler: block; `lokipy serve` starts it

    @app.get("/ready")
    async def ready(request: Request) -> Response:
        state: AppState = request.app.state.lokipy
        if not state.ready:
            return PlainTextResponse("Ingester not ready: shutting down\n", status_code=503)
        return PlainTextResponse("ready\n")

    @app.get("/loki/api/v1/status/buildinfo")
    async def buildinfo() -> Response:
        return LokiJSON(
            {
                "version": LOKI_COMPAT_VERSION,
                "revision": "lokipy",
                "branch": "main",
                "buildUser": "lokipy",
                "buildDate": "",
                "goVersion": "",
                "lokipyVersion": __version__,
            }
        )

    @app.get("/config")
    async def config_yaml(request: Request) -> Response:
        state: AppState = request.app.state.lokipy
        return PlainTextResponse(
            yaml.safe_dump(as_dict(state.config), sort_keys=False),
            media_type="text/plain; charset=utf-8",
        )

    return app
