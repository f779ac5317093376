from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.chunk.block import (
    BlockMeta,
    block_meta,
    decode_block,
    decode_block_offsets,
    decode_block_timestamps,
    encode_block,
    verify_block,
)
from lokipy.chunk.reference import ListChunk
from lokipy.model.entry import Metadata
from lokipy.model.errors import CorruptData

from .strategies import entry_columns


def _oracle(ts: list[int], lines: list[bytes], md: list[Metadata] | None) -> ListChunk:
    ref = ListChunk()
    ref.extend(ts, lines, md)
    return ref


@given(entry_columns())
def test_round_trip_matches_list_chunk(cols: tuple) -> None:
    ts, lines, md = cols
    ref = _oracle(ts, lines, md)
    buf = encode_block(ts, lines, md)
    batch = decode_block(buf)
    assert list(batch.timestamps) == ref.timestamps()
    assert batch.lines() == ref.lines()
    assert batch.data == b"".join(ref.lines())
    assert list(batch.offsets) == list(ref.batch().offsets)
    assert batch.metadata == ref.metadata()
    assert list(decode_block_timestamps(buf)) == ref.timestamps()
    assert list(decode_block_offsets(buf)) == list(batch.offsets)
    assert block_meta(buf) == BlockMeta(
        count=ref.count,
        min_ts=ref.min_ts,
        max_ts=ref.max_ts,
        raw_bytes=ref.raw_bytes,
        offset=0,
        length=len(buf),
    )
    assert verify_block(buf) == block_meta(buf)


@given(entry_columns(), st.sampled_from([1, 3, 9]))
def test_encoding_is_deterministic_and_level_independent(cols: tuple, level: int) -> None:
    ts, lines, md = cols
    buf = encode_block(ts, lines, md, level=level)
    assert buf == encode_block(ts, lines, md, level=level)
    assert decode_block(buf).lines() == lines


def test_lines_are_not_split_on_newlines() -> None:
    lines = [b"first\nsecond", b"", b"\n", b"third\r\n"]
    batch = decode_block(encode_block([1, 1, 2, 3], lines))
    assert batch.lines() == lines
    assert len(batch) == 4


def test_all_empty_lines_and_single_entry() -> None:
    batch = decode_block(encode_block([7, 7, 7], [b"", b"", b""]))
    assert batch.lines() == [b"", b"", b""]
    assert list(batch.offsets) == [0, 0, 0, 0]
    one = decode_block(encode_block([-(2**63)], [b"x"]))
    assert list(one.timestamps) == [-(2**63)]


def test_extreme_timestamps() -> None:
    ts = [-(2**63), 0, 2**63 - 1]
    assert list(decode_block_timestamps(encode_block(ts, [b"a", b"b", b"c"]))) == ts


def test_metadata_all_empty_decodes_as_none() -> None:
    batch = decode_block(encode_block([1, 2], [b"a", b"b"], [(), ()]))
    assert batch.metadata is None


def test_metadata_keeps_unicode_and_per_entry_sets() -> None:
    md: list[Metadata] = [(("trace_id", "ü-1"),), (), (("a", ""), ("b", "日本"))]
    batch = decode_block(encode_block([1, 2, 3], [b"x", b"y", b"z"], md))
    assert batch.metadata == md


@pytest.mark.parametrize(
    ("ts", "lines", "md"),
    [
        ([], [], None),
        ([2, 1], [b"a", b"b"], None),
        ([1, 2], [b"a"], None),
        ([1], [b"a"], [(), ()]),
        ([2**63], [b"a"], None),
        ([-(2**63) - 1], [b"a"], None),
    ],
    ids=["empty", "unsorted", "short-lines", "short-metadata", "ts-too-big", "ts-too-small"],
)
def test_encode_rejects_bad_input(ts: list[int], lines: list[bytes], md: list | None) -> None:
    with pytest.raises(ValueError):
        encode_block(ts, lines, md)


def test_timestamps_do_not_touch_text_frame() -> None:
    buf = bytearray(encode_block([1, 2, 3], [b"alpha", b"beta", b"gamma" * 50]))
    # Damage the text frame (just before the trailing text checksum): timestamps still read,
    # the full decode refuses.
    buf[-6] ^= 0xFF
    assert list(decode_block_timestamps(bytes(buf))) == [1, 2, 3]
    assert list(decode_block_offsets(bytes(buf))) == [0, 5, 9, 259]
    with pytest.raises(CorruptData, match="text checksum mismatch"):
        decode_block(bytes(buf))


# --- corruption (Loki's TestCorruptChunk): damage must be an error, never a crash --------


@given(entry_columns(max_size=12), st.data())
def test_truncated_block_is_corrupt(cols: tuple, data: st.DataObject) -> None:
    buf = encode_block(*cols)
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(CorruptData):
        decode_block(buf[:cut])
    with pytest.raises(CorruptData):
        decode_block_timestamps(buf[:cut])


@given(entry_columns(max_size=12), st.data())
def test_any_flipped_byte_is_detected(cols: tuple, data: st.DataObject) -> None:
    buf = bytearray(encode_block(*cols))
    pos = data.draw(st.integers(0, len(buf) - 1))
    buf[pos] ^= data.draw(st.integers(1, 255))
    # CRC-32 catches every error burst up to 32 bits, so one changed byte always shows.
    with pytest.raises(CorruptData):
        decode_block(bytes(buf))


@given(st.binary(max_size=200))
def test_garbage_is_corrupt_not_a_crash(garbage: bytes) -> None:
    with pytest.raises(CorruptData):
        decode_block(garbage)
    with pytest.raises(CorruptData):
        decode_block_timestamps(garbage)
    with pytest.raises(CorruptData):
        block_meta(garbage)


def test_corrupt_error_names_block_and_offset() -> None:
    buf = bytearray(encode_block([1, 2], [b"a", b"b"]))
    buf[5] ^= 1
    with pytest.raises(CorruptData, match=r"block: .*offset") as info:
        decode_block(bytes(buf))
    assert info.value.offset is not None and info.value.offset >= 0


def _rechecksum(buf: bytearray) -> bytes:
    """Recompute both checksums so a tampered block gets past them (tests the decoder itself)."""
    import zlib

    from lokipy.chunk.block import layout

    lay = layout(bytes(buf))
    buf[lay.crc_a : lay.crc_a + 4] = zlib.crc32(buf[: lay.crc_a]).to_bytes(4, "big")
    text = buf[lay.text[0] : lay.text[1]]
    buf[lay.crc_b : lay.crc_b + 4] = zlib.crc32(text).to_bytes(4, "big")
    return bytes(buf)


@given(entry_columns(max_size=12), st.data())
def test_tampered_but_checksummed_block_never_crashes(cols: tuple, data: st.DataObject) -> None:
    from lokipy.chunk.varint import FormatError

    buf = bytearray(encode_block(*cols))
    pos = data.draw(st.integers(0, len(buf) - 1))
    buf[pos] ^= data.draw(st.integers(1, 255))
    try:
        tampered = _rechecksum(buf)
    except FormatError:  # the header no longer parses: plain corruption
        with pytest.raises(CorruptData):
            decode_block(bytes(buf))
        return
    try:
        batch = decode_block(tampered)
    except CorruptData:
        return
    # A change zstd cannot notice (a literal byte, a timestamp's low byte) still decodes to a
    # well-formed batch.
    assert len(batch.timestamps) == len(batch.offsets) - 1
    assert batch.offsets[-1] == len(batch.data)
    assert batch.metadata is None or len(batch.metadata) == len(batch.timestamps)
