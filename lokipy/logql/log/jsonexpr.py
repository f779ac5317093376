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

_TOKENS = re.compile(
    r"""(?P<ws>\s+)|(?P<DOT>\.)|(?P<LSB>\[)|(?P<RSB>\])
    |(?P<STRING>"(?:[^"\\]|\\.)*")|(?P<INDEX>\d+(?![\w\-$@]))|(?P<FIELD>[\w\-$@]+)""",
    re.VERBOSE,
)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKENS.match(expr, pos)
        if m is None:
            raise ValueError(f"syntax error: unexpected {expr[pos]!r}")
        if m.lastgroup != "ws":
            kind = m.lastgroup or ""
            if kind == "INDEX" and (not out or out[-1][0] != "LSB"):
                kind = "FIELD"
            out.append((kind, m.group()))
        pos = m.end()
    out.append(("$end", ""))
    return out


def _unexpected(tok: str, expecting: str = "") -> ValueError:
    return ValueError(f"syntax error: unexpected {tok}" + (f", expecting {expecting}" if expecting else ""))


def parse_json_path(expr: str) -> JSONPath:
    """Parse a path; raise ValueError with goyacc-style messages (as Loki's grammar words them)."""
    toks = _tokens(expr)
    steps: list[str | int] = []
    i = 0
    kind, text = toks[0]
    if kind == "FIELD":
        steps.append(text)
        i = 1
    elif kind != "LSB":
        raise _unexpected(kind, "LSB or FIELD")
    while True:
        kind, text = toks[i]
        if kind == "$end" and steps:
            return tuple(steps)
        if kind == "DOT" and steps:
            nk, nt = toks[i + 1]
            if nk != "FIELD":
                raise _unexpected(nk, "FIELD")
            steps.append(nt)
            i += 2
        elif kind == "LSB":
            nk, nt = toks[i + 1]
            if nk == "STRING":
                steps.append(nt[1:-1].replace('\\"', '"').replace("\\\\", "\\"))
            elif nk == "INDEX":
                steps.append(int(nt))
            else:
                raise _unexpected(nk, "STRING or INDEX")
            ck = toks[i + 2][0]
            if ck != "RSB":
                raise _unexpected(ck, "RSB")
            i += 3
        else:
            raise _unexpected(kind)


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
