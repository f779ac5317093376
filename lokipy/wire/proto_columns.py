"""Column views of a ``PushRequest``: whole columns from one C-level parse, no per-entry objects.

Protobuf *merges* repeated occurrences of a singular embedded-message field, and a repeated
field collects every occurrence in wire order. So if the schema says a stream's ``entries``
(field 2) is ONE ``EntryColumns`` message whose fields are repeated, parsing the stream gives
every entry's line in one list, every Timestamp merged into one ``TimestampColumns`` with a
``seconds`` and a ``nanos`` list, and so on. Declaring ``PushRequest.streams`` singular too
merges every stream of the request into one set of columns, which are then cut per stream by
the entry counts of the full parse.

The columns line up with the entries only when each entry has each field exactly once. Go's
encoder leaves out empty lines and zero seconds/nanos, so a column shorter than the entry
count means "some entries omitted it": all-omitted is all-zero, anything partial falls back
(request → stream → entry by entry). Structured metadata also takes the entry path, since its
pairs cannot be assigned to entries from a flat column.

Known limit: an entry that repeats a singular field (legal protobuf, "last wins" in Go) while
another entry omits it keeps the column length right but pairs values with the wrong entries.
No encoder we know does that; it can only shuffle values within one client's own request.
"""

from __future__ import annotations

from itertools import accumulate, repeat
from operator import add, mul

from lokipy.model.entry import PushRequest, PushStream
from lokipy.wire.push_proto import (
    I32,
    I64,
    INT64_MAX,
    INT64_MIN,
    MSG,
    NS,
    B,
    build_classes,
    field,
    raise_bad_timestamp,
    stream_by_entry,
    text,
)

_COLUMN_SCHEMA = {
    "TimestampColumns": [
        field("seconds", 1, I64, repeated=True),
        field("nanos", 2, I32, repeated=True),
    ],
    "EntryColumns": [
        field("timestamp", 1, MSG, msg="TimestampColumns"),  # singular: merged across entries
        field("line", 2, B, repeated=True),
        field("structuredMetadata", 3, B, repeated=True),
    ],
    "StreamColumns": [field("entries", 2, MSG, msg="EntryColumns")],  # singular: merged
    "StreamsColumns": [field("streams", 1, MSG, repeated=True, msg="StreamColumns")],
    "RequestColumns": [field("streams", 1, MSG, msg="StreamColumns")],  # singular: merged
}
_C = build_classes(_COLUMN_SCHEMA, "lokipy/logproto_columns.proto")
_RequestColumns = _C["RequestColumns"]
_StreamsColumns = _C["StreamsColumns"]


def _aligned(cols: object, n: int) -> tuple[list[int], list[bytes], bool] | None:
    """(timestamps, lines, every nanos in [0, 1e9)) if the columns line up with ``n``
    entries, else None. Containers are sliced to lists first: iterating a upb container
    element by element costs as much as the wrappers we are avoiding."""
    if cols.structuredMetadata:  # type: ignore[attr-defined]
        return None
    tsc = cols.timestamp  # type: ignore[attr-defined]
    lines = cols.line[:]  # type: ignore[attr-defined]
    secs = tsc.seconds[:]
    nanos = tsc.nanos[:]
    if len(lines) != n:
        if lines:
            return None
        lines = [b""] * n  # every line empty (Go omits empty fields)
    if len(secs) == n and len(nanos) == n:
        ts = list(map(add, map(mul, secs, repeat(NS)), nanos))
    elif len(secs) == n and not nanos:
        ts = list(map(mul, secs, repeat(NS)))
    elif not secs and len(nanos) == n:
        ts = nanos
    elif not secs and not nanos:  # every entry at the epoch, or without a Timestamp
        ts = [0] * n
    else:
        return None
    nanos_ok = not nanos or (min(nanos) >= 0 and max(nanos) < NS)
    return ts, lines, nanos_ok


def _in_range(ts: list[int], nanos_ok: bool) -> bool:
    return not ts or (nanos_ok and min(ts) >= INT64_MIN and max(ts) <= INT64_MAX)


def _per_stream(data: bytes, full: object) -> list[PushStream]:
    views = _StreamsColumns.FromString(data).streams
    out: list[PushStream] = []
    for pb_stream, view in zip(full.streams, views, strict=True):  # type: ignore[attr-defined]
        n = len(pb_stream.entries)
        got = _aligned(view.entries, n)
        if got is None:
            out.append(stream_by_entry(pb_stream))
            continue
        ts, lines, nanos_ok = got
        if not _in_range(ts, nanos_ok):
            raise_bad_timestamp(pb_stream.entries)
        out.append(PushStream(text(pb_stream.labels), ts, lines))
    return out


def decode_columns(data: bytes, full: object) -> PushRequest:
    """Decode ``data`` (already validated by the full parse ``full``) column-wise."""
    pb_streams = full.streams  # type: ignore[attr-defined]
    counts = [len(s.entries) for s in pb_streams]
    cols = _RequestColumns.FromString(data).streams.entries
    got = _aligned(cols, sum(counts))
    if got is None or not _in_range(got[0], got[2]):
        return PushRequest(_per_stream(data, full))  # it names a bad timestamp exactly
    ts, lines, _ = got
    out: list[PushStream] = []
    start = 0
    for s, end in zip(pb_streams, accumulate(counts), strict=True):
        out.append(PushStream(text(s.labels), ts[start:end], lines[start:end]))
        start = end
    return PushRequest(out)
