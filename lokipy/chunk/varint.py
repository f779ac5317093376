"""Variable-length and fixed-width integers for the chunk format.

uvarints are Go's ``encoding/binary`` unsigned varints (7 bits per byte, low group first, high
bit = "more"), as Loki's chunk metas use; signed values are zigzag-encoded first, so small
negative numbers stay short. Fixed-width fields are big-endian, as in Loki's and Prometheus'
formats. Readers raise :class:`FormatError` (never ``IndexError``) on a truncated or overlong
field; the public block and chunk functions turn it into ``CorruptData`` naming block and offset.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence


class FormatError(ValueError):
    """Bytes that do not follow the format; ``offset`` is relative to the buffer being parsed."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.reason = reason
        self.offset = offset


MAX_UVARINT_BYTES = 10
"""A uint64 never needs more than 10 groups of 7 bits; more is corruption, not a big number."""

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def put_uvarint(out: bytearray, value: int) -> None:
    """Append ``value`` (0 <= value < 2**64) as a uvarint."""
    if value < 0 or value >> 64:
        raise ValueError(f"uvarint out of range: {value}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def zigzag(value: int) -> int:
    """Map a signed int64 onto an unsigned one so that small magnitudes stay small."""
    if value < -(1 << 63) or value >= 1 << 63:
        raise ValueError(f"varint out of int64 range: {value}")
    return (value << 1) ^ (value >> 63)


def unzigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def put_varint(out: bytearray, value: int) -> None:
    """Append a signed int64 as a zigzag uvarint."""
    put_uvarint(out, zigzag(value))


def read_uvarint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read a uvarint at ``pos``; returns (value, next position)."""
    value = 0
    shift = 0
    end = len(buf)
    start = pos
    while True:
        if pos >= end:
            raise FormatError("truncated varint", start)
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if pos - start >= MAX_UVARINT_BYTES:
            raise FormatError("varint longer than 10 bytes", start)
    if value >> 64:
        raise FormatError("varint overflows 64 bits", start)
    return value, pos


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read a zigzag-encoded signed int64; returns (value, next position)."""
    raw, pos = read_uvarint(buf, pos)
    return unzigzag(raw), pos


def put_u32(out: bytearray, value: int) -> None:
    out += _U32.pack(value)


def put_u64(out: bytearray, value: int) -> None:
    out += _U64.pack(value)


def read_u32(buf: bytes | memoryview, pos: int) -> int:
    if pos < 0 or pos + 4 > len(buf):
        raise FormatError("truncated 4-byte field", pos)
    value: int = _U32.unpack_from(buf, pos)[0]
    return value


def read_u64(buf: bytes | memoryview, pos: int) -> int:
    if pos < 0 or pos + 8 > len(buf):
        raise FormatError("truncated 8-byte field", pos)
    value: int = _U64.unpack_from(buf, pos)[0]
    return value


# --- byte planes ---------------------------------------------------------------------------
# A column of n fixed-width integers is stored "shuffled" (Blosc-style): all lowest bytes, then
# all second bytes, and so on. Random low bytes stay random, but the high planes become long
# runs that zstd squeezes to almost nothing, and decoding is a handful of C-level strided slice
# assignments plus ``array.frombytes`` instead of a Python loop per value.

_LITTLE = sys.byteorder == "little"
_WIDE: dict[str, int] = {"I": 4, "Q": 8, "q": 8}
for _code, _size in _WIDE.items():
    # The format is defined in terms of 4- and 8-byte integers; refuse exotic platforms loudly.
    assert array(_code).itemsize == _size, f"array('{_code}') is not {_size} bytes here"


def bytes_needed(value: int) -> int:
    """Bytes needed to hold the unsigned ``value`` (0 for 0)."""
    return (value.bit_length() + 7) >> 3


def to_planes(values: Sequence[int], width: int, typecode: str = "Q") -> bytes:
    """The lowest ``width`` byte planes of ``values`` (as little-endian ``typecode``) joined.

    Raises OverflowError if a value does not fit ``typecode`` (e.g. negative for "Q").
    """
    size = _WIDE[typecode]
    try:
        # struct packs little-endian on every platform, ~1.7x faster than array() for int64.
        raw = struct.pack(f"<{len(values)}{typecode}", *values)
    except struct.error as err:
        raise OverflowError(f"value out of range for {typecode!r}: {err}") from err
    return b"".join([raw[k::size] for k in range(width)])


def is_sorted(values: Sequence[int]) -> bool:
    """Ascending (ties allowed)? Timsort on sorted input is one C pass, ~3x faster than
    ``all(map(le, v, v[1:]))``."""
    seq = values if isinstance(values, list) else list(values)
    return seq == sorted(seq)


def from_planes(
    planes: bytes | memoryview, count: int, width: int, typecode: str, lead: int = 0
) -> array[int]:
    """Inverse of :func:`to_planes`: ``count`` values of ``typecode`` from ``width`` planes.

    ``lead`` zero values are put in front (offset columns start with 0 without storing it).
    The caller checks ``len(planes) == count * width``.
    """
    size = _WIDE[typecode]
    out = bytearray(size * (count + lead))
    start = size * lead
    for k in range(width):
        out[start + k :: size] = planes[k * count : (k + 1) * count]
    arr: array[int] = array(typecode)
    arr.frombytes(out)
    if not _LITTLE:
        arr.byteswap()
    return arr


def offsets_from_planes(planes: bytes | memoryview, count: int, width: int) -> array[int]:
    """``[0, l0, l0+l1, ...]`` from ``count`` lengths stored as ``width`` byte planes.

    The sums must stay below 2**32 (a block's raw size is a uint32). The running sum is done
    on one big integer holding every value in a 32-bit slot: ``p += p << s`` for s = 32, 64,
    128, ... adds each slot to all slots above it in log2(count) big-int operations, all C loops
    (Hillis-Steele scan). Measured 1.5-1.9x faster than ``itertools.accumulate`` on bench
    blocks, and the result is a compact ``array('I')`` rather than a list of int objects.
    """
    slots = count + 1
    out = bytearray(4 * slots)
    for k in range(width):
        out[4 + k :: 4] = planes[k * count : (k + 1) * count]
    bits = 32 * slots
    total = int.from_bytes(out, "little")
    mask = (1 << bits) - 1
    shift = 32
    while shift < bits:
        total = (total + (total << shift)) & mask
        shift <<= 1
    arr: array[int] = array("I")
    arr.frombytes(total.to_bytes(4 * slots, "little"))
    if not _LITTLE:
        arr.byteswap()
    return arr
