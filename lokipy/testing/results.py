"""Query results for tests: Loki's ``data`` object (JSON shape) turned into small values.

Both fixture flavours produce the very same ``data`` dict — over HTTP it is the response body,
in process it is ``LogStore.query_range_data`` — so one parser serves both, and results gain
whatever the LogQL engine returns (streams, matrix, vector, scalar) without changes here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lokipy.model.labels import Labels
from lokipy.model.timeparse import format_rfc3339_nano


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log line as a query returned it. ``labels`` are the stream's (indexed) labels."""

    ts: int
    line: str
    labels: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    parsed: Mapping[str, str] = field(default_factory=dict)

    def all_labels(self) -> dict[str, str]:
        """Stream labels, structured metadata and parsed labels together (as Loki shows them)."""
        return {**self.labels, **self.metadata, **self.parsed}

    def __str__(self) -> str:
        md = f" {Labels.from_map(self.metadata)}" if self.metadata else ""
        return f"{format_rfc3339_nano(self.ts)} {self.line}{md}"


@dataclass(frozen=True, slots=True)
class LogStream:
    labels: Mapping[str, str]
    entries: tuple[LogEntry, ...]

    @property
    def selector(self) -> str:
        """The stream's labels as a LogQL stream selector (``{a="1", b="2"}``)."""
        return str(Labels.from_map(self.labels))


@dataclass(frozen=True, slots=True)
class Series:
    """A metric query's series: labels and (unix seconds, value) samples."""

    metric: Mapping[str, str]
    samples: tuple[tuple[float, float], ...]

    @property
    def last(self) -> float:
        return self.samples[-1][1] if self.samples else float("nan")


@dataclass(frozen=True, slots=True)
class QueryResult:
    result_type: str
    streams: tuple[LogStream, ...] = ()
    series: tuple[Series, ...] = ()
    scalar: float | None = None
    direction: str = "forward"
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def entries(self) -> list[LogEntry]:
        """Every entry of every stream in the query's direction: oldest first for forward,
        newest first for backward (ties keep stream order)."""
        out = [e for s in self.streams for e in s.entries]
        out.sort(key=lambda e: e.ts, reverse=self.direction == "backward")
        return out

    @property
    def lines(self) -> list[str]:
        return [e.line for e in self.entries]

    @property
    def count(self) -> int:
        """Entries for a log query; series for a metric query; 1 for a scalar."""
        if self.result_type == "streams":
            return sum(len(s.entries) for s in self.streams)
        if self.result_type == "scalar":
            return 1
        return len(self.series)

    def value(self) -> float:
        """The single value of a one-series (or scalar) metric result: its last sample."""
        if self.scalar is not None:
            return self.scalar
        if len(self.series) != 1:
            raise AssertionError(
                f"expected exactly one series, got {len(self.series)}: {[dict(s.metric) for s in self.series]}"
            )
        return self.series[0].last

    def __len__(self) -> int:
        return self.count


def _values(raw: list[Any], labels: Mapping[str, str]) -> tuple[LogEntry, ...]:
    out = []
    for v in raw:
        extra = v[2] if len(v) > 2 and isinstance(v[2], dict) else {}
        out.append(
            LogEntry(
                ts=int(v[0]),
                line=v[1],
                labels=labels,
                metadata=extra.get("structuredMetadata") or {},
                parsed=extra.get("parsed") or {},
            )
        )
    return tuple(out)


def parse_data(data: Mapping[str, Any], direction: str = "forward") -> QueryResult:
    """Build a :class:`QueryResult` from Loki's ``data`` object (any result type)."""
    kind = data.get("resultType", "")
    result = data.get("result") or []
    if kind == "streams":
        streams = tuple(LogStream(dict(s["stream"]), _values(s["values"], dict(s["stream"]))) for s in result)
        return QueryResult(kind, streams=streams, direction=direction, data=data)
    if kind == "matrix":
        series = tuple(
            Series(dict(s["metric"]), tuple((float(t), float(v)) for t, v in s["values"])) for s in result
        )
        return QueryResult(kind, series=series, data=data)
    if kind == "vector":
        series = tuple(
            Series(dict(s["metric"]), ((float(s["value"][0]), float(s["value"][1])),)) for s in result
        )
        return QueryResult(kind, series=series, data=data)
    if kind == "scalar":
        return QueryResult(kind, scalar=float(result[1]), data=data)
    raise ValueError(f"unknown resultType {kind!r}")
