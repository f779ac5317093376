"""Chunk: one stream's blocks in one immutable byte string, self-describing and versioned.

Byte layout: ``docs/format/chunk.md``. A chunk is a header (magic, format, encoding, the
stream's canonical labels, CRC), the blocks back to back (each with its own checksums), a meta
section (per block: entries, time range, raw size, length; CRC) and a fixed 16-byte footer that
locates the metas, as Loki's chunk v4 does. So a reader learns every block's time range from
the tail of the file without decompressing anything, and recovery can rebuild the index entry
for a chunk file from the file alone.

Bytes in, bytes out: no files, no clocks. The store decides when a chunk is full
(:attr:`ChunkWriter.compressed_size`) and where it goes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace
from enum import IntEnum
from itertools import accumulate

from lokipy.chunk.block import (
    BlockMeta,
    FormatError,
    Layout,
    corrupt,
    encode_block,
    read_block,
    read_columns,
    read_header,
    read_offsets,
    read_timestamps,
)
from lokipy.chunk.varint import (
    is_sorted,
    put_u32,
    put_u64,
    put_uvarint,
    put_varint,
    read_u32,
    read_u64,
    read_uvarint,
    read_varint,
)
from lokipy.model.entry import EntryBatch, Metadata
from lokipy.model.errors import CorruptData

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_MAGIC",
    "ChunkEncoding",
    "ChunkFormat",
    "ChunkReader",
    "ChunkWriter",
]

CHUNK_MAGIC = b"LKPC"
"""First four bytes of every chunk ("lokipy chunk"); tells a chunk from a stray file at once."""

BLOCK_SIZE = 256 * 1024
"""Raw line bytes per block (Loki's ``chunk_block_size`` default): large enough that zstd
compresses well and a scan pays per-block costs rarely, small enough to decode one quickly."""

_FOOTER = 16  # u64 metas offset + u64 metas length


class ChunkFormat(IntEnum):
    """Chunk layout version (byte 4). Readers refuse versions they do not know."""

    V1 = 1


class ChunkEncoding(IntEnum):
    """Compression of the blocks' frames (byte 5)."""

    ZSTD = 1


class ChunkWriter:
    """Builds one chunk: add encoded blocks, or entries and let it cut ~``block_size`` blocks.

    Blocks keep the order they were added in; their time ranges may overlap (an out-of-order
    window can produce that). Entries given to :meth:`append` must be in time order relative
    to the not-yet-cut ones.
    """

    def __init__(self, labels: bytes = b"", *, block_size: int = BLOCK_SIZE, level: int = 3):
        if block_size < 1:
            raise ValueError("block_size must be positive")
        self.labels = bytes(labels)
        self.block_size = block_size
        self.level = level
        head = bytearray(CHUNK_MAGIC)
        head.append(ChunkFormat.V1)
        head.append(ChunkEncoding.ZSTD)
        put_uvarint(head, len(self.labels))
        head += self.labels
        put_u32(head, zlib.crc32(head))
        self._parts: list[bytes] = [bytes(head)]
        self._size = len(head)
        self._metas: list[BlockMeta] = []
        self._ts: list[int] = []
        self._lines: list[bytes] = []
        self._md: list[Metadata] | None = None
        self._pending_raw = 0
        self._finished = False

    @property
    def compressed_size(self) -> int:
        """Bytes of the chunk so far (header and cut blocks; pending entries not counted)."""
        return self._size

    @property
    def pending_bytes(self) -> int:
        """Raw line bytes appended but not yet cut into a block."""
        return self._pending_raw

    @property
    def block_count(self) -> int:
        return len(self._metas)

    @property
    def count(self) -> int:
        return sum(m.count for m in self._metas) + len(self._ts)

    @property
    def metas(self) -> list[BlockMeta]:
        return list(self._metas)

    def add_block(self, buf: bytes) -> BlockMeta:
        """Append an encoded block (from :func:`encode_block`); returns its meta in this chunk.

        Cuts pending entries first so the chunk stays in the order things were added. Raises
        CorruptData if the block's header does not check out.
        """
        self._check_open()
        self.cut()
        try:
            meta = read_header(buf).meta
        except FormatError as err:
            raise corrupt(err, "added block") from None
        return self._push(bytes(buf), meta)

    def append(
        self,
        timestamps: Sequence[int],
        lines: Sequence[bytes],
        metadata: Sequence[Metadata] | None = None,
    ) -> None:
        """Add entries sorted by time; blocks are cut whenever ``block_size`` raw bytes pile up."""
        self._check_open()
        n = len(timestamps)
        if len(lines) != n or (metadata is not None and len(metadata) != n):
            raise ValueError("timestamps, lines and metadata must have the same length")
        if n == 0:
            return
        if (self._ts and timestamps[0] < self._ts[-1]) or not is_sorted(timestamps):
            raise ValueError("entries must be appended in time order")
        if metadata is not None and self._md is None:
            self._md = [()] * len(self._ts)
        self._ts.extend(timestamps)
        self._lines.extend(lines)
        if self._md is not None:
            self._md.extend(metadata if metadata is not None else [()] * n)
        self._pending_raw += sum(map(len, lines))
        while self._pending_raw >= self.block_size:
            # Cut right after the line that reaches block_size, as a head block would.
            ends = accumulate(map(len, self._lines))
            self._cut_first(next(i for i, end in enumerate(ends, 1) if end >= self.block_size))

    def cut(self) -> BlockMeta | None:
        """Encode all pending entries as one block (None when there are none)."""
        self._check_open()
        return self._cut_first(len(self._ts)) if self._ts else None

    def finish(self) -> bytes:
        """Cut pending entries and return the finished chunk. The writer is spent afterwards."""
        self.cut()
        if not self._metas:
            raise ValueError("a chunk needs at least one block")
        metas = bytearray()
        put_uvarint(metas, len(self._metas))
        for m in self._metas:
            put_uvarint(metas, m.count)
            put_varint(metas, m.min_ts)
            put_uvarint(metas, m.max_ts - m.min_ts)
            put_uvarint(metas, m.raw_bytes)
            put_uvarint(metas, m.length)
        put_u32(metas, zlib.crc32(metas))
        footer = bytearray()
        put_u64(footer, self._size)
        put_u64(footer, len(metas))
        self._finished = True
        return b"".join([*self._parts, metas, footer])

    def _cut_first(self, k: int) -> BlockMeta:
        ts, lines = self._ts[:k], self._lines[:k]
        md = self._md[:k] if self._md is not None else None
        buf = encode_block(ts, lines, md, self.level)
        del self._ts[:k], self._lines[:k]
        if self._md is not None:
            del self._md[:k]
            if not self._ts:
                self._md = None
        self._pending_raw -= sum(map(len, lines))
        return self._push(buf, read_header(buf).meta)

    def _push(self, buf: bytes, meta: BlockMeta) -> BlockMeta:
        placed = replace(meta, offset=self._size, length=len(buf))
        self._parts.append(buf)
        self._metas.append(placed)
        self._size += len(buf)
        return placed

    def _check_open(self) -> None:
        if self._finished:
            raise ValueError("chunk writer already finished")


class ChunkReader:
    """Reads a chunk from bytes. Opening checks header, footer and metas; blocks decode lazily.

    ``path`` only names the file in errors. Every damage raises CorruptData naming the block
    and absolute offset; a bad block never hides the others (each is checked on its own).
    """

    def __init__(self, buf: bytes | memoryview, path: str | None = None) -> None:
        self._buf = memoryview(buf).cast("B") if not isinstance(buf, bytes) else buf
        self.path = path
        try:
            self._open()
        except FormatError as err:
            raise CorruptData(f"chunk: {err.reason}", path=path, offset=err.offset) from None

    def _open(self) -> None:
        buf = self._buf
        size = len(buf)
        if size < len(CHUNK_MAGIC) + 2 or bytes(buf[:4]) != CHUNK_MAGIC:
            raise FormatError("not a lokipy chunk (bad magic)", 0)
        if buf[4] != ChunkFormat.V1:
            raise FormatError(f"unknown chunk format {buf[4]}", 4)
        if buf[5] != ChunkEncoding.ZSTD:
            raise FormatError(f"unknown chunk encoding {buf[5]}", 5)
        self.format = ChunkFormat(buf[4])
        self.encoding = ChunkEncoding(buf[5])
        labels_len, pos = read_uvarint(buf, 6)
        if pos + labels_len + 4 > size:
            raise FormatError("chunk header truncated", pos)
        if zlib.crc32(buf[: pos + labels_len]) != read_u32(buf, pos + labels_len):
            raise FormatError("header checksum mismatch", 0)
        self.labels = bytes(buf[pos : pos + labels_len])
        first_block = pos + labels_len + 4
        if size < first_block + _FOOTER:
            raise FormatError("chunk truncated: no footer", size)
        metas_at = read_u64(buf, size - _FOOTER)
        metas_len = read_u64(buf, size - 8)
        if metas_at < first_block or metas_at + metas_len != size - _FOOTER or metas_len < 5:
            raise FormatError("footer does not locate the meta section", size - _FOOTER)
        crc_at = metas_at + metas_len - 4
        if zlib.crc32(buf[metas_at:crc_at]) != read_u32(buf, crc_at):
            raise FormatError("meta section checksum mismatch", metas_at)
        self.metas = self._read_metas(metas_at, crc_at, first_block)

    def _read_metas(self, pos: int, end: int, offset: int) -> list[BlockMeta]:
        """Metas from ``pos`` to ``end``; blocks start at ``offset`` and must end at ``pos``."""
        buf = self._buf
        blocks_end = pos
        n, pos = read_uvarint(buf, pos)
        if n == 0 or n > end - pos:
            raise FormatError(f"meta section lists {n} blocks", pos)
        metas = []
        for _ in range(n):
            at = pos
            count, pos = read_uvarint(buf, pos)
            min_ts, pos = read_varint(buf, pos)
            span, pos = read_uvarint(buf, pos)
            raw, pos = read_uvarint(buf, pos)
            length, pos = read_uvarint(buf, pos)
            if count == 0 or min_ts + span >= 1 << 63 or pos > end:
                raise FormatError("bad block meta", at)
            metas.append(BlockMeta(count, min_ts, min_ts + span, raw, offset, length))
            offset += length
        if offset != blocks_end:
            raise FormatError("block lengths do not add up to the meta section", blocks_end)
        if pos != end:
            raise FormatError("meta section has trailing bytes", pos)
        return metas

    # --- summary, from the metas alone ---------------------------------------------------

    def __len__(self) -> int:
        return len(self.metas)

    @property
    def count(self) -> int:
        """Entries in the chunk."""
        return sum(m.count for m in self.metas)

    @property
    def min_ts(self) -> int:
        return min(m.min_ts for m in self.metas)

    @property
    def max_ts(self) -> int:
        return max(m.max_ts for m in self.metas)

    @property
    def raw_bytes(self) -> int:
        """Sum of all line lengths (uncompressed)."""
        return sum(m.raw_bytes for m in self.metas)

    def overlapping(self, start: int, end: int) -> list[int]:
        """Indexes of blocks that may hold entries with ``start <= ts < end``."""
        return [i for i, m in enumerate(self.metas) if m.min_ts < end and m.max_ts >= start]

    # --- blocks -----------------------------------------------------------------------------

    def block_bytes(self, i: int) -> memoryview:
        """The encoded block ``i`` as a zero-copy view."""
        meta = self.metas[i]
        return memoryview(self._buf)[meta.offset : meta.offset + meta.length]

    def block(self, i: int) -> EntryBatch:
        """Decode block ``i`` (checksums checked); raises CorruptData naming it."""
        meta = self.metas[i]
        buf = self.block_bytes(i)
        try:
            batch = read_block(buf, self._header(i, buf))
        except FormatError as err:
            raise corrupt(err, f"block {i}", meta.offset, self.path) from None
        return batch

    def timestamps(self, i: int) -> Sequence[int]:
        """Timestamps of block ``i`` (``array('q')``) without decompressing its text."""
        meta = self.metas[i]
        buf = self.block_bytes(i)
        try:
            return read_timestamps(buf, self._header(i, buf))
        except FormatError as err:
            raise corrupt(err, f"block {i}", meta.offset, self.path) from None

    def columns(self, i: int) -> EntryBatch:
        """Block ``i``'s timestamps and metadata, text left compressed (``data`` empty)."""
        meta = self.metas[i]
        buf = self.block_bytes(i)
        try:
            return read_columns(buf, self._header(i, buf))
        except FormatError as err:
            raise corrupt(err, f"block {i}", meta.offset, self.path) from None

    def offsets(self, i: int) -> Sequence[int]:
        """Line offsets of block ``i`` (``array('I')``, n+1 ints from 0), text not inflated."""
        meta = self.metas[i]
        buf = self.block_bytes(i)
        try:
            return read_offsets(buf, self._header(i, buf))
        except FormatError as err:
            raise corrupt(err, f"block {i}", meta.offset, self.path) from None

    def _header(self, i: int, buf: memoryview) -> Layout:
        lay = read_header(buf)
        meta = self.metas[i]
        if (lay.meta.count, lay.meta.min_ts, lay.meta.max_ts, lay.meta.raw_bytes) != (
            meta.count,
            meta.min_ts,
            meta.max_ts,
            meta.raw_bytes,
        ):
            raise FormatError("block header disagrees with the chunk's meta section", 0)
        return lay

    def verify(self) -> list[CorruptData]:
        """Decode every block; the errors of the damaged ones (empty when all are sound)."""
        errors = []
        for i in range(len(self.metas)):
            try:
                self.block(i)
            except CorruptData as err:
                errors.append(err)
        return errors

    def batches(self) -> list[EntryBatch]:
        """Every block decoded, in chunk order."""
        return [self.block(i) for i in range(len(self.metas))]
