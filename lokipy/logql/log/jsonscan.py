"""A lenient JSON object walker with the behaviour of ``buger/jsonparser``, which Loki uses.

Loki does not validate JSON: it walks the top-level object key by key, stops at its closing
brace (trailing bytes are ignored), does not check numbers, and fails with jsonparser's own
messages (``Value looks like object, but can't find closing '}' symbol``). The ``json`` and
``unpack`` stages need those exact outcomes, so this module reimplements the walk. It is the
slow path: well-formed lines go through the C ``json`` decoder first (see ``parsers.py``).
"""

from __future__ import annotations

from collections.abc import Callable

STRING, NUMBER, OBJECT, ARRAY, BOOLEAN, NULL, UNKNOWN = range(7)

MALFORMED_JSON = "Malformed JSON error"
MALFORMED_STRING = "Value is string, but can't find closing '\"' symbol"
MALFORMED_ARRAY = "Value is array, but can't find closing ']' symbol"
MALFORMED_OBJECT = "Value looks like object, but can't find closing '}' symbol"
UNKNOWN_VALUE_TYPE = "Unknown value type"
MALFORMED_ESCAPE = "Encountered an invalid escape sequence in a string"

_WS = b" \n\r\t"
_HEX = frozenset(b"0123456789abcdefABCDEF")
_TOKEN_END = frozenset(b" \n\r\t,}]")


class JSONScanError(Exception):
    pass


def next_token(data: bytes, pos: int) -> int:
    n = len(data)
    while pos < n:
        if data[pos] not in _WS:
            return pos
        pos += 1
    return -1


def string_end(data: bytes, pos: int) -> tuple[int, bool]:
    """Index just past the closing quote of a string whose body starts at ``pos``."""
    escaped = False
    n = len(data)
    i = pos
    while i < n:
        q = data.find(b'"', i)
        if q < 0:
            return -1, escaped or data.find(b"\\", i) >= 0
        if data.find(b"\\", i, q) >= 0:
            escaped = True
        # count the backslashes just before the quote
        j = q - 1
        while j >= pos and data[j] == 92:
            j -= 1
        if (q - 1 - j) % 2 == 0:
            return q + 1, escaped
        escaped = True
        i = q + 1
    return -1, escaped


def block_end(data: bytes, pos: int, open_sym: int, close_sym: int) -> int:
    level = 0
    n = len(data)
    i = pos
    while i < n:
        c = data[i]
        if c == 34:
            end, _ = string_end(data, i + 1)
            if end < 0:
                return -1
            i = end - 1
        elif c == open_sym:
            level += 1
        elif c == close_sym:
            level -= 1
            if level == 0:
                return i + 1
        i += 1
    return -1


def get_value(data: bytes, pos: int) -> tuple[bytes, int, int]:
    """(value bytes, type, end offset) of the value at the next token from ``pos``."""
    start = next_token(data, pos)
    if start < 0:
        raise JSONScanError(MALFORMED_JSON)
    c = data[start]
    if c == 34:
        end, _ = string_end(data, start + 1)
        if end < 0:
            raise JSONScanError(MALFORMED_STRING)
        return data[start + 1 : end - 1], STRING, end
    if c == 91:
        end = block_end(data, start, 91, 93)
        if end < 0:
            raise JSONScanError(MALFORMED_ARRAY)
        return data[start:end], ARRAY, end
    if c == 123:
        end = block_end(data, start, 123, 125)
        if end < 0:
            raise JSONScanError(MALFORMED_OBJECT)
        return data[start:end], OBJECT, end
    end = start
    n = len(data)
    while end < n and data[end] not in _TOKEN_END:
        end += 1
    value = data[start:end]
    if c in b"tf":
        if value not in (b"true", b"false"):
            raise JSONScanError(UNKNOWN_VALUE_TYPE)
        return value, BOOLEAN, end
    if c in b"un":
        if value != b"null":
            raise JSONScanError(UNKNOWN_VALUE_TYPE)
        return value, NULL, end
    if c in b"-0123456789":
        return value, NUMBER, end
    raise JSONScanError(UNKNOWN_VALUE_TYPE)


def object_each(data: bytes, callback: Callable[[bytes, bytes, int], None]) -> None:
    """Call ``callback(key, value, type)`` for each member of the object in ``data``."""
    pos = next_token(data, 0)
    if pos < 0 or data[pos] != 123:
        raise JSONScanError(MALFORMED_OBJECT)
    pos = next_token(data, pos + 1)
    if pos < 0:
        raise JSONScanError(MALFORMED_JSON)
    if data[pos] == 125:
        return
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == 125:
            return
        if c != 34:
            raise JSONScanError(MALFORMED_OBJECT)
        end, escaped = string_end(data, pos + 1)
        if end < 0:
            raise JSONScanError(MALFORMED_JSON)
        key = data[pos + 1 : end - 1]
        if escaped:
            try:
                key = unescape(key)
            except JSONScanError:
                raise JSONScanError(MALFORMED_ESCAPE) from None
        pos = next_token(data, end)
        if pos < 0 or data[pos] != 58:
            raise JSONScanError(MALFORMED_JSON)
        value, typ, pos = get_value(data, pos + 1)
        callback(key, value, typ)
        pos = next_token(data, pos)
        if pos < 0:
            raise JSONScanError(MALFORMED_ARRAY)
        c = data[pos]
        if c == 125:
            return
        if c != 44:
            raise JSONScanError(MALFORMED_OBJECT)
        pos = next_token(data, pos + 1)
        if pos < 0:
            raise JSONScanError(MALFORMED_ARRAY)
    raise JSONScanError(MALFORMED_OBJECT)


_SIMPLE = {34: b'"', 92: b"\\", 47: b"/", 98: b"\b", 102: b"\f", 110: b"\n", 114: b"\r", 116: b"\t"}


def unescape(raw: bytes) -> bytes:
    """Resolve JSON escapes; invalid ones raise (surrogate halves become U+FFFD, as in Go)."""
    if b"\\" not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        j = raw.find(b"\\", i)
        if j < 0:
            out += raw[i:]
            break
        out += raw[i:j]
        if j + 1 >= n:
            raise JSONScanError(MALFORMED_ESCAPE)
        c = raw[j + 1]
        simple = _SIMPLE.get(c)
        if simple is not None:
            out += simple
            i = j + 2
            continue
        if c != 117:
            raise JSONScanError(MALFORMED_ESCAPE)
        cp = _hex4(raw, j + 2)
        i = j + 6
        if 0xD800 <= cp < 0xDC00:
            if raw[i : i + 2] == b"\\u":
                low = _hex4(raw, i + 2)
                if 0xDC00 <= low < 0xE000:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                else:
                    cp = 0xFFFD
            else:
                cp = 0xFFFD
        elif 0xDC00 <= cp < 0xE000:
            cp = 0xFFFD
        out += chr(cp).encode()
    return bytes(out)


def _hex4(raw: bytes, at: int) -> int:
    digits = raw[at : at + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        raise JSONScanError(MALFORMED_ESCAPE)
    return int(digits, 16)
