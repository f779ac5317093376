"""Metric-query evaluation: AST -> one instant vector per step (or a scalar).

A range query is evaluated at ``start, start+step, ... <= end``; an instant query is the same
with one step. Range aggregations read each selected stream once, over the union of all step
windows, and keep per-series sorted timestamp/value columns; each step's window
``(t - offset - range, t - offset]`` is then two bisections, so no per-step rescans and no
per-sample objects. Everything above range aggregations works step by step on small vectors.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import replace
from itertools import accumulate
from operator import add, sub

from lokipy.logql import ast
from lokipy.logql.extract import ScanStats, SeriesColumns, extract_samples
from lokipy.logql.functions import range_function
from lokipy.logql.planner import (
    ERROR_LABEL,
    PRESERVE_ERROR_LABEL,
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
from lokipy.model.errors import LogQLEvalError
from lokipy.model.labels import Labels
from lokipy.model.querier import Querier

Steps = float | list[StepVector]
"""A scalar (the same at every step) or one vector per step."""

Column = tuple[Labels, list[int], list[float]]
"""One series of a range aggregation: labels, step indices with a point, values there."""

_ADDITIVE_OPS = frozenset({"count_over_time", "rate", "bytes_over_time", "bytes_rate"})
_COLUMN_AGGREGATIONS = {
    op: AGGREGATORS[op] for op in ("sum", "avg", "min", "max", "count", "stddev", "stdvar")
}


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
            and expr.op == "sum"
            and isinstance(expr.expr, ast.RangeAggregation)
            and expr.expr.op in _ADDITIVE_OPS
            and expr.expr.range.unwrap is None
            and expr.expr.grouping is None
        ):
            # A sum of counts is the count of the merged samples: group at extraction, so a
            # high-cardinality pipeline (a json field per line) never makes a series per line.
            return self.range_columns(replace(expr.expr, grouping=expr.grouping))
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
        series = extract_samples(self.querier, self.tenant, expr, fetch_start, fetch_end, self.stats)
        ends = [t - off for t in self.steps]
        starts = [e - rng for e in ends]
        windows = []
        for labels, col in series.items():
            if col.merged:
                idx, los, his = self._windows(col.ts, ends, starts, rng, off)
            else:  # counting only: per-stream runs, window counts added run by run
                idx, los, his = self._run_windows(col, ends, starts)
            if idx and ERROR_LABEL in labels.names() and labels.get(PRESERVE_ERROR_LABEL) != "true":
                raise pipeline_error(labels)
            windows.append((labels, col, idx, los, his))
        if expr.op == "absent_over_time":
            present = set()
            for _, _, idx, _, _ in windows:
                present.update(idx)
            missing = [i for i in range(len(self.steps)) if i not in present]
            if not missing:
                return []
            absent = absent_labels(expr.range.query.matchers)
            return [(absent, missing, [1.0] * len(missing))]
        op = expr.op
        unwrapped = expr.range.unwrap is not None
        out: list[Column] = []
        for labels, col, idx, los, his in windows:
            if not idx:
                continue
            if op == "count_over_time":
                vals = [float(hi - lo) for lo, hi in zip(los, his, strict=True)]
            elif op == "rate" and not unwrapped:
                secs = rng / 1e9
                vals = [(hi - lo) / secs for lo, hi in zip(los, his, strict=True)]
            else:
                fn = range_function(op, unwrapped=unwrapped, param=expr.param)
                ts, values = col.ts, col.vals
                vals = [fn(ts, values, lo, hi, rng, ends[i]) for i, lo, hi in zip(idx, los, his, strict=True)]
            out.append((labels, idx, vals))
        return out

    @staticmethod
    def _run_windows(
        col: SeriesColumns, ends: list[int], starts: list[int]
    ) -> tuple[list[int], list[int], list[int]]:
        """Like :meth:`_windows` for unmerged runs and parts: ``his[i] - los[i]`` is the
        window's count.

        Every sorted piece (a run of ``ts`` or a part) counts, at each distinct window
        boundary, its samples at or before it. Only the boundaries inside the piece's time
        span are bisected: before it the count is 0, after it the piece's length, added once
        as a suffix. With ``range == step`` a start is the previous window's end, so each
        boundary is visited once per piece.
        """
        bounds = sorted(set(starts).union(ends))
        nb = len(bounds)
        at = {b: k for k, b in enumerate(bounds)}
        inside = [0] * nb  # samples at or before bounds[k], from pieces spanning it
        suffix = [0] * (nb + 1)  # pieces wholly at or before bounds[k], as a difference array
        pieces = [(col.ts, a, b, 1) for a, b in col.run_bounds()]
        pieces += [(part, 0, len(part), sign) for part, sign in col.parts]
        for seq, a, b, sign in pieces:
            if a >= b:
                continue
            k0 = bisect_left(bounds, seq[a])
            k1 = bisect_left(bounds, seq[b - 1])
            for k in range(k0, k1):
                inside[k] += sign * (bisect_right(seq, bounds[k], a, b) - a)
            suffix[k1] += sign * (b - a)
        upto = list(map(add, accumulate(suffix[:nb]), inside))
        get = upto.__getitem__
        counts = list(map(sub, map(get, [at[e] for e in ends]), map(get, [at[s] for s in starts])))
        idx = [i for i, c in enumerate(counts) if c]
        return idx, [0] * len(idx), [counts[i] for i in idx]

    def _windows(
        self, ts: list[int], ends: list[int], starts: list[int], rng: int, off: int
    ) -> tuple[list[int], list[int], list[int]]:
        """Steps whose window holds samples of ``ts``, with each window's ``[lo, hi)`` bounds.

        Dense series bisect at every step. A series with far fewer samples than steps (a label
        set seen on a few lines) only visits the steps its samples can reach: a sample ``x``
        is in the window of step ``t`` iff ``x + off <= t < x + off + rng``.
        """
        steps = self.steps
        n = len(steps)
        if n < 2 or len(ts) * 4 >= n:
            his = [bisect_right(ts, e) for e in ends]
            los = [bisect_right(ts, s) for s in starts]
            idx = [i for i in range(n) if his[i] > los[i]]
            return idx, [los[i] for i in idx], [his[i] for i in idx]
        first, step = steps[0], steps[1] - steps[0]
        idx = []
        reached = 0
        for x in ts:  # ascending, so the step ranges come in order
            lo_i = max(reached, -((first - x - off) // step))  # ceil((x + off - first) / step)
            hi_i = min(n, -((first - x - off - rng) // step))
            if lo_i < hi_i:
                idx.extend(range(lo_i, hi_i))
                reached = hi_i
        los = [bisect_right(ts, starts[i]) for i in idx]
        his = [bisect_right(ts, ends[i]) for i in idx]
        return idx, los, his


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


__all__ = ["Column", "MetricEvaluator", "PipelineError", "ScanStats", "absent_labels"]
