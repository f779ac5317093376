"""Per-stream in-memory heads: accept entries, cut compressed blocks, close chunks.

Loki's rules (``pkg/chunkenc``, ``pkg/ingester/stream.go``): entries may arrive out of order
within ``max_chunk_age / 2`` of the stream's newest entry; exact duplicates (ts, line,
metadata) of the last entry or of any entry in the head block are dropped silently; a head
block is sorted and compressed when it reaches ``chunk_block_size`` raw bytes; a chunk closes
near ``chunk_target_size`` compressed bytes and is fully time-ordered when it does.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate, islice
from operator import lt

from lokipy.chunk import decode_block, encode_block, encode_block_text
from lokipy.model.entry import EntryBatch, Metadata
from lokipy.model.labels import Labels
from lokipy.model.timeparse import format_rfc3339
from lokipy.store.wal import Position


class FlushReason(StrEnum):
    """Why a chunk was closed (Loki's ``pkg/ingester/flush.go`` names them the same way)."""

    FULL = "full"  # one more block would pass chunk_target_size
    IDLE = "idle"  # no push for chunk_idle_period
    MAX_AGE = "max_age"  # first entry older than max_chunk_age
    WAL_SIZE = "wal_size"  # the WAL passed wal.max_bytes and this head pins its oldest segment
    SHUTDOWN = "shutdown"
    FORCED = "forced"  # an explicit flush()


@dataclass(slots=True)
class CutBlock:
    """A compressed block held in memory until its chunk is flushed."""

    data: bytes
    count: int
    min_ts: int
    max_ts: int
    raw_bytes: int


@dataclass(slots=True)
class ClosedChunk:
    """A chunk whose blocks are final, waiting to be written by the flusher."""

    tenant: str
    labels: Labels
    blocks: list[CutBlock]
    pin: Position  # the oldest WAL record it holds entries from
    closed_at: Position  # every record of this stream before here is in this chunk
    reason: FlushReason

    @property
    def min_ts(self) -> int:
        return min(b.min_ts for b in self.blocks)

    @property
    def max_ts(self) -> int:
        return max(b.max_ts for b in self.blocks)


@dataclass(slots=True)
class AppendResult:
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


class StreamHead:
    """The unflushed part of one stream: cut blocks plus the open head block."""

    def __init__(self, tenant: str, labels: Labels, block_size: int, zstd_level: int) -> None:
        self.tenant = tenant
        self.labels = labels
        self.block_size = block_size
        self.zstd_level = zstd_level
        self.blocks: list[CutBlock] = []
        self.compressed_bytes = 0
        # The open head block, columnar: the lines back to back in ``pieces`` (one joined
        # piece per push, joined once at the cut), their ``lens``, ``size`` bytes in all.
        self.ts: list[int] = []
        self.pieces: list[bytes] = []
        self.lens: list[int] = []
        self.size = 0
        self.md: list[Metadata] | None = None
        self.head_sorted = True
        self.highest_ts: int | None = None  # newest entry ever accepted (the ordering window)
        self.lowest_ts: int | None = None  # oldest entry held now (blocks and open head block)
        # The newest entry: (ts, the piece holding its line at the end, line length, metadata).
        self.last: tuple[int, bytes, int, Metadata] | None = None
        self.pin: Position | None = None
        self.first_append_ns = 0  # wall clock of the first entry since the last close
        self.last_append_ns = 0

    # --- appending --------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return not self.ts and not self.blocks

    @property
    def head_bytes(self) -> int:
        """Raw line bytes in the open head block."""
        return self.size

    def append(
        self,
        timestamps: list[int],
        text: bytes,
        lengths: list[int],
        metadata: list[Metadata] | None,
        pos: Position,
        now: int,
        window: int | None,
        result: AppendResult,
        *,
        increasing: bool | None = None,
    ) -> int:
        """Add entries in the order given (lines joined in ``text``, ``lengths`` long each);
        returns how many were kept. Duplicates and rejections are counted into ``result``
        (one per push, not one per stream). ``window`` None (WAL replay) skips the ordering
        check. ``increasing``: whether the timestamps strictly increase, if already known."""
        self.last_append_ns = now
        if self._fast_path_ok(timestamps, increasing):
            self._extend(timestamps, text, lengths, metadata, timestamps[0], timestamps[-1])
            accepted = len(timestamps)
        else:
            accepted = self._append_slow(timestamps, text, lengths, metadata, window, result)
        if accepted and self.pin is None:
            # Only a record whose entries are held pins the WAL: rejected or duplicate-only
            # pushes must not keep old segments alive.
            self.pin = pos
            self.first_append_ns = now
        return accepted

    def _append_slow(
        self,
        timestamps: list[int],
        text: bytes,
        lengths: list[int],
        metadata: list[Metadata] | None,
        window: int | None,
        result: AppendResult,
    ) -> int:
        """Entry by entry: the out-of-order window and duplicate checks."""
        accepted = 0
        end = 0
        for i, ts in enumerate(timestamps):
            start, end = end, end + lengths[i]
            line = text[start:end]
            md = metadata[i] if metadata is not None else ()
            if window is not None and self.highest_ts is not None and ts < self.highest_ts - window:
                result.errors.append(
                    f"entry too far behind, entry timestamp is: {format_rfc3339(ts)}, oldest "
                    f"acceptable timestamp is: {format_rfc3339(self.highest_ts - window)}"
                )
                continue
            if self._is_duplicate(ts, line, md):
                result.duplicates += 1
                continue
            self._extend([ts], line, [len(line)], [md] if md or self.md is not None else None, ts, ts)
            accepted += 1
        return accepted

    def _fast_path_ok(self, ts: list[int], increasing: bool | None) -> bool:
        """Strictly increasing and after everything held: no window or duplicate checks needed.

        Unless the decoder already knows, one C-level pass of pairwise ``<`` (2.5x faster than
        comparing with ``sorted`` and counting a ``set``, measured on 5000 timestamps).
        """
        if self.highest_ts is not None and ts[0] <= self.highest_ts:
            return False
        if increasing is not None:
            return increasing
        return all(map(lt, ts, islice(ts, 1, None)))

    def _is_duplicate(self, ts: int, line: bytes, md: Metadata) -> bool:
        last = self.last
        if last is not None and last[0] == ts and last[3] == md:
            piece, n = last[1], last[2]
            if n == len(line) and piece[len(piece) - n :] == line:
                return True
        if self.highest_ts is None or ts > self.highest_ts:
            return False
        own_md = self.md
        text = self._joined()
        end = 0
        for i, t in enumerate(self.ts):  # rare: only entries at or before the newest one
            start, end = end, end + self.lens[i]
            if t == ts and text[start:end] == line and (own_md[i] if own_md else ()) == md:
                return True
        return False

    def _joined(self) -> bytes:
        """The open head block's text in one piece (kept joined until the next append)."""
        if len(self.pieces) > 1:
            self.pieces = [b"".join(self.pieces)]
        return self.pieces[0] if self.pieces else b""

    def _extend(
        self,
        ts: list[int],
        text: bytes,
        lens: list[int],
        md: list[Metadata] | None,
        low: int,
        top: int,
    ) -> None:
        """Append entries; ``low``/``top`` are the oldest and newest timestamps among them."""
        if self.lowest_ts is None or low < self.lowest_ts:
            self.lowest_ts = low
        n = len(ts)
        if self.ts and ts[0] < self.ts[-1]:
            self.head_sorted = False
        if md is not None and self.md is None:
            self.md = [()] * len(self.ts)
        self.ts.extend(ts)
        self.pieces.append(text)
        self.size += len(text)
        self.lens.extend(lens)
        if self.md is not None:
            self.md.extend(md if md is not None else [()] * n)
        if self.highest_ts is None or top > self.highest_ts:
            self.highest_ts = top
        self.last = (ts[-1], text, lens[-1], md[-1] if md is not None else ())
        if self.size >= self.block_size:
            self.cut_block()

    # --- cutting ----------------------------------------------------------------------------

    def cut_block(self) -> None:
        if not self.ts:
            return
        ts, text, lens, md = self._sorted_head()
        data = encode_block_text(ts, text, lens, md, level=self.zstd_level)
        self.blocks.append(CutBlock(data, len(ts), ts[0], ts[-1], len(text)))
        self.compressed_bytes += len(data)
        self.ts, self.pieces, self.lens, self.md, self.size = [], [], [], None, 0
        self.head_sorted = True

    def _sorted_head(self) -> tuple[list[int], bytes, list[int], list[Metadata] | None]:
        """The open head block in time order (ties keep arrival order)."""
        text = self._joined()
        if self.head_sorted:
            return self.ts, text, self.lens, self.md
        order = sorted(range(len(self.ts)), key=self.ts.__getitem__)  # stable: ties keep order
        starts = [0, *accumulate(self.lens)]
        view = memoryview(text)
        md = self.md
        return (
            [self.ts[i] for i in order],
            b"".join([view[starts[i] : starts[i + 1]] for i in order]),
            [self.lens[i] for i in order],
            [md[i] for i in order] if md is not None else None,
        )

    def should_close(self, target_size: int) -> bool:
        """Close when one more block would take the chunk past its target size."""
        if not self.blocks:
            return False
        next_block = self.compressed_bytes / len(self.blocks)
        return self.compressed_bytes + next_block > target_size

    def close(self, pos: Position, reason: FlushReason) -> ClosedChunk | None:
        """Turn everything held into a closed, fully time-ordered chunk; the head restarts empty."""
        self.cut_block()
        if not self.blocks:
            return None
        blocks = self.blocks
        if any(a.max_ts >= b.min_ts for a, b in zip(blocks, blocks[1:], strict=False)):
            blocks = self._resorted(blocks)
        assert self.pin is not None
        chunk = ClosedChunk(self.tenant, self.labels, blocks, self.pin, pos, reason)
        self.blocks = []
        self.compressed_bytes = 0
        self.pin = None
        self.lowest_ts = None
        return chunk

    def _resorted(self, blocks: list[CutBlock]) -> list[CutBlock]:
        """Overlapping blocks (out-of-order writes) are merged so flushed chunks are ordered."""
        batches = [decode_block(b.data) for b in blocks]
        merged = heapq.merge(
            *(_tagged(batch, n) for n, batch in enumerate(batches)), key=lambda e: (e[0], e[1])
        )
        out: list[CutBlock] = []
        ts: list[int] = []
        lines: list[bytes] = []
        mds: list[Metadata] = []
        size = 0
        for t, _, _, line, md in merged:
            ts.append(t)
            lines.append(line)
            mds.append(md)
            size += len(line)
            if size >= self.block_size:
                out.append(self._encode(ts, lines, mds, size))
                ts, lines, mds, size = [], [], [], 0
        if ts:
            out.append(self._encode(ts, lines, mds, size))
        return out

    def _encode(self, ts: list[int], lines: list[bytes], mds: list[Metadata], size: int) -> CutBlock:
        md = mds if any(mds) else None
        return CutBlock(encode_block(ts, lines, md, level=self.zstd_level), len(ts), ts[0], ts[-1], size)

    # --- reading ----------------------------------------------------------------------------

    def snapshot(self) -> tuple[list[CutBlock], EntryBatch | None]:
        """Cut blocks and a sorted copy of the open head block, for queries."""
        if not self.ts:
            return list(self.blocks), None
        ts, text, lens, md = self._sorted_head()
        has_md = md is not None and any(md)
        batch = EntryBatch(list(ts), text, [0, *accumulate(lens)], list(md) if has_md else None)
        return list(self.blocks), batch


def _tagged(batch: EntryBatch, source: int):  # type: ignore[no-untyped-def]
    for i in range(len(batch)):
        yield batch.timestamps[i], source, i, batch.line(i), batch.metadata_at(i)
