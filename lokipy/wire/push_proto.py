"""Loki's protobuf ``logproto.PushRequest``: decode and encode (the snappy layer is separate).

The message classes are built at import time from a descriptor written in code, so there is no
protoc step and no generated file. Loki declares ``labels``, ``line`` and the label-pair fields
as ``string``; we declare them ``bytes``. The wire encoding is identical (length-delimited), but
a ``bytes`` field never fails on invalid UTF-8: Go strings may hold any bytes and promtail sends
whatever the file contained. ``google.protobuf.Timestamp`` is declared locally with the same
two fields, so the private pool needs no well-known-type imports. ``hash`` (stream field 3) and
``parsed`` (entry field 4) are declared so they decode and are then ignored, as Loki does.

Speed: touching a upb message from Python costs a wrapper object per entry and per field, which
made decoding ~5x slower than parsing. So the same bytes are also parsed through *column views*
(``lokipy.wire.proto_columns``) that hand back whole columns as lists. Faster still, a plain
request (no metadata, every field once) is decoded by the C decoder (``lokipy.wire.native``)
into the joined form the push path wants; anything else comes here.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from lokipy.model.entry import NO_METADATA, ColumnStats, JoinedLines, Metadata, PushRequest, PushStream
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import Labels
from lokipy.wire import native

NS = 1_000_000_000
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
# Loki accepts Timestamps in [0001-01-01, 10000-01-01) (pkg/push/timestamp.go).
_MIN_VALID_SECONDS = -62135596800
_MAX_VALID_SECONDS = 253402300800

_F = descriptor_pb2.FieldDescriptorProto
B, U64, I64, I32 = _F.TYPE_BYTES, _F.TYPE_UINT64, _F.TYPE_INT64, _F.TYPE_INT32
MSG = _F.TYPE_MESSAGE


def field(name: str, number: int, ftype: int, *, repeated: bool = False, msg: str = "") -> _F:
    f = _F(name=name, number=number, type=ftype)
    f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if msg:
        f.type_name = f".logproto.{msg}"
    return f


SCHEMA: dict[str, list[_F]] = {
    "Timestamp": [field("seconds", 1, I64), field("nanos", 2, I32)],
    "LabelPairAdapter": [field("name", 1, B), field("value", 2, B)],
    "EntryAdapter": [
        field("timestamp", 1, MSG, msg="Timestamp"),
        field("line", 2, B),
        field("structuredMetadata", 3, MSG, repeated=True, msg="LabelPairAdapter"),
        field("parsed", 4, MSG, repeated=True, msg="LabelPairAdapter"),
    ],
    "StreamAdapter": [
        field("labels", 1, B),
        field("entries", 2, MSG, repeated=True, msg="EntryAdapter"),
        field("hash", 3, U64),
    ],
    "PushRequest": [
        field("streams", 1, MSG, repeated=True, msg="StreamAdapter"),
        field("format", 2, _F.TYPE_STRING),
    ],
}


def build_classes(schema: dict[str, list[_F]], file_name: str) -> dict[str, type]:
    """Message classes for ``schema`` (package ``logproto``) in a private descriptor pool, so
    they never clash with another module's ``logproto``."""
    fdp = descriptor_pb2.FileDescriptorProto(name=file_name, package="logproto", syntax="proto3")
    for name, fields in schema.items():
        fdp.message_type.add(name=name).field.extend(fields)
    fd = descriptor_pool.DescriptorPool().Add(fdp)
    return {n: message_factory.GetMessageClass(fd.message_types_by_name[n]) for n in schema}


_CLASSES = build_classes(SCHEMA, "lokipy/logproto_push.proto")
PbPushRequest = _CLASSES["PushRequest"]
PbStream = _CLASSES["StreamAdapter"]
PbEntry = _CLASSES["EntryAdapter"]
PbLabelPair = _CLASSES["LabelPairAdapter"]
PbTimestamp = _CLASSES["Timestamp"]


def text(raw: bytes) -> str:
    # Invalid UTF-8 survives as surrogate escapes; Labels' quoting turns them back into \xNN.
    return raw.decode("utf-8", "surrogateescape")


def _go_timestamp(seconds: int, nanos: int) -> str:
    return f"&types.Timestamp{{Seconds: {seconds},\nNanos: {nanos},\n}}"


def raise_bad_timestamp(pb_entries: object) -> None:
    """Find the entry whose Timestamp failed a columnar range check; raise Loki's error."""
    for e in pb_entries:  # type: ignore[attr-defined]
        s, n = e.timestamp.seconds, e.timestamp.nanos
        if s < _MIN_VALID_SECONDS:
            raise InvalidInput(f"timestamp: {_go_timestamp(s, n)} before 0001-01-01")
        if s >= _MAX_VALID_SECONDS:
            raise InvalidInput(f"timestamp: {_go_timestamp(s, n)} after 10000-01-01")
        if not 0 <= n < NS:
            raise InvalidInput(f"timestamp: {_go_timestamp(s, n)}: nanos not in range [0, 1e9)")
        if not INT64_MIN <= s * NS + n <= INT64_MAX:
            # Loki takes it (and rejects it later as too old/new); we keep int64 everywhere.
            raise InvalidInput(f"timestamp: {_go_timestamp(s, n)} is outside the int64 nanosecond range")
    raise AssertionError("unreachable: range check failed but every timestamp is valid")


def _metadata(pairs: object) -> Metadata:
    md = [(text(p.name), text(p.value)) for p in pairs]  # type: ignore[attr-defined]
    md.sort(key=lambda kv: kv[0])  # stable: duplicate names keep wire order
    return tuple(md)


def stream_by_entry(pb_stream: object) -> PushStream:
    """One stream through the full message, entry by entry (the general, slow path)."""
    ts: list[int] = []
    lines: list[bytes] = []
    md_list: list[Metadata] | None = None
    nanos_ok = True
    entries = pb_stream.entries  # type: ignore[attr-defined]
    for e in entries:
        t = e.timestamp
        n = t.nanos
        nanos_ok = nanos_ok and 0 <= n < NS
        ts.append(t.seconds * NS + n)
        lines.append(e.line)
        sm = e.structuredMetadata
        if sm:
            if md_list is None:
                md_list = [NO_METADATA] * (len(ts) - 1)
            md_list.append(_metadata(sm))
        elif md_list is not None:
            md_list.append(NO_METADATA)
    if ts and not (nanos_ok and min(ts) >= INT64_MIN and max(ts) <= INT64_MAX):
        raise_bad_timestamp(entries)
    return PushStream(text(pb_stream.labels), ts, lines, md_list)  # type: ignore[attr-defined]


def stream_by_entry_metadata(pb_entries: object) -> list[Metadata] | None:
    """Just the metadata column of a stream, pair by pair."""
    md = [_metadata(e.structuredMetadata) for e in pb_entries]  # type: ignore[attr-defined]
    return md if any(md) else None


def parse_full(data: bytes) -> object:
    """Parse with the real schema: this validates the message exactly as Go's unmarshaller."""
    try:
        return PbPushRequest.FromString(data)
    except DecodeError as err:
        raise InvalidInput(f"proto: malformed PushRequest: {err}") from None


def decode_push_proto(data: bytes) -> PushRequest:
    """Decode an (already snappy-decoded) ``logproto.PushRequest``.

    Labels stay text (``str``); lines stay ``bytes``; timestamps become int ns. Streams without
    entries are kept: Loki parses their labels too, and counts them as streams.
    """
    from lokipy.wire.proto_columns import decode_columns  # sibling depends on this module

    if native.columns is not None:
        cols = native.columns.proto_columns(data)
        if cols is not None:  # a plain request: already decoded, columns and all
            return PushRequest(
                [
                    PushStream(text(lb), ts, JoinedLines(t, lens), None, stats and ColumnStats(*stats))
                    for lb, ts, t, lens, stats in cols
                ]
            )
    return decode_columns(data, parse_full(data))


def _labels_bytes(labels: str | Labels) -> bytes:
    return str(labels).encode("utf-8", "surrogateescape")


def encode_push_proto_raw(req: PushRequest) -> bytes:
    """Serialise to protobuf bytes exactly as Go's marshaller orders fields (no snappy)."""
    pb = PbPushRequest()
    for s in req.streams:
        ps = pb.streams.add()
        ps.labels = _labels_bytes(s.labels)
        entries = ps.entries
        md = s.metadata
        for i, (t, line) in enumerate(zip(s.timestamps, s.lines, strict=True)):
            secs, nanos = divmod(t, NS)
            e = entries.add(timestamp=PbTimestamp(seconds=secs, nanos=nanos), line=line)
            if md is not None and md[i]:
                for name, value in md[i]:
                    e.structuredMetadata.add(
                        name=name.encode("utf-8", "surrogateescape"),
                        value=value.encode("utf-8", "surrogateescape"),
                    )
    return pb.SerializeToString()
