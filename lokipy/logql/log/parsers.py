"""Parser stages: ``json``, ``logfmt``, ``regexp``, ``pattern``, ``unpack`` and their forms with
parameters (``json a="b.c"``, ``logfmt a, b="c"``).

Every stage has ``process(ts, line, lbs) -> bytes | None`` (the line to pass on, or None to drop
it). Parsers never drop lines: a failure sets ``__error__``/``__error_details__`` as Loki does.
Naming rules (Loki's): keys are sanitised to ``[a-zA-Z0-9_]`` with ``_`` before a leading digit;
nested json keys are joined with ``_``; a name already held by a stream label or structured
metadata gets ``_extracted``; within one line the first occurrence of a key wins.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lokipy.logql.log import jsonscan
from lokipy.logql.log.jsonexpr import JSONPath, parse_json_path, resolve_path
from lokipy.logql.log.labels import (
    DUPLICATE_SUFFIX,
    ERR_JSON,
    ERR_LOGFMT,
    METADATA,
    PARSED,
    LabelsBuilder,
)
from lokipy.logql.log.logfmt import Decoder
from lokipy.logql.log.pattern import PatternMatcher
from lokipy.logql.log.sanitize import (
    clean_entry,
    clean_value,
    decode_key,
    decode_value,
    sanitize_key,
)
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import is_valid_label_name
from lokipy.model.regex import compile_regex


class ParserError(InvalidInput):
    """A parser stage that cannot be built (bad regex, pattern, expression)."""


ERR_NOT_OBJECT = "expecting json object(6), but it is not"


# --- json -------------------------------------------------------------------------------


class _Num(str):
    """A JSON number kept as its source text (Loki prints numbers exactly as written)."""

    __slots__ = ()


class _Obj(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs, in order, duplicates kept."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity are not JSON to jsonparser


_DECODER = json.JSONDecoder(
    object_pairs_hook=_Obj, parse_float=_Num, parse_int=_Num,
    parse_constant=_reject_constant, strict=False,
)  # fmt: skip


def fast_object(line: bytes) -> _Obj | None:
    """The line as pairs when it is plain well-formed JSON, else None (use the slow walker)."""
    try:
        value = _DECODER.decode(line.decode("utf-8"))
    except ValueError:
        return None
    return value if isinstance(value, _Obj) else None


_NAME_CACHE_MAX = 4096


class JSONParser:
    """``| json``: every scalar of the object (nested keys joined with ``_``) becomes a label."""

    __slots__ = ("_names",)

    def __init__(self) -> None:
        # (prefix, key) -> sanitised label name; lines of a stream share most keys.
        self._names: dict[tuple[str, str], str] = {}

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        seen: set[str] = set()
        obj = fast_object(line)
        if obj is not None:
            self._walk(obj, "", lbs, seen)
            return line
        try:
            self._slow(line, "", lbs, seen)
        except jsonscan.JSONScanError as err:
            lbs.set_error(ERR_JSON, str(err))
        return line

    def _name(self, prefix: str, key: str) -> str:
        name = self._names.get((prefix, key))
        if name is None:
            name = prefix + "_" + sanitize_key(key, first=False) if prefix else sanitize_key(key)
            if len(self._names) < _NAME_CACHE_MAX:
                self._names[(prefix, key)] = name
        return name

    def _emit(self, prefix: str, key: str, value: str, lbs: LabelsBuilder, seen: set[str]) -> None:
        name = self._name(prefix, key)
        if not name:
            return
        if lbs.base_has(name):
            name += DUPLICATE_SUFFIX
        if name in seen:
            return
        seen.add(name)
        lbs.set_parsed(name, value)

    def _walk(self, obj: _Obj, prefix: str, lbs: LabelsBuilder, seen: set[str]) -> None:
        base, category, added = lbs.base_map, lbs.category, lbs.added
        names = self._names
        for key, value in obj:
            kind = type(value)
            if kind is _Num:
                text: str = value
            elif kind is str:
                text = clean_value(value)
            elif value is True:
                text = "true"
            elif value is False:
                text = "false"
            elif kind is _Obj:
                sub = sanitize_key(key, first=not prefix)
                self._walk(value, prefix + "_" + sub if prefix else sub, lbs, seen)
                continue
            else:  # null and arrays are skipped
                continue
            name = names.get((prefix, key)) or self._name(prefix, key)
            if not name:
                continue
            if name in base or category.get(name) == METADATA:
                name += DUPLICATE_SUFFIX
            if name in seen:
                continue
            seen.add(name)
            added[name] = text
            category[name] = PARSED

    def _slow(self, data: bytes, prefix: str, lbs: LabelsBuilder, seen: set[str]) -> None:
        def member(key: bytes, value: bytes, typ: int) -> None:
            if typ == jsonscan.STRING:
                try:
                    text = decode_value(jsonscan.unescape(value))
                except jsonscan.JSONScanError:
                    text = ""
                self._emit(prefix, decode_key(key), text, lbs, seen)
            elif typ == jsonscan.NUMBER:
                self._emit(prefix, decode_key(key), value.decode("utf-8", "replace"), lbs, seen)
            elif typ == jsonscan.BOOLEAN:
                self._emit(prefix, decode_key(key), value.decode(), lbs, seen)
            elif typ == jsonscan.OBJECT:
                sub = sanitize_key(decode_key(key), first=not prefix)
                self._slow(value, prefix + "_" + sub if prefix else sub, lbs, seen)

        jsonscan.object_each(data, member)


class UnpackParser:
    """``| unpack``: string members become labels; ``_entry`` replaces the line.

    Nothing is added when the object has no ``_entry`` (the line was not packed by promtail).
    """

    __slots__ = ()

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        if not line:
            return line
        if line[0] != 123:
            lbs.set_error(ERR_JSON, ERR_NOT_OBJECT)
            return line
        found: list[tuple[str, str]] = []
        entry: bytes | None = None
        obj = fast_object(line)
        if obj is not None:
            for key, value in obj:
                if not isinstance(value, str) or isinstance(value, _Num):
                    continue
                if key == "_entry":
                    entry = clean_entry(value)
                else:
                    found.append((key, clean_value(value)))
        else:
            try:

                def member(key: bytes, value: bytes, typ: int) -> None:
                    nonlocal entry
                    if typ != jsonscan.STRING:
                        return
                    if key == b"_entry":
                        entry = jsonscan.unescape(value)
                        return
                    try:
                        text = decode_value(jsonscan.unescape(value))
                    except jsonscan.JSONScanError:
                        text = ""
                    found.append((decode_key(key), text))

                jsonscan.object_each(line, member)
            except jsonscan.JSONScanError as err:
                lbs.set_error(ERR_JSON, str(err))
                return line
        if entry is None:
            return line
        seen: set[str] = set()
        for key, value in found:
            if lbs.base_has(key):
                key += DUPLICATE_SUFFIX
            name = sanitize_key(key)
            if not name or name in seen:
                continue
            seen.add(name)
            lbs.set_parsed(name, value)
        return entry


class JSONExpressionParser:
    """``| json name="path", ...``: each path's value (``""`` when absent) under ``name``."""

    __slots__ = ("exprs",)

    def __init__(self, exprs: list[tuple[str, str]]) -> None:
        paths: list[tuple[str, JSONPath]] = []
        for name, expr in exprs:
            try:
                path = parse_json_path(expr)
            except ValueError as err:
                raise ParserError(f"cannot parse expression [{expr}]: {err}") from None
            if not is_valid_label_name(name):
                raise ParserError(f"invalid extracted label name '{name}'")
            paths.append((name, path))
        self.exprs = paths

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        if not line:
            return line
        if line[0] not in b'"{[':
            lbs.set_error(ERR_JSON)
            return line
        for name, path in self.exprs:
            value = resolve_path(line, path)
            if value is None:
                if lbs.get(name) is None:
                    lbs.set_parsed(name, "")
                continue
            if lbs.base_has(name):
                name += DUPLICATE_SUFFIX
            lbs.set_parsed(name, value)
        return line


# --- logfmt -----------------------------------------------------------------------------


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
_LOGFMT_PAIR = re.compile(rb"(" + _KEY + rb")(?:=(?:(" + _QUOTED + rb")|(" + _KEY + rb")))?", re.DOTALL)


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


# --- regexp and pattern -----------------------------------------------------------------


class RegexpParser:
    """``| regexp "re"``: RE2 named captures become labels (unmatched groups as ``""``)."""

    __slots__ = ("pattern", "_rx", "_groups")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._rx: Any = compile_regex(pattern.encode("utf-8", "surrogateescape"))
        names = self._rx.groupindex
        if not names:
            raise ParserError("at least one named capture must be supplied")
        groups: list[tuple[int, str]] = []
        for name, index in names.items():
            text = name.decode() if isinstance(name, bytes) else name
            if not is_valid_label_name(text):
                raise ParserError(f"invalid extracted label name '{text}'")
            groups.append((index, text))
        self._groups = sorted(groups)

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        m = self._rx.search(line)
        if m is None:
            return line
        for index, name in self._groups:
            value = m.group(index)
            if lbs.base_has(name):
                name += DUPLICATE_SUFFIX
            lbs.set_parsed(name, "" if value is None else value.decode("utf-8", "replace"))
        return line


class PatternParser:
    """``| pattern "<ip> - <_> <status>"``."""

    __slots__ = ("matcher",)

    def __init__(self, pattern: str) -> None:
        self.matcher = PatternMatcher.compile(pattern)
        for name in self.matcher.names:
            if not is_valid_label_name(name):
                raise ParserError(f"invalid capture label name '{name}'")

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        for name, value in zip(self.matcher.names, self.matcher.matches(line), strict=False):
            if lbs.base_has(name):
                name += DUPLICATE_SUFFIX
            lbs.set_parsed(name, value.decode("utf-8", "replace"))
        return line
