"""Push bodies of the workload: time-ordered batches of ~1 MiB of line bytes, as a client sends.

Two encodings, as Loki accepts them: the JSON ``{"streams": [{"stream": {...}, "values": [...]}]}``
body, and the protobuf ``logproto.PushRequest`` in snappy *block* format (what promtail sends).
The protobuf encoder is hand-written: it is a benchmark input builder, and it keeps the inputs
independent of the decoder under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cramjam
import orjson

from benchmarks.datasets import Corpus

BATCH_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Batch:
    """Line indices of one push, grouped by stream id in first-seen order."""

    groups: tuple[tuple[int, tuple[int, ...]], ...]
    n_lines: int
    line_bytes: int  # raw bytes: lines plus one separator each


def make_batches(corpus: Corpus, batch_bytes: int = BATCH_BYTES) -> list[Batch]:
    """Cut the corpus, in time order, into pushes of ~``batch_bytes`` of line bytes."""
    out: list[Batch] = []
    groups: dict[int, list[int]] = {}
    size = count = 0
    lines, sids = corpus.lines, corpus.sids
    for i in range(len(lines)):
        groups.setdefault(sids[i], []).append(i)
        size += len(lines[i])
        count += 1
        if size >= batch_bytes:
            out.append(_batch(groups, count, size))
            groups, size, count = {}, 0, 0
    if groups:
        out.append(_batch(groups, count, size))
    return out


def _batch(groups: dict[int, list[int]], count: int, size: int) -> Batch:
    return Batch(tuple((s, tuple(ix)) for s, ix in groups.items()), count, size + count)


def json_body(corpus: Corpus, batch: Batch) -> bytes:
    lines, ts = corpus.lines, corpus.ts
    streams = [
        {
            "stream": corpus.streams[sid].labels(),
            "values": [[str(ts[i]), lines[i].decode()] for i in idx],
        }
        for sid, idx in batch.groups
    ]
    return orjson.dumps({"streams": streams})


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [_varint(n) for n in range(1 << 14)]


def _len_prefixed(field: int, payload: bytes) -> bytes:
    n = len(payload)
    return bytes(((field << 3) | 2,)) + (_SMALL[n] if n < 16384 else _varint(n)) + payload


def encode_entry(ts: int, line: bytes) -> bytes:
    """``EntryAdapter{timestamp: Timestamp{seconds, nanos}, line}`` (no structured metadata)."""
    sec, nanos = divmod(ts, 1_000_000_000)
    stamp = b"\x08" + _varint(sec) + (b"\x10" + _varint(nanos) if nanos else b"")
    return _len_prefixed(1, stamp) + _len_prefixed(2, line)


def encode_push_proto(streams: list[tuple[str, list[tuple[int, bytes]]]]) -> bytes:
    """Serialise ``PushRequest{streams: [StreamAdapter{labels, entries}]}`` (proto3 wire)."""
    parts = []
    for labels, entries in streams:
        body = _len_prefixed(1, labels.encode()) + b"".join(
            _len_prefixed(2, encode_entry(ts, line)) for ts, line in entries
        )
        parts.append(_len_prefixed(1, body))
    return b"".join(parts)


def proto_body(corpus: Corpus, batch: Batch) -> bytes:
    """Snappy-block-compressed protobuf body, as promtail POSTs it."""
    lines, ts = corpus.lines, corpus.ts
    streams = [
        (corpus.streams[sid].canonical(), [(ts[i], lines[i]) for i in idx]) for sid, idx in batch.groups
    ]
    return bytes(cramjam.snappy.compress_raw(encode_push_proto(streams)))


@dataclass(frozen=True, slots=True)
class Bodies:
    json: list[bytes]
    proto: list[bytes]
    n_lines: int
    line_bytes: int


def build_bodies(corpus: Corpus, batch_bytes: int = BATCH_BYTES) -> Bodies:
    batches = make_batches(corpus, batch_bytes)
    return Bodies(
        json=[json_body(corpus, b) for b in batches],
        proto=[proto_body(corpus, b) for b in batches],
        n_lines=sum(b.n_lines for b in batches),
        line_bytes=sum(b.line_bytes for b in batches),
    )


def iter_entries(corpus: Corpus) -> Iterator[tuple[int, int, bytes]]:
    """(stream id, ts, line) in time order: what every body above carries, in total."""
    return zip(corpus.sids, corpus.ts, corpus.lines, strict=True)
