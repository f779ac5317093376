"""``| logfmt`` stages and the logfmt decoder Loki uses (go-logfmt's, with its error positions).

``scan(line)`` yields ``(key, value)`` pairs; a malformed pair yields ``None`` and the decoder
skips to the next whitespace, so lenient parsing keeps the valid pairs around a bad one. The
first error is kept in ``Decoder.err`` (``logfmt syntax error at pos N : unexpected '='``), which
``--strict`` reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lokipy.logql.log import jsonscan
from lokipy.logql.log.errors import ParserError
from lokipy.logql.log.jsonscan import JSONScanError, unescape
from lokipy.logql.log.labels import DUPLICATE_SUFFIX, ERR_LOGFMT, METADATA, PARSED, LabelsBuilder
from lokipy.logql.log.sanitize import decode_key, decode_value, sanitize_key
from lokipy.model.labels import is_valid_label_name

_NAME_CACHE_MAX = 4096

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


class LogfmtParser:
    """``| logfmt [--strict] [--keep-empty]``."""

    __slots__ = ("strict", "keep_empty", "_names")

    def __init__(self, strict: bool = False, keep_empty: bool = False) -> None:
        self.strict = strict
        self.keep_empty = keep_empty
        self._names: dict[bytes, str] = {}  # raw key -> sanitised name

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        pairs = fast_logfmt(line)
        if pairs is None:
            return self._slow(line, lbs)
        base, category, added = lbs.base_map, lbs.category, lbs.added
        keep_empty = self.keep_empty
        names = self._names
        seen: set[str] = set()
        for raw_key, raw_value in pairs:
            if not raw_value and not keep_empty:
                continue
            name = names.get(raw_key)
            if name is None:
                name = sanitize_key(raw_key.decode())
                if len(names) < _NAME_CACHE_MAX:
                    names[raw_key] = name
            if not name:
                continue
            if name in base or category.get(name) == METADATA:
                name += DUPLICATE_SUFFIX
            if name in seen:
                continue
            seen.add(name)
            added[name] = raw_value.decode()
            category[name] = PARSED
        return line

    def _slow(self, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        dec = Decoder(line)
        seen: set[str] = set()
        for item in dec.scan():
            if item is None:
                if self.strict:
                    break
                continue
            raw_key, raw_value = item
            name = sanitize_key(decode_key(raw_key))
            if not name:
                continue
            if lbs.base_has(name):
                name += DUPLICATE_SUFFIX
            if not raw_value and not self.keep_empty:
                continue
            if name in seen:
                continue
            seen.add(name)
            lbs.set_parsed(name, decode_value(raw_value))
        if self.strict and dec.err is not None:
            lbs.set_error(ERR_LOGFMT, dec.err)
        return line


# One logfmt token: key[=value|="quoted"] or a run of whitespace/control bytes. Fixed,
# linear-time patterns (no user input) split well-formed lines without a Python byte loop:
# one C pass validates the whole line, one extracts the pairs.
_KEY = rb'[^\x00-\x20="]++'  # possessive: a key or value never splits in two
_QUOTED = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_LOGFMT_LINE = re.compile(
    rb"(?:" + _KEY + rb"(?:=(?:" + _QUOTED + rb"|" + _KEY + rb"|(?=[\x00-\x20]|\Z)))?"
    rb"|[\x00-\x20]+)*",
    re.DOTALL,
)
_LOGFMT_PAIR = re.compile(
    rb"(" + _KEY + rb")(?:=(?:(" + _QUOTED + rb")|(" + _KEY + rb")))?", re.DOTALL
)


def fast_logfmt(line: bytes) -> list[tuple[bytes, bytes]] | None:
    """Pairs of a well-formed valid-UTF-8 logfmt line; None when the decoder must decide."""
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if b"\xef\xbf\xbd" in line:
            return None
    if _LOGFMT_LINE.fullmatch(line) is None:
        return None
    pairs: list[tuple[bytes, bytes]] = []
    for key, quoted, bare in _LOGFMT_PAIR.findall(line):
        if quoted:
            value = quoted[1:-1]
            if b"\\" in value:
                try:
                    value = jsonscan.unescape(value)
                except jsonscan.JSONScanError:
                    return None
                if b"\xef\xbf\xbd" in value:
                    return None
            pairs.append((key, value))
        else:
            pairs.append((key, bare))
    return pairs


class LogfmtExpressionParser:
    """``| logfmt [--strict] name, other="key"``: only the named keys, ``""`` when absent."""

    __slots__ = ("exprs", "strict", "_by_key")

    def __init__(self, exprs: list[tuple[str, str]], strict: bool = False) -> None:
        if not exprs:
            raise ParserError("no logfmt expression provided")
        for name, key in exprs:
            if not key or any(c in key for c in ' ="'):
                raise ParserError(f"cannot parse expression [{key}]: syntax error")
            if not is_valid_label_name(name):
                raise ParserError(f"invalid extracted label name '{name}'")
        self.exprs = dict(exprs)
        self.strict = strict
        self._by_key: dict[str, str] = {}
        for name, key in exprs:
            self._by_key.setdefault(key, name)

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        for name in self.exprs:
            if not lbs.base_has(name):
                lbs.set_parsed(name, "")
        dec = Decoder(line)
        for item in dec.scan():
            if item is None:
                if self.strict:
                    break
                continue
            key = sanitize_key(decode_key(item[0]))
            if not key:
                continue
            key = self._by_key.get(key, key)
            if key not in self.exprs:
                continue
            raw = item[1]
            value = "" if "\ufffd" in (text := raw.decode("utf-8", "replace")) else text
            if lbs.base_has(key):
                key += DUPLICATE_SUFFIX
            lbs.set_parsed(key, value)
        if self.strict and dec.err is not None:
            lbs.set_error(ERR_LOGFMT, dec.err)
        return line
