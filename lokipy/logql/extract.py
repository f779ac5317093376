"""Range-aggregation input: the samples of a log range, as per-series sorted columns.

Every selected stream is read once over the union of all step windows. Filters-only pipelines
over streams without structured metadata collect timestamps (and line lengths for ``bytes_*``)
without touching lines; anything else runs the pipeline per surviving line and keys each sample
by its final labels, with grouping and the unwrapped label applied at extraction, as Loki's
sample extractors do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from lokipy.logql import ast
from lokipy.logql.functions import CONVERSIONS, ConversionError
from lokipy.logql.log.labels import LabelsBuilder
from lokipy.logql.planner import (
    ERR_SAMPLE_EXTRACTION,
    ERROR_LABEL,
    compile_label_filters,
    compile_pipeline,
)
from lokipy.logql.results import make_labels
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import QueryTimeout
from lokipy.model.labels import Labels
from lokipy.model.querier import Direction, Querier

_BYTES_OPS = frozenset({"bytes_over_time", "bytes_rate"})
_REDUCER_CACHE = 65536

TIMEOUT_MESSAGE = (
    "request timed out, decrease the duration of the request or add more label matchers "
    "(prefer exact match over regex match) to reduce the amount of data processed"
)


@dataclass(slots=True)
class ScanStats:
    """What the storage scan touched (summed into the query's stats)."""

    lines: int = 0
    bytes: int = 0
    post_filter_lines: int = 0
    metadata_bytes: int = 0
    streams: int = 0
    deadline: float | None = None  # time.monotonic() after which the query is abandoned

    def add_batch(self, batch: EntryBatch) -> None:
        """Count a batch read from storage; also where a query past its deadline stops."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimeout(TIMEOUT_MESSAGE)
        n = len(batch)
        self.lines += n
        if n:
            self.bytes += batch.offsets[n] - batch.offsets[0]
        if batch.metadata is not None:
            self.metadata_bytes += sum(len(name) + len(value) for md in batch.metadata for name, value in md)


@dataclass(slots=True)
class SeriesColumns:
    """One output series of a range aggregation: sample columns, one sorted run per stream.

    ``runs`` holds where each contributing stream's run starts in ``ts`` (every stream's
    samples arrive in time order, one stream after another). With values the runs are merged
    into one sorted column; without them (count_over_time, rate, absent_over_time only count)
    the runs stay as they are and windows are counted run by run: no per-sample work.

    Counting only, whole blocks are kept as they came in ``parts``: ``(sorted timestamps,
    sign)``, +1 for samples (a block's timestamp column, never copied into ``ts``) and -1 for
    lines read but dropped by a ``!=`` filter (the block's column holds them too).
    """

    ts: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    parts: list[tuple[Sequence[int], int]] = field(default_factory=list)

    @property
    def sources(self) -> int:
        return len(self.runs)

    def start_run(self) -> None:
        self.runs.append(len(self.ts))

    @property
    def merged(self) -> bool:
        """True when ``ts`` is one sorted column holding exactly the samples."""
        return len(self.runs) <= 1 and not self.parts

    def finish(self) -> None:
        if self.merged or not self.vals:
            return
        pairs = sorted(zip(self.ts, self.vals, strict=True), key=itemgetter(0))  # stable
        self.ts = [t for t, _ in pairs]
        self.vals = [v for _, v in pairs]
        self.runs = [0]

    def run_bounds(self) -> list[tuple[int, int]]:
        ends = self.runs[1:] + [len(self.ts)]
        return [(a, b) for a, b in zip(self.runs, ends, strict=True) if a < b]


def extract_samples(
    querier: Querier,
    tenant: str,
    expr: ast.RangeAggregation,
    start: int,
    end: int,
    stats: ScanStats,
) -> dict[Labels, SeriesColumns]:
    """Every sample in ``[start, end)`` as per-series columns keyed by final labels."""
    lr = expr.range
    unwrap = lr.unwrap
    with_bytes = expr.op in _BYTES_OPS
    need_values = with_bytes or unwrap is not None
    pipeline = compile_pipeline(lr.query.pipeline)
    reduce = _label_reducer(expr.grouping, unwrap.label if unwrap is not None else None)
    key_of = _builder_key(expr.grouping, reduce)
    series: dict[Labels, SeriesColumns] = {}
    streams = querier.select_streams(tenant, lr.query.matchers, start, end)
    stats.streams += len(streams)
    if unwrap is not None:
        convert = CONVERSIONS[unwrap.conversion]
        post = compile_label_filters(unwrap.post_filters)
    # A querier may offer ``select_timestamps`` (same arguments, batches whose lines are
    # left out: empty ``data``, zero-length offsets, metadata kept). count/rate over a bare
    # selector need nothing else, so the store can skip decompressing lines.
    select = querier.select_batches
    if pipeline.empty and not need_values:
        select = getattr(querier, "select_timestamps", select)
    for stream in streams:
        proc = pipeline.for_stream(stream)
        touched: set[int] = set()
        for batch in select(tenant, stream, start, end, Direction.FORWARD):
            n = len(batch)
            offsets = batch.offsets
            stats.add_batch(batch)
            if not pipeline.stages and batch.metadata is None and unwrap is None:
                # Fast path: the stream labels are the series labels. Without stages only
                # timestamps (and line lengths for bytes_*) are read; with leading line
                # filters the whole block is scanned once and only indices come back.
                key = reduce(stream.pairs)
                col = series.get(key)
                if col is None:
                    col = series[key] = SeriesColumns()
                if id(col) not in touched:
                    touched.add(id(col))
                    col.start_run()
                kept: Sequence[int] = range(n)
                stamps = batch.timestamps
                if not need_values:
                    # Only counted: the block's timestamp column is kept as it is. Filters
                    # that only drop lines (``!=``) keep it whole and list the dropped lines
                    # to subtract per window; others list the kept ones.
                    if pipeline.empty:
                        col.parts.append((stamps, 1))
                    elif (drop := proc.dropped(batch)) is not None:
                        col.parts.append((stamps, 1))
                        if drop:
                            col.parts.append(([stamps[i] for i in drop], -1))
                        n -= len(drop)
                    else:
                        kept = proc.select(batch)
                        n = len(kept)
                        if n:
                            col.parts.append(([stamps[i] for i in kept], 1))
                    stats.post_filter_lines += n
                    continue
                if pipeline.empty:
                    col.ts.extend(stamps)
                else:
                    kept = proc.select(batch)
                    col.ts.extend([stamps[i] for i in kept])
                if with_bytes:
                    col.vals.extend([float(offsets[i + 1] - offsets[i]) for i in kept])
                stats.post_filter_lines += len(kept)
                continue
            timestamps = batch.timestamps
            for i, line, builder in proc.process(batch):
                ts = timestamps[i]
                value = 0.0
                if unwrap is not None:
                    raw = builder.get(unwrap.label)
                    if not raw:
                        continue  # missing or empty label: no sample (as Loki, #6713)
                    try:
                        value = convert(raw)
                    except ConversionError as err:
                        builder.set_error(ERR_SAMPLE_EXTRACTION, str(err))
                    if post is not None and not post(builder, ts, line):
                        continue
                elif with_bytes:
                    value = float(len(line))
                stats.post_filter_lines += 1
                key = key_of(builder)
                col = series.get(key)
                if col is None:
                    col = series[key] = SeriesColumns()
                if id(col) not in touched:
                    touched.add(id(col))
                    col.start_run()
                col.ts.append(ts)
                if need_values:  # count/rate read timestamps only, on every path
                    col.vals.append(value)
    for col in series.values():
        col.finish()
    return series


def _label_reducer(
    grouping: ast.Grouping | None, unwrap_label: str | None
) -> Callable[[tuple[tuple[str, str], ...]], Labels]:
    """Series labels of a sample: grouping (``by``/``without``) applied at extraction, and the
    unwrapped label dropped, unless the sample has an error (which must stay visible)."""
    cache: dict[tuple[tuple[str, str], ...], Labels] = {}
    if grouping is None or grouping.without:
        drop = set(grouping.labels) if grouping is not None else set()
        if unwrap_label is not None:
            drop.add(unwrap_label)
        keep: set[str] | None = None
    else:
        drop = set()
        keep = set(grouping.labels)

    def reduce(pairs: tuple[tuple[str, str], ...]) -> Labels:
        labels = cache.get(pairs)
        if labels is None:
            if any(n == ERROR_LABEL for n, _ in pairs):
                labels = make_labels(pairs)
            elif keep is not None:
                labels = make_labels([p for p in pairs if p[0] in keep])
            else:
                labels = make_labels([p for p in pairs if p[0] not in drop])
            if len(cache) >= _REDUCER_CACHE:  # unique parsed values per line: stay bounded
                cache.clear()
            cache[pairs] = labels
        return labels

    return reduce


def _builder_key(
    grouping: ast.Grouping | None, reduce: Callable[[tuple[tuple[str, str], ...]], Labels]
) -> Callable[[LabelsBuilder], Labels]:
    """Series labels straight from a line's label builder. With ``by (...)`` only the grouped
    names are read (no full, sorted label set per line); errors keep every label."""
    if grouping is None or grouping.without:
        return lambda builder: reduce(builder.labels())
    names = sorted(set(grouping.labels))
    cache: dict[tuple[str | None, ...], Labels] = {}

    def key_of(builder: LabelsBuilder) -> Labels:
        if builder.err or builder.err_details:
            return reduce(builder.labels())
        get = builder.get
        values = tuple([get(n) for n in names])
        labels = cache.get(values)
        if labels is None:
            if len(cache) >= _REDUCER_CACHE:
                cache.clear()
            labels = cache[values] = make_labels(
                [(n, v) for n, v in zip(names, values, strict=True) if v is not None]
            )
        return labels

    return key_of
