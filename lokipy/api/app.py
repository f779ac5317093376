"""``create_app(logstore, config)``: the FastAPI application. Translation only, HTTP ↔ LogStore."""

from __future__ import annotations

import time

import yaml
from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from lokipy import __version__
from lokipy.api import errors, push, query
from lokipy.api.responses import LokiJSON
from lokipy.api.state import AppState
from lokipy.config import Config, as_dict
from lokipy.logstore import LogStore

# Clients read ``version`` to decide which features a Loki has; report the Loki release whose
# API lokipy follows, and our own version beside it.
LOKI_COMPAT_VERSION = "3.5.0"


def create_app(logstore: LogStore, config: Config | None = None) -> FastAPI:
    config = config or logstore.config
    app = FastAPI(title="lokipy", version=__version__, docs_url=None, redoc_url=None)
    app.state.lokipy = AppState(logstore=logstore, config=config, started_ns=time.time_ns())
    errors.install(app)
    app.include_router(push.router)
    app.include_router(query.router)

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

    @app.api_route("/loki/api/v2alpha/tail", methods=["GET"])
    async def v2alpha_tail() -> Response:
        # Older Grafana switched to this endpoint on a 400; a 404 keeps it on v1.
        return PlainTextResponse("404 page not found\n", status_code=404)

    return app
