"""Block: up to ~256 KiB of one stream's entries, columnar and zstd-compressed.

Byte layout: ``docs/format/chunk.md``. A block keeps timestamps, line end offsets and
structured metadata in their own small zstd frames, each column stored as byte planes, and the
line bytes back to back in one zstd frame. So:

* selector-only metrics (``count_over_time({...}[1m])``) read the timestamp frame and never
  decompress text (:func:`decode_block_timestamps`);
* a line filter decompresses the text once and scans it whole; hit positions map back to
  entries by bisecting ``offsets``;
* lines are arbitrary bytes: lengths are explicit, newlines are ordinary content.

Two CRC-32 checksums guard a block: one over the header and the small columns, one over the
text frame, so reading timestamps does not have to checksum the text. Any damage raises
:class:`CorruptData` naming the block and the offset, never a bare ``IndexError`` or zstd error.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate
from operator import le

import zstandard

from lokipy.chunk.varint import (
    bytes_needed,
    from_planes,
    put_u32,
    put_uvarint,
    put_varint,
    read_u32,
    read_uvarint,
    read_varint,
    to_planes,
)
from lokipy.model.entry import EntryBatch, Metadata
from lokipy.model.errors import CorruptData

__all__ = [
    "BlockFormat",
    "BlockMeta",
    "block_meta",
    "decode_block",
    "decode_block_timestamps",
    "encode_block",
    "verify_block",
]


class BlockFormat(IntEnum):
    """First byte of every block. A change of layout gets a new number."""

    V1 = 1


FLAG_METADATA = 0x01
"""Block flag: a metadata frame follows the offsets frame."""
_KNOWN_FLAGS = FLAG_METADATA
_TS_WIDTH = 8  # timestamps are stored as all 8 planes of int64: see _encode_timestamps


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """What a chunk's meta section records about one block (read without decompressing).

    ``offset``/``length`` locate the block inside its chunk (0/len for a standalone block);
    ``raw_bytes`` is the sum of the line lengths.
    """

    count: int
    min_ts: int
    max_ts: int
    raw_bytes: int
    offset: int = 0
    length: int = 0


@dataclass(frozen=True, slots=True)
class _Layout:
    """A parsed and bounds-checked block header: where each frame starts and ends."""

    meta: BlockMeta
    flags: int
    off_width: int
    md_raw: int
    ts: tuple[int, int]
    off: tuple[int, int]
    md: tuple[int, int]
    crc_a: int  # position of the checksum over header + columns
    text: tuple[int, int]
    crc_b: int  # position of the checksum over the text frame


# zstandard's contexts are not safe for concurrent use; one per thread is cheap to keep.
_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "cctx", None)
    if cache is None:
        cache = _local.cctx = {}
    cctx = cache.get(level)
    if cctx is None:
        cctx = cache[level] = zstandard.ZstdCompressor(level=level)
    return cctx


def _decompressor() -> zstandard.ZstdDecompressor:
    dctx: zstandard.ZstdDecompressor | None = getattr(_local, "dctx", None)
    if dctx is None:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
    return dctx


# --- encoding ------------------------------------------------------------------------------


def encode_block(
    timestamps: Sequence[int],
    lines: Sequence[bytes],
    metadata: Sequence[Metadata] | None = None,
    level: int = 3,
) -> bytes:
    """Encode entries already sorted by timestamp (ties in the given order) into one block.

    Raises ValueError for an empty block, mismatched column lengths, timestamps out of order
    or outside int64.
    """
    n = len(timestamps)
    if n == 0:
        raise ValueError("a block needs at least one entry")
    if len(lines) != n or (metadata is not None and len(metadata) != n):
        raise ValueError("timestamps, lines and metadata must have the same length")
    if n > 1 and not all(map(le, timestamps, timestamps[1:])):
        raise ValueError("block entries must be sorted by timestamp")
    min_ts, max_ts = timestamps[0], timestamps[-1]
    cctx = _compressor(level)
    try:
        ts_frame = cctx.compress(to_planes(timestamps, _TS_WIDTH, "q"))
    except OverflowError as err:
        raise ValueError("timestamps must fit in int64 nanoseconds") from err
    ends = list(accumulate(map(len, lines)))
    raw_bytes = ends[-1]
    off_width = bytes_needed(raw_bytes)
    off_frame = cctx.compress(to_planes(ends, off_width, "Q")) if off_width else b""
    md_raw = b""
    if metadata is not None and any(metadata):
        md_raw = _encode_metadata(metadata)
    md_frame = cctx.compress(md_raw) if md_raw else b""
    text = b"".join(lines)
    if len(text) != raw_bytes:
        raise ValueError("lines must be bytes")
    text_frame = cctx.compress(text) if raw_bytes else b""

    out = bytearray()
    out.append(BlockFormat.V1)
    out.append(FLAG_METADATA if md_raw else 0)
    put_uvarint(out, n)
    put_varint(out, min_ts)
    put_uvarint(out, max_ts - min_ts)
    put_uvarint(out, raw_bytes)
    out.append(off_width)
    put_uvarint(out, len(ts_frame))
    put_uvarint(out, len(off_frame))
    if md_raw:
        put_uvarint(out, len(md_raw))
        put_uvarint(out, len(md_frame))
    put_uvarint(out, len(text_frame))
    out += ts_frame
    out += off_frame
    out += md_frame
    put_u32(out, zlib.crc32(out))
    out += text_frame
    put_u32(out, zlib.crc32(text_frame))
    return bytes(out)


def _encode_metadata(metadata: Sequence[Metadata]) -> bytes:
    """Distinct metadata tuples once (most entries repeat a few), then one index per entry."""
    table: dict[Metadata, int] = {}
    index = [table.setdefault(tuple(md), len(table)) for md in metadata]
    out = bytearray()
    put_uvarint(out, len(table))
    for md in table:
        put_uvarint(out, len(md))
        for name, value in md:
            for text in (name, value):
                raw = text.encode("utf-8", "surrogatepass")
                put_uvarint(out, len(raw))
                out += raw
    width = bytes_needed(len(table) - 1)
    out.append(width)
    if width:
        out += to_planes(index, width, "Q")
    return bytes(out)


# --- decoding ------------------------------------------------------------------------------


def _where(name: str) -> str:
    return f"{name}: " if name else ""


def _layout(buf: bytes | memoryview, base: int, name: str) -> _Layout:
    """Parse and bounds-check the header; every later slice is then known to be in range."""
    size = len(buf)
    if size < 2:
        raise CorruptData(f"{_where(name)}block truncated to {size} bytes", offset=base)
    if buf[0] != BlockFormat.V1:
        raise CorruptData(f"{_where(name)}unknown block format {buf[0]}", offset=base)
    flags = buf[1]
    if flags & ~_KNOWN_FLAGS:
        raise CorruptData(f"{_where(name)}unknown block flags {flags:#x}", offset=base + 1)
    count, pos = read_uvarint(buf, 2, base)
    min_ts, pos = read_varint(buf, pos, base)
    span, pos = read_uvarint(buf, pos, base)
    raw_bytes, pos = read_uvarint(buf, pos, base)
    if pos >= size:
        raise CorruptData(f"{_where(name)}block header truncated", offset=base + pos)
    off_width = buf[pos]
    pos += 1
    ts_len, pos = read_uvarint(buf, pos, base)
    off_len, pos = read_uvarint(buf, pos, base)
    md_raw = md_len = 0
    if flags & FLAG_METADATA:
        md_raw, pos = read_uvarint(buf, pos, base)
        md_len, pos = read_uvarint(buf, pos, base)
    text_len, pos = read_uvarint(buf, pos, base)
    bad = None
    if count == 0:
        bad = "block with zero entries"
    elif min_ts + span >= 1 << 63:
        bad = "block time range overflows int64"
    elif off_width > 8 or off_width != (raw_bytes.bit_length() + 7) >> 3:
        bad = f"bad offset width {off_width}"
    elif (ts_len == 0) or (off_len == 0) != (off_width == 0) or (text_len == 0) != (raw_bytes == 0):
        bad = "missing column frame"
    if bad is not None:
        raise CorruptData(f"{_where(name)}{bad}", offset=base)
    ts = (pos, pos + ts_len)
    off = (ts[1], ts[1] + off_len)
    md = (off[1], off[1] + md_len)
    crc_a = md[1]
    text = (crc_a + 4, crc_a + 4 + text_len)
    crc_b = text[1]
    if crc_b + 4 != size:
        raise CorruptData(
            f"{_where(name)}block length {size} does not match its header ({crc_b + 4})",
            offset=base,
        )
    meta = BlockMeta(count, min_ts, min_ts + span, raw_bytes, base, size)
    return _Layout(meta, flags, off_width, md_raw, ts, off, md, crc_a, text, crc_b)


def _check(buf: bytes | memoryview, start: int, stop: int, base: int, what: str) -> None:
    if zlib.crc32(buf[start:stop]) != read_u32(buf, stop, base):
        raise CorruptData(f"{what}: checksum mismatch", offset=base + start)


def _inflate(
    buf: bytes | memoryview, span: tuple[int, int], expect: int, base: int, what: str
) -> bytes:
    """Decompress one frame, refusing any that would not inflate to exactly ``expect`` bytes."""
    frame = buf[span[0] : span[1]]
    try:
        if zstandard.frame_content_size(frame) != expect:
            raise CorruptData(f"{what}: frame size is not {expect}", offset=base + span[0])
        data: bytes = _decompressor().decompress(frame)
    except zstandard.ZstdError as err:
        raise CorruptData(f"{what}: {err}", offset=base + span[0]) from err
    if len(data) != expect:
        raise CorruptData(f"{what}: inflated to {len(data)} bytes, not {expect}", base + span[0])
    return data


def block_meta(buf: bytes | memoryview, base: int = 0, name: str = "block") -> BlockMeta:
    """Count, time range and raw size of an encoded block, from its header only.

    Checks the header checksum (not the text's); raises CorruptData.
    """
    lay = _layout(buf, base, name)
    _check(buf, 0, lay.crc_a, base, f"{_where(name)}header")
    return lay.meta


def verify_block(buf: bytes | memoryview, base: int = 0, name: str = "block") -> BlockMeta:
    """Check both checksums and decode every column; raises CorruptData on any damage."""
    decode_block(buf, base, name)
    return _layout(buf, base, name).meta


def decode_block_timestamps(
    buf: bytes | memoryview, base: int = 0, name: str = "block"
) -> Sequence[int]:
    """The block's timestamps (``array('q')``, ascending) without touching the text frame."""
    lay = _layout(buf, base, name)
    where = _where(name)
    _check(buf, 0, lay.crc_a, base, f"{where}header")
    return _timestamps(buf, lay, base, where)


def _timestamps(buf: bytes | memoryview, lay: _Layout, base: int, where: str) -> Sequence[int]:
    n = lay.meta.count
    planes = _inflate(buf, lay.ts, n * _TS_WIDTH, base, f"{where}timestamps")
    ts = from_planes(planes, n, _TS_WIDTH, "q")
    # Checksums catch accidents; this catches a wrong but well-checksummed encoder.
    if ts[0] != lay.meta.min_ts or ts[-1] != lay.meta.max_ts:
        raise CorruptData(f"{where}timestamps disagree with header", offset=base + lay.ts[0])
    return ts


def decode_block(buf: bytes | memoryview, base: int = 0, name: str = "block") -> EntryBatch:
    """Decode a whole block. ``base``/``name`` only shape error messages (position in a chunk).

    ``timestamps`` is an ``array('q')``, ``offsets`` an ``array`` of n+1 unsigned ints starting
    at 0, ``metadata`` a list of tuples or None when no entry has any.
    """
    lay = _layout(buf, base, name)
    where = _where(name)
    _check(buf, 0, lay.crc_a, base, f"{where}header")
    _check(buf, lay.text[0], lay.crc_b, base, f"{where}text")
    meta = lay.meta
    n = meta.count
    ts = _timestamps(buf, lay, base, where)
    width = lay.off_width
    if width:
        planes = _inflate(buf, lay.off, n * width, base, f"{where}offsets")
        offsets = from_planes(planes, n, width, "I" if width <= 4 else "Q", lead=1)
        # Only the end is checked: a per-entry order check would cost ~10% of a scan, and the
        # checksum already stands between an accident and this point.
        if offsets[-1] != meta.raw_bytes:
            raise CorruptData(f"{where}line offsets disagree with header", base + lay.off[0])
    else:
        offsets = [0] * (n + 1)
    text = _inflate(buf, lay.text, meta.raw_bytes, base, f"{where}text") if meta.raw_bytes else b""
    metadata = None
    if lay.flags & FLAG_METADATA:
        raw = _inflate(buf, lay.md, lay.md_raw, base, f"{where}metadata")
        metadata = _decode_metadata(raw, n, base + lay.md[0], f"{where}metadata")
    return EntryBatch(timestamps=ts, data=text, offsets=offsets, metadata=metadata)


def _decode_metadata(raw: bytes, n: int, at: int, what: str) -> list[Metadata]:
    try:
        distinct, pos = read_uvarint(raw, 0)
        if distinct == 0 or distinct > n:
            raise ValueError(f"{distinct} distinct metadata sets for {n} entries")
        table: list[Metadata] = []
        for _ in range(distinct):
            pairs, pos = read_uvarint(raw, pos)
            md: list[tuple[str, str]] = []
            for _ in range(pairs):
                strings = []
                for _ in range(2):
                    size, pos = read_uvarint(raw, pos)
                    if pos + size > len(raw):
                        raise ValueError("metadata string runs past the frame")
                    strings.append(raw[pos : pos + size].decode("utf-8", "surrogatepass"))
                    pos += size
                md.append((strings[0], strings[1]))
            table.append(tuple(md))
        width = raw[pos]
        pos += 1
        if width == 0:
            index: Sequence[int] = [0] * n
        else:
            if width > 8 or pos + n * width != len(raw):
                raise ValueError("metadata index has the wrong size")
            index = from_planes(raw[pos:], n, width, "Q")
        return list(map(table.__getitem__, index))
    except (ValueError, IndexError, CorruptData) as err:
        raise CorruptData(f"{what}: {err}", offset=at) from err
