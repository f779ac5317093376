"""Property tests: encode/decode round trips, and a decoder that only ever raises
InvalidInput (or its RequestTooLarge subclass) on garbage, quickly."""

from __future__ import annotations

import gzip
import json
import time
import zlib

from hypothesis import given
from hypothesis import strategies as st

from lokipy.model.entry import Metadata, PushRequest, PushStream
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import Labels
from lokipy.wire import (
    compress_block,
    decode_push,
    encode_push_json,
    encode_push_proto,
    encode_push_proto_raw,
)

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
# Text as the proto decoder produces it: any bytes, invalid UTF-8 kept as surrogate escapes.
WIRE_TEXT = st.binary(max_size=24).map(lambda b: b.decode("utf-8", "surrogateescape"))
UNICODE = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
LABEL_NAME = st.builds(str.__add__, st.sampled_from(_FIRST), st.text(_FIRST + "0123456789", max_size=8))


def _metadata_column(draw, n: int, text) -> list[Metadata] | None:
    column = [tuple(sorted(draw(st.dictionaries(text, text, max_size=3)).items())) for _ in range(n)]
    return column if any(column) else None


@st.composite
def proto_streams(draw) -> PushStream:
    n = draw(st.integers(0, 6))
    return PushStream(
        draw(WIRE_TEXT),
        draw(st.lists(INT64, min_size=n, max_size=n)),
        draw(st.lists(st.binary(max_size=40), min_size=n, max_size=n)),
        _metadata_column(draw, n, WIRE_TEXT),
    )


@st.composite
def json_streams(draw) -> PushStream:
    n = draw(st.integers(0, 6))
    labels = Labels.from_map(draw(st.dictionaries(LABEL_NAME, UNICODE.filter(bool), max_size=4)))
    return PushStream(
        labels,
        draw(st.lists(INT64, min_size=n, max_size=n)),
        [t.encode() for t in draw(st.lists(UNICODE, min_size=n, max_size=n))],
        _metadata_column(draw, n, UNICODE),
    )


@given(st.lists(proto_streams(), max_size=4))
def test_proto_round_trip(streams: list[PushStream]) -> None:
    req = PushRequest(streams)
    body = encode_push_proto(req)
    assert decode_push(body, "application/x-protobuf", None, legacy=False) == req
    assert decode_push(gzip.compress(body), None, "gzip", legacy=False) == req


@given(st.lists(json_streams(), max_size=4))
def test_json_round_trip(streams: list[PushStream]) -> None:
    req = PushRequest(streams)
    body = encode_push_json(req)
    assert decode_push(body, "application/json", None, legacy=False) == req
    deflated = zlib.compressobj(wbits=-15)
    raw = deflated.compress(body) + deflated.flush()
    assert decode_push(raw, "application/json", "deflate", legacy=False) == req


@given(st.lists(json_streams(), max_size=3))
def test_json_and_proto_agree(streams: list[PushStream]) -> None:
    """The same request through either format decodes to the same entries and label sets."""
    req = PushRequest(streams)
    via_json = decode_push(encode_push_json(req), "application/json", None, legacy=False)
    via_proto = decode_push(encode_push_proto(req), None, None, legacy=False)
    assert [Labels.parse(s.labels) for s in via_proto.streams] == [s.labels for s in via_json.streams]
    assert [(s.timestamps, s.lines, s.metadata) for s in via_proto.streams] == [
        (s.timestamps, s.lines, s.metadata) for s in via_json.streams
    ]


CONTENT_TYPES = st.sampled_from([None, "application/json", "application/x-protobuf"])
ENCODINGS = st.sampled_from([None, "snappy", "gzip", "deflate"])
LIMIT = 1 << 20


def _decode_only_expected_errors(body: bytes, ctype, encoding, legacy: bool) -> None:
    t0 = time.perf_counter()
    try:
        req = decode_push(body, ctype, encoding, legacy=legacy, max_decompressed_bytes=LIMIT)
    except InvalidInput:
        pass  # includes RequestTooLarge and InvalidLabels
    else:
        assert isinstance(req, PushRequest)
    assert time.perf_counter() - t0 < 5.0


@given(st.binary(max_size=512), CONTENT_TYPES, ENCODINGS, st.booleans())
def test_garbage_bytes_only_raise_invalid_input(body, ctype, encoding, legacy) -> None:
    _decode_only_expected_errors(body, ctype, encoding, legacy)


@given(st.binary(max_size=512), CONTENT_TYPES, st.booleans())
def test_garbage_inside_valid_compression_only_raises_invalid_input(body, ctype, legacy) -> None:
    _decode_only_expected_errors(gzip.compress(body), ctype, "gzip", legacy)
    _decode_only_expected_errors(compress_block(body), ctype, None, legacy)
    _decode_only_expected_errors(gzip.compress(compress_block(body)), ctype, "gzip", legacy)


@given(st.lists(proto_streams(), min_size=1, max_size=3), st.data())
def test_mutated_protobuf_only_raises_invalid_input(streams, data) -> None:
    raw = bytearray(encode_push_proto_raw(PushRequest(streams)))
    if raw:
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    _decode_only_expected_errors(compress_block(bytes(raw)), None, None, False)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
STREAM_KEYS = st.sampled_from(["stream", "values", "labels", "entries", "ts", "line", "x"])


@given(
    st.lists(st.dictionaries(STREAM_KEYS, JSON_VALUES, max_size=4) | JSON_VALUES, max_size=4),
    st.booleans(),
)
def test_json_shaped_garbage_only_raises_invalid_input(streams, legacy) -> None:
    body = json.dumps({"streams": streams}).encode()
    _decode_only_expected_errors(body, "application/json", None, legacy)


@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.text(max_size=6), st.integers(), JSON_VALUES), max_size=4)
        | JSON_VALUES,
        max_size=6,
    )
)
def test_json_value_garbage_only_raises_invalid_input(values) -> None:
    body = json.dumps({"streams": [{"stream": {"a": "b"}, "values": values}]}).encode()
    _decode_only_expected_errors(body, "application/json", None, False)


TS_TEXT = st.one_of(
    st.integers(-(1 << 64), 1 << 64).map(str),
    st.sampled_from(["", "-", "007", "+1", " 1", "1.5", "1e3", "\u0661", "0"]),
)
ENTRY = st.one_of(
    st.none(),
    st.tuples(TS_TEXT, UNICODE).map(list),
    st.tuples(TS_TEXT, UNICODE, st.dictionaries(UNICODE, UNICODE, max_size=2)).map(list),
    st.lists(st.one_of(TS_TEXT, st.integers(), st.none()), max_size=4),
)


@given(st.lists(ENTRY, min_size=1, max_size=8))
def test_json_fast_path_agrees_with_the_entry_by_entry_path(values) -> None:
    from lokipy.wire.push_json import _STRICT, _values_fast, _values_slow

    try:
        slow = _values_slow(values, _STRICT)
    except InvalidInput as err:
        slow = err
    try:
        fast = _values_fast(values, _STRICT)
    except InvalidInput as err:
        fast = err
    if fast is None:
        return  # declined: the slow path is authoritative
    if isinstance(slow, InvalidInput):
        assert isinstance(fast, InvalidInput) and str(fast) == str(slow)
    else:
        assert fast == slow


def _pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _pb_level(numbers: list[int], child: st.SearchStrategy[bytes] | None) -> st.SearchStrategy[bytes]:
    """Fields of one message level of PushRequest, with the right field numbers but any wire
    type: mostly length-delimited nested messages, sometimes varints, junk or raw noise."""
    junk = st.binary(max_size=4)
    payload = junk if child is None else st.one_of(child, child, child, junk)
    length_delimited = st.tuples(st.sampled_from(numbers), payload).map(
        lambda t: _pb_varint(t[0] << 3 | 2) + _pb_varint(len(t[1])) + t[1]
    )
    varint = st.tuples(st.sampled_from(numbers), st.integers(0, (1 << 64) - 1)).map(
        lambda t: _pb_varint(t[0] << 3) + _pb_varint(t[1])
    )
    noise = st.binary(min_size=1, max_size=2)
    one = st.one_of(length_delimited, length_delimited, length_delimited, varint, noise)
    return st.lists(one, min_size=1, max_size=3).map(b"".join)


PB_REQUEST = _pb_level([1, 2], _pb_level([1, 2, 3], _pb_level([1, 2, 3, 4], _pb_level([1, 2], None))))


@given(PB_REQUEST)
def test_protobuf_shaped_garbage_only_raises_invalid_input(data: bytes) -> None:
    """Every level of PushRequest with the right field numbers but any wire type: exercises
    the full parse and the column views on inputs that almost make sense."""
    _decode_only_expected_errors(compress_block(data), None, None, False)
