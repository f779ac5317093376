"""Push body codecs: bytes on the wire ↔ :class:`lokipy.model.entry.PushRequest`.

No web framework here: the API layer calls :func:`decode_push` with the body and two headers;
tests, benchmarks and our logging handler use the encoders.

Contract for consumers: protobuf and legacy-JSON streams carry their label *text* (parse it,
with a cache); v1 JSON streams carry validated :class:`~lokipy.model.labels.Labels`. Streams
with zero entries are kept, because Loki counts them (a request whose streams are all empty
is 204, not 422) and parses their labels; skip them after label parsing, as Loki does.

Known differences from Loki (all on malformed or unusual input):

* No ``Content-Type`` (or an unparseable one) is read as protobuf; Loki answers 400 ``mime:``.
* v1 JSON structured-metadata values are unescaped JSON strings; Loki keeps jsonparser's raw,
  still-escaped text (``a\\"b``). A metadata object with a repeated key keeps the last value
  (Loki keeps both).
* Non-string label values in a v1 ``stream`` map become orjson's text of the value; Loki keeps
  the raw token (same for ints up to 64 bits, can differ for floats and nested values).
* JSON error texts carry Loki's jsonparser message and jsoniter prefix but not jsoniter's
  ``error found in #N byte of ...`` context; top-level syntax errors use orjson's wording.
* Bodies with raw invalid UTF-8 are kept byte-exact as in Loki (slower stdlib fallback); in
  that fallback only, a ``\\udc80``..``\\udcff`` escape is read as the raw byte instead of
  being rejected.
* Legacy v0: a missing or null ``ts`` is a 400 for the request (Loki decodes year 1 and drops
  the entry later as too old); field names are case-sensitive (jsoniter's are not).
* Timestamps outside int64 nanoseconds (before 1677 or after 2262) fail the whole request;
  Loki decodes them and drops those entries later as too old / too new.
* Protobuf entries that repeat a singular field while another entry of the same stream omits
  it may be paired wrongly by the column decoder (see ``proto_columns``); no encoder does it.
"""

from __future__ import annotations

from lokipy.wire.decode import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    decode_push,
    encode_push_proto,
    inflate,
    media_type,
)
from lokipy.wire.push_json import decode_push_json, encode_push_json
from lokipy.wire.push_json_legacy import decode_push_json_legacy
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
