"""From the AST's pipeline stages to runnable stage objects of :mod:`lokipy.logql.log`.

A compiled pipeline runs in two parts, because Python pays per line:

* the *leading* line filters (everything before the first parser/formatter) run over whole
  blocks at once through the filters' ``select(batch)`` (one ``bytes.find``/RE2 scan per
  block), so discarded lines are never sliced out or turned into objects;
* the remaining stages run line by line, only on the survivors, on one reused
  :class:`LabelsBuilder` per stream.

An empty pipeline is flagged so callers can skip lines entirely (timestamps-only scans).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from lokipy.logql import ast
from lokipy.logql.log import filters as line_filters
from lokipy.logql.log import parsers
from lokipy.logql.log.labels import (
    ERR_SAMPLE_EXTRACTION,
    ERROR_DETAILS_LABEL,
    ERROR_LABEL,
    LabelsBuilder,
)
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import InvalidInput, LogQLEvalError
from lokipy.model.labels import Labels

PRESERVE_ERROR_LABEL = "__preserve_error__"

__all__ = [
    "ERR_SAMPLE_EXTRACTION",
    "ERROR_DETAILS_LABEL",
    "ERROR_LABEL",
    "PRESERVE_ERROR_LABEL",
    "CompiledPipeline",
    "compile_label_filters",
    "compile_pipeline",
]


class StageObject(Protocol):
    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None: ...


class _LineFilterStage:
    """A line filter placed after a parser/formatter: it sees the current line."""

    __slots__ = ("_matches",)

    def __init__(self, flt: Any) -> None:
        self._matches = flt.matches

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        return line if self._matches(line) else None


def _line_filter(stage: ast.LineFilter) -> Any:
    try:
        if stage.ors:
            alts = [(a.value, a.ip) for a in stage.alternatives()]
            return line_filters.line_filter_or(stage.op, alts)
        return line_filters.line_filter(stage.op, stage.value, ip=stage.ip)
    except InvalidInput as err:
        raise LogQLEvalError(str(err)) from err


def _label_filter(expr: ast.LabelFilterExpr) -> Any:
    from lokipy.logql.log import label_filters as lf

    if isinstance(expr, ast.StringLabelFilter):
        m = expr.matcher
        return lf.StringLabelFilter(m.name, m.type.value, m.value)
    if isinstance(expr, ast.NumericLabelFilter):
        return lf.NumericLabelFilter(expr.name, expr.op, expr.value)
    if isinstance(expr, ast.DurationLabelFilter):
        return lf.DurationLabelFilter(expr.name, expr.op, expr.value_ns)
    if isinstance(expr, ast.BytesLabelFilter):
        return lf.BytesLabelFilter(expr.name, expr.op, expr.value)
    if isinstance(expr, ast.IPLabelFilter):
        return lf.IPLabelFilter(expr.name, expr.op, expr.pattern)
    if isinstance(expr, ast.BinaryLabelFilter):
        left, right = _label_filter(expr.left), _label_filter(expr.right)
        if expr.op == "or":
            return lf.OrLabelFilter(left, right)
        return lf.AndLabelFilter(left, right)
    raise LogQLEvalError(f"unsupported label filter {expr}")


def _stage(stage: ast.Stage) -> StageObject:
    """One per-line stage object (anything but a leading line filter)."""
    if isinstance(stage, ast.LineFilter):
        return _LineFilterStage(_line_filter(stage))
    if isinstance(stage, ast.JSONParser):
        if stage.params:
            return parsers.JSONExpressionParser([(p.name, p.expression) for p in stage.params])
        return parsers.JSONParser()
    if isinstance(stage, ast.LogfmtParser):
        if stage.params:
            return parsers.LogfmtExpressionParser(
                [(p.name, p.expression) for p in stage.params], strict=stage.strict
            )
        return parsers.LogfmtParser(strict=stage.strict, keep_empty=stage.keep_empty)
    if isinstance(stage, ast.RegexpParser):
        return parsers.RegexpParser(stage.pattern)
    if isinstance(stage, ast.PatternParser):
        return parsers.PatternParser(stage.pattern)
    if isinstance(stage, ast.UnpackParser):
        return parsers.UnpackParser()
    if isinstance(stage, ast.LabelFilter):
        return _label_filter(stage.filter)  # type: ignore[no-any-return]
    return _formatting_stage(stage)


def _named(items: tuple[str | ast.LabelMatcher, ...]) -> list[tuple[str, str | None, str | None]]:
    return [(i, None, None) if isinstance(i, str) else (i.name, i.type.value, i.value) for i in items]


def _formatting_stage(stage: ast.Stage) -> StageObject:
    from lokipy.logql.log import drop_keep, fmt

    if isinstance(stage, ast.LineFormat):
        return fmt.LineFormatter(stage.template)  # type: ignore[no-any-return]
    if isinstance(stage, ast.LabelFormat):
        return fmt.LabelsFormatter(  # type: ignore[no-any-return]
            [(op.dst, op.value, not op.rename) for op in stage.ops]
        )
    if isinstance(stage, ast.Drop):
        return drop_keep.DropLabels(_named(stage.items))  # type: ignore[no-any-return]
    if isinstance(stage, ast.Keep):
        return drop_keep.KeepLabels(_named(stage.items))  # type: ignore[no-any-return]
    if isinstance(stage, ast.Decolorize):
        return fmt.Decolorize()  # type: ignore[no-any-return]
    raise LogQLEvalError(f"unsupported pipeline stage {stage}")


def _build(stage: ast.Stage) -> StageObject:
    try:
        return _stage(stage)
    except LogQLEvalError:
        raise
    except InvalidInput as err:  # bad regex/template/path: Loki rejects it when building
        raise LogQLEvalError(str(err)) from err


class CompiledPipeline:
    """The stages of one log query, ready to run over a stream's batches."""

    __slots__ = ("block_filter", "stages", "empty")

    def __init__(self, block_filter: Any, stages: list[StageObject]) -> None:
        self.block_filter = block_filter
        self.stages = stages
        self.empty = block_filter is None and not stages

    def for_stream(self, labels: Labels) -> StreamProcessor:
        return StreamProcessor(self, labels)


class StreamProcessor:
    """Runs a compiled pipeline over the batches of one stream."""

    __slots__ = ("pipeline", "builder")

    def __init__(self, pipeline: CompiledPipeline, labels: Labels) -> None:
        self.pipeline = pipeline
        self.builder = LabelsBuilder(labels.pairs)

    def select(self, batch: EntryBatch) -> Sequence[int]:
        """Indices of the entries the leading line filters keep (block at a time)."""
        flt = self.pipeline.block_filter
        if flt is None:
            return range(len(batch))
        return flt.select(batch)  # type: ignore[no-any-return]

    def scan(self, batch: EntryBatch, reverse: bool = False) -> Iterator[tuple[int, Sequence[int]]]:
        """The leading filters' kept indices segment by segment (:func:`filters.scan`)."""
        flt = self.pipeline.block_filter
        if flt is None:
            n = len(batch)
            return iter(((-1, range(n - 1, -1, -1) if reverse else range(n)),))
        return line_filters.scan(flt, batch, reverse)  # type: ignore[no-any-return]

    def dropped(self, batch: EntryBatch) -> list[int] | None:
        """Indices the leading filters drop when they only drop (:func:`filters.dropped`)."""
        flt = self.pipeline.block_filter
        if flt is None:
            return []
        return line_filters.dropped(flt, batch)

    def process(
        self, batch: EntryBatch, *, reverse: bool = False
    ) -> Iterator[tuple[int, bytes, LabelsBuilder]]:
        """``(index, final line, builder)`` for every surviving entry, lazily, newest first
        with ``reverse``.

        The builder is reused: read it before advancing the iterator.
        """
        stages = self.pipeline.stages
        builder = self.builder
        data, off, ts = batch.data, batch.offsets, batch.timestamps
        metadata = batch.metadata
        kept = self.select(batch)
        for i in reversed(kept) if reverse else kept:
            line: bytes | None = data[off[i] : off[i + 1]]
            builder.reset()
            if metadata is not None and metadata[i]:
                builder.add_metadata(metadata[i])
            t = ts[i]
            for stage in stages:
                line = stage.process(t, line, builder)  # type: ignore[arg-type]
                if line is None:
                    break
            if line is not None:
                yield i, line, builder


def compile_pipeline(stages: Sequence[ast.Stage]) -> CompiledPipeline:
    leading: list[Any] = []
    i = 0
    while i < len(stages) and isinstance(stages[i], ast.LineFilter):
        leading.append(_line_filter(stages[i]))  # type: ignore[arg-type]
        i += 1
    block = line_filters.chain(leading) if leading else None
    return CompiledPipeline(block, [_build(s) for s in stages[i:]])


def compile_label_filters(
    exprs: Sequence[ast.LabelFilterExpr],
) -> Callable[[LabelsBuilder, int, bytes], bool] | None:
    """Label filters written after ``| unwrap``, as one predicate (None when there are none)."""
    if not exprs:
        return None
    built = [_label_filter(e) for e in exprs]

    def keep(builder: LabelsBuilder, ts: int, line: bytes) -> bool:
        for flt in built:
            if flt.process(ts, line, builder) is None:
                return False
        return True

    return keep
