"""The LogQL engine: parse, validate against limits, evaluate, shape the result.

``Engine(querier).query_range(...)`` / ``.query_instant(...)`` are what the HTTP layer and the
embedded ``LogStore.query`` call. All times are int nanoseconds; ``start`` is inclusive and, for
log queries, ``end`` exclusive (a metric range query evaluates every step up to and including
``end``).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from heapq import merge
from typing import Any

from lokipy.logql import ast
from lokipy.logql.evaluator import Column, MetricEvaluator, ScanStats
from lokipy.logql.log.labels import METADATA, LabelsBuilder
from lokipy.logql.planner import CompiledPipeline, compile_pipeline
from lokipy.logql.results import (
    EMPTY_LABELS,
    EntryLabels,
    Matrix,
    QueryResult,
    QueryStats,
    Sample,
    Scalar,
    Series,
    Stream,
    Streams,
    Vector,
    make_labels,
)
from lokipy.logql.units import format_go_duration
from lokipy.logql.vector import StepVector
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import Labels
from lokipy.model.querier import Direction, PendingBatch, Querier

HOUR_NS = 3600 * 10**9
MAX_POINTS = 11000

LOG_INSTANT_ERROR = (
    "log queries are not supported as an instant query type, please change your query to a range query type"
)


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Per-tenant query limits, with Loki's defaults (0 disables a limit)."""

    max_entries_limit_per_query: int = 5000
    max_query_series: int = 500
    max_query_length: int = 721 * HOUR_NS
    query_timeout: float = 60.0  # seconds of evaluation before QueryTimeout (HTTP 504)


def parse_query(query: str | ast.Expr) -> ast.Expr:
    """Parse LogQL text; an already-parsed tree is used as is (embedded callers)."""
    if isinstance(query, ast.Expr):
        return query
    from lokipy.logql.parser import parse

    return parse(query)  # type: ignore[no-any-return]


class Engine:
    def __init__(self, querier: Querier, limits: QueryLimits | None = None) -> None:
        self.querier = querier
        self.limits = limits or QueryLimits()

    # --- public entry points -------------------------------------------------------------

    def query_range(
        self,
        tenant: str,
        query: str | ast.Expr,
        start: int,
        end: int,
        step: int,
        *,
        limit: int = 100,
        direction: Direction = Direction.BACKWARD,
        interval: int = 0,
    ) -> QueryResult:
        began = time.perf_counter()
        expr = parse_query(query)
        if end < start:
            raise InvalidInput("end timestamp must not be before or equal to start time")
        self._check_length(start, end)
        if isinstance(expr, ast.LogQuery):
            self._check_limit(limit)
            if interval < 0:
                raise InvalidInput("interval must be >= 0")
            streams, scan = self._log_query(tenant, expr, start, end, limit, direction, interval)
            return self._finish(streams, scan, began, ())
        assert isinstance(expr, ast.SampleExpr)
        if step <= 0:
            raise InvalidInput(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
            )
        if (end - start) // step > MAX_POINTS:
            raise InvalidInput(
                "exceeded maximum resolution of 11,000 points per time series. "
                "Try increasing the value of the step parameter"
            )
        steps = list(range(start, end + 1, step))
        evaluator = MetricEvaluator(self.querier, tenant, steps, self._deadline())
        columns = evaluator.columns(expr)  # common shapes skip per-step vectors entirely
        if columns is not None:
            matrix, warnings = self._matrix_from_columns(steps, columns)
        else:
            matrix, warnings = self._matrix(steps, evaluator.eval(expr))
        return self._finish(matrix, evaluator.stats, began, warnings)

    def query_instant(
        self,
        tenant: str,
        query: str | ast.Expr,
        ts: int,
        *,
        limit: int = 100,
        direction: Direction = Direction.BACKWARD,
    ) -> QueryResult:
        began = time.perf_counter()
        expr = parse_query(query)
        if isinstance(expr, ast.LogQuery):
            raise InvalidInput(LOG_INSTANT_ERROR)
        assert isinstance(expr, ast.SampleExpr)
        evaluator = MetricEvaluator(self.querier, tenant, [ts], self._deadline())
        value = evaluator.eval(expr)
        if isinstance(value, float):
            return self._finish(Scalar(ts, value), evaluator.stats, began, ())
        samples = value[0]
        if not _is_sort(expr):
            samples = sorted(samples, key=lambda s: s[0].pairs)
        samples, warnings = self._cap_series(samples)
        vector = Vector(ts, tuple(Sample(labels, v) for labels, v in samples))
        return self._finish(vector, evaluator.stats, began, warnings)

    # --- limits --------------------------------------------------------------------------

    def _deadline(self) -> float | None:
        timeout = self.limits.query_timeout
        return time.monotonic() + timeout if timeout > 0 else None

    def _check_limit(self, limit: int) -> None:
        cap = self.limits.max_entries_limit_per_query
        if limit <= 0:
            raise InvalidInput("limit must be a positive value")
        if cap and limit > cap:
            raise InvalidInput(
                f"max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {cap})"
            )

    def _check_length(self, start: int, end: int) -> None:
        cap = self.limits.max_query_length
        if cap and end - start > cap:
            raise InvalidInput(
                f"the query time range exceeds the limit (query length: "
                f"{format_go_duration(end - start)}, limit: {format_go_duration(cap)})"
            )

    def _series_warning(self) -> str:
        return (
            f"maximum number of series ({self.limits.max_query_series}) reached for a single "
            "query; returning partial results"
        )

    def _cap_series(self, samples: StepVector) -> tuple[StepVector, tuple[str, ...]]:
        cap = self.limits.max_query_series
        if cap and len(samples) > cap:
            return samples[:cap], (self._series_warning(),)
        return samples, ()

    # --- metric results ------------------------------------------------------------------

    def _matrix(self, steps: list[int], value: float | list[StepVector]) -> tuple[Matrix, tuple[str, ...]]:
        if isinstance(value, float):
            series = Series(EMPTY_LABELS, tuple(steps), tuple(value for _ in steps))
            return Matrix((series,)), ()
        columns: dict[Labels, tuple[list[int], list[float]]] = {}
        for i, vec in enumerate(value):
            for labels, v in vec:
                col = columns.get(labels)
                if col is None:
                    col = columns[labels] = ([], [])
                col[0].append(i)
                col[1].append(v)
        return self._matrix_from_columns(steps, [(lb, idx, vals) for lb, (idx, vals) in columns.items()])

    def _matrix_from_columns(self, steps: list[int], columns: list[Column]) -> tuple[Matrix, tuple[str, ...]]:
        ordered = sorted(columns, key=lambda c: c[0].pairs)
        warnings: tuple[str, ...] = ()
        cap = self.limits.max_query_series
        if cap and len(ordered) > cap:
            ordered = ordered[:cap]
            warnings = (self._series_warning(),)
        series = tuple(
            Series(labels, tuple([steps[i] for i in idx]), tuple(vals)) for labels, idx, vals in ordered
        )
        return Matrix(series), warnings

    def _finish(
        self,
        value: Streams | Matrix | Vector | Scalar,
        scan: ScanStats,
        began: float,
        warnings: tuple[str, ...],
    ) -> QueryResult:
        stats = QueryStats(
            exec_time=time.perf_counter() - began,
            total_bytes_processed=scan.bytes,
            total_lines_processed=scan.lines,
            total_entries_returned=len(value),
            total_post_filter_lines=scan.post_filter_lines,
            total_structured_metadata_bytes=scan.metadata_bytes,
            total_streams=scan.streams,
        )
        return QueryResult(value, stats, warnings)

    # --- log queries ---------------------------------------------------------------------

    def _log_query(
        self,
        tenant: str,
        expr: ast.LogQuery,
        start: int,
        end: int,
        limit: int,
        direction: Direction,
        interval: int,
    ) -> tuple[Streams, ScanStats]:
        scan = ScanStats(deadline=self._deadline())
        pipeline = compile_pipeline(expr.pipeline)
        # Streams in label-string order: their index breaks timestamp ties in the merge.
        streams = sorted(self.querier.select_streams(tenant, expr.matchers, start, end), key=str)
        scan.streams = len(streams)
        direction = Direction(str(direction).lower())  # accepts "BACKWARD", "forward" too
        backward = direction is Direction.BACKWARD
        sign = -1 if backward else 1
        # Every stream is read lazily, a block at a time, and merged in direction order. Before
        # each block a source yields a watermark (the block's newest time for backward, oldest
        # for forward, from block metadata): the merge discards it, and the block is only read
        # once the merge gets that far, so a query over many streams reads blocks only down
        # to the time of its limit-th result, never a stream's older blocks to find its first.
        pending = getattr(self.querier, "select_pending", None)
        sources = [
            _entries(
                pipeline,
                stream,
                si,
                pending(tenant, stream, start, end, direction)
                if pending is not None
                else _announced(self.querier.select_batches(tenant, stream, start, end, direction), scan),
                sign,
                scan,
                counted=pending is None,
            )
            for si, stream in enumerate(streams)
        ]
        picked: list[tuple[Any, ...]] = []
        last: int | None = None
        for item in merge(*sources):
            if item[3] is None:  # a watermark
                continue
            t = item[0] * sign
            if interval and last is not None:
                if backward and t > last - interval:
                    continue
                if not backward and t < last + interval:
                    continue
            picked.append(item)
            last = t
            if len(picked) >= limit:
                break
        for source in sources:
            source.close()
        return _group_streams(picked, streams, sign), scan


def _announced(batches: Iterable[EntryBatch], scan: ScanStats) -> Iterator[PendingBatch]:
    """Batches of a querier without ``select_pending``: each is read (and counted) to
    announce it."""
    for batch in batches:
        if len(batch):
            scan.add_batch(batch)
            ts = batch.timestamps
            yield PendingBatch(ts[0], ts[-1], partial(_same, batch))


def _same(batch: EntryBatch) -> EntryBatch:
    return batch


def _entries(
    pipeline: CompiledPipeline,
    stream: Labels,
    si: int,
    pending: Iterable[PendingBatch],
    sign: int,
    scan: ScanStats,
    *,
    counted: bool = False,
) -> Generator[tuple[Any, ...], None, None]:
    """One stream's surviving entries in direction order as merge-ready tuples:
    ``(sign * ts, stream index, seq, line, labels, categories)`` (plain tuple order is the
    merge order, so ``heapq.merge`` needs no key function), with watermarks
    ``(sign * bound, stream index, seq, None, None, None)``: nothing the stream yields after a
    watermark sorts before it. ``counted``: the batches were already counted in ``scan``."""
    proc = pipeline.for_stream(stream)
    seq = 0
    backward = sign < 0
    pairs = stream.pairs
    for block in pending:
        yield (sign * (block.max_ts if backward else block.min_ts), si, seq, None, None, None)
        seq += 1
        batch = block.load()
        if not len(batch):
            continue
        if not counted:
            scan.add_batch(batch)
        ts = batch.timestamps
        if not pipeline.stages and batch.metadata is None:
            # Line filters at most: labels are the stream's; the block is scanned a segment at
            # a time (an empty segment is a watermark) and lines are sliced only when pulled.
            data, off = batch.data, batch.offsets
            for nxt, kept in proc.scan(batch, backward):
                if kept:
                    scan.post_filter_lines += len(kept)
                    for i in kept:
                        yield (sign * ts[i], si, seq, data[off[i] : off[i + 1]], pairs, None)
                        seq += 1
                elif nxt >= 0:
                    yield (sign * ts[nxt], si, seq, None, None, None)
                    seq += 1
            continue
        # Parsers and formatters run only on the entries the merge actually pulls.
        for i, line, builder in proc.process(batch, reverse=backward):
            scan.post_filter_lines += 1
            yield (sign * ts[i], si, seq, line, builder.labels(), _categories(builder))
            seq += 1


def _categories(builder: LabelsBuilder) -> EntryLabels | None:
    if builder.is_unchanged():
        return None
    metadata = []
    parsed = []
    for name, value in builder.added.items():
        if builder.category.get(name) == METADATA:
            metadata.append((name, value))
        else:
            parsed.append((name, value))
    if builder.err:
        parsed.append(("__error__", builder.err))
    if builder.err_details:
        parsed.append(("__error_details__", builder.err_details))
    return EntryLabels(tuple(sorted(metadata)), tuple(sorted(parsed)))


_NO_CATEGORIES = EntryLabels()


def _group_streams(picked: list[tuple[Any, ...]], streams: list[Labels], sign: int) -> Streams:
    groups: dict[tuple[tuple[str, str], ...], tuple[Labels, list[Any], list[EntryLabels]]] = {}
    for signed_ts, si, _, line, pairs, cats in picked:
        group = groups.get(pairs)
        if group is None:
            group = groups[pairs] = (streams[si], [], [])
        group[1].append((signed_ts * sign, line.decode("utf-8", "replace")))
        group[2].append(cats or _NO_CATEGORIES)
    out = []
    for pairs, (stream, entries, cats) in groups.items():
        out.append(Stream(make_labels(pairs), tuple(entries), stream, tuple(cats)))
    out.sort(key=lambda s: str(s.labels))
    return Streams(tuple(out), sign > 0)


def _is_sort(expr: ast.Expr) -> bool:
    """Whether the query orders its result itself (``sort``/``sort_desc`` anywhere, e.g.
    ``sort(x) + 1``); other instant vectors come back sorted by labels."""
    return any(
        isinstance(node, ast.VectorAggregation) and node.op in ("sort", "sort_desc")
        for node in ast.walk(expr)
    )
