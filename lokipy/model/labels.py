"""Label sets: parse Prometheus-style label text, validate names, canonical text form.

Loki parses a stream's label string with Prometheus' metric parser (``{name="value", ...}``,
values as Go string literals), drops labels whose value is empty, sorts by name and uses the
canonical text ``{a="1", b="2"}`` (values quoted like Go's ``strconv.Quote``) as the stream key
and in every error message. ``docs/format/labels.md`` pins the canonical bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from lokipy.model.errors import InvalidLabels

LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_NAME_AT = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SPACE = " \t\n\r"


class Labels:
    """An immutable label set, sorted by name, no empty values.

    Duplicate names are kept here (so validation can report them as Loki does); everything
    downstream of validation can rely on names being unique.
    """

    __slots__ = ("pairs", "_text", "_hash")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs: tuple[tuple[str, str], ...] = tuple(
            sorted((p for p in pairs if p[1] != ""), key=lambda p: p[0])
        )
        self._text: str | None = None
        self._hash: int | None = None

    @classmethod
    def from_map(cls, mapping: Mapping[str, str]) -> Labels:
        return cls(mapping.items())

    @classmethod
    def parse(cls, text: str) -> Labels:
        """Parse ``{name="value", ...}``; raise :class:`InvalidLabels` on bad syntax."""
        return cls(parse_label_pairs(text))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labels) and self.pairs == other.pairs

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.pairs)
        return self._hash

    def __lt__(self, other: Labels) -> bool:
        return str(self) < str(other)

    def __repr__(self) -> str:
        return f"Labels({str(self)})"

    def __str__(self) -> str:
        if self._text is None:
            self._text = format_labels(self.pairs)
        return self._text

    def get(self, name: str, default: str = "") -> str:
        for n, v in self.pairs:
            if n == name:
                return v
        return default

    def names(self) -> list[str]:
        return [n for n, _ in self.pairs]

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)

    def with_label(self, name: str, value: str) -> Labels:
        return Labels([p for p in self.pairs if p[0] != name] + [(name, value)])

    def without(self, *names: str) -> Labels:
        drop = set(names)
        return Labels([p for p in self.pairs if p[0] not in drop])

    def duplicate_name(self) -> str | None:
        """The first name that occurs twice, or None."""
        for (a, _), (b, _) in zip(self.pairs, self.pairs[1:], strict=False):
            if a == b:
                return a
        return None


def format_labels(pairs: Iterable[tuple[str, str]]) -> str:
    """Canonical text: ``{a="1", b="2"}`` with Go-quoted values, in the given order."""
    return "{" + ", ".join(f"{n}={go_quote(v)}" for n, v in pairs) + "}"


# --- Go string quoting --------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
    "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"',
}  # fmt: skip


def go_quote(value: str) -> str:
    """Quote like Go's ``strconv.Quote``: printable Unicode kept, the rest escaped.

    Invalid UTF-8 smuggled in as surrogate escapes (``\\udcXX``) comes back out as ``\\xXX``.
    """
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    out = ['"']
    for ch in value:
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch == " " or ch.isprintable():
            out.append(ch)
        else:
            cp = ord(ch)
            if 0xDC80 <= cp <= 0xDCFF:  # a raw byte kept by surrogateescape
                out.append(f"\\x{cp - 0xDC00:02x}")
            elif cp < 0x80:
                out.append(f"\\x{cp:02x}")
            elif cp <= 0xFFFF:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


# --- Parsing ------------------------------------------------------------------------------

_ESCAPE_CHARS = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def unquote_go_string(text: str, pos: int) -> tuple[str, int]:
    """Read a Go/PromQL string literal starting at ``text[pos]`` (a quote character).

    Returns the value and the index after the closing quote. Raw backtick strings take no
    escapes. Byte escapes (``\\xNN``, octal) that do not form valid UTF-8 are kept as
    surrogate escapes so they survive a round trip to bytes.
    """
    quote = text[pos]
    end = len(text)
    i = pos + 1
    if quote == "`":
        close = text.find("`", i)
        if close < 0:
            raise InvalidLabels("unterminated raw string")
        return text[i:close], close + 1
    if quote not in "\"'":
        raise InvalidLabels(f"unexpected character {text[pos]!r}, expected a quoted string")
    buf = bytearray()
    while i < end:
        ch = text[i]
        if ch == quote:
            return buf.decode("utf-8", "surrogateescape"), i + 1
        if ch == "\n":
            raise InvalidLabels("unterminated quoted string")
        if ch != "\\":
            buf += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= end:
            break
        esc = text[i + 1]
        i += 2
        if esc == quote:
            buf += esc.encode()
        elif esc in _ESCAPE_CHARS:
            buf.append(_ESCAPE_CHARS[esc])
        elif esc == "x":
            buf.append(_hex(text[i : i + 2], 2))
            i += 2
        elif esc in "01234567":
            digits = text[i - 1 : i + 2]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise InvalidLabels("invalid octal escape sequence")
            val = int(digits, 8)
            if val > 255:
                raise InvalidLabels("octal escape value > 255")
            buf.append(val)
            i += 2
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            cp = _hex(text[i : i + width], width)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise InvalidLabels("escape sequence is an invalid Unicode code point")
            buf += chr(cp).encode()
            i += width
        else:
            raise InvalidLabels(f"unknown escape sequence \\{esc}")
    raise InvalidLabels("unterminated quoted string")


def _hex(digits: str, width: int) -> int:
    if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise InvalidLabels("invalid escape sequence: expected hex digits")
    return int(digits, 16)


def parse_label_pairs(text: str) -> list[tuple[str, str]]:
    """Parse ``{name="value", ...}`` into pairs in written order (empties kept)."""
    n = len(text)
    i = _skip_space(text, 0)
    if i >= n or text[i] != "{":
        raise InvalidLabels(f"expected '{{' at position {i}")
    pairs: list[tuple[str, str]] = []
    i = _skip_space(text, i + 1)
    if i < n and text[i] == "}":
        return _expect_end(text, i + 1, pairs)
    while True:
        m = _NAME_AT.match(text, i)
        if m is None:
            got = text[i] if i < n else "end of input"
            raise InvalidLabels(f"unexpected {got!r} at position {i}, expected a label name")
        name = m.group()
        i = _skip_space(text, m.end())
        if i >= n or text[i] != "=":
            raise InvalidLabels(f"expected '=' after label name {name!r}")
        i = _skip_space(text, i + 1)
        if i >= n:
            raise InvalidLabels(f"missing value for label {name!r}")
        value, i = unquote_go_string(text, i)
        pairs.append((name, value))
        i = _skip_space(text, i)
        if i < n and text[i] == ",":
            i = _skip_space(text, i + 1)
            if i < n and text[i] == "}":  # a trailing comma is allowed
                return _expect_end(text, i + 1, pairs)
            continue
        if i < n and text[i] == "}":
            return _expect_end(text, i + 1, pairs)
        raise InvalidLabels(f"expected ',' or '}}' at position {i}")


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    return i


def _expect_end(text: str, i: int, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    i = _skip_space(text, i)
    if i != len(text):
        raise InvalidLabels(f"unexpected text after '}}' at position {i}")
    return pairs


def is_valid_label_name(name: str) -> bool:
    return LABEL_NAME_RE.match(name) is not None
