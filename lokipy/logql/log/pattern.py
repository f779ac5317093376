"""Loki's pattern language: ``<name>`` captures, ``<_>`` wildcards, everything else literal.

Used by the ``| pattern "..."`` parser (captures become labels) and by the ``|>``/``!>`` line
filters (wildcards only). Matching is a left-to-right scan for each literal with ``bytes.find``
(first occurrence, no backtracking), exactly as Loki's matcher, so results match Loki's even
where a backtracking matcher would find a different split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lokipy.model.errors import InvalidInput

_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
UNNAMED = "_"


class PatternError(InvalidInput):
    pass


Node = tuple[bool, str | bytes]
"""(is_capture, capture name or literal bytes)."""


def parse_pattern(text: str) -> list[Node]:
    """Split a pattern into alternating literals and captures (adjacent literals merged)."""
    nodes: list[Node] = []
    pos = 0
    for m in _CAPTURE.finditer(text):
        if m.start() > pos:
            nodes.append((False, text[pos : m.start()].encode()))
        nodes.append((True, m.group(1)))
        pos = m.end()
    if pos < len(text):
        nodes.append((False, text[pos:].encode()))
    return nodes


def _check_consecutive(nodes: list[Node]) -> None:
    for (cap_a, a), (cap_b, b) in zip(nodes, nodes[1:], strict=False):
        if cap_a and cap_b:
            raise PatternError(f"found consecutive capture '<{a}><{b}>': invalid expression")


@dataclass(frozen=True, slots=True)
class PatternMatcher:
    """A compiled pattern for the ``| pattern`` parser."""

    nodes: tuple[Node, ...]
    names: tuple[str, ...]

    @classmethod
    def compile(cls, text: str) -> PatternMatcher:
        nodes = parse_pattern(text)
        names = [str(v) for is_cap, v in nodes if is_cap and v != UNNAMED]
        if not names:
            raise PatternError("at least one capture is required")
        _check_consecutive(nodes)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise PatternError(f"duplicate capture name ({name}): invalid expression")
            seen.add(name)
        return cls(tuple(nodes), tuple(names))

    def matches(self, line: bytes) -> list[bytes]:
        """Captured values in order; a partial match yields the captures found so far."""
        if not line or not self.nodes:
            return []
        nodes = self.nodes
        first_cap, first = nodes[0]
        if not first_cap:
            assert isinstance(first, bytes)
            if not line.startswith(first):
                return []
            line = line[len(first) :]
            nodes = nodes[1:]
        out: list[bytes] = []
        i = 0
        n = len(nodes)
        while i < n:
            name = nodes[i][1]
            if i + 1 == n:  # ends on a capture: it takes the rest of the line
                if name != UNNAMED:
                    out.append(line)
                return out
            lit = nodes[i + 1][1]
            assert isinstance(lit, bytes)
            i += 2
            at = line.find(lit)
            if at < 0:
                if name != UNNAMED:
                    out.append(line)
                return out
            if name != UNNAMED:
                out.append(line[:at])
            line = line[at + len(lit) :]
        return out


@dataclass(frozen=True, slots=True)
class PatternTester:
    """A compiled ``|>`` line-filter pattern (``<_>`` only)."""

    nodes: tuple[Node, ...]

    @classmethod
    def compile(cls, text: str) -> PatternTester:
        nodes = parse_pattern(text)
        _check_consecutive(nodes)
        for is_cap, name in nodes:
            if is_cap and name != UNNAMED:
                raise PatternError(
                    f"invalid line filter pattern: named capture <{name}> is not allowed, "
                    "only <_> can be used"
                )
        return cls(tuple(nodes))

    def test(self, line: bytes) -> bool:
        nodes = self.nodes
        if not line or not nodes:
            return not line and not nodes
        off = 0
        for i, (is_cap, lit) in enumerate(nodes):
            if is_cap:
                continue
            assert isinstance(lit, bytes)
            j = line.find(lit, off)
            if j < 0:
                return False
            if i != 0 and j == off:  # an empty capture or repeated literal never matches
                return False
            off = j + len(lit)
        ends_on_capture = nodes[-1][0]
        return ends_on_capture == (off != len(line))
