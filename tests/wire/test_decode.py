"""The decode matrix (Content-Encoding, then Content-Type) and the size limits."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib

import pytest

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.errors import InvalidInput, RequestTooLarge
from lokipy.model.labels import Labels
from lokipy.wire import (
    compress_block,
    decode_push,
    encode_push_json,
    encode_push_proto,
    encode_push_proto_raw,
    inflate,
    media_type,
)

REQ = PushRequest(
    [
        PushStream(
            Labels.from_map({"app": "api", "env": "prod"}),
            [1_700_000_000_000_000_000, 1_700_000_000_000_000_001],
            [b"first line", b"second \xe2\x9c\x93 line"],
            [(), (("trace_id", "abc"),)],
        )
    ]
)
PROTO_REQ = PushRequest([PushStream(str(s.labels), s.timestamps, s.lines, s.metadata) for s in REQ.streams])


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "wrap"),
    [
        (None, lambda b: b),
        ("", lambda b: b),
        ("snappy", lambda b: b),  # ignored, as in Loki
        ("gzip", gzip.compress),
        ("deflate", _deflate_raw),
    ],
)
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_under_every_encoding(encoding, wrap, content_type) -> None:
    body = wrap(encode_push_json(REQ))
    assert decode_push(body, content_type, encoding, legacy=False) == REQ


@pytest.mark.parametrize(
    "content_type",
    [None, "", "application/x-protobuf", "application/octet-stream", "text/plain", "junk"],
)
@pytest.mark.parametrize("encoding", [None, "snappy"])
def test_anything_not_json_is_snappy_protobuf(content_type, encoding) -> None:
    body = encode_push_proto(PROTO_REQ)
    for legacy in (False, True):  # the legacy path only changes the JSON shape
        assert decode_push(body, content_type, encoding, legacy=legacy) == PROTO_REQ


def test_protobuf_with_gzip_is_gzip_of_snappy() -> None:
    body = gzip.compress(encode_push_proto(PROTO_REQ))
    assert decode_push(body, "application/x-protobuf", "gzip", legacy=False) == PROTO_REQ


@pytest.mark.parametrize("encoding", ["br", "zstd", "GZIP", "gzip, deflate", "identity"])
def test_unknown_encoding_is_rejected_with_lokis_message(encoding) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_push(b"{}", "application/json", encoding, legacy=False)
    assert str(err.value) == f'Content-Encoding "{encoding}" not supported'
    assert not isinstance(err.value, RequestTooLarge)


def test_media_type() -> None:
    assert media_type(" Application/JSON ; charset=utf-8") == "application/json"
    assert media_type(None) == ""
    assert media_type("") == ""


def test_multi_member_gzip_is_read_to_the_end() -> None:
    body = encode_push_json(REQ)
    half = len(body) // 2
    two = gzip.compress(body[:half]) + gzip.compress(body[half:])
    assert decode_push(two, "application/json", "gzip", legacy=False) == REQ


@pytest.mark.parametrize(
    ("body", "encoding", "fragment"),
    [
        (b"", "gzip", "gzip: EOF"),
        (b"not gzip at all", "gzip", "gzip: invalid header"),
        (gzip.compress(b'{"streams":[]}')[:-6], "gzip", "gzip: unexpected EOF"),
        (gzip.compress(b'{"streams":[]}') + b"\x00\x00", "gzip", "gzip: invalid header"),
        (b"", "deflate", "flate: unexpected EOF"),
        (zlib.compress(b'{"streams":[]}'), "deflate", "flate: corrupt input"),
        (_deflate_raw(b'{"streams":[]}')[:-3], "deflate", "flate: unexpected EOF"),
    ],
)
def test_broken_compression_is_invalid_input(body, encoding, fragment) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_push(body, "application/json", encoding, legacy=False)
    assert fragment in str(err.value)


def test_corrupt_gzip_checksum_is_invalid_input() -> None:
    good = bytearray(gzip.compress(b'{"streams":[]}'))
    good[-5] ^= 0xFF  # CRC32 trailer
    with pytest.raises(InvalidInput, match="gzip"):
        decode_push(bytes(good), "application/json", "gzip", legacy=False)


def test_deflate_ignores_bytes_after_the_final_block() -> None:
    body = _deflate_raw(encode_push_json(REQ)) + b"trailing"
    assert decode_push(body, "application/json", "deflate", legacy=False) == REQ


def _zero_bomb(mib: int, *, gzip_wrapped: bool) -> bytes:
    """A valid-as-far-as-it-goes stream inflating to ``mib`` MiB of zeros, built in
    milliseconds: after a full flush the compressor state resets, so every 1 MiB chunk
    compresses to the same bytes and can simply be repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    body = chunk * mib + c.flush()
    if gzip_wrapped:  # header; the trailer is never reached before the limit
        body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + bytes(8)
    return body


def test_zero_bomb_helper_really_inflates() -> None:
    c = zlib.decompressobj(-15)
    assert len(c.decompress(_zero_bomb(3, gzip_wrapped=False))) == 3 << 20


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_decompression_bomb_is_refused_before_memory_grows(encoding) -> None:
    bomb = _zero_bomb(1024, gzip_wrapped=encoding == "gzip")  # 1 GiB inflated
    assert len(bomb) < 2 << 20
    limit = 4 << 20
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(RequestTooLarge, match="request body too large"):
            decode_push(bomb, "application/json", encoding, legacy=False, max_decompressed_bytes=limit)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 3 * limit + len(bomb)  # nowhere near the 1 GiB it would inflate to


def test_inflate_exactly_at_the_limit_is_fine() -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    assert inflate(gzip.compress(data), gzip=True, max_bytes=len(data)) == data
    with pytest.raises(RequestTooLarge):
        inflate(gzip.compress(data), gzip=True, max_bytes=len(data) - 1)


def test_identity_body_over_the_limit_is_too_large() -> None:
    body = encode_push_json(REQ)
    with pytest.raises(RequestTooLarge, match="request body too large"):
        decode_push(body, "application/json", None, legacy=False, max_decompressed_bytes=len(body) - 1)


def test_snappy_bomb_declaring_a_huge_size_is_refused_without_allocating() -> None:
    bomb = bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]) + b"\x00" * 16  # declares 2**42
    t0 = time.perf_counter()
    with pytest.raises(RequestTooLarge, match="request body too large"):
        decode_push(bomb, "application/x-protobuf", None, legacy=False)
    assert time.perf_counter() - t0 < 0.5


def test_real_snappy_bomb_over_the_limit_is_too_large() -> None:
    bomb = compress_block(bytes(32 << 20))  # ~1.5 MiB of snappy for 32 MiB of zeros
    with pytest.raises(RequestTooLarge, match="request body too large"):
        decode_push(bomb, None, None, legacy=False, max_decompressed_bytes=1 << 20)


def test_snappy_size_no_block_could_reach_is_corrupt_not_allocated() -> None:
    body = bytes([0x80, 0x80, 0x80, 0x20]) + b"\x00" * 8  # declares 64 MiB from 12 bytes
    with pytest.raises(InvalidInput, match="snappy: corrupt input") as err:
        decode_push(body, None, None, legacy=False)
    assert not isinstance(err.value, RequestTooLarge)


def test_snappy_limit_applies_after_gzip_too() -> None:
    body = gzip.compress(compress_block(bytes(8 << 20)))
    with pytest.raises(RequestTooLarge):
        decode_push(body, None, "gzip", legacy=False, max_decompressed_bytes=1 << 20)


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff" * 11, b"\x05abc", compress_block(b"\x0a\x05ab"), b'{"streams":[]}'],
)
def test_malformed_protobuf_bodies_are_invalid_input(body) -> None:
    with pytest.raises(InvalidInput):
        decode_push(body, "application/x-protobuf", None, legacy=False)


def test_snappy_of_empty_protobuf_is_a_request_without_streams() -> None:
    assert decode_push(b"\x00", None, None, legacy=False) == PushRequest([])


def test_framed_snappy_is_not_accepted() -> None:
    import cramjam

    framed = bytes(cramjam.snappy.compress(encode_push_proto_raw(PROTO_REQ)))
    with pytest.raises(InvalidInput):
        decode_push(framed, "application/x-protobuf", None, legacy=False)


def test_large_bodies_cross_input_slices_and_gzip_members() -> None:
    import random

    data = random.Random(7).randbytes(700_000) + bytes(900_000)  # incompressible, then zeros
    members = gzip.compress(data[:300_001]) + gzip.compress(data[300_001:]) + gzip.compress(b"")
    assert inflate(members, gzip=True, max_bytes=len(data)) == data
    assert inflate(_deflate_raw(data), gzip=False, max_bytes=len(data)) == data
    with pytest.raises(RequestTooLarge):
        inflate(members, gzip=True, max_bytes=len(data) - 1)
    with pytest.raises(InvalidInput, match="unexpected EOF"):
        inflate(members[: len(members) // 2], gzip=True, max_bytes=len(data))
