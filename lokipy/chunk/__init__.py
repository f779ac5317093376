"""Block and chunk binary format: bytes in, bytes out (no files, no index, no clocks).

Layout: ``docs/format/chunk.md``. The store encodes head blocks with :func:`encode_block`,
collects them in a :class:`ChunkWriter`, and reads chunks back with :class:`ChunkReader`;
:class:`ListChunk` is the naive twin the tests compare against.
"""

from __future__ import annotations

from lokipy.chunk.block import (
    BlockFormat,
    BlockMeta,
    block_meta,
    decode_block,
    decode_block_columns,
    decode_block_offsets,
    decode_block_timestamps,
    encode_block,
    encode_block_text,
    verify_block,
)
from lokipy.chunk.chunk import (
    BLOCK_SIZE,
    CHUNK_MAGIC,
    ChunkEncoding,
    ChunkFormat,
    ChunkReader,
    ChunkWriter,
)
from lokipy.chunk.reference import ListChunk

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_MAGIC",
    "BlockFormat",
    "BlockMeta",
    "ChunkEncoding",
    "ChunkFormat",
    "ChunkReader",
    "ChunkWriter",
    "ListChunk",
    "block_meta",
    "decode_block",
    "decode_block_columns",
    "decode_block_offsets",
    "decode_block_timestamps",
    "encode_block",
    "encode_block_text",
    "verify_block",
]
