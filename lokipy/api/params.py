"""Query parameters as Loki reads them (``pkg/loghttp/params.go``): GET and form POST alike."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.datastructures import MultiDict
from starlette.requests import Request

from lokipy.model.errors import InvalidInput, LogQLParseError
from lokipy.model.matchers import LabelMatcher
from lokipy.model.querier import Direction
from lokipy.model.selector import parse_selector
from lokipy.model.timeparse import parse_prometheus_duration, parse_step, parse_timestamp

HOUR_NS = 3600 * 10**9


async def params_of(request: Request) -> MultiDict:
    """URL query merged with an urlencoded form body (Loki registers GET and POST).

    Parsed here rather than with ``request.form()``, which needs python-multipart; Loki's
    ``ParseForm`` reads urlencoded bodies only, so that is all this accepts too.
    """
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            body = await request.body()
            try:
                items.extend(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError) as err:
                raise InvalidInput(f"invalid form body: {err}") from None
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
        # Loki passes Go's strconv error through.
        raise InvalidInput(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None
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


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()`` for whole-ish durations: ``721h0m0s``, ``1m30s``, ``1.5s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = _trim(rest / 10**9)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def check_query_length(tr: TimeRange, max_length: int) -> None:
    """Loki's ``max_query_length`` (0 disables it)."""
    if max_length and tr.end - tr.start > max_length:
        raise InvalidInput(
            f"the query time range exceeds the limit (query length: "
            f"{format_go_duration(tr.end - tr.start)}, limit: {format_go_duration(max_length)})"
        )


def check_entries_limit(query: str, limit: int, max_entries: int) -> None:
    """``max_entries_limit_per_query`` applies to log queries, which always open with ``{``."""
    if max_entries and limit > max_entries and query.lstrip().startswith("{"):
        raise InvalidInput(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query "
            f"({limit} > {max_entries})"
        )


def interval_param(params: MultiDict) -> int:
    raw = params.get("interval")
    if not raw:
        return 0
    interval = parse_step(raw)
    if interval < 0:
        raise InvalidInput("interval must be >= 0")
    return interval


def encoding_flags(headers: Mapping[str, str]) -> list[str]:
    """``X-Loki-Response-Encoding-Flags``: comma-separated; only categorize-labels means anything."""
    raw = headers.get("x-loki-response-encoding-flags", "")
    return [f.strip() for f in raw.split(",") if f.strip()]


EMPTY_COMPATIBLE = (
    "queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, but '
    'app=~".+" will'
)


def selector_matchers(text: str) -> list[LabelMatcher]:
    """A bare stream selector, with Loki's rule that one matcher must reject the empty value."""
    matchers = parse_selector(text)
    if all(m.matches_empty() for m in matchers):
        raise LogQLParseError(EMPTY_COMPATIBLE)
    return matchers


def query_param(params: MultiDict, name: str = "query") -> str:
    raw = params.get(name)
    if not raw:
        raise InvalidInput(f"missing required parameter '{name}'")
    return raw
