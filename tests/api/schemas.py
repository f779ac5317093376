"""Shape checks for every query-side answer, written from ``loki-api.md`` §2 (not from our code).

Each ``check_*`` raises AssertionError naming the offending path.
"""

from __future__ import annotations

import math
import re
from typing import Any

NS_STRING = re.compile(r"\d{1,19}\Z")
# Go's strconv.FormatFloat(v, 'f', -1, 64): no exponent; NaN and ±Inf spelled that way.
GO_FLOAT = re.compile(r"(-?\d+(\.\d+)?|NaN|\+Inf|-Inf)\Z")

SUMMARY_INTS = (
    "bytesProcessedPerSecond", "linesProcessedPerSecond", "totalBytesProcessed",
    "totalLinesProcessed", "subqueries", "totalEntriesReturned", "splits", "shards",
    "totalPostFilterLines", "totalStructuredMetadataBytesProcessed",
)  # fmt: skip
SUMMARY_FLOATS = ("execTime", "queueTime")
CHUNK_INTS = (
    "headChunkBytes", "headChunkLines", "decompressedBytes", "decompressedLines", "compressedBytes",
    "totalDuplicates", "postFilterLines", "headChunkStructuredMetadataBytes",
    "decompressedStructuredMetadataBytes",
)  # fmt: skip
CACHE_INTS = (
    "entriesFound", "entriesRequested", "entriesStored", "bytesReceived", "bytesSent", "requests",
    "downloadTime", "queryLengthServed",
)  # fmt: skip
CACHE_KINDS = (
    "chunk", "index", "result", "statsResult", "volumeResult", "seriesResult", "labelResult",
    "instantMetricResult", "logResult", "taskResult",
)  # fmt: skip


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ints(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    for k in keys:
        assert k in obj, f"{where}.{k} missing"
        assert is_int(obj[k]), f"{where}.{k} must be an int, got {obj[k]!r}"


def check_store(store: dict[str, Any], where: str) -> None:
    _ints(store, ("totalChunksRef", "totalChunksDownloaded", "chunksDownloadTime"), where)
    _ints(store["chunk"], CHUNK_INTS, where + ".chunk")


def check_stats(stats: dict[str, Any]) -> None:
    summary = stats["summary"]
    _ints(summary, SUMMARY_INTS, "stats.summary")
    for k in SUMMARY_FLOATS:
        assert isinstance(summary[k], float), f"stats.summary.{k} must be a float"
        assert summary[k] >= 0
    check_store(stats["querier"]["store"], "stats.querier.store")
    _ints(stats["ingester"], ("totalReached", "totalChunksMatched", "totalBatches", "totalLinesSent"),
          "stats.ingester")  # fmt: skip
    check_store(stats["ingester"]["store"], "stats.ingester.store")
    for kind in CACHE_KINDS:
        _ints(stats["cache"][kind], CACHE_INTS, f"stats.cache.{kind}")
    _ints(stats["index"], ("totalChunks", "postFilterChunks", "totalStreams"), "stats.index")


def check_sample_time(t: Any, where: str) -> None:
    assert isinstance(t, int | float) and not isinstance(t, bool), f"{where}: time must be a number"
    assert math.isclose(round(t * 1000), t * 1000, abs_tol=1e-3), f"{where}: ms precision only"


def check_streams(result: list[Any], categorized: bool) -> None:
    for i, s in enumerate(result):
        assert list(s) == ["stream", "values"], f"result[{i}] keys {list(s)}"
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in s["stream"].items())
        for j, v in enumerate(s["values"]):
            where = f"result[{i}].values[{j}]"
            assert len(v) == (3 if categorized else 2), f"{where}: {len(v)} elements"
            assert isinstance(v[0], str) and NS_STRING.match(v[0]), f"{where}: ts {v[0]!r}"
            assert isinstance(v[1], str)
            if categorized:
                assert isinstance(v[2], dict) and set(v[2]) <= {"structuredMetadata", "parsed"}
                assert all(v[2].values()), f"{where}: empty categories are omitted"
    keys = [sorted(s["stream"].items()) for s in result]
    texts = ["{" + ", ".join(f'{k}="{v}"' for k, v in k_) + "}" for k_ in keys]
    assert texts == sorted(texts), "streams are sorted by label text"


def check_matrix(result: list[Any]) -> None:
    for i, s in enumerate(result):
        assert list(s) == ["metric", "values"], f"result[{i}] keys {list(s)}"
        times = []
        for j, (t, v) in enumerate(s["values"]):
            check_sample_time(t, f"result[{i}].values[{j}]")
            assert isinstance(v, str) and GO_FLOAT.match(v), f"result[{i}].values[{j}] value {v!r}"
            times.append(t)
        assert times == sorted(times), "matrix values ascend in time"


def check_vector(result: list[Any]) -> None:
    for i, s in enumerate(result):
        assert list(s) == ["metric", "value"], f"result[{i}] keys {list(s)}"
        t, v = s["value"]
        check_sample_time(t, f"result[{i}]")
        assert isinstance(v, str) and GO_FLOAT.match(v), f"result[{i}] value {v!r}"


def check_query_body(body: dict[str, Any], categorized: bool = False) -> dict[str, Any]:
    """The envelope and ``data`` in Loki's key order; returns ``data``."""
    assert body["status"] == "success"
    assert list(body) in (["status", "data"], ["status", "warnings", "data"]), list(body)
    data = body["data"]
    keys = list(data)
    expected = ["resultType", "result", "stats"]
    if "encodingFlags" in data:
        expected.insert(1, "encodingFlags")
    assert keys == expected, f"data keys {keys}"
    kind = data["resultType"]
    assert kind in ("streams", "matrix", "vector", "scalar")
    if categorized and kind == "streams":
        assert data["encodingFlags"] == ["categorize-labels"]
    check_stats(data["stats"])
    if kind == "streams":
        check_streams(data["result"], categorized)
    elif kind == "matrix":
        check_matrix(data["result"])
    elif kind == "vector":
        check_vector(data["result"])
    else:
        t, v = data["result"]
        check_sample_time(t, "scalar")
        assert isinstance(v, str) and GO_FLOAT.match(v)
    return data  # type: ignore[no-any-return]


def check_string_list(body: dict[str, Any]) -> list[str]:
    """``/labels`` and ``/label/<n>/values``: sorted, unique strings."""
    assert body["status"] == "success"
    data = body.get("data", [])
    assert isinstance(data, list) and all(isinstance(x, str) for x in data)
    assert data == sorted(set(data)), "sorted and unique"
    return data


def check_series(body: dict[str, Any]) -> list[dict[str, str]]:
    assert body["status"] == "success"
    data = body["data"]
    assert isinstance(data, list)
    for s in data:
        assert isinstance(s, dict) and all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in s.items()
        )
    return data


def check_index_stats(body: dict[str, Any]) -> None:
    assert list(body) == ["streams", "chunks", "bytes", "entries"], list(body)
    assert all(is_int(v) and v >= 0 for v in body.values())
