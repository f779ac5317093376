from __future__ import annotations

from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.chunk.varint import (
    FormatError,
    bytes_needed,
    from_planes,
    offsets_from_planes,
    put_uvarint,
    put_varint,
    read_uvarint,
    read_varint,
    to_planes,
)

U64 = st.integers(0, 2**64 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(U64, max_size=8), st.lists(I64, max_size=8))
def test_varints_round_trip_back_to_back(unsigned: list[int], signed: list[int]) -> None:
    buf = bytearray()
    for v in unsigned:
        put_uvarint(buf, v)
    for v in signed:
        put_varint(buf, v)
    pos = 0
    for v in unsigned:
        got, pos = read_uvarint(buf, pos)
        assert got == v
    for v in signed:
        got, pos = read_varint(buf, pos)
        assert got == v
    assert pos == len(buf)


def test_uvarint_matches_go_encoding() -> None:
    # Values and bytes from Go's encoding/binary documentation examples.
    for value, encoded in [(1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")]:
        buf = bytearray()
        put_uvarint(buf, value)
        assert bytes(buf) == encoded


@pytest.mark.parametrize(
    "raw", [b"", b"\x80", b"\xff" * 11, b"\xff" * 9 + b"\x7f"], ids=["empty", "cut", "long", "big"]
)
def test_bad_uvarints_are_format_errors(raw: bytes) -> None:
    with pytest.raises(FormatError):
        read_uvarint(raw, 0)


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError):
        put_uvarint(bytearray(), -1)
    with pytest.raises(ValueError):
        put_uvarint(bytearray(), 2**64)
    with pytest.raises(ValueError):
        put_varint(bytearray(), 2**63)


@given(st.lists(U64, min_size=1, max_size=50))
def test_planes_round_trip(values: list[int]) -> None:
    width = bytes_needed(max(values))
    planes = to_planes(values, width, "Q")
    assert len(planes) == width * len(values)
    assert list(from_planes(planes, len(values), width, "Q")) == values


@given(st.lists(I64, min_size=1, max_size=50))
def test_signed_planes_round_trip(values: list[int]) -> None:
    planes = to_planes(values, 8, "q")
    assert list(from_planes(planes, len(values), 8, "q")) == values


@given(st.data())
def test_offsets_scan_equals_accumulate(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 300))
    # Anywhere up to the uint32 limit on the total, which is what a block allows.
    budget = data.draw(st.sampled_from([255, 70_000, 2**32 - 1]))
    lengths = data.draw(st.lists(st.integers(0, budget // count), min_size=count, max_size=count))
    width = bytes_needed(max(lengths))
    if width == 0:
        return
    got = offsets_from_planes(to_planes(lengths, width, "Q"), count, width)
    assert list(got) == list(accumulate(lengths, initial=0))
