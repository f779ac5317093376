"""``| json name="a.b[0]"`` paths: parsing and lookup with jsonparser's leniency.

A path is a list of steps: a string (object member; ``a``, ``.a`` or ``["a b"]``) or an int
(array element; ``[0]``). Lookup takes the first member with a matching key, like jsonparser's
``EachKey``. Values: strings unescaped, ``null`` → ``""``, anything else as its JSON text.
"""

from __future__ import annotations

import re

from lokipy.logql.log import jsonscan
from lokipy.logql.log.sanitize import decode_value

JSONPath = tuple[str | int, ...]

_FIELD = re.compile(r"[A-Za-z0-9_\-$@:]+")
_INDEX = re.compile(r"\[\s*(\d+)\s*\]")
_KEY = re.compile(r'\[\s*"((?:[^"\\]|\\.)*)"\s*\]')


def parse_json_path(expr: str) -> JSONPath:
    """Parse a path; raise ValueError with a syntax-error message."""
    steps: list[str | int] = []
    pos = 0
    n = len(expr)
    if n == 0:
        raise ValueError("syntax error: unexpected end of input")
    while pos < n:
        c = expr[pos]
        if c == "." and steps:
            m = _FIELD.match(expr, pos + 1)
            if m is None:
                raise ValueError(f"syntax error: unexpected character at {pos + 1}")
            steps.append(m.group())
            pos = m.end()
        elif c == "[":
            m = _INDEX.match(expr, pos)
            if m is not None:
                steps.append(int(m.group(1)))
                pos = m.end()
                continue
            m = _KEY.match(expr, pos)
            if m is None:
                raise ValueError(f"syntax error: unexpected character at {pos}")
            steps.append(m.group(1).replace('\\"', '"').replace("\\\\", "\\"))
            pos = m.end()
        elif not steps:
            m = _FIELD.match(expr, pos)
            if m is None:
                raise ValueError(f"syntax error: unexpected character at {pos}")
            steps.append(m.group())
            pos = m.end()
        else:
            raise ValueError(f"syntax error: unexpected character at {pos}")
    return tuple(steps)


class _Found(Exception):
    def __init__(self, value: bytes, typ: int) -> None:
        self.value = value
        self.typ = typ


def _member(data: bytes, key: str) -> tuple[bytes, int] | None:
    want = key.encode()

    def each(k: bytes, value: bytes, typ: int) -> None:
        if k == want:
            raise _Found(value, typ)

    try:
        jsonscan.object_each(data, each)
    except _Found as hit:
        return hit.value, hit.typ
    return None


def _element(data: bytes, index: int) -> tuple[bytes, int] | None:
    pos = jsonscan.next_token(data, 0)
    if pos < 0 or data[pos] != 91:
        return None
    pos += 1
    i = 0
    while True:
        nxt = jsonscan.next_token(data, pos)
        if nxt < 0 or data[nxt] == 93:
            return None
        value, typ, pos = jsonscan.get_value(data, nxt)
        if i == index:
            return value, typ
        i += 1
        pos = jsonscan.next_token(data, pos)
        if pos < 0 or data[pos] != 44:
            return None
        pos += 1


def resolve_path(line: bytes, path: JSONPath) -> str | None:
    """The value at ``path`` in ``line`` as Loki renders it, or None when absent."""
    try:
        first = jsonscan.next_token(line, 0)
        value = line
        typ = jsonscan.ARRAY if first >= 0 and line[first] == 91 else jsonscan.OBJECT
        for step in path:
            if isinstance(step, int):
                if typ != jsonscan.ARRAY:
                    return None
                found = _element(value, step)
            else:
                if typ != jsonscan.OBJECT:
                    return None
                found = _member(value, step)
            if found is None:
                return None
            value, typ = found
    except jsonscan.JSONScanError:
        return None
    if typ == jsonscan.NULL:
        return ""
    if typ == jsonscan.OBJECT:
        return value.decode("utf-8", "replace")
    try:
        return decode_value(jsonscan.unescape(value))
    except jsonscan.JSONScanError:
        return ""
