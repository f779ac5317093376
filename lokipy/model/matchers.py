"""Label matchers (``=``, ``!=``, ``=~``, ``!~``) shared by LogQL and the label index.

Regex matchers are anchored to the whole value and use RE2 syntax, exactly like Prometheus'
``labels.Matcher`` that Loki uses. A missing label matches as the empty string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lokipy.model.labels import go_quote
from lokipy.model.regex import compile_anchored


class MatchType(StrEnum):
    EQ = "="
    NEQ = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """``name <op> "value"``; the regex (if any) is compiled once at construction."""

    name: str
    type: MatchType
    value: str
    _regex: Any = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.type in (MatchType.RE, MatchType.NRE):
            object.__setattr__(self, "_regex", compile_anchored(self.value))

    def matches(self, value: str) -> bool:
        if self.type is MatchType.EQ:
            return value == self.value
        if self.type is MatchType.NEQ:
            return value != self.value
        try:
            hit = self._regex.match(value) is not None
        except UnicodeEncodeError:
            # A value holding raw bytes (surrogates, from a Go \xNN escape) cannot go to RE2 as
            # str; Go's regexp reads each invalid byte as U+FFFD, so match that text instead.
            text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            hit = self._regex.match(text) is not None
        return hit if self.type is MatchType.RE else not hit

    def matches_empty(self) -> bool:
        """True when a series *without* this label would match (Loki's empty-compatible test)."""
        return self.matches("")

    def __str__(self) -> str:
        return f"{self.name}{self.type.value}{go_quote(self.value)}"


def eq(name: str, value: str) -> LabelMatcher:
    return LabelMatcher(name, MatchType.EQ, value)


def regex_literal_alternatives(matcher: LabelMatcher) -> list[str] | None:
    """For ``=~"a|b|c"`` made only of literals, the values; lets the index skip a full scan."""
    if matcher.type is not MatchType.RE:
        return None
    parts = matcher.value.split("|")
    specials = set("\\.^$*+?()[]{}")
    if any(not p or specials.intersection(p) for p in parts):
        return None
    return parts
