"""JSON push bodies in Loki's v1 shape (``/loki/api/v1/push``), and the JSON encoder.

v1 (``pkg/loghttp/query.go`` ``LogProtoStream.UnmarshalJSON``)::

    {"streams": [{"stream": {"job": "x"}, "values": [["<ns>", "<line>", {"k": "v"}]]}]}

The legacy v0 shape lives in ``push_json_legacy``.

Loki decodes these with a lenient streaming parser (jsonparser) that never validates UTF-8. We
parse with orjson, which does, so a body holding raw invalid UTF-8 takes a slower fallback
(stdlib ``json`` over a surrogate-escaped text) and keeps those bytes exactly. JSON escapes of
lone surrogates (``"\\ud800"``) are rejected, as Loki's parser rejects them.

A plain body (string label values, every entry ``[ts, line]``) is decoded by the C decoder
(``lokipy.wire.native``) when it is built. Otherwise the hot path (v1, every entry
``[str, str]`` or ``[str, str, {..}]``) checks types column by column with C-level
``map``/``set``/``join`` calls instead of per-entry branches; anything unusual drops to an
entry-by-entry path that reproduces Loki's error messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from itertools import accumulate, chain
from operator import itemgetter
from typing import Any

import orjson

from lokipy.model.entry import NO_METADATA, ColumnStats, JoinedLines, Metadata, PushRequest, PushStream
from lokipy.model.errors import InvalidInput, InvalidLabels
from lokipy.model.labels import Labels, go_quote, is_valid_label_name
from lokipy.wire import native

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)

# jsonparser's error texts, which Loki returns verbatim (wrapped by jsoniter).
MALFORMED_STRING = "Value is string, but can't find closing '\"' symbol"
MALFORMED_OBJECT = "Value looks like object, but can't find closing '}' symbol"
MALFORMED_ARRAY = "Value is array, but can't find closing ']' symbol"
MALFORMED_VALUE = "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol"
OVERFLOW_INTEGER = "Value is number, but overflowed while parsing"
INVALID_ESCAPE = "Encountered an invalid escape sequence in a string"
STREAM_ERROR_PREFIX = "loghttp.PushRequest.Streams: []loghttp.LogProtoStream: unmarshalerDecoder: "

Encoder = Callable[[str], bytes]
_STRICT: Encoder = str.encode  # orjson never yields surrogates
_LENIENT: Encoder = partial(str.encode, encoding="utf-8", errors="surrogateescape")


def _stream_error(msg: str) -> InvalidInput:
    return InvalidInput(STREAM_ERROR_PREFIX + msg)


# --- Loading --------------------------------------------------------------------------------


def load_json(body: bytes) -> tuple[Any, Encoder]:
    """Parse a JSON body; returns the document and the str→bytes encoder its strings need."""
    try:
        return orjson.loads(body), _STRICT
    except orjson.JSONDecodeError as err:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # raw invalid UTF-8: Go keeps such bytes, so we retry leniently below
        else:
            raise InvalidInput(f"malformed JSON push body: {err}") from None
    try:
        doc = json.loads(body.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError) as err:
        raise InvalidInput(f"malformed JSON push body: {err}") from None
    _reject_escaped_surrogates(doc)
    return doc, _LENIENT


def _reject_escaped_surrogates(doc: Any) -> None:
    """On the lenient path, a surrogate that is not an escaped raw byte came from a ``\\uD8xx``
    escape without its pair: Loki's parser rejects those (orjson does too on the fast path).
    Checking every string here keeps every later ``encode(..., "surrogateescape")`` safe."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        elif type(item) is str:
            try:
                item.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise _stream_error(INVALID_ESCAPE) from None


def encode_all(encode: Encoder, texts: list[str]) -> list[bytes]:
    try:
        return list(map(encode, texts))
    except UnicodeEncodeError:  # a lone-surrogate escape that the lenient path let through
        raise _stream_error(INVALID_ESCAPE) from None


def top_level_streams(doc: Any) -> list[Any]:
    if type(doc) is not dict:
        found = "[" if type(doc) is list else "a non-object value"
        raise InvalidInput(f"loghttp.PushRequest: ReadObjectCB: expect {{ or n, but found {found}")
    streams = doc.get("streams")
    if streams is None:
        return []
    if type(streams) is not list:
        raise InvalidInput(
            "loghttp.PushRequest.Streams: []loghttp.LogProtoStream: decode slice: "
            "expect [ or n, but found a non-array value"
        )
    return streams


# --- v1 labels ------------------------------------------------------------------------------


def _label_value_text(value: Any) -> str:
    """Loki reads each map value with ``jsonparser.ParseString`` on the raw token, so a
    number, boolean or null becomes its JSON text. Nested values keep orjson's compact text."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return orjson.dumps(value).decode()


def _go_quote_rune(ch: str) -> str:
    """Go's ``%q`` of a rune, as Prometheus' lexer prints an unexpected character."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + go_quote(ch)[1:-1] + "'"


def _parse_error(text: str, pos: int, msg: str) -> InvalidLabels:
    """``couldn't parse labels: L:C: parse error: ...`` with Prometheus' byte-based column."""
    prefix = text[:pos].encode("utf-8", "surrogateescape")
    line = prefix.count(b"\n") + 1
    col = len(prefix) - (prefix.rfind(b"\n") + 1) + 1
    return InvalidLabels(f"couldn't parse labels: {line}:{col}: parse error: {msg}")


def _invalid_labels(pairs: list[tuple[str, str]]) -> InvalidLabels:
    """Loki formats the map as ``{k="v", ...}`` and parses that; report the lexer's error."""
    parts = [f"{n}={go_quote(v)}" for n, v in pairs]
    text = "{" + ", ".join(parts) + "}"
    pos = 1
    for (name, _), part in zip(pairs, parts, strict=True):
        if not is_valid_label_name(name):
            if name == "":
                msg = 'unexpected "=" in label set, expected identifier or "}"'
                return _parse_error(text, pos, msg)
            bad = next(i for i, c in enumerate(name) if not _name_char_ok(c, i == 0))
            msg = f"unexpected character inside braces: {_go_quote_rune(name[bad])}"
            return _parse_error(text, pos + bad, msg)
        pos += len(part) + 2
    raise AssertionError("no invalid label name found")


def _name_char_ok(c: str, first: bool) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z") or (not first and "0" <= c <= "9")


_LABEL_CACHE: dict[tuple[tuple[str, Any], ...], Labels] = {}
_LABEL_CACHE_MAX = 1 << 17  # every active stream of a large tenant (see store/distributor.py)


def _v1_labels(stream: dict[str, Any]) -> Labels:
    if "stream" not in stream:
        # Loki leaves the label text empty, and parsing "" fails for the whole request.
        raise InvalidLabels("couldn't parse labels: 1:1: parse error: unexpected end of input")
    mapping = stream["stream"]
    if type(mapping) is not dict:
        raise _stream_error(MALFORMED_OBJECT)
    # Clients send the same few label maps in every push: remember what they built.
    key = tuple(mapping.items())
    try:
        return _LABEL_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable (nested) value: build it every time
        return _build_labels(mapping)
    labels = _build_labels(mapping)
    # Only all-string maps are remembered: 1 == True == 1.0 as keys, yet "1" != "true".
    if all(type(v) is str for v in mapping.values()):
        _remember(key, labels)
    return labels


def _labels_from_pairs(pairs: list[tuple[str, str]]) -> Labels:
    """A label map the C decoder read: string values, names unique, in body order (the same
    key ``_v1_labels`` caches under)."""
    key = tuple(pairs)
    labels = _LABEL_CACHE.get(key)
    if labels is None:
        labels = _build_labels(dict(pairs))
        _remember(key, labels)
    return labels


def _remember(key: tuple[tuple[str, Any], ...], labels: Labels) -> None:
    if len(_LABEL_CACHE) >= _LABEL_CACHE_MAX:
        _LABEL_CACHE.clear()
    _LABEL_CACHE[key] = labels


def _build_labels(mapping: dict[str, Any]) -> Labels:
    pairs = sorted((k, _label_value_text(v)) for k, v in mapping.items())
    if not all(map(is_valid_label_name, mapping)):
        raise _invalid_labels(pairs)
    return Labels(pairs)


# --- v1 entries -----------------------------------------------------------------------------


def _parse_ts(text: str) -> int:
    """``jsonparser.ParseInt``: optional ``-``, ASCII digits only, int64 range ("-" is 0)."""
    digits = text[1:] if text.startswith("-") else text
    if not text or (digits and not (digits.isascii() and digits.isdigit())):
        raise _stream_error(MALFORMED_VALUE)
    value = -int(digits or "0") if text[0] == "-" else int(digits)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _stream_error(OVERFLOW_INTEGER)
    return value


def _entry_metadata(obj: Any) -> Metadata:
    if type(obj) is not dict:
        raise _stream_error(MALFORMED_OBJECT)
    if not obj:
        return NO_METADATA
    if not all(type(v) is str for v in obj.values()):
        raise _stream_error(MALFORMED_STRING)
    return tuple(sorted(obj.items()))


_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def _values_fast(
    values: list[Any], encode: Encoder
) -> tuple[list[int], list[bytes], list[Metadata] | None] | None:
    """Every entry ``[str, str]`` or ``[str, str, {..}]`` with a non-negative decimal ts:
    whole-column conversion with C-level map/join calls; None for anything else."""
    if set(map(type, values)) != {list}:
        return None
    lens = set(map(len, values))
    if not lens <= {2, 3}:
        return None
    ts_text = list(map(_FIRST, values))
    try:
        joined = "".join(ts_text)  # TypeError unless every ts is a string
        if not (joined.isascii() and joined.encode().isdigit()):
            return None  # negative, signed, spaced or not a number: the slow path decides
        # orjson parses a digits-only array ~4x faster than int() per string; an empty
        # string or a leading zero makes invalid JSON (ValueError) and takes the slow path.
        ts = orjson.loads("[" + ",".join(ts_text) + "]")
        lines = list(map(encode, map(_SECOND, values)))  # TypeError unless all strings
    except UnicodeEncodeError:  # a lone-surrogate escape that the lenient path let through
        raise _stream_error(INVALID_ESCAPE) from None
    except (TypeError, ValueError):
        return None
    if max(ts) > INT64_MAX:
        return None
    if 3 not in lens:
        return ts, lines, None
    md = _metadata_column(values, lens)
    if md is False:
        return None
    return ts, lines, md


_THIRD = itemgetter(2)
_NO_OBJECT: dict[str, str] = {}


def _metadata_column(values: list[list[Any]], lens: set[int]) -> list[Metadata] | None | bool:
    """Sorted metadata tuples for every entry, or None when no entry has any, with the type
    checks done column-wise; False when something is off (the slow path names it)."""
    if lens == {3}:
        objs = list(map(_THIRD, values))
    else:
        objs = [v[2] if len(v) == 3 else _NO_OBJECT for v in values]
    if set(map(type, objs)) != {dict}:
        return False
    if not set(map(type, chain.from_iterable(map(dict.values, objs)))) <= {str}:
        return False
    md: list[Metadata] = list(map(tuple, map(sorted, map(dict.items, objs))))
    return md if any(md) else None


def _values_slow(values: list[Any], encode: Encoder) -> tuple[list[int], list[bytes], list[Metadata] | None]:
    """Entry by entry, as Loki reads them: nulls skipped, elements past the third ignored,
    missing elements left at their zero value (ts 0, empty line)."""
    ts: list[int] = []
    lines: list[bytes] = []
    md: list[Metadata] = []
    for v in values:
        if v is None:
            continue
        if type(v) is not list:
            raise _stream_error(MALFORMED_ARRAY)
        t, line, meta = 0, b"", NO_METADATA
        if len(v) > 0:
            if type(v[0]) is not str:
                raise _stream_error(MALFORMED_STRING)
            t = _parse_ts(v[0])
        if len(v) > 1:
            if type(v[1]) is not str:
                raise _stream_error(MALFORMED_STRING)
            line = encode_all(encode, [v[1]])[0]
        if len(v) > 2:
            meta = _entry_metadata(v[2])
        ts.append(t)
        lines.append(line)
        md.append(meta)
    return ts, lines, md if any(md) else None


def decode_push_json(body: bytes) -> PushRequest:
    """Decode a v1 JSON push body. Label maps become :class:`Labels` (names validated here,
    as Loki rejects the whole request on a bad name); lines become UTF-8 bytes.

    Streams without entries are kept (Loki counts them; the distributor skips them).
    """
    decoded = _request_native(body)
    if decoded is not None:
        return decoded
    doc, encode = load_json(body)
    streams = top_level_streams(doc)
    return _request_fast(streams, encode) or _request_by_stream(streams, encode)


def _request_native(body: bytes) -> PushRequest | None:
    """A plain body (string labels, ``[ts, line]`` entries) through the C decoder; None for
    anything else, or a bad label name: the Python path names the first error in body order."""
    if native.columns is None:
        return None
    cols = native.columns.json_columns(body)
    if cols is None:
        return None
    try:
        streams = [
            PushStream(
                _labels_from_pairs(pairs), ts, JoinedLines(text, lens), None, stats and ColumnStats(*stats)
            )
            for pairs, ts, text, lens, stats in cols
        ]
    except InvalidLabels:
        return None
    return PushRequest(streams)


def _request_fast(streams: list[Any], encode: Encoder) -> PushRequest | None:
    """Every stream well-formed: the entries of all streams converted as one column (a few
    C-level passes per request instead of per stream), then cut per stream. None when
    anything is unusual: the stream-by-stream path then finds the first error in order."""
    try:
        if set(map(type, streams)) != {dict}:
            return None
        labels = [_v1_labels(s) for s in streams]
        value_lists = [s.get("values") for s in streams]
    except (InvalidLabels, InvalidInput):
        return None
    if set(map(type, value_lists)) != {list}:
        return None
    cols = _values_fast(list(chain.from_iterable(value_lists)), encode)
    if cols is None:
        return None
    ts, lines, md = cols
    out: list[PushStream] = []
    start = 0
    for stream_labels, end in zip(labels, accumulate(map(len, value_lists)), strict=True):
        stream_md = md[start:end] if md is not None else None
        out.append(
            PushStream(
                stream_labels,
                ts[start:end],
                lines[start:end],
                stream_md if stream_md and any(stream_md) else None,
            )
        )
        start = end
    return PushRequest(out)


def _request_by_stream(streams: list[Any], encode: Encoder) -> PushRequest:
    out: list[PushStream] = []
    for stream in streams:
        if type(stream) is not dict:
            raise _stream_error(MALFORMED_OBJECT)
        labels = _v1_labels(stream)
        values = stream.get("values")
        if values is None or (type(values) is list and not values):
            out.append(PushStream(labels))
            continue
        if type(values) is not list:
            raise _stream_error(MALFORMED_ARRAY)
        cols = _values_fast(values, encode) or _values_slow(values, encode)
        out.append(PushStream(labels, *cols))
    return PushRequest(out)


# --- Encoding -------------------------------------------------------------------------------


def _json_text(s: str) -> str:
    """JSON carries only valid Unicode: each surrogate (an escaped invalid byte, usually)
    becomes U+FFFD, as Go's encoder replaces invalid UTF-8."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def encode_push_json(req: PushRequest) -> bytes:
    """Encode as a v1 JSON push body. Label text is parsed (and must be valid); lines that are
    not valid UTF-8 are sent with U+FFFD replacements, since JSON strings cannot hold them."""
    streams = []
    for s in req.streams:
        labels = s.labels if isinstance(s.labels, Labels) else Labels.parse(s.labels)
        values: list[list[Any]] = []
        md = s.metadata
        for i, (t, line) in enumerate(zip(s.timestamps, s.lines, strict=True)):
            v: list[Any] = [str(t), line.decode("utf-8", "replace")]
            if md is not None and md[i]:
                v.append({_json_text(n): _json_text(val) for n, val in md[i]})
            values.append(v)
        stream_map = {_json_text(n): _json_text(v) for n, v in labels}
        streams.append({"stream": stream_map, "values": values})
    return orjson.dumps({"streams": streams})
