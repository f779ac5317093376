"""The label index: postings (name → value → streams) and each stream's chunk references.

It lives in memory and is rebuilt at start-up from immutable index segments
(``index/<tenant>/<segment>``, see ``docs/format/index.md``), one written per flush, so no file
is ever rewritten in place. Streams are keyed by their full label set: a stream-id (xxhash)
collision can never merge two streams.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
import zstandard

from lokipy.model.errors import CorruptData
from lokipy.model.labels import Labels
from lokipy.model.matchers import LabelMatcher, MatchType, regex_literal_alternatives

if TYPE_CHECKING:
    from lokipy.store.head import ClosedChunk, StreamHead

SEGMENT_MAGIC = b"LPIX"
SEGMENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ChunkRef:
    key: str  # object-store key of the chunk file
    min_ts: int
    max_ts: int
    entries: int
    raw_bytes: int  # uncompressed line bytes
    size: int  # bytes of the chunk file


@dataclass(slots=True)
class StreamInfo:
    labels: Labels
    chunks: list[ChunkRef] = field(default_factory=list)
    pending: list[ClosedChunk] = field(default_factory=list)  # closed, not yet written
    head: StreamHead | None = None
    keys: set[str] = field(default_factory=set)  # keys of ``chunks``

    def overlaps(self, start: int, end: int) -> bool:
        """Could this stream hold entries with ``start <= ts < end``?"""
        for ref in self.chunks:
            if ref.min_ts < end and ref.max_ts >= start:
                return True
        for chunk in self.pending:
            if chunk.min_ts < end and chunk.max_ts >= start:
                return True
        head = self.head
        if head is not None and head.lowest_ts is not None:
            hi = head.highest_ts if head.highest_ts is not None else head.lowest_ts
            return head.lowest_ts < end and hi >= start
        return False


class TenantIndex:
    def __init__(self) -> None:
        self.active_heads = 0  # streams with an in-memory head (Loki's "active streams")
        self.streams: dict[Labels, StreamInfo] = {}
        self.postings: dict[str, dict[str, set[Labels]]] = {}

    def stream(self, labels: Labels) -> StreamInfo:
        info = self.streams.get(labels)
        if info is None:
            info = StreamInfo(labels)
            self.streams[labels] = info
            for name, value in labels:
                self.postings.setdefault(name, {}).setdefault(value, set()).add(labels)
        return info

    def drop_head(self, info: StreamInfo) -> None:
        if info.head is not None:
            info.head = None
            self.active_heads -= 1

    def add_chunk(self, labels: Labels, ref: ChunkRef) -> None:
        info = self.stream(labels)
        if ref.key in info.keys:
            return  # listed by two index segments (an interrupted compaction): one chunk
        info.keys.add(ref.key)
        chunks = info.chunks
        chunks.append(ref)
        if len(chunks) > 1 and chunks[-2].min_ts > ref.min_ts:
            chunks.sort(key=lambda r: r.min_ts)

    def remove_stream(self, labels: Labels) -> None:
        self.streams.pop(labels, None)
        for name, value in labels:
            values = self.postings.get(name)
            if values is None:
                continue
            members = values.get(value)
            if members is not None:
                members.discard(labels)
                if not members:
                    del values[value]
            if not values:
                del self.postings[name]

    def match(self, matchers: Sequence[LabelMatcher]) -> list[StreamInfo]:
        """Streams whose labels satisfy every matcher (a missing label reads as "")."""
        candidates: set[Labels] | None = None
        for m in matchers:
            if m.matches_empty():
                continue  # cannot narrow: streams without the label match too
            found = self._candidates(m)
            candidates = found if candidates is None else candidates & found
            if not candidates:
                return []
        pool: Iterable[Labels] = self.streams if candidates is None else candidates
        out = [self.streams[ls] for ls in pool if all(m.matches(ls.get(m.name)) for m in matchers)]
        out.sort(key=lambda info: str(info.labels))
        return out

    def _candidates(self, m: LabelMatcher) -> set[Labels]:
        values = self.postings.get(m.name, {})
        if m.type is MatchType.EQ:
            return set(values.get(m.value, ()))
        literals = regex_literal_alternatives(m)
        if literals is not None:
            out: set[Labels] = set()
            for v in literals:
                out |= values.get(v, set())
            return out
        out = set()
        for value, members in values.items():
            if m.matches(value):
                out |= members
        return out


# --- segments -----------------------------------------------------------------------------


def encode_segment(rows: list[tuple[Labels, ChunkRef]]) -> bytes:
    """``LPIX | u8 version | u32 crc32(body) | body``; body = zstd(JSON rows)."""
    doc = [[str(labels), r.key, r.min_ts, r.max_ts, r.entries, r.raw_bytes, r.size] for labels, r in rows]
    body = zstandard.ZstdCompressor(level=3).compress(orjson.dumps(doc))
    return SEGMENT_MAGIC + bytes([SEGMENT_VERSION]) + zlib.crc32(body).to_bytes(4, "little") + body


def decode_segment(data: bytes, path: str) -> list[tuple[Labels, ChunkRef]]:
    if len(data) < 9 or data[:4] != SEGMENT_MAGIC:
        raise CorruptData("index segment has no LPIX header", path=path, offset=0)
    if data[4] != SEGMENT_VERSION:
        raise CorruptData(f"index segment version {data[4]} is not supported", path=path, offset=4)
    body = data[9:]
    if zlib.crc32(body) != int.from_bytes(data[5:9], "little"):
        raise CorruptData("index segment checksum mismatch", path=path, offset=5)
    try:
        doc = orjson.loads(zstandard.ZstdDecompressor().decompress(body))
        return [
            (Labels.parse(text), ChunkRef(key, lo, hi, n, raw, size))
            for text, key, lo, hi, n, raw, size in doc
        ]
    except (zstandard.ZstdError, orjson.JSONDecodeError, ValueError, TypeError) as err:
        raise CorruptData(f"index segment undecodable: {err}", path=path, offset=9) from err
