"""Parse a bare stream selector ``{name="v", other=~"re"}`` into matchers.

The series and label endpoints and the embedded API accept plain selectors; full LogQL goes
through ``lokipy.logql``. Values are Go string literals (``"…"``, ``'…'``, `` `…` ``).
"""

from __future__ import annotations

import re

from lokipy.model.errors import InvalidInput, InvalidLabels
from lokipy.model.labels import unquote_go_string
from lokipy.model.matchers import LabelMatcher, MatchType

_NAME = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*")


def parse_selector(text: str) -> list[LabelMatcher]:
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise InvalidInput(f'invalid stream selector {text!r}: expected {{name="value", ...}}')
    body = s[1:-1]
    matchers: list[LabelMatcher] = []
    i = 0
    while True:
        while i < len(body) and body[i] in " \t\r\n":
            i += 1
        if i >= len(body):
            break
        m = _NAME.match(body, i)
        if m is None:
            raise InvalidInput(f"invalid stream selector {text!r} at position {i + 1}")
        i = m.end()
        if i >= len(body):
            raise InvalidInput(f"invalid stream selector {text!r}: missing value")
        try:
            value, i = unquote_go_string(body, i)
        except InvalidLabels as err:
            raise InvalidInput(f"invalid stream selector {text!r}: {err}") from err
        matchers.append(LabelMatcher(m.group(1), MatchType(m.group(2)), value))
        while i < len(body) and body[i] in " \t\r\n":
            i += 1
        if i < len(body):
            if body[i] != ",":
                raise InvalidInput(f"invalid stream selector {text!r} at position {i + 1}")
            i += 1
    return matchers
