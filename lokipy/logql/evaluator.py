"""Metric-query evaluation: AST -> one instant vector per step (or a scalar).

A range query is evaluated at ``start, start+step, ... <= end``; an instant query is the same
with one step. Range aggregations read each selected stream once, over the union of all step
windows, and keep per-series sorted timestamp/value columns; each step's window
``(t - offset - range, t - offset]`` is then two bisections, so no per-step rescans and no
per-sample objects. Everything above range aggregations works step by step on small vectors.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lokipy.logql import ast
from lokipy.logql.functions import CONVERSIONS, ConversionError, range_function
from lokipy.logql.planner import (
    ERR_SAMPLE_EXTRACTION,
    ERROR_LABEL,
    PRESERVE_ERROR_LABEL,
    CompiledPipeline,
    compile_label_filters,
    compile_pipeline,
)
from lokipy.logql.results import EMPTY_LABELS, make_labels
from lokipy.logql.vector import (
    AGGREGATORS,
    Grouping,
    StepVector,
    VectorMatching,
    aggregate,
    cached_keys,
    label_replace,
    scalar_binop,
    vector_binop,
    vector_scalar_binop,
)
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import LogQLEvalError, QueryTimeout
from lokipy.model.labels import Labels
from lokipy.model.querier import Direction, Querier

Steps = float | list[StepVector]
"""A scalar (the same at every step) or one vector per step."""

Column = tuple[Labels, list[int], list[float]]
"""One series of a range aggregation: labels, step indices with a point, values there."""

_BYTES_OPS = frozenset({"bytes_over_time", "bytes_rate"})
_REDUCER_CACHE = 65536
_COLUMN_AGGREGATIONS = {
    op: AGGREGATORS[op] for op in ("sum", "avg", "min", "max", "count", "stddev", "stdvar")
}


TIMEOUT_MESSAGE = (
    "request timed out, decrease the duration of the request or add more label matchers "
    "(prefer exact match over regex match) to reduce the amount of data processed"
)


class PipelineError(LogQLEvalError):
    """A metric sample still carries ``__error__`` (Loki's ``pipeline error``)."""


def pipeline_error(labels: Labels) -> PipelineError:
    err = labels.get(ERROR_LABEL)
    return PipelineError(
        f"pipeline error: '{err}' for series: '{labels}'.\n"
        "Use a label filter to intentionally skip this error. "
        f'(e.g | __error__!="{err}").\n'
        'To skip all potential errors you can match empty errors.(e.g __error__="")\n'
        "The label filter can also be specified after unwrap. "
        '(e.g | unwrap latency | __error__="" )\n'
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
class _SeriesBuilder:
    """One output series of a range aggregation: columns plus whether they need sorting."""

    ts: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    sources: int = 0

    def finish(self) -> None:
        if self.sources > 1:  # several streams merged into this series
            order = sorted(range(len(self.ts)), key=self.ts.__getitem__)
            self.ts = [self.ts[i] for i in order]
            self.vals = [self.vals[i] for i in order] if self.vals else []


class MetricEvaluator:
    """Evaluates a :class:`ast.SampleExpr` over ``steps`` (ascending ns timestamps)."""

    def __init__(
        self, querier: Querier, tenant: str, steps: list[int], deadline: float | None = None
    ) -> None:
        self.querier = querier
        self.tenant = tenant
        self.steps = steps
        self.stats = ScanStats(deadline=deadline)

    def eval(self, expr: ast.SampleExpr) -> Steps:
        if isinstance(expr, ast.NumberLiteral):
            return float(expr.value)
        if isinstance(expr, ast.VectorExpr):
            value = float(expr.value)
            return [[(EMPTY_LABELS, value)] for _ in self.steps]
        if isinstance(expr, ast.RangeAggregation):
            return self._range_aggregation(expr)
        if isinstance(expr, ast.VectorAggregation):
            return self._vector_aggregation(expr)
        if isinstance(expr, ast.BinaryOp):
            return self._binary(expr)
        if isinstance(expr, ast.LabelReplace):
            inner = self._vector(expr.expr)
            return [label_replace(v, expr.dst, expr.replacement, expr.src, expr.regex) for v in inner]
        raise LogQLEvalError(f"unsupported expression {expr}")

    def _vector(self, expr: ast.SampleExpr) -> list[StepVector]:
        value = self.eval(expr)
        if isinstance(value, float):
            raise LogQLEvalError(f"expected a vector, got the scalar {expr}")
        return value

    # --- vector aggregations and binary operators ----------------------------------------

    def columns(self, expr: ast.SampleExpr) -> list[Column] | None:
        """Column-wise result for the common shapes (a range aggregation, optionally under a
        sum/avg/min/max/count/stddev/stdvar aggregation); None for everything else."""
        if isinstance(expr, ast.RangeAggregation):
            return self.range_columns(expr)
        if (
            isinstance(expr, ast.VectorAggregation)
            and expr.op in _COLUMN_AGGREGATIONS
            and isinstance(expr.expr, ast.RangeAggregation)
        ):
            grouping = Grouping(expr.grouping.labels, expr.grouping.without)
            groups: dict[Labels, list[Column]] = {}
            for col in self.range_columns(expr.expr):
                groups.setdefault(grouping.key(col[0]), []).append(col)
            fn = _COLUMN_AGGREGATIONS[expr.op]
            out: list[Column] = []
            for key, members in groups.items():
                per_step: dict[int, list[float]] = {}
                for _, idx, vals in members:
                    for i, v in zip(idx, vals, strict=True):
                        bucket = per_step.get(i)
                        if bucket is None:
                            per_step[i] = [v]
                        else:
                            bucket.append(v)
                steps = sorted(per_step)
                out.append((key, steps, [fn(per_step[i]) for i in steps]))
            return out
        return None

    def _vector_aggregation(self, expr: ast.VectorAggregation) -> list[StepVector]:
        cols = self.columns(expr)
        if cols is not None:
            vectors: list[StepVector] = [[] for _ in self.steps]
            for labels, idx, vals in cols:
                for i, v in zip(idx, vals, strict=True):
                    vectors[i].append((labels, v))
            return vectors
        inner = self._vector(expr.expr)
        grouping = Grouping(expr.grouping.labels, expr.grouping.without)
        param = None if expr.param is None else float(expr.param)
        keys = cached_keys(grouping)
        return [aggregate(expr.op, v, grouping, param, keys) for v in inner]

    def _binary(self, expr: ast.BinaryOp) -> Steps:
        lhs = self.eval(expr.lhs)
        rhs = self.eval(expr.rhs)
        op = expr.op
        if isinstance(lhs, float) and isinstance(rhs, float):
            return scalar_binop(op, lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            if op in ast.SET_OPS:
                raise LogQLEvalError(f"set operator {op} not allowed in binary scalar expression")
            scalar_left = isinstance(lhs, float)
            scalar = lhs if isinstance(lhs, float) else rhs
            vectors = rhs if scalar_left else lhs
            assert isinstance(scalar, float) and not isinstance(vectors, float)
            return [
                vector_scalar_binop(op, v, scalar, scalar_left=scalar_left, return_bool=expr.return_bool)
                for v in vectors
            ]
        m = expr.matching
        matching = VectorMatching(m.on, m.labels, m.card, m.include) if m is not None else VectorMatching()
        return [
            vector_binop(op, lv, rv, matching, return_bool=expr.return_bool)
            for lv, rv in zip(lhs, rhs, strict=True)
        ]

    # --- range aggregations --------------------------------------------------------------

    def _range_aggregation(self, expr: ast.RangeAggregation) -> list[StepVector]:
        out: list[StepVector] = [[] for _ in self.steps]
        for labels, idx, vals in self.range_columns(expr):
            for i, v in zip(idx, vals, strict=True):
                out[i].append((labels, v))
        return out

    def range_columns(self, expr: ast.RangeAggregation) -> list[Column]:
        """Per output series: the step indices that have a point, and the values there."""
        rng = expr.range.range_ns
        off = expr.range.offset_ns
        fetch_start = self.steps[0] - off - rng + 1  # windows exclude their lower bound
        fetch_end = self.steps[-1] - off + 1
        series = self.extract(expr, fetch_start, fetch_end)
        ends = [t - off for t in self.steps]
        starts = [e - rng for e in ends]
        windows = []
        for labels, col in series.items():
            ts = col.ts
            his = [bisect_right(ts, e) for e in ends]
            los = [bisect_right(ts, s) for s in starts]
            idx = [i for i, (lo, hi) in enumerate(zip(los, his, strict=True)) if hi > lo]
            if idx and ERROR_LABEL in labels.names() and labels.get(PRESERVE_ERROR_LABEL) != "true":
                raise pipeline_error(labels)
            windows.append((labels, col, los, his, idx))
        if expr.op == "absent_over_time":
            present = set()
            for _, _, _, _, idx in windows:
                present.update(idx)
            missing = [i for i in range(len(self.steps)) if i not in present]
            if not missing:
                return []
            absent = absent_labels(expr.range.query.matchers)
            return [(absent, missing, [1.0] * len(missing))]
        op = expr.op
        unwrapped = expr.range.unwrap is not None
        out: list[Column] = []
        for labels, col, los, his, idx in windows:
            if not idx:
                continue
            if op == "count_over_time":
                vals = [float(his[i] - los[i]) for i in idx]
            elif op == "rate" and not unwrapped:
                secs = rng / 1e9
                vals = [(his[i] - los[i]) / secs for i in idx]
            else:
                fn = range_function(op, unwrapped=unwrapped, param=expr.param)
                ts, values = col.ts, col.vals
                vals = [fn(ts, values, los[i], his[i], rng, ends[i]) for i in idx]
            out.append((labels, idx, vals))
        return out

    def extract(self, expr: ast.RangeAggregation, start: int, end: int) -> dict[Labels, _SeriesBuilder]:
        """Every sample in ``[start, end)`` as per-series columns keyed by final labels."""
        lr = expr.range
        unwrap = lr.unwrap
        with_bytes = expr.op in _BYTES_OPS
        need_values = with_bytes or unwrap is not None
        pipeline = compile_pipeline(lr.query.pipeline)
        reduce = _label_reducer(expr.grouping, unwrap.label if unwrap is not None else None)
        series: dict[Labels, _SeriesBuilder] = {}
        stats = self.stats
        streams = self.querier.select_streams(self.tenant, lr.query.matchers, start, end)
        stats.streams += len(streams)
        if unwrap is not None:
            convert = CONVERSIONS[unwrap.conversion]
            post = compile_label_filters(unwrap.post_filters)
        # A querier may offer ``select_timestamps`` (same arguments, batches whose lines are
        # left out: empty ``data``, zero-length offsets, metadata kept). count/rate over a bare
        # selector need nothing else, so the store can skip decompressing lines.
        select = self.querier.select_batches
        if pipeline.empty and not need_values:
            select = getattr(self.querier, "select_timestamps", select)
        for stream in streams:
            proc = pipeline.for_stream(stream)
            touched: set[int] = set()
            for batch in select(self.tenant, stream, start, end, Direction.FORWARD):
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
                        col = series[key] = _SeriesBuilder()
                    if id(col) not in touched:
                        touched.add(id(col))
                        col.sources += 1
                    kept: Sequence[int] = range(n)
                    if pipeline.empty:
                        col.ts.extend(batch.timestamps)
                    else:
                        kept = proc.select(batch)
                        stamps = batch.timestamps
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
                    key = reduce(builder.labels())
                    col = series.get(key)
                    if col is None:
                        col = series[key] = _SeriesBuilder()
                    if id(col) not in touched:
                        touched.add(id(col))
                        col.sources += 1
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


def absent_labels(matchers: tuple[ast.LabelMatcher, ...]) -> Labels:
    """Labels of ``absent_over_time``'s output: equality matchers, minus repeated names."""
    pairs: dict[str, str] = {}
    dropped: set[str] = set()
    for m in matchers:
        if m.type is ast.MatchType.EQ and m.name not in pairs:
            pairs[m.name] = m.value
        else:
            dropped.add(m.name)
    return make_labels([(n, v) for n, v in pairs.items() if n not in dropped])


__all__ = ["MetricEvaluator", "PipelineError", "ScanStats", "CompiledPipeline", "absent_labels"]
