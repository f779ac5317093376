"""Typed query results and their exact Loki JSON form (``data`` of a query response).

The engine returns these objects to embedded callers; the HTTP layer turns them into Loki's
wire format with :func:`to_loki_data`. Times are int nanoseconds throughout; the JSON form
converts matrix/vector/scalar times to seconds with millisecond precision, as Loki does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lokipy.model.entry import Metadata
from lokipy.model.labels import Labels

ParsedLabels = tuple[tuple[str, str], ...]


def make_labels(pairs: object) -> Labels:
    """A :class:`Labels` that keeps empty values: in LogQL results ``{age=""}`` is significant
    (a parser-extracted empty field), unlike at ingestion where empty labels vanish."""
    labels = Labels.__new__(Labels)
    labels.pairs = tuple(sorted(pairs, key=lambda p: p[0]))  # type: ignore[call-overload]
    labels._text = None
    labels._hash = None
    return labels


EMPTY_LABELS = make_labels(())


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant vector."""

    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Vector:
    ts: int
    samples: tuple[Sample, ...]

    def __len__(self) -> int:
        return len(self.samples)


@dataclass(frozen=True, slots=True)
class Series:
    """One matrix series: ascending timestamps (ns) and their values; gaps have no point."""

    labels: Labels
    timestamps: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Matrix:
    series: tuple[Series, ...]

    def __len__(self) -> int:
        return len(self.series)


@dataclass(frozen=True, slots=True)
class Scalar:
    ts: int
    value: float

    def __len__(self) -> int:
        return 1


@dataclass(frozen=True, slots=True)
class EntryLabels:
    """Where an entry's non-stream labels came from (for ``categorize-labels``)."""

    structured_metadata: Metadata = ()
    parsed: ParsedLabels = ()


@dataclass(frozen=True, slots=True)
class Stream:
    """Entries sharing one final label set, in the query's direction order.

    ``stream_labels`` are the indexed labels of the stream the entries came from and
    ``categories`` (parallel to ``entries``) the metadata/parsed split of each entry; both only
    matter for the ``categorize-labels`` encoding.
    """

    labels: Labels
    entries: tuple[tuple[int, str], ...]
    stream_labels: Labels | None = None
    categories: tuple[EntryLabels, ...] | None = None


@dataclass(frozen=True, slots=True)
class Streams:
    """Log query result; ``forward`` records the direction the entries are ordered in."""

    streams: tuple[Stream, ...]
    forward: bool = False

    def __len__(self) -> int:
        return sum(len(s.entries) for s in self.streams)


ResultValue = Streams | Matrix | Vector | Scalar


@dataclass(frozen=True, slots=True)
class QueryStats:
    """The figures lokipy measures; everything else in Loki's stats object is a zero skeleton."""

    exec_time: float = 0.0
    queue_time: float = 0.0
    total_bytes_processed: int = 0
    total_lines_processed: int = 0
    total_entries_returned: int = 0
    total_post_filter_lines: int = 0
    total_structured_metadata_bytes: int = 0
    total_chunks_ref: int = 0
    total_streams: int = 0


@dataclass(frozen=True, slots=True)
class QueryResult:
    value: ResultValue
    stats: QueryStats = field(default_factory=QueryStats)
    warnings: tuple[str, ...] = ()

    @property
    def result_type(self) -> str:
        return result_type(self.value)


def result_type(value: ResultValue) -> str:
    if isinstance(value, Streams):
        return "streams"
    if isinstance(value, Matrix):
        return "matrix"
    if isinstance(value, Vector):
        return "vector"
    return "scalar"


# --- number formatting ----------------------------------------------------------------------


def format_value(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    text = repr(value)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exp_text = text.partition("e")
    sign = ""
    if mantissa.startswith("-"):
        sign, mantissa = "-", mantissa[1:]
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + int(exp_text)  # position of the decimal point within digits
    if point <= 0:
        out = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        out = digits + "0" * (point - len(digits))
    else:
        out = digits[:point] + "." + digits[point:]
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return sign + out


def seconds(ts_ns: int) -> int | float:
    """Unix seconds with millisecond precision (ns below a millisecond dropped), as JSON wants."""
    ms = int(ts_ns / 1_000_000) if ts_ns < 0 else ts_ns // 1_000_000
    if ms % 1000 == 0:
        return ms // 1000
    return ms / 1000


# --- Loki JSON ------------------------------------------------------------------------------


def to_loki_data(
    result: QueryResult, *, categorize_labels: bool = False, encoding_flags: list[str] | None = None
) -> dict[str, Any]:
    """Loki's ``data`` object; key order matters to Grafana (resultType, encodingFlags, result).

    ``encoding_flags`` are the flags of the request's ``X-Loki-Response-Encoding-Flags``
    header, echoed back; ``categorize-labels`` among them (or ``categorize_labels=True``)
    switches log results to the categorized encoding.
    """
    value = result.value
    flags = list(encoding_flags or ())
    categorize_labels = categorize_labels or "categorize-labels" in flags
    if categorize_labels and "categorize-labels" not in flags:
        flags.append("categorize-labels")
    data: dict[str, Any] = {"resultType": result_type(value)}
    if flags:
        data["encodingFlags"] = flags
    if isinstance(value, Streams):
        data["result"] = _categorized_streams(value) if categorize_labels else _plain_streams(value)
    elif isinstance(value, Matrix):
        data["result"] = [
            {
                "metric": dict(s.labels.pairs),
                "values": [
                    [seconds(t), format_value(v)] for t, v in zip(s.timestamps, s.values, strict=True)
                ],
            }
            for s in value.series
        ]
    elif isinstance(value, Vector):
        ts = seconds(value.ts)
        data["result"] = [
            {"metric": dict(s.labels.pairs), "value": [ts, format_value(s.value)]} for s in value.samples
        ]
    else:
        data["result"] = [seconds(value.ts), format_value(value.value)]
    data["stats"] = stats_json(result.stats)
    return data


def _plain_streams(value: Streams) -> list[dict[str, Any]]:
    return [
        {"stream": dict(s.labels.pairs), "values": [[str(ts), line] for ts, line in s.entries]}
        for s in value.streams
    ]


def _categorized_streams(value: Streams) -> list[dict[str, Any]]:
    """Group by indexed labels only; each value carries its metadata/parsed labels."""
    groups: dict[Labels, list[list[Any]]] = {}
    for s in value.streams:
        base = s.stream_labels if s.stream_labels is not None else s.labels
        out = groups.setdefault(base, [])
        cats = s.categories
        for i, (ts, line) in enumerate(s.entries):
            extra: dict[str, Any] = {}
            if cats is not None:
                cat = cats[i]
                if cat.structured_metadata:
                    extra["structuredMetadata"] = dict(cat.structured_metadata)
                if cat.parsed:
                    extra["parsed"] = dict(cat.parsed)
            out.append([str(ts), line, extra])
    out = []
    for labels, values in sorted(groups.items(), key=lambda kv: str(kv[0])):
        # Entries of several final-label streams merge back into one: restore time order.
        values.sort(key=lambda v: int(v[0]), reverse=not value.forward)
        out.append({"stream": dict(labels.pairs), "values": values})
    return out


def _cache_stats() -> dict[str, Any]:
    return {
        "entriesFound": 0,
        "entriesRequested": 0,
        "entriesStored": 0,
        "bytesReceived": 0,
        "bytesSent": 0,
        "requests": 0,
        "downloadTime": 0,
        "queryLengthServed": 0,
    }


def _store_stats(stats: QueryStats | None) -> dict[str, Any]:
    lines = stats.total_lines_processed if stats else 0
    size = stats.total_bytes_processed if stats else 0
    post = stats.total_post_filter_lines if stats else 0
    md = stats.total_structured_metadata_bytes if stats else 0
    return {
        "totalChunksRef": stats.total_chunks_ref if stats else 0,
        "totalChunksDownloaded": 0,
        "chunksDownloadTime": 0,
        "queryReferencedStructuredMetadata": False,
        "queryUsedV2Engine": False,
        "chunk": {
            "headChunkBytes": 0,
            "headChunkLines": 0,
            "decompressedBytes": size,
            "decompressedLines": lines,
            "compressedBytes": 0,
            "totalDuplicates": 0,
            "postFilterLines": post,
            "headChunkStructuredMetadataBytes": 0,
            "decompressedStructuredMetadataBytes": md,
        },
        "chunkRefsFetchTime": 0,
        "congestionControlLatency": 0,
        "pipelineWrapperFilteredLines": 0,
    }


def stats_json(stats: QueryStats) -> dict[str, Any]:
    """Loki's full stats object: measured figures where we have them, zeros elsewhere."""
    exec_time = stats.exec_time
    per_sec = (lambda n: int(n / exec_time)) if exec_time > 0 else (lambda n: 0)
    return {
        "summary": {
            "bytesProcessedPerSecond": per_sec(stats.total_bytes_processed),
            "linesProcessedPerSecond": per_sec(stats.total_lines_processed),
            "totalBytesProcessed": stats.total_bytes_processed,
            "totalLinesProcessed": stats.total_lines_processed,
            "execTime": float(exec_time),
            "queueTime": float(stats.queue_time),
            "subqueries": 0,
            "totalEntriesReturned": stats.total_entries_returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": stats.total_post_filter_lines,
            "totalStructuredMetadataBytesProcessed": stats.total_structured_metadata_bytes,
        },
        "querier": {"store": _store_stats(stats), "querierExecTime": float(exec_time)},
        "ingester": {
            "totalReached": 0,
            "totalChunksMatched": 0,
            "totalBatches": 0,
            "totalLinesSent": 0,
            "store": _store_stats(None),
        },
        "cache": {
            name: _cache_stats()
            for name in (
                "chunk",
                "index",
                "result",
                "statsResult",
                "volumeResult",
                "seriesResult",
                "labelResult",
                "instantMetricResult",
                "logResult",
                "taskResult",
            )
        },
        "index": {
            "totalChunks": 0,
            "postFilterChunks": 0,
            "shardsDuration": 0,
            "usedBloomFilters": False,
            "totalStreams": stats.total_streams,
            "chunkRefsLookupTime": 0,
            "bloomFilterTime": 0,
        },
    }
