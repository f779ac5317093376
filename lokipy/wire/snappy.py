"""Snappy BLOCK format (what promtail sends), guarded against decompression bombs.

A block is a uvarint of the uncompressed length followed by literal/copy elements; there is no
stream identifier and no CRC framing (that would be the *framed* format, which Loki does not
accept). We read the declared length ourselves and refuse before cramjam allocates anything:
over the caller's limit is "too large" (413), and a length the body cannot possibly expand to
is corrupt (400). The densest snappy element is a 3-byte copy producing 64 bytes, so a block
can never inflate by more than 64/3 (we allow 22x).
"""

from __future__ import annotations

import cramjam

from lokipy.model.errors import InvalidInput, RequestTooLarge

MAX_EXPANSION = 22
"""Upper bound of decompressed/compressed size for any valid snappy block (exact: 64/3)."""


def read_uvarint(data: bytes | memoryview) -> tuple[int, int]:
    """Decode the uvarint at the start of ``data``: (value, bytes used). Go's 10-byte limit."""
    value = 0
    shift = 0
    for i in range(min(len(data), 10)):
        b = data[i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if i == 9 and b > 1:  # more than 64 bits
                break
            return value, i + 1
        shift += 7
    raise InvalidInput("snappy: corrupt input")


def declared_length(block: bytes | memoryview) -> int:
    """The uncompressed length a snappy block declares in its preamble."""
    return read_uvarint(block)[0]


def decompress_block(block: bytes | memoryview, max_bytes: int) -> bytes:
    """Decode one snappy block; :class:`RequestTooLarge` if it would exceed ``max_bytes``."""
    size = declared_length(block)
    if size > max_bytes:
        raise RequestTooLarge(
            f"request body too large: snappy block declares {size} decompressed bytes, "
            f"limit is {max_bytes} bytes"
        )
    if size > MAX_EXPANSION * len(block):
        raise InvalidInput(
            f"snappy: corrupt input (declares {size} bytes, impossible for a {len(block)}-byte block)"
        )
    try:
        out = cramjam.snappy.decompress_raw(block)
    except cramjam.DecompressionError as err:
        raise InvalidInput(str(err) or "snappy: corrupt input") from None
    if len(out) != size:  # cramjam checks this too; keep the invariant explicit
        raise InvalidInput("snappy: corrupt input (length mismatch)")
    return bytes(out)


def compress_block(data: bytes) -> bytes:
    """Encode ``data`` as one snappy block (``snappy.Encode`` in Go)."""
    return bytes(cramjam.snappy.compress_raw(data))
