"""JSON bodies in Loki's exact shapes (``loki-api.md`` §2): envelopes, stats, legacy forms.

Key order matters to Grafana's streaming parser: inside ``data`` it is ``resultType``,
``encodingFlags`` (only when asked for), ``result``, ``stats``. Stats integers stay integers
(logcli decodes them into Go ints and fails on a float).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.responses import Response

from lokipy.logql.results import QueryStats, stats_json
from lokipy.model.labels import Labels
from lokipy.model.timeparse import format_rfc3339_nano

JSON_TYPE = "application/json; charset=UTF-8"
CATEGORIZE_LABELS = "categorize-labels"


class LokiJSON(Response):
    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            # Label names/values pushed with raw bytes (Go's \xNN escapes) live in str as
            # surrogates, which orjson refuses; Go's encoder writes U+FFFD for them, so do we.
            return orjson.dumps(_valid_utf8(content))


def _valid_utf8(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {_valid_utf8(k): _valid_utf8(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_utf8(v) for v in value]
    return value


def success(data: Any) -> LokiJSON:
    return LokiJSON({"status": "success", "data": data})


def line_text(line: bytes) -> str:
    """Go's JSON encoder replaces invalid UTF-8 with U+FFFD; so do we."""
    return line.decode("utf-8", "replace")


# --- stats ---------------------------------------------------------------------------------


def stats_skeleton() -> dict[str, Any]:
    """Loki's full stats object with zeros: the engine's own layout, so there is one schema."""
    return stats_json(QueryStats())


def _merge(base: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over ``base``, keeping base's key order and its int/float types."""
    for key, value in given.items():
        old = base.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            _merge(old, value)
        elif isinstance(old, bool) or old is None:
            base[key] = value
        elif isinstance(old, int) and isinstance(value, int | float):
            base[key] = int(value)
        elif isinstance(old, float) and isinstance(value, int | float):
            base[key] = float(value)
        else:
            base[key] = value
    return base


def complete_stats(given: Mapping[str, Any] | None, exec_time: float = 0.0) -> dict[str, Any]:
    """The full object, with what the engine measured laid over zeros.

    ``exec_time`` (seconds, measured by the HTTP layer) fills ``execTime`` when the engine
    left it at zero.
    """
    stats = _merge(stats_skeleton(), given or {})
    summary = stats["summary"]
    if not summary["execTime"] and exec_time:
        summary["execTime"] = exec_time
        if not stats["querier"]["querierExecTime"]:
            stats["querier"]["querierExecTime"] = exec_time
    if summary["execTime"] > 0:
        if not summary["bytesProcessedPerSecond"]:
            summary["bytesProcessedPerSecond"] = int(summary["totalBytesProcessed"] / summary["execTime"])
        if not summary["linesProcessedPerSecond"]:
            summary["linesProcessedPerSecond"] = int(summary["totalLinesProcessed"] / summary["execTime"])
    return stats


def _entries_returned(data: Mapping[str, Any]) -> int:
    result = data.get("result")
    if data.get("resultType") == "streams" and isinstance(result, list):
        return sum(len(s.get("values", ())) for s in result)
    if isinstance(result, list):
        return len(result)
    return 1 if result else 0


def query_data(
    data: Mapping[str, Any], encoding_flags: Sequence[str] = (), exec_time: float = 0.0
) -> dict[str, Any]:
    """``data`` in Loki's key order, with the full stats object."""
    out: dict[str, Any] = {"resultType": data["resultType"]}
    flags = data.get("encodingFlags")
    if flags is None and encoding_flags and data["resultType"] == "streams":
        flags = [f for f in encoding_flags if f == CATEGORIZE_LABELS] or None
    if flags:
        out["encodingFlags"] = list(flags)
    result = data.get("result")
    out["result"] = [] if result is None else result
    stats = complete_stats(data.get("stats"), exec_time)
    if not stats["summary"]["totalEntriesReturned"]:
        stats["summary"]["totalEntriesReturned"] = _entries_returned(out)
    out["stats"] = stats
    for key, value in data.items():  # anything else the engine adds, after the fixed keys
        if key not in out and key != "warnings":
            out[key] = value
    return out


def query_response(
    data: Mapping[str, Any], encoding_flags: Sequence[str] = (), exec_time: float = 0.0
) -> LokiJSON:
    body: dict[str, Any] = {"status": "success"}
    warnings = data.get("warnings")
    if warnings:
        body["warnings"] = list(warnings)
    body["data"] = query_data(data, encoding_flags, exec_time)
    return LokiJSON(body)


# --- values --------------------------------------------------------------------------------


def seconds(ts_ns: int) -> int | float:
    """Matrix/vector time: unix seconds from milliseconds, shortest decimal (a JSON number)."""
    ms = ts_ns // 1_000_000
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


# --- legacy (``/api/prom/*``) shapes ------------------------------------------------------


def legacy_streams(result: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """v1 stream objects → ``{"labels": "{a=\\"b\\"}", "entries": [{"ts", "line"}]}``."""
    out = []
    for s in result:
        labels = str(Labels.from_map(s["stream"]))
        entries = [{"ts": format_rfc3339_nano(int(v[0])), "line": v[1]} for v in s["values"]]
        out.append({"labels": labels, "entries": entries})
    return out
