"""Entry batches as the store reads them: overlap clusters, merging with dedup, range slicing.

A stream's data lives in several sources (chunk blocks, closed-but-unwritten chunks, cut head
blocks, the open head block). Sources that do not overlap in time are read one after the
other; overlapping ones are merged by time with exact duplicates (ts, line, metadata) dropped.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable

from lokipy.model.entry import EntryBatch, Metadata

Source = tuple[int, int, Callable[[], EntryBatch], Callable[[], EntryBatch]]
"""``(min_ts, max_ts, load full batch, load timestamps+metadata only)``."""


def same(batch: EntryBatch) -> EntryBatch:
    return batch


def without_text(batch: EntryBatch) -> EntryBatch:
    n = len(batch)
    return EntryBatch(batch.timestamps, b"", [0] * (n + 1), batch.metadata)


def clusters(sources: list[Source]) -> list[list[Source]]:
    """Group time-overlapping sources; only overlapping ones need a merge with dedup."""
    clusters: list[list[Source]] = []
    hi = None
    for src in sources:
        if clusters and hi is not None and src[0] <= hi:
            clusters[-1].append(src)
            hi = max(hi, src[1])
        else:
            clusters.append([src])
            hi = src[1]
    return clusters


def merge_batches(batches: list[EntryBatch]) -> EntryBatch:
    """Merge overlapping batches by time, dropping exact duplicates (ts, line, metadata)."""

    def entries(n: int, b: EntryBatch):  # type: ignore[no-untyped-def]
        for i in range(len(b)):
            yield b.timestamps[i], n, i, b.line(i), b.metadata_at(i)

    out: list[tuple[int, bytes, Metadata]] = []
    seen_ts = None
    seen: set[tuple[bytes, Metadata]] = set()
    for ts, _, _, line, md in heapq.merge(*(entries(n, b) for n, b in enumerate(batches))):
        if ts != seen_ts:
            seen_ts, seen = ts, set()
        key = (line, md)
        if key in seen:
            continue
        seen.add(key)
        out.append((ts, line, md))
    return EntryBatch.from_entries(out)


def slice_range(batch: EntryBatch, start: int, end: int) -> EntryBatch:
    ts = batch.timestamps
    lo = 0 if ts[0] >= start else bisect.bisect_left(ts, start)
    hi = len(ts) if ts[-1] < end else bisect.bisect_left(ts, end)
    if lo == 0 and hi == len(ts):
        return batch
    off = batch.offsets
    base = off[lo]
    return EntryBatch(
        timestamps=ts[lo:hi],
        data=batch.data[base : off[hi]],
        offsets=[o - base for o in off[lo : hi + 1]],
        metadata=batch.metadata[lo:hi] if batch.metadata is not None else None,
    )
