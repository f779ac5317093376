"""Read endpoints: query, query_range, labels, label values, series, index stats."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from lokipy.api.params import (
    direction_param,
    limit_param,
    params_of,
    query_param,
    step_param,
    time_range,
    timestamp_param,
)
from lokipy.api.responses import LokiJSON, success
from lokipy.api.state import AppState
from lokipy.api.tenant import tenant_of
from lokipy.model.errors import InvalidInput
from lokipy.model.selector import parse_selector

router = APIRouter()


def _state(request: Request) -> AppState:
    return request.app.state.lokipy


def _encoding_flags(request: Request) -> list[str]:
    raw = request.headers.get("x-loki-response-encoding-flags", "")
    return [f.strip() for f in raw.split(",") if f.strip()]


@router.api_route("/loki/api/v1/query_range", methods=["GET", "POST"])
@router.api_route("/api/prom/query", methods=["GET", "POST"])
async def query_range(request: Request) -> Response:
    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    query = query_param(params)
    tr = time_range(params)
    limit = limit_param(params)
    direction = direction_param(params)
    step = step_param(params, tr.start, tr.end)
    interval = 0
    if params.get("interval"):
        from lokipy.model.timeparse import parse_step

        interval = parse_step(params["interval"])
        if interval < 0:
            raise InvalidInput("interval must be >= 0")
    data = await run_in_threadpool(
        state.logstore.query_range_data,
        query,
        tr.start,
        tr.end,
        step,
        limit=limit,
        direction=direction,
        interval=interval,
        tenant=tenant,
        encoding_flags=_encoding_flags(request),
    )
    return success(data)


@router.api_route("/loki/api/v1/query", methods=["GET", "POST"])
async def query_instant(request: Request) -> Response:
    import time

    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    query = query_param(params)
    ts = timestamp_param(params, "time", time.time_ns())
    limit = limit_param(params)
    direction = direction_param(params)
    data = await run_in_threadpool(
        state.logstore.query_instant_data,
        query,
        ts,
        limit=limit,
        direction=direction,
        tenant=tenant,
        encoding_flags=_encoding_flags(request),
    )
    return success(data)


@router.api_route("/loki/api/v1/labels", methods=["GET", "POST"])
@router.api_route("/loki/api/v1/label", methods=["GET", "POST"])
@router.api_route("/api/prom/label", methods=["GET", "POST"])
async def labels(request: Request) -> Response:
    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    tr = time_range(params)
    matchers = parse_selector(params["query"]) if params.get("query") else []
    names = await run_in_threadpool(state.logstore.store.label_names, tenant, tr.start, tr.end, matchers)
    return success(names)


@router.api_route("/loki/api/v1/label/{name}/values", methods=["GET", "POST"])
@router.api_route("/api/prom/label/{name}/values", methods=["GET", "POST"])
async def label_values(request: Request, name: str) -> Response:
    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    tr = time_range(params)
    matchers = parse_selector(params["query"]) if params.get("query") else []
    values = await run_in_threadpool(
        state.logstore.store.label_values, tenant, name, tr.start, tr.end, matchers
    )
    return success(values)


@router.api_route("/loki/api/v1/series", methods=["GET", "POST"])
@router.api_route("/api/prom/series", methods=["GET", "POST"])
async def series(request: Request) -> Response:
    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    tr = time_range(params)
    selectors = list(dict.fromkeys(params.getlist("match[]") + params.getlist("match")))
    matcher_sets = [parse_selector(s) for s in selectors if s.strip() != "{}"]
    found = await run_in_threadpool(state.logstore.store.series, tenant, matcher_sets, tr.start, tr.end)
    return success([ls.as_dict() for ls in found])


@router.api_route("/loki/api/v1/index/stats", methods=["GET", "POST"])
async def index_stats(request: Request) -> Response:
    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    tr = time_range(params)
    matchers = parse_selector(query_param(params))
    stats = await run_in_threadpool(state.logstore.store.index_stats, tenant, matchers, tr.start, tr.end)
    return LokiJSON(stats)
