"""Push body codecs: bytes on the wire ↔ :class:`lokipy.model.entry.PushRequest`.

No web framework here: the API layer calls :func:`decode_push` with the body and two headers;
tests, benchmarks and our logging handler use the encoders.
"""

from __future__ import annotations

from lokipy.wire.decode import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    decode_push,
    encode_push_proto,
    inflate,
    media_type,
)
from lokipy.wire.push_json import decode_push_json, decode_push_json_legacy, encode_push_json
from lokipy.wire.push_proto import decode_push_proto, encode_push_proto_raw
from lokipy.wire.snappy import compress_block, decompress_block

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_BYTES",
    "compress_block",
    "decode_push",
    "decode_push_json",
    "decode_push_json_legacy",
    "decode_push_proto",
    "decompress_block",
    "encode_push_json",
    "encode_push_proto",
    "encode_push_proto_raw",
    "inflate",
    "media_type",
]
