"""``/loki/api/v1/index/volume`` and ``volume_range``: bytes per label combination, from the index.

Loki answers these from index statistics (uncompressed bytes of the chunks in range, so the
figures are approximate) and lokipy does the same through ``Store.index_stats``. A series is
keyed by the label names in the query's matchers, or by ``targetLabels``; with
``aggregateBy=labels`` there is one series per label *name*. Largest first, ``limit`` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.datastructures import MultiDict
from starlette.responses import Response

from lokipy.api.params import (
    TimeRange,
    check_query_length,
    limit_param,
    params_of,
    query_param,
    selector_matchers,
    time_range,
)
from lokipy.api.query import run_query
from lokipy.api.responses import query_response, seconds
from lokipy.api.state import AppState
from lokipy.api.tenant import tenant_of
from lokipy.model.errors import InvalidInput
from lokipy.model.matchers import LabelMatcher, MatchType
from lokipy.model.timeparse import parse_step
from lokipy.store.store import Store

router = APIRouter()

Key = tuple[tuple[str, str], ...]


def _targets(params: MultiDict, matchers: Sequence[LabelMatcher]) -> tuple[list[str], bool]:
    by_labels = (params.get("aggregateBy") or "series") == "labels"
    if params.get("aggregateBy") not in (None, "", "series", "labels"):
        raise InvalidInput(f"invalid aggregateBy '{params['aggregateBy']}'")
    raw = params.get("targetLabels") or ""
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        names = list(dict.fromkeys(m.name for m in matchers))
    return names, by_labels


def volumes(
    store: Store,
    tenant: str,
    matchers: Sequence[LabelMatcher],
    targets: Sequence[str],
    by_labels: bool,
    start: int,
    end: int,
) -> dict[Key, int]:
    """Bytes per series key over ``[start, end)``, zero series left out.

    One index lookup per *group* (query matchers plus the group's label values), not per
    stream: there are usually far fewer groups than streams.
    """
    streams = store.series(tenant, [list(matchers)], start, end)
    out: dict[Key, int] = {}
    if by_labels:
        names = sorted({n for ls in streams for n in ls.names() if not targets or n in targets})
        for name in names:
            group = [*matchers, LabelMatcher(name, MatchType.RE, ".+")]
            size = int(store.index_stats(tenant, group, start, end)["bytes"])
            if size > 0:
                out[((name, ""),)] = size
        return out
    names = sorted(set(targets))
    keys = {tuple((n, ls.get(n)) for n in names) for ls in streams}
    for key in keys:
        # A label a stream lacks reads as "": `name=""` selects exactly those streams.
        group = [*matchers, *(LabelMatcher(n, MatchType.EQ, v) for n, v in key)]
        size = int(store.index_stats(tenant, group, start, end)["bytes"])
        if size > 0:
            out[tuple((n, v) for n, v in key if v)] = size
    return out


def _top(found: dict[Key, int], limit: int) -> list[Key]:
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    return [k for k, _ in ranked[:limit]]


@dataclass(frozen=True, slots=True)
class VolumeRequest:
    """What both volume endpoints read from a request, checked against the tenant's limits."""

    state: AppState
    tenant: str
    params: MultiDict
    matchers: list[LabelMatcher]
    tr: TimeRange
    limit: int
    targets: list[str]
    by_labels: bool


async def _request(request: Request) -> VolumeRequest:
    state: AppState = request.app.state.lokipy
    tenant = tenant_of(request, state.config.server.auth_enabled, multi=True)
    params = await params_of(request)
    matchers = selector_matchers(query_param(params))
    tr = time_range(params)
    check_query_length(tr, state.config.limits_for(tenant).max_query_length)
    limit = limit_param(params)
    targets, by_labels = _targets(params, matchers)
    return VolumeRequest(state, tenant, params, matchers, tr, limit, targets, by_labels)


@router.api_route("/loki/api/v1/index/volume", methods=["GET", "POST"])
async def volume(request: Request) -> Response:
    r = await _request(request)
    store, tr = r.state.logstore.store, r.tr
    found = await run_query(
        r.state, r.tenant, volumes, store, r.tenant, r.matchers, r.targets, r.by_labels, tr.start, tr.end
    )
    at = seconds(tr.end)
    result = [{"metric": dict(k), "value": [at, str(found[k])]} for k in _top(found, r.limit)]
    return query_response({"resultType": "vector", "result": result})


def _range_volumes(
    store: Store,
    tenant: str,
    matchers: Sequence[LabelMatcher],
    targets: Sequence[str],
    by_labels: bool,
    start: int,
    end: int,
    step: int,
) -> list[tuple[int, dict[Key, int]]]:
    points = []
    t = start
    while t <= end:
        points.append((t, volumes(store, tenant, matchers, targets, by_labels, t - step, t)))
        t += step
    return points


@router.api_route("/loki/api/v1/index/volume_range", methods=["GET", "POST"])
async def volume_range(request: Request) -> Response:
    r = await _request(request)
    tr = r.tr
    step = parse_step(r.params["step"]) if r.params.get("step") else max((tr.end - tr.start) // 250, 10**9)
    if step <= 0:
        raise InvalidInput(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (tr.end - tr.start) // step > 11000:
        raise InvalidInput(
            "exceeded maximum resolution of 11,000 points per time series. "
            "Try increasing the value of the step parameter"
        )
    points = await run_query(
        r.state,
        r.tenant,
        _range_volumes,
        r.state.logstore.store,
        r.tenant,
        r.matchers,
        r.targets,
        r.by_labels,
        tr.start,
        tr.end,
        step,
    )
    totals: dict[Key, int] = {}
    for _, found in points:
        for k, v in found.items():
            totals[k] = totals.get(k, 0) + v
    keep = sorted(_top(totals, r.limit))
    result = []
    for key in keep:
        values = [[seconds(t), str(found[key])] for t, found in points if key in found]
        result.append({"metric": dict(key), "values": values})
    return query_response({"resultType": "matrix", "result": result})
