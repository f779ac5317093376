"""JSON parser stages: ``| json``, ``| json name="path"`` and ``| unpack``.

Well-formed lines go through the C ``json`` decoder (numbers kept as their source text, object
members as ordered pairs so the first duplicate wins); anything else goes through
:mod:`.jsonscan`, which walks the line the way Loki's jsonparser does and fails with its
messages. Naming rules (Loki's): keys are sanitised to ``[a-zA-Z0-9_]`` with ``_`` before a
leading digit; nested keys are joined with ``_``; a name already held by a stream label or
structured metadata gets ``_extracted``.
"""

from __future__ import annotations

import json
from typing import Any

from lokipy.logql.log import jsonscan
from lokipy.logql.log.errors import ParserError
from lokipy.logql.log.jsonexpr import JSONPath, parse_json_path, resolve_path
from lokipy.logql.log.labels import DUPLICATE_SUFFIX, ERR_JSON, METADATA, PARSED, LabelsBuilder
from lokipy.logql.log.sanitize import (
    clean_entry,
    clean_value,
    decode_key,
    decode_value,
    sanitize_key,
)
from lokipy.model.labels import is_valid_label_name

ERR_NOT_OBJECT = "expecting json object(6), but it is not"


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
