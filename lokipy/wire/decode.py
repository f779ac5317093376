"""The push body dispatcher: Content-Encoding, then Content-Type, exactly as Loki decides.

Loki (``pkg/loghttp/push/push.go`` ``ParseLokiRequest``):

* Content-Encoding ``""``/absent or ``snappy``: the body as is (the protobuf path snappy-decodes
  anyway); ``gzip``: gunzip; ``deflate``: raw DEFLATE (RFC 1951, no zlib header); anything
  else: ``Content-Encoding "<x>" not supported``. Values are compared exactly, as Go does.
* Then the media type (parameters ignored): ``application/json`` is JSON (v1 shape, or the v0
  shape on the legacy path); anything else, including no header, is a snappy block of protobuf.
  Loki answers 400 ``mime: no media type`` when the header is missing; we assume protobuf.

Decompression is streamed with an output cap, so a small body that inflates to gigabytes is
refused (:class:`RequestTooLarge`, "request body too large") after at most ``limit + 1`` bytes
of output, never by running out of memory.
"""

from __future__ import annotations

import zlib

from lokipy.model.entry import PushRequest
from lokipy.model.errors import InvalidInput, RequestTooLarge
from lokipy.wire.push_json import decode_push_json, encode_push_json
from lokipy.wire.push_json_legacy import decode_push_json_legacy
from lokipy.wire.push_proto import decode_push_proto, encode_push_proto_raw
from lokipy.wire.snappy import compress_block, decompress_block

DEFAULT_MAX_DECOMPRESSED_BYTES = 5000 << 20
"""Loki's default decompressed push body limit (5000 MiB)."""

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer required
_DEFLATE_WBITS = -zlib.MAX_WBITS  # raw RFC 1951 stream
_CHUNK = 1 << 20  # output per inflate step: bounds the work done past the limit
_IN_CHUNK = 1 << 18  # input per step: bounds the unconsumed-input copies


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value: before any ``;``, trimmed, lower-cased."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"request body too large: decompressed body exceeds the limit of {limit} bytes")


def inflate(body: bytes, *, gzip: bool, max_bytes: int) -> bytes:
    """gunzip (every member, as Go's reader does) or raw-inflate ``body``, capped at max_bytes.

    Input goes in ``_IN_CHUNK`` slices and output comes out at most ``_CHUNK`` at a time, so
    neither the leftover-input copies zlib makes nor the output can grow with the body size.
    """
    name = "gzip" if gzip else "flate"
    if gzip and not body:
        raise InvalidInput("gzip: EOF")
    parts: list[bytes] = []
    total = 0
    src = memoryview(body)
    pos = 0
    d = zlib.decompressobj(_GZIP_WBITS if gzip else _DEFLATE_WBITS)
    pending: bytes | memoryview = b""
    try:
        while True:
            if not pending and pos < len(src):
                pending = src[pos : pos + _IN_CHUNK]
                pos += len(pending)
            chunk = d.decompress(pending, min(_CHUNK, max_bytes - total + 1))
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(max_bytes)
            parts.append(chunk)
            pending = d.unconsumed_tail
            if d.eof:
                rest = d.unused_data + bytes(src[pos:])
                if not gzip or not rest:
                    break  # Go's flate reader ignores bytes after the final block
                src, pos, pending = memoryview(rest), 0, b""  # the next gzip member
                d = zlib.decompressobj(_GZIP_WBITS)
            elif not chunk and not pending and pos >= len(src):
                raise InvalidInput(f"{name}: unexpected EOF")
    except zlib.error as err:
        what = "invalid header" if gzip and "header" in str(err) else "corrupt input"
        raise InvalidInput(f"{name}: {what} ({err})") from None
    return b"".join(parts)


def decode_push(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    legacy: bool,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> PushRequest:
    """Decode a push request body as Loki does. ``legacy`` selects the v0 JSON shape
    (``/api/prom/push``). Raises :class:`InvalidInput` (400) or :class:`RequestTooLarge` (413).
    """
    encoding = content_encoding or ""
    if encoding == "gzip":
        body = inflate(body, gzip=True, max_bytes=max_decompressed_bytes)
    elif encoding == "deflate":
        body = inflate(body, gzip=False, max_bytes=max_decompressed_bytes)
    elif encoding not in ("", "snappy"):
        raise InvalidInput(f'Content-Encoding "{encoding}" not supported')
    elif len(body) > max_decompressed_bytes:
        raise _too_large(max_decompressed_bytes)

    if media_type(content_type) == "application/json":
        return decode_push_json_legacy(body) if legacy else decode_push_json(body)
    return decode_push_proto(decompress_block(body, max_decompressed_bytes))


def encode_push_proto(req: PushRequest) -> bytes:
    """A promtail-style body: snappy block of the protobuf ``PushRequest``."""
    return compress_block(encode_push_proto_raw(req))


__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_BYTES",
    "decode_push",
    "encode_push_json",
    "encode_push_proto",
    "inflate",
    "media_type",
]
