"""The minimal ingest models of ``docs/performance.md``, timed next to I1/I2 as context.

The performance document's "what one core can do" table has two ingest rows that are not
libraries but tiny in-memory stores: JSON (orjson -> find the stream -> append -> cut 256 KiB
blocks -> zstd) and protobuf (snappy -> upb parse -> append -> cut -> zstd). They do the least
an in-memory store must do: no validation, no write-ahead log, no files, no index, no fsync.
I1/I2 are judged as ratios to SQLite's ``executemany``; timing these models in the same run
(round-robin with a SQLite insert of their own) shows what ratio that least work reaches on the
machine of the run, so a missed I1/I2 can be read against it instead of against figures from
another machine.

Both get every advantage lokipy has: blocks are compressed at the store's default zstd level
(1, faster than the document's 3) and the cyclic GC is paused while they run, as it is during a
lokipy push. Each returns the number of entries it stored (checked against the corpus) and
compresses each block's text and its timestamp column, as a real block does.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable
from operator import sub
from typing import Any

import cramjam
import orjson
import xxhash
import zstandard
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from benchmarks.timing import Task

BLOCK_BYTES = 256 * 1024
ZSTD_LEVEL = 1  # lokipy's default ``ingester.zstd_level``
MODEL_SQLITE = "model.sqlite_executemany"  # the SQLite insert timed in the models' rounds


class _Head:
    """One stream's open block: timestamps, lines (bytes) and their size with separators."""

    __slots__ = ("lines", "size", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.lines: list[bytes] = []
        self.size = 0


def _cut(head: _Head, compress: Callable[[bytes], bytes]) -> int:
    """Compress the block's text and its delta-encoded timestamp column; bytes produced."""
    ts = head.ts
    deltas = array("q", [ts[0]])
    deltas.extend(map(sub, ts[1:], ts[:-1]))
    return len(compress(b"\n".join(head.lines))) + len(compress(deltas.tobytes()))


class _Store:
    """The model's whole state: a label-set cache, the open heads, and the output size."""

    def __init__(self) -> None:
        self.compress = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress
        self.sids: dict[Any, int] = {}
        self.heads: dict[int, _Head] = {}
        self.entries = 0
        self.compressed = 0

    def head(self, key: Any, canonical: Callable[[Any], bytes], labels: Any) -> _Head:
        """The stream's open head; ``canonical(labels)`` is built only for a new label set."""
        sid = self.sids.get(key)
        if sid is None:
            sid = self.sids[key] = xxhash.xxh64_intdigest(canonical(labels))
        head = self.heads.get(sid)
        if head is None:
            head = self.heads[sid] = _Head()
        return head

    def appended(self, head: _Head, n_before: int) -> None:
        added = head.lines[n_before:]
        head.size += sum(map(len, added)) + len(added)
        self.entries += len(added)
        if head.size >= BLOCK_BYTES:
            self.compressed += _cut(head, self.compress)
            head.ts, head.lines, head.size = [], [], 0

    def finish(self) -> int:
        for head in self.heads.values():
            if head.lines:
                self.compressed += _cut(head, self.compress)
        return self.entries


def ingest_json(bodies: list[bytes]) -> int:
    """orjson -> label cache -> per-entry append (int timestamp, UTF-8 line) -> cut -> zstd."""
    store = _Store()
    for body in bodies:
        for stream in orjson.loads(body)["streams"]:
            labels = stream["stream"]
            head = store.head(tuple(labels.items()), _canonical, labels)
            ts, lines = head.ts, head.lines
            n0 = len(lines)
            for t, line in stream["values"]:
                ts.append(int(t))
                lines.append(line.encode())
            store.appended(head, n0)
    return store.finish()


def _canonical(labels: dict[str, str]) -> bytes:
    return ("{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}").encode()


def push_request_class() -> Any:
    """Loki's PushRequest with ``line`` and ``labels`` as bytes (wire-identical to string)."""
    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="bench_model.proto", package="benchmodel", syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, str]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, sub_name in fields:
            fd = m.field.add(name=fname, number=number, type=ftype)
            fd.label = f.LABEL_REPEATED if sub_name.endswith("[]") else f.LABEL_OPTIONAL
            if sub_name:
                fd.type_name = ".benchmodel." + sub_name.removesuffix("[]")

    message("Timestamp", ("seconds", 1, f.TYPE_INT64, ""), ("nanos", 2, f.TYPE_INT32, ""))
    message("Entry", ("timestamp", 1, f.TYPE_MESSAGE, "Timestamp"), ("line", 2, f.TYPE_BYTES, ""))
    message("Stream", ("labels", 1, f.TYPE_BYTES, ""), ("entries", 2, f.TYPE_MESSAGE, "Entry[]"))
    message("PushRequest", ("streams", 1, f.TYPE_MESSAGE, "Stream[]"))
    pool = descriptor_pool.DescriptorPool()
    return message_factory.GetMessageClass(pool.Add(fdp).message_types_by_name["PushRequest"])


def ingest_protobuf(bodies: list[bytes], request_class: Any) -> int:
    """snappy -> upb parse -> label cache -> per-entry append -> cut -> zstd."""
    store = _Store()
    decompress = cramjam.snappy.decompress_raw
    parse = request_class.FromString
    for body in bodies:
        for stream in parse(bytes(decompress(body))).streams:
            labels = stream.labels
            head = store.head(labels, bytes, labels)
            ts, lines = head.ts, head.lines
            n0 = len(lines)
            for e in stream.entries:
                t = e.timestamp
                ts.append(t.seconds * 1_000_000_000 + t.nanos)
                lines.append(e.line)
            store.appended(head, n0)
    return store.finish()


def model_tasks(json_bodies: list[bytes] | None, proto_bodies: list[bytes] | None) -> list[Task]:
    """Tasks ``model.ingest_json`` / ``model.ingest_protobuf`` for :func:`measure_many`,
    each run with the cyclic GC paused (the setup pauses it, the teardown resumes it)."""

    def pause() -> None:
        gc.disable()

    def resume(_: object) -> None:
        gc.enable()

    tasks = []
    if json_bodies is not None:
        tasks.append(Task("model.ingest_json", lambda _: ingest_json(json_bodies), pause, resume))
    if proto_bodies is not None:
        cls = push_request_class()
        tasks.append(
            Task("model.ingest_protobuf", lambda _: ingest_protobuf(proto_bodies, cls), pause, resume)
        )
    return tasks
