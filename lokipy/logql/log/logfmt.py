"""The logfmt decoder Loki uses (an adaptation of go-logfmt), with its error positions.

``scan(line)`` yields ``(key, value)`` pairs; a malformed pair yields ``None`` and the decoder
skips to the next whitespace, so lenient parsing keeps the valid pairs around a bad one. The
first error is kept in ``Decoder.err`` (``logfmt syntax error at pos N : unexpected '='``), which
``--strict`` reports.
"""

from __future__ import annotations

from collections.abc import Iterator

from lokipy.logql.log.jsonscan import JSONScanError, unescape

_RUNE_ERROR = "\ufffd".encode()


def _has_rune_error(b: bytes) -> bool:
    if _RUNE_ERROR in b:
        return True
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _quote_byte(c: int) -> str:
    """Go's %q of a byte value (a rune): 'x', '\\'', '"'."""
    ch = chr(c)
    if ch == "'":
        return "'\\''"
    if ch == "\\":
        return "'\\\\'"
    if ch.isprintable():
        return f"'{ch}'"
    return f"'\\x{c:02x}'"


class Decoder:
    __slots__ = ("line", "pos", "err")

    def __init__(self, line: bytes) -> None:
        self.line = line
        self.pos = 0
        self.err: str | None = None

    def _error(self, msg: str) -> None:
        if self.err is None:
            self.err = f"logfmt syntax error at pos {self.pos + 1} : {msg}"

    def _skip_value(self) -> None:
        line, n = self.line, len(self.line)
        p = self.pos
        while p < n and line[p] > 32:
            p += 1
        self.pos = p

    def scan(self) -> Iterator[tuple[bytes, bytes] | None]:
        line = self.line
        n = len(line)
        while True:
            p = self.pos
            while p < n and line[p] <= 32:
                p += 1
            if p >= n:
                self.pos = n
                return
            # key
            start = p
            while p < n:
                c = line[p]
                if c == 61 or c == 34 or c <= 32:
                    break
                p += 1
            self.pos = p
            key = line[start:p]
            if p >= n or line[p] <= 32:
                if _has_rune_error(key):
                    self._error("invalid key")
                    yield None
                    continue
                yield key, b""
                continue
            c = line[p]
            if c == 34:  # a quote inside a key
                self._error(f"unexpected {_quote_byte(c)}")
                self._skip_value()
                yield None
                continue
            # c == '='
            if not key:
                self._error(f"unexpected {_quote_byte(c)}")
                self._skip_value()
                yield None
                continue
            if _has_rune_error(key):
                self._error("invalid key")
                self._skip_value()
                yield None
                continue
            p += 1
            self.pos = p
            if p >= n or line[p] <= 32:
                yield key, b""
                continue
            if line[p] == 34:
                item = self._quoted(key)
                yield item
                continue
            start = p
            while p < n and line[p] > 32 and line[p] != 61 and line[p] != 34:
                p += 1
            self.pos = p
            if p < n and line[p] > 32:  # '=' or '"' inside a bare value
                self._error(f"unexpected {_quote_byte(line[p])}")
                self._skip_value()
                yield None
                continue
            yield key, line[start:p]

    def _quoted(self, key: bytes) -> tuple[bytes, bytes] | None:
        line = self.line
        n = len(line)
        start = self.pos
        p = start + 1
        has_esc = False
        while p < n:
            c = line[p]
            if c == 92:
                has_esc = True
                p += 2
                continue
            if c == 34:
                self.pos = p + 1
                body = line[start + 1 : p]
                if has_esc:
                    try:
                        body = unescape(body)
                    except JSONScanError:
                        self._error("invalid quoted value")
                        return None
                return key, body
            p += 1
        self.pos = n
        self._error("unterminated quoted value")
        return None
