"""Label filters: ``| name op value`` on the labels of a line, combined with ``and``/``or``.

* string (``=`` ``!=`` ``=~`` ``!~``, regexes anchored RE2): a missing label compares as ``""``;
  this is the only kind that can look at ``__error__``/``__error_details__``.
* numeric (``==``/``=`` ``!=`` ``>`` ``>=`` ``<`` ``<=`` on floats), duration (Go durations in
  values), bytes (humanize sizes in values), ``ip("...")``: a missing label drops the line; a
  value that does not convert sets ``__error__=LabelFilterErr`` (details: Go's message) and
  keeps the line; when the line already carries an error they let it through, so that only a
  string filter can remove errored lines (Loki's rule).
* ``or`` skips its right side when the left side matched.

Every filter has ``test(lbs) -> bool`` and the stage method ``process(ts, line, lbs)``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Protocol

from lokipy.logql.log.ip import IPMatcher
from lokipy.logql.log.labels import (
    ERR_LABEL_FILTER,
    ERROR_DETAILS_LABEL,
    ERROR_LABEL,
    LabelsBuilder,
)
from lokipy.logql.log.units import ConversionError, parse_bytes, parse_duration, parse_float
from lokipy.model.errors import InvalidInput
from lokipy.model.matchers import LabelMatcher, MatchType

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "=": operator.eq, "!=": operator.ne, ">": operator.gt,
    ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}  # fmt: skip


class LabelFilter(Protocol):
    def test(self, lbs: LabelsBuilder) -> bool: ...

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None: ...


class _Stage:
    def test(self, lbs: LabelsBuilder) -> bool:
        raise NotImplementedError

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        return line if self.test(lbs) else None


class StringLabelFilter(_Stage):
    __slots__ = ("name", "op", "value", "_matcher")

    def __init__(self, name: str, op: str, value: str) -> None:
        self.name, self.op, self.value = name, op, value
        self._matcher = LabelMatcher(name, MatchType(op), value)

    @classmethod
    def from_matcher(cls, matcher: LabelMatcher) -> StringLabelFilter:
        return cls(matcher.name, matcher.type.value, matcher.value)

    def test(self, lbs: LabelsBuilder) -> bool:
        if self.name == ERROR_LABEL:
            return self._matcher.matches(lbs.err)
        if self.name == ERROR_DETAILS_LABEL:
            return self._matcher.matches(lbs.err_details)
        value = lbs.get(self.name)
        return self._matcher.matches("" if value is None else value)


class _Converting(_Stage):
    """Shared shape of the numeric, duration and bytes filters."""

    name: str
    op: str
    value: Any
    _cmp: Callable[[Any, Any], bool]

    def _convert(self, text: str) -> Any:
        raise NotImplementedError

    def test(self, lbs: LabelsBuilder) -> bool:
        text = lbs.get(self.name)
        if text is None:
            return False
        try:
            value = self._convert(text)
        except ConversionError as err:
            lbs.err = ERR_LABEL_FILTER
            if not lbs.err_details:
                lbs.err_details = str(err)
            return True
        return self._cmp(value, self.value)


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    try:
        return _CMP[op]
    except KeyError:
        raise InvalidInput(f"unknown label filter operator {op!r}") from None


class NumericLabelFilter(_Converting):
    __slots__ = ("name", "op", "value", "_cmp")

    def __init__(self, name: str, op: str, value: float) -> None:
        self.name, self.op, self.value, self._cmp = name, op, float(value), _cmp(op)

    def _convert(self, text: str) -> float:
        return parse_float(text)


class DurationLabelFilter(_Converting):
    """``value_ns`` is the literal's duration in nanoseconds."""

    __slots__ = ("name", "op", "value", "_cmp")

    def __init__(self, name: str, op: str, value_ns: int) -> None:
        self.name, self.op, self.value, self._cmp = name, op, int(value_ns), _cmp(op)

    def _convert(self, text: str) -> int:
        return parse_duration(text)


class BytesLabelFilter(_Converting):
    """``value`` is the literal's size in bytes."""

    __slots__ = ("name", "op", "value", "_cmp")

    def __init__(self, name: str, op: str, value: int) -> None:
        self.name, self.op, self.value, self._cmp = name, op, int(value), _cmp(op)

    def _convert(self, text: str) -> int:
        return parse_bytes(text)


class IPLabelFilter(_Stage):
    """``| name = ip("...")`` / ``!=``: an address in the label value inside the pattern."""

    __slots__ = ("name", "negate", "_ip")

    def __init__(self, name: str, op: str, pattern: str) -> None:
        if op not in ("=", "==", "!="):
            raise InvalidInput("ip: invalid operation")
        self.name = name
        self.negate = op == "!="
        self._ip = IPMatcher.compile(pattern)

    def test(self, lbs: LabelsBuilder) -> bool:
        text = lbs.get(self.name)
        if text is None:
            return False
        return self._ip.search(text.encode()) != self.negate


class AndLabelFilter(_Stage):
    __slots__ = ("left", "right")

    def __init__(self, left: LabelFilter, right: LabelFilter) -> None:
        self.left, self.right = left, right

    def test(self, lbs: LabelsBuilder) -> bool:
        # Loki evaluates both sides (a conversion error on the right still gets recorded) but
        # the line is dropped anyway when the left is false, so skipping is equivalent.
        return self.left.test(lbs) and self.right.test(lbs)


class OrLabelFilter(_Stage):
    __slots__ = ("left", "right")

    def __init__(self, left: LabelFilter, right: LabelFilter) -> None:
        self.left, self.right = left, right

    def test(self, lbs: LabelsBuilder) -> bool:
        return self.left.test(lbs) or self.right.test(lbs)
