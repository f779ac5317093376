"""``| drop`` and ``| keep``: remove labels by name or by ``name op "value"`` matcher.

``drop __error__`` clears the error (that is how users silence parse failures); ``keep`` never
removes ``__error__``/``__error_details__``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lokipy.logql.log.labels import ERROR_DETAILS_LABEL, ERROR_LABEL, LabelsBuilder
from lokipy.model.matchers import LabelMatcher, MatchType

NamedMatcher = tuple[str, str | None, str | None]
"""(name, op, value): op/value None for a bare name; op one of ``= != =~ !~``."""

Item = NamedMatcher | str | LabelMatcher
"""A bare name, a :class:`LabelMatcher`, or the (name, op, value) triple."""


def _compile(items: Sequence[Item]) -> list[tuple[str, LabelMatcher | None]]:
    out: list[tuple[str, LabelMatcher | None]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, LabelMatcher):
            out.append((item.name, item))
        elif item[1] is None:
            out.append((item[0], None))
        else:
            name, op, value = item
            out.append((name, LabelMatcher(name, MatchType(op), value or "")))
    return out


class DropLabels:
    __slots__ = ("items",)

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = _compile(items)

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        for name, matcher in self.items:
            if name == ERROR_LABEL:
                if matcher is None or matcher.matches(lbs.err):
                    lbs.err = ""
                continue
            if name == ERROR_DETAILS_LABEL:
                if matcher is None or matcher.matches(lbs.err_details):
                    lbs.err_details = ""
                continue
            value = lbs.get(name)
            if matcher is None:
                if value is not None:
                    lbs.delete(name)
            elif matcher.matches("" if value is None else value):
                lbs.delete(name)
        return line


class KeepLabels:
    __slots__ = ("items",)

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = _compile(items)

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        if not self.items:
            return line
        for name in lbs.names():
            value = lbs.get(name)
            keep = False
            for want, matcher in self.items:
                if want == name and (matcher is None or matcher.matches(value or "")):
                    keep = True
                    break
            if not keep:
                lbs.delete(name)
        return line
