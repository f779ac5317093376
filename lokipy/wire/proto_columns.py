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
count means "some entries omitted it": all-omitted is all-zero; partly omitted nanos (a
millisecond clock hits ``.000`` once in a thousand) are placed by the size of each raw
Timestamp; anything else falls back (request → stream → entry by entry). Structured metadata
comes as flat name/value columns, cut per entry by pair counts read from the full parse.

Known limit: an entry that repeats a singular field (legal protobuf, "last wins" in Go) while
another entry omits it keeps the column length right but pairs values with the wrong entries.
No encoder we know does that; it can only shuffle values within one client's own request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from itertools import accumulate, repeat
from operator import add, attrgetter, itemgetter, mul

from google.protobuf.message import DecodeError

from lokipy.model.entry import NO_METADATA, Metadata, PushRequest, PushStream
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
    stream_by_entry_metadata,
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
        field("structuredMetadata", 3, MSG, msg="PairColumns"),  # singular: merged
    ],
    "PairColumns": [field("name", 1, B, repeated=True), field("value", 2, B, repeated=True)],
    "StreamColumns": [field("entries", 2, MSG, msg="EntryColumns")],  # singular: merged
    "StreamsColumns": [field("streams", 1, MSG, repeated=True, msg="StreamColumns")],
    "RequestColumns": [field("streams", 1, MSG, msg="StreamColumns")],  # singular: merged
    # Every entry's raw Timestamp bytes, request-wide: their sizes tell which omitted nanos.
    "RawTimestamps": [field("timestamp", 1, B, repeated=True)],
    "RawTimestampsStream": [field("entries", 2, MSG, msg="RawTimestamps")],
    "RawTimestampsRequest": [field("streams", 1, MSG, msg="RawTimestampsStream")],
}
_C = build_classes(_COLUMN_SCHEMA, "lokipy/logproto_columns.proto")
_RequestColumns = _C["RequestColumns"]
_StreamsColumns = _C["StreamsColumns"]
_RawTimestampsRequest = _C["RawTimestampsRequest"]
# Seconds in [2**28, 2**35) (1978..3058) are 5-byte varints, so a Go-encoded Timestamp is
# 6 bytes without nanos and more with them.
_SECS_LO, _SECS_HI, _TS_BYTES_NO_NANOS = 1 << 28, 1 << 35, 6


class _RawSizes:
    """Sizes of every entry's raw Timestamp in request order, parsed once when first needed
    (None if some entry has no Timestamp field or several)."""

    def __init__(self, data: bytes, total: int) -> None:
        self._data, self._total = data, total
        self._sizes: list[int] | None | bool = False

    def get(self, start: int, end: int) -> list[int] | None:
        if self._sizes is False:
            try:
                raw = _RawTimestampsRequest.FromString(self._data).streams.entries.timestamp
            except DecodeError:
                raw = ()
            self._sizes = list(map(len, raw)) if len(raw) == self._total else None
        return None if self._sizes is None else self._sizes[start:end]  # type: ignore[index]


def _fill_omitted_nanos(secs: list[int], nanos: list[int], sizes: list[int] | None) -> list[int] | None:
    """Go leaves out nanos == 0 (1 in 1000 entries for a millisecond clock); recover which
    entries did from their Timestamp sizes. None when that cannot be told for sure."""
    if sizes is None or not secs or min(secs) < _SECS_LO or max(secs) >= _SECS_HI:
        return None
    present = [size > _TS_BYTES_NO_NANOS for size in sizes]
    if sum(present) != len(nanos):
        return None
    it = iter(nanos)
    return [next(it) if p else 0 for p in present]


def _aligned(
    cols: object, n: int, sizes: Callable[[], list[int] | None]
) -> tuple[list[int], list[bytes], bool] | None:
    """(timestamps, lines, every nanos in [0, 1e9)) if the columns line up with ``n``
    entries, else None (structured metadata is left to :func:`_metadata`). Containers are sliced to lists first: iterating a upb container
    element by element costs as much as the wrappers we are avoiding."""
    tsc = cols.timestamp  # type: ignore[attr-defined]
    lines = cols.line[:]  # type: ignore[attr-defined]
    secs = tsc.seconds[:]
    nanos = tsc.nanos[:]
    if len(lines) != n:
        if lines:
            return None
        lines = [b""] * n  # every line empty (Go omits empty fields)
    nanos_ok = not nanos or (min(nanos) >= 0 and max(nanos) < NS)
    if len(secs) == n and len(nanos) != n:
        filled = _fill_omitted_nanos(secs, nanos, sizes()) if nanos else [0] * n
        if filled is None:
            return None
        nanos = filled
    if len(secs) == n:
        ts = list(map(add, map(mul, secs, repeat(NS)), nanos))
    elif not secs and len(nanos) == n:
        ts = nanos
    elif not secs and not nanos:  # every entry at the epoch, or without a Timestamp
        ts = [0] * n
    else:
        return None
    return ts, lines, nanos_ok


_SM = attrgetter("structuredMetadata")
_NAME = itemgetter(0)


def _metadata(pb_entries: object, pairs: object) -> list[Metadata] | None:
    """Every entry's metadata from the flat name/value columns, cut by each entry's pair
    count (read from the full parse without touching the pairs themselves)."""
    counts = list(map(len, map(_SM, pb_entries)))  # type: ignore[call-overload]
    names, values = pairs.name[:], pairs.value[:]  # type: ignore[attr-defined]
    if len(names) != sum(counts) or len(values) != len(names):
        # An empty name or value was left out of its column: read the pairs one by one.
        return stream_by_entry_metadata(pb_entries)
    names = map(bytes.decode, names, repeat("utf-8"), repeat("surrogateescape"))
    values = map(bytes.decode, values, repeat("utf-8"), repeat("surrogateescape"))
    flat = list(zip(names, values, strict=True))
    out: list[Metadata] = []
    pos = 0
    for c in counts:
        if c == 0:
            out.append(NO_METADATA)
        elif c == 1:
            out.append((flat[pos],))
        else:  # stable: duplicate names keep wire order
            out.append(tuple(sorted(flat[pos : pos + c], key=_NAME)))
        pos += c
    return out if any(out) else None


def _in_range(ts: list[int], nanos_ok: bool) -> bool:
    return not ts or (nanos_ok and min(ts) >= INT64_MIN and max(ts) <= INT64_MAX)


def _by_entry(full: object) -> list[PushStream]:
    return [stream_by_entry(s) for s in full.streams]  # type: ignore[attr-defined]


def _per_stream(data: bytes, full: object, sizes: _RawSizes) -> list[PushStream]:
    try:
        views = _StreamsColumns.FromString(data).streams
    except DecodeError:
        return _by_entry(full)
    out: list[PushStream] = []
    start = 0
    for pb_stream, view in zip(full.streams, views, strict=True):  # type: ignore[attr-defined]
        n = len(pb_stream.entries)
        got = _aligned(view.entries, n, partial(sizes.get, start, start + n))
        start += n
        if got is None:
            out.append(stream_by_entry(pb_stream))
            continue
        ts, lines, nanos_ok = got
        if not _in_range(ts, nanos_ok):
            raise_bad_timestamp(pb_stream.entries)
        md = None
        if view.entries.HasField("structuredMetadata"):
            md = _metadata(pb_stream.entries, view.entries.structuredMetadata)
        out.append(PushStream(text(pb_stream.labels), ts, lines, md))
    return out


def decode_columns(data: bytes, full: object) -> PushRequest:
    """Decode ``data`` (already validated by the full parse ``full``) column-wise."""
    pb_streams = full.streams  # type: ignore[attr-defined]
    counts = [len(s.entries) for s in pb_streams]
    total = sum(counts)
    sizes = _RawSizes(data, total)
    try:
        cols = _RequestColumns.FromString(data).streams.entries
    except DecodeError:
        # A field the real schema skips as unknown (wrong wire type) can still be malformed
        # as a packed column: the full parse already accepted the message, so go slowly.
        return PushRequest(_by_entry(full))
    got = _aligned(cols, total, partial(sizes.get, 0, total))
    if got is None or not _in_range(got[0], got[2]) or cols.HasField("structuredMetadata"):
        return PushRequest(_per_stream(data, full, sizes))  # it names a bad timestamp exactly
    ts, lines, _ = got
    out: list[PushStream] = []
    start = 0
    for s, end in zip(pb_streams, accumulate(counts), strict=True):
        out.append(PushStream(text(s.labels), ts[start:end], lines[start:end]))
        start = end
    return PushRequest(out)
