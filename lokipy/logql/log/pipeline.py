"""Chaining stages into a log pipeline, per stream, with a block-at-a-time front.

A :class:`Pipeline` is built once per query from stage objects in query order. Line filters
(anything with ``select``/``matches``) at the *front* of the pipeline see the line exactly as
stored, so the evaluator can run them over a whole :class:`EntryBatch` first
(:meth:`StreamPipeline.select`), then run the remaining stages only on the surviving entries
(:meth:`StreamPipeline.process_rest`). Line filters after a parser or formatter run per line.

Per line, the label builder starts from the stream labels plus the entry's structured metadata
(a metadata name that clashes with a stream label becomes ``<name>_extracted``); each stage may
rewrite the line, change labels or drop the line. The result is ``(line, labels)`` where
``labels`` is a sorted tuple of pairs (empty values kept, ``__error__`` included) or None.
Identical label tuples are interned per stream so grouping by final labels is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from lokipy.logql.log.filters import LineFilter, chain
from lokipy.logql.log.labels import LabelPairs, LabelsBuilder
from lokipy.model.entry import NO_METADATA, EntryBatch, Metadata
from lokipy.model.labels import Labels


class Stage(Protocol):
    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None: ...


class LineFilterStage:
    """A line filter placed after a stage that may have changed the line."""

    __slots__ = ("filter",)

    def __init__(self, flt: LineFilter) -> None:
        self.filter = flt

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        return line if self.filter.matches(line) else None


def _is_line_filter(stage: Any) -> bool:
    return hasattr(stage, "select") and hasattr(stage, "matches")


class Pipeline:
    """Stages in query order; ``Pipeline([])`` is the no-op pipeline."""

    __slots__ = ("stages", "line_filter", "rest")

    def __init__(self, stages: Sequence[Any] = ()) -> None:
        self.stages = list(stages)
        front: list[LineFilter] = []
        i = 0
        while i < len(self.stages) and _is_line_filter(self.stages[i]):
            front.append(self.stages[i])
            i += 1
        self.line_filter: LineFilter | None = chain(front) if front else None
        self.rest: list[Stage] = [LineFilterStage(s) if _is_line_filter(s) else s for s in self.stages[i:]]

    @property
    def is_noop(self) -> bool:
        return not self.stages

    @property
    def filters_only(self) -> bool:
        """True when every stage is a leading line filter (labels never change)."""
        return not self.rest

    def for_stream(self, labels: Labels | Iterable[tuple[str, str]]) -> StreamPipeline:
        return StreamPipeline(self, labels)


NOOP_PIPELINE = Pipeline()


class StreamPipeline:
    """A pipeline bound to one stream's labels (holds the reusable label builder)."""

    __slots__ = ("pipeline", "builder", "base", "_rest", "_interned")

    def __init__(self, pipeline: Pipeline, labels: Labels | Iterable[tuple[str, str]]) -> None:
        self.pipeline = pipeline
        pairs = labels.pairs if isinstance(labels, Labels) else tuple(labels)
        self.builder = LabelsBuilder(pairs)
        self.base: LabelPairs = self.builder.base
        self._rest = pipeline.rest
        self._interned: dict[LabelPairs, LabelPairs] = {self.base: self.base}

    def select(self, batch: EntryBatch, candidates: list[int] | None = None) -> list[int]:
        """Indices of the entries passing the leading line filters (all when there are none)."""
        flt = self.pipeline.line_filter
        if flt is None:
            return list(range(len(batch))) if candidates is None else list(candidates)
        return flt.select(batch, candidates)

    def process(
        self, ts: int, line: bytes, metadata: Metadata = NO_METADATA
    ) -> tuple[bytes, LabelPairs] | None:
        """Run every stage on one line."""
        flt = self.pipeline.line_filter
        if flt is not None and not flt.matches(line):
            return None
        return self.process_rest(ts, line, metadata)

    def process_rest(
        self, ts: int, line: bytes, metadata: Metadata = NO_METADATA
    ) -> tuple[bytes, LabelPairs] | None:
        """Run the stages after the leading line filters (the caller already applied those)."""
        if not self._rest and not metadata:
            return line, self.base
        b = self.builder
        b.reset()
        if metadata:
            b.add_metadata(metadata)
        for stage in self._rest:
            out = stage.process(ts, line, b)
            if out is None:
                return None
            line = out
        labels = b.labels()
        interned = self._interned.get(labels)
        if interned is None:
            if len(self._interned) < 4096:
                self._interned[labels] = labels
            return line, labels
        return line, interned

    def run_batch(
        self, batch: EntryBatch, candidates: list[int] | None = None
    ) -> list[tuple[int, bytes, LabelPairs]]:
        """Leading filters over the block, then the rest per surviving entry.

        Returns (entry index, output line, labels) for every kept entry, in batch order.
        """
        keep = self.select(batch, candidates)
        data, off = batch.data, batch.offsets
        ts = batch.timestamps
        out: list[tuple[int, bytes, LabelPairs]] = []
        if not self._rest and batch.metadata is None:
            base = self.base
            return [(i, data[off[i] : off[i + 1]], base) for i in keep]
        md = batch.metadata
        run = self.process_rest
        for i in keep:
            res = run(ts[i], data[off[i] : off[i + 1]], NO_METADATA if md is None else md[i])
            if res is not None:
                out.append((i, res[0], res[1]))
        return out
