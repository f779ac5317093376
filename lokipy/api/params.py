"""Query parameters as Loki reads them (``pkg/loghttp/params.go``): GET and form POST alike."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.datastructures import MultiDict
from starlette.requests import Request

from lokipy.model.errors import InvalidInput
from lokipy.model.querier import Direction
from lokipy.model.timeparse import parse_prometheus_duration, parse_step, parse_timestamp

HOUR_NS = 3600 * 10**9


async def params_of(request: Request) -> MultiDict:
    """URL query merged with an urlencoded form body (Loki registers GET and POST)."""
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            # Parsed here rather than with request.form(), which needs python-multipart.
            body = (await request.body()).decode("utf-8", "replace")
            items.extend(parse_qsl(body, keep_blank_values=True))
    return MultiDict(items)


def timestamp_param(params: MultiDict, name: str, default: int) -> int:
    raw = params.get(name)
    if not raw:
        return default
    return parse_timestamp(raw, name)


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: int
    end: int


def time_range(params: MultiDict, default_since: int = HOUR_NS) -> TimeRange:
    """``start``/``end``/``since`` with Loki's defaults: end = now, start = end - since."""
    now = time.time_ns()
    end = timestamp_param(params, "end", now)
    since = default_since
    if params.get("since"):
        since = parse_prometheus_duration(params["since"])
    start_default = (min(end, now) if end > now else end) - since
    start = timestamp_param(params, "start", start_default)
    if end < start:
        raise InvalidInput("end timestamp must not be before or equal to start time")
    return TimeRange(start, end)


def limit_param(params: MultiDict, default: int = 100) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput(f"invalid limit '{raw}': must be an integer") from None
    if limit <= 0:
        raise InvalidInput("limit must be a positive value")
    return limit


def direction_param(params: MultiDict) -> Direction:
    raw = params.get("direction") or "backward"
    try:
        return Direction(raw.lower())
    except ValueError:
        raise InvalidInput(f"invalid direction '{raw}'") from None


def step_param(params: MultiDict, start: int, end: int) -> int:
    raw = params.get("step")
    if not raw:
        return max((end - start) // 250 // 10**9 * 10**9, 10**9)
    step = parse_step(raw)
    if step <= 0:
        raise InvalidInput(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (end - start) // step > 11000:
        raise InvalidInput(
            "exceeded maximum resolution of 11,000 points per time series. "
            "Try increasing the value of the step parameter"
        )
    return step


def query_param(params: MultiDict, name: str = "query") -> str:
    raw = params.get(name)
    if not raw:
        raise InvalidInput(f"missing required parameter '{name}'")
    return raw
