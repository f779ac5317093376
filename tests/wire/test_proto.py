"""Protobuf ``logproto.PushRequest``: the hand-encoded example, unknown fields, byte fidelity,
timestamps, metadata order."""

from __future__ import annotations

import pytest

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.errors import InvalidInput
from lokipy.wire import compress_block, decode_push, decode_push_proto, encode_push_proto_raw
from lokipy.wire.push_proto import PbPushRequest

# loki-api.md §1.5: streams=[{labels:'{a="b"}', entries:[{ts=1 s+5 ns, line:"hi", sm:[k=v]}]}]
DOC_EXAMPLE = bytes.fromhex("0a1d0a077b613d2262227d12120a0408011005120268691a060a016b120176")
DOC_DECODED = PushRequest([PushStream('{a="b"}', [1_000_000_005], [b"hi"], [(("k", "v"),)])])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _vi(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value & ((1 << 64) - 1))


def _entry(ts: bytes | None = None, line: bytes = b"", sm: list[bytes] = (), extra: bytes = b"") -> bytes:
    out = b"" if ts is None else _ld(1, ts)
    out += _ld(2, line) + b"".join(_ld(3, p) for p in sm) + extra
    return out


def _pair(name: bytes, value: bytes) -> bytes:
    return _ld(1, name) + _ld(2, value)


def _request(labels: bytes, *entries: bytes, extra: bytes = b"") -> bytes:
    return _ld(1, _ld(1, labels) + b"".join(_ld(2, e) for e in entries) + extra)


def test_doc_hand_encoded_example_decodes() -> None:
    assert decode_push_proto(DOC_EXAMPLE) == DOC_DECODED
    body = compress_block(DOC_EXAMPLE)
    assert decode_push(body, "application/x-protobuf", None, legacy=False) == DOC_DECODED
    assert encode_push_proto_raw(DOC_DECODED) == DOC_EXAMPLE


def test_unknown_fields_hash_parsed_and_format_are_ignored() -> None:
    entry = _entry(
        _vi(1, 7) + _vi(2, 9) + _vi(9, 1),
        b"line",
        [_pair(b"k", b"v")],
        extra=_ld(4, _pair(b"parsed", b"x")) + _vi(15, 3) + _ld(99, b"zzz"),
    )
    data = _request(b'{a="b"}', entry, extra=_vi(3, 12345)) + _ld(2, b"otlp") + _vi(7, 1)
    assert decode_push_proto(data) == PushRequest(
        [PushStream('{a="b"}', [7_000_000_009], [b"line"], [(("k", "v"),)])]
    )


def test_fields_in_any_order() -> None:
    entry = _ld(3, _pair(b"k", b"v")) + _ld(2, b"x") + _ld(1, _vi(1, 2))
    stream = _ld(2, entry) + _ld(1, b'{a="b"}')
    (s,) = decode_push_proto(_ld(1, stream)).streams
    assert (s.labels, s.timestamps, s.lines) == ('{a="b"}', [2_000_000_000], [b"x"])


def test_invalid_utf8_lines_and_labels_are_kept() -> None:
    line = b"\xff\xfe\n\x00raw"
    data = _request(b'{a="\xff"}', _entry(_vi(1, 1), line, [_pair(b"k\xfe", b"\xc3")]))
    (s,) = decode_push_proto(data).streams
    assert s.lines == [line]
    assert s.labels == '{a="\udcff"}'
    assert s.metadata == [(("k\udcfe", "\udcc3"),)]
    assert encode_push_proto_raw(PushRequest([s])) == data


def test_missing_timestamp_is_epoch_zero() -> None:
    (s,) = decode_push_proto(_request(b"{}", _entry(None, b"x"))).streams
    assert s.timestamps == [0]


def test_negative_timestamps_round_trip() -> None:
    req = PushRequest([PushStream("{}", [-1, -(1 << 63), (1 << 63) - 1], [b"a", b"b", b"c"])])
    assert decode_push_proto(encode_push_proto_raw(req)) == req


@pytest.mark.parametrize(
    ("ts", "fragment"),
    [
        (_vi(1, 1) + _vi(2, 1_000_000_000), "nanos not in range [0, 1e9)"),
        (_vi(1, 1) + _vi(2, -1), "nanos not in range [0, 1e9)"),
        (_vi(1, -62135596801), "before 0001-01-01"),
        (_vi(1, 253402300800), "after 10000-01-01"),
        (_vi(1, 10_000_000_000), "outside the int64 nanosecond range"),
    ],
)
def test_invalid_timestamps_fail_the_request(ts: bytes, fragment: str) -> None:
    data = _request(b"{}", _entry(_vi(1, 1), b"ok"), _entry(ts, b"bad"))
    with pytest.raises(InvalidInput) as err:
        decode_push_proto(data)
    assert fragment in str(err.value)
    assert str(err.value).startswith("timestamp: &types.Timestamp{Seconds: ")


def test_metadata_sorted_by_name_stably() -> None:
    entry = _entry(_vi(1, 1), b"x", [_pair(b"z", b"1"), _pair(b"a", b"2"), _pair(b"a", b"0")])
    (s,) = decode_push_proto(_request(b"{}", _entry(_vi(1, 0), b"w"), entry)).streams
    assert s.metadata == [(), (("a", "2"), ("a", "0"), ("z", "1"))]


def test_streams_without_entries_are_kept() -> None:
    req = decode_push_proto(_ld(1, _ld(1, b'{a="b"}')) + _ld(1, b""))
    assert [(s.labels, len(s)) for s in req.streams] == [('{a="b"}', 0), ("", 0)]


@pytest.mark.parametrize(
    "data",
    [
        DOC_EXAMPLE[:-1],  # truncated
        b"\x0a\xff\xff\xff\xff\x0f",  # length beyond the buffer
        b"\x0b",  # start-group wire type
        b"\x0a\x02\x0a",  # nested truncation
        b"\x08",  # PushRequest.streams as a varint with no payload
    ],
)
def test_malformed_protobuf_is_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="proto"):
        decode_push_proto(data)


def test_message_classes_live_in_a_private_pool() -> None:
    from google.protobuf import descriptor_pool

    assert PbPushRequest.DESCRIPTOR.full_name == "logproto.PushRequest"
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("logproto.PushRequest")


def test_wrong_wire_type_fields_are_skipped_like_go_even_when_garbage() -> None:
    """Timestamp.seconds sent as a LEN field holding a truncated varint: the real schema skips
    it as unknown; the packed column view must not turn it into a leaked DecodeError."""
    bad_ts = _ld(1, b"\xff") + _vi(2, 7)
    data = _request(b'{a="b"}', _entry(bad_ts, b"x"), _entry(_vi(1, 1), b"y"))
    (s,) = decode_push_proto(data).streams
    assert s.timestamps == [7, 1_000_000_000]
    assert s.lines == [b"x", b"y"]
