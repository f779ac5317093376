"""Parser stages: ``json``, ``logfmt``, ``regexp``, ``pattern``, ``unpack`` and their forms with
parameters (``json a="b.c"``, ``logfmt a, b="c"``).

Every stage has ``process(ts, line, lbs) -> bytes | None`` (the line to pass on, or None to drop
it). Parsers never drop lines: a failure sets ``__error__``/``__error_details__`` as Loki does.
A name already held by a stream label or structured metadata gets ``_extracted``; within one
line the first occurrence of a key wins. The json and logfmt stages live in
:mod:`.json_parsers` and :mod:`.logfmt` and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from lokipy.logql.log.errors import ParserError
from lokipy.logql.log.json_parsers import (
    ERR_NOT_OBJECT,
    JSONExpressionParser,
    JSONParser,
    UnpackParser,
    fast_object,
)
from lokipy.logql.log.labels import DUPLICATE_SUFFIX, LabelsBuilder
from lokipy.logql.log.logfmt import LogfmtExpressionParser, LogfmtParser, fast_logfmt
from lokipy.logql.log.pattern import PatternMatcher
from lokipy.model.labels import is_valid_label_name
from lokipy.model.regex import compile_regex

__all__ = [
    "ERR_NOT_OBJECT", "JSONExpressionParser", "JSONParser", "LogfmtExpressionParser",
    "LogfmtParser", "ParserError", "PatternParser", "RegexpParser", "UnpackParser",
    "fast_logfmt", "fast_object",
]  # fmt: skip


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
