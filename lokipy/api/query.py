"""Read endpoints: query, query_range, labels, label values, series, index stats, format_query.

GET and form POST alike (``params_of``). Errors are raised and turned into Loki's plain-text
answers by ``errors.py``; successes go through ``responses.py`` for Loki's exact shapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from starlette.datastructures import MultiDict
from starlette.responses import PlainTextResponse, Response

from lokipy.api.params import (
    check_entries_limit,
    direction_param,
    encoding_flags,
    interval_param,
    limit_param,
    params_of,
    query_param,
    selector_matchers,
    step_param,
    time_range,
    timestamp_param,
)
from lokipy.api.responses import LokiJSON, legacy_streams, query_data, query_response, success
from lokipy.api.state import AppState
from lokipy.api.tenant import tenant_of
from lokipy.model.errors import LokipyError, QueryTimeout

router = APIRouter()


def _state(request: Request) -> AppState:
    return request.app.state.lokipy


async def _read_tenant(request: Request) -> tuple[AppState, str, MultiDict]:
    state = _state(request)
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    return state, tenant, await params_of(request)


async def run_query(
    state: AppState, tenant: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """Run blocking store/engine work off the event loop, bounded by the tenant's ``query_timeout``.

    On timeout the client gets Loki's 504 at once; the worker thread is abandoned (it ends on
    its own, and the engine checks the same deadline).
    """
    timeout = state.config.limits_for(tenant).query_timeout
    work = to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=True)
    if not timeout:
        return await work
    try:
        return await asyncio.wait_for(work, timeout / 1e9)
    except TimeoutError:
        raise QueryTimeout("query timed out") from None


# --- LogQL ----------------------------------------------------------------------------------


async def _range_data(request: Request) -> tuple[dict[str, Any], list[str], float]:
    state, tenant, params = await _read_tenant(request)
    query = params.get("query") or ""  # an empty query is the parser's to refuse, in its words
    tr = time_range(params)
    limit = limit_param(params)
    # max_query_length is the engine's to enforce (it knows the query); the entries limit is
    # checked here too, before any work, with the same wording.
    check_entries_limit(query, limit, state.config.limits_for(tenant).max_entries_limit_per_query)
    direction = direction_param(params)
    step = step_param(params, tr.start, tr.end)
    interval = interval_param(params)
    flags = encoding_flags(request.headers)
    began = time.perf_counter()
    data = await run_query(
        state,
        tenant,
        state.logstore.query_range_data,
        query,
        tr.start,
        tr.end,
        step,
        limit=limit,
        direction=direction,
        interval=interval,
        tenant=tenant,
        encoding_flags=flags,
    )
    return data, flags, time.perf_counter() - began


@router.api_route("/loki/api/v1/query_range", methods=["GET", "POST"])
async def query_range(request: Request) -> Response:
    data, flags, took = await _range_data(request)
    return query_response(data, flags, took)


@router.api_route("/api/prom/query", methods=["GET", "POST"])
async def query_legacy(request: Request) -> Response:
    """Grafana ≤6's endpoint: streams only, as ``{"streams": [{labels, entries}], "stats"}``."""
    data, _, took = await _range_data(request)
    if data["resultType"] != "streams":
        # Loki fails while writing the answer, so this is its generic 500.
        return PlainTextResponse(
            f"legacy endpoints only support streams result type, current type is {data['resultType']}",
            status_code=500,
        )
    stats = query_data(data, (), took)["stats"]
    return LokiJSON({"streams": legacy_streams(data["result"]), "stats": stats})


@router.api_route("/loki/api/v1/query", methods=["GET", "POST"])
async def query_instant(request: Request) -> Response:
    state, tenant, params = await _read_tenant(request)
    query = params.get("query") or ""  # an empty query is the parser's to refuse, in its words
    ts = timestamp_param(params, "time", time.time_ns())
    limit = limit_param(params)
    check_entries_limit(query, limit, state.config.limits_for(tenant).max_entries_limit_per_query)
    direction = direction_param(params)
    flags = encoding_flags(request.headers)
    began = time.perf_counter()
    data = await run_query(
        state,
        tenant,
        state.logstore.query_instant_data,
        query,
        ts,
        limit=limit,
        direction=direction,
        tenant=tenant,
        encoding_flags=flags,
    )
    return query_response(data, flags, time.perf_counter() - began)


@router.api_route("/loki/api/v1/format_query", methods=["GET", "POST"])
async def format_query(request: Request) -> Response:
    params = await params_of(request)
    try:
        from lokipy.logql.parser import format_query as pretty
    except ImportError:  # the LogQL parser is not part of this build
        return PlainTextResponse("404 page not found\n", status_code=404)
    try:
        text = pretty(params.get("query") or "")
    except LokipyError as err:
        return LokiJSON({"status": "invalid-query", "error": str(err)}, status_code=400)
    return success(text)


# --- metadata ----------------------------------------------------------------------------


async def _label_names(request: Request) -> list[str]:
    state, tenant, params = await _read_tenant(request)
    tr = time_range(params)
    matchers = selector_matchers(params["query"]) if params.get("query") else []
    return await run_query(  # type: ignore[no-any-return]
        state, tenant, state.logstore.store.label_names, tenant, tr.start, tr.end, matchers
    )


async def _label_values(request: Request, name: str) -> list[str]:
    state, tenant, params = await _read_tenant(request)
    tr = time_range(params)
    matchers = selector_matchers(params["query"]) if params.get("query") else []
    return await run_query(  # type: ignore[no-any-return]
        state, tenant, state.logstore.store.label_values, tenant, name, tr.start, tr.end, matchers
    )


@router.api_route("/loki/api/v1/labels", methods=["GET", "POST"])
@router.api_route("/loki/api/v1/label", methods=["GET", "POST"])
async def labels(request: Request) -> Response:
    return success(await _label_names(request))


@router.api_route("/loki/api/v1/label/{name}/values", methods=["GET", "POST"])
async def label_values(request: Request, name: str) -> Response:
    return success(await _label_values(request, name))


@router.api_route("/api/prom/label", methods=["GET", "POST"])
async def labels_legacy(request: Request) -> Response:
    # Legacy label answers are logproto.LabelResponse: {"values": [...]}.
    return LokiJSON({"values": await _label_names(request)})


@router.api_route("/api/prom/label/{name}/values", methods=["GET", "POST"])
async def label_values_legacy(request: Request, name: str) -> Response:
    return LokiJSON({"values": await _label_values(request, name)})


@router.api_route("/loki/api/v1/series", methods=["GET", "POST"])
@router.api_route("/api/prom/series", methods=["GET", "POST"])
async def series(request: Request) -> Response:
    state, tenant, params = await _read_tenant(request)
    tr = time_range(params)
    selectors = list(dict.fromkeys(params.getlist("match[]") + params.getlist("match")))
    matcher_sets = [selector_matchers(s) for s in selectors if s.strip() != "{}"]
    if any(s.strip() == "{}" for s in selectors):
        matcher_sets = []  # {} selects every stream, whatever the other selectors say
    found = await run_query(
        state, tenant, state.logstore.store.series, tenant, matcher_sets, tr.start, tr.end
    )
    return success([ls.as_dict() for ls in found])


@router.api_route("/loki/api/v1/index/stats", methods=["GET", "POST"])
async def index_stats(request: Request) -> Response:
    state, tenant, params = await _read_tenant(request)
    tr = time_range(params)
    matchers = selector_matchers(query_param(params))
    stats = await run_query(
        state, tenant, state.logstore.store.index_stats, tenant, matchers, tr.start, tr.end
    )
    return LokiJSON(stats)


# --- optional endpoints lokipy does not implement ---------------------------------------------
# Grafana probes these and falls back cleanly on a 404 (a 400 would be read as "supported").

_NOT_IMPLEMENTED = (
    "/loki/api/v1/detected_labels",
    "/loki/api/v1/detected_fields",
    "/loki/api/v1/detected_field/{name}/values",
    "/loki/api/v1/patterns",
    "/loki/api/v1/drilldown-limits",
    "/loki/api/v2alpha/tail",
)


async def not_found(request: Request) -> Response:
    return PlainTextResponse("404 page not found\n", status_code=404)


for _path in _NOT_IMPLEMENTED:
    router.add_api_route(_path, not_found, methods=["GET", "POST"], include_in_schema=False)
