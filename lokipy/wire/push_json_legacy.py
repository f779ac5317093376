"""Legacy v0 JSON push bodies (``/api/prom/push``), the shape python-logging-loki still sends::

    {"streams": [{"labels": "{job=\\"x\\"}", "entries": [{"ts": "<RFC3339>", "line": "..."}]}]}

Loki decodes these straight into its protobuf model through that model's JSON names
(``labels``, ``entries``, ``ts``, ``line``, ``structuredMetadata`` as a name → value map). The
label text is kept as sent, exactly as for protobuf: the distributor parses it.
"""

from __future__ import annotations

from typing import Any

from lokipy.model.entry import NO_METADATA, Metadata, PushRequest, PushStream
from lokipy.model.errors import InvalidInput
from lokipy.model.timeparse import parse_rfc3339
from lokipy.wire.push_json import INT64_MAX, INT64_MIN, Encoder, encode_all, load_json, top_level_streams


def _legacy_entry(e: Any, encode: Encoder) -> tuple[int, bytes, Metadata]:
    if type(e) is not dict:
        raise InvalidInput("logproto.Entry: legacy push entry must be a JSON object")
    ts_text = e.get("ts")
    if type(ts_text) is not str:
        # Go would leave time.Time at year 1, which int64 nanoseconds cannot hold.
        raise InvalidInput('logproto.Entry: legacy push entry needs "ts" as an RFC3339 string')
    try:
        t = parse_rfc3339(ts_text)
    except InvalidInput:
        raise InvalidInput(f'parsing time "{ts_text}" as "2006-01-02T15:04:05Z07:00": not RFC3339') from None
    if not INT64_MIN <= t <= INT64_MAX:
        raise InvalidInput(f'legacy push entry ts "{ts_text}" is outside the int64 ns range')
    line = e.get("line", "")
    if line is None:
        line = ""
    if type(line) is not str:
        raise InvalidInput('logproto.Entry: legacy push entry "line" must be a string')
    sm = e.get("structuredMetadata")
    meta = NO_METADATA
    if sm is not None:
        if type(sm) is not dict or not all(type(v) is str for v in sm.values()):
            raise InvalidInput("logproto.Entry: structuredMetadata must map strings to strings")
        meta = tuple(sorted(sm.items()))
    return t, encode_all(encode, [line])[0], meta


def decode_push_json_legacy(body: bytes) -> PushRequest:
    """Decode a legacy v0 JSON push body (``labels`` text, ``entries`` of ``ts``/``line``).

    The label text is kept as sent; the distributor parses it, as for protobuf.
    """
    doc, encode = load_json(body)
    out: list[PushStream] = []
    for stream in top_level_streams(doc):
        if stream is None:
            out.append(PushStream(""))
            continue
        if type(stream) is not dict:
            raise InvalidInput("logproto.Stream: legacy push stream must be a JSON object")
        labels = stream.get("labels")
        if labels is None:
            labels = ""
        if type(labels) is not str:
            raise InvalidInput('logproto.Stream: legacy push stream "labels" must be a string')
        entries = stream.get("entries")
        if entries is None:
            entries = []
        if type(entries) is not list:
            raise InvalidInput('logproto.Stream: legacy push stream "entries" must be an array')
        rows = [_legacy_entry(e, encode) for e in entries]
        md = [r[2] for r in rows]
        out.append(
            PushStream(
                labels,
                [r[0] for r in rows],
                [r[1] for r in rows],
                md if any(md) else None,
            )
        )
    return PushRequest(out)
