"""``ip("...")`` matching for line filters and label filters, as Loki's ``ip.go`` does it.

A pattern is one address, a CIDR prefix or an ``a-b`` range (IPv4 or IPv6). A line matches when
any address-looking token in it (found with Loki's cheap prefix hints, then parsed strictly)
falls inside the pattern.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lokipy.model.errors import InvalidInput
from lokipy.model.regex import compile_regex

_V4 = frozenset(b"0123456789.")
_V6 = frozenset(b"0123456789abcdefABCDEF:.")
_DIGIT = frozenset(b"0123456789")
_V4_RUN = re.compile(rb"[0-9.]*")
_V6_RUN = re.compile(rb"[0-9a-fA-F:.]*")
_HEX = frozenset(b"0123456789abcdefABCDEF")


class IPPatternError(InvalidInput):
    pass


def _parse_addr(text: str) -> Any:
    # Go's netip.ParseAddr rejects zones only when they are empty; tokens never carry '%'.
    return ipaddress.ip_address(text)


_V4_SHAPE = re.compile(rb"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# The same shapes for block scans, in RE2 (a DFA scan is far faster over megabytes).
_V4_BLOCK = compile_regex(rb"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_V6_BLOCK = compile_regex(rb":[0-9a-fA-F.]*:")


@lru_cache(maxsize=8192)
def _token_addr(token: bytes) -> Any:
    """The address a scanned token spells, or None. Cheap shape checks first: most tokens in
    log lines (times like ``12:00:07``, versions like ``1.2``) are not addresses."""
    if b":" in token:
        colons = token.count(b":")
        if b"::" not in token and colons != 7 and not (colons == 6 and b"." in token):
            return None
    elif not _V4_SHAPE.fullmatch(token):
        return None
    try:
        return _parse_addr(token.decode("ascii"))
    except ValueError:
        return None


def _matcher(pattern: str) -> tuple[str, Any]:
    try:
        return "addr", _parse_addr(pattern)
    except ValueError:
        pass
    if "/" in pattern:
        try:
            addr_text, bits = pattern.split("/", 1)
            addr = _parse_addr(addr_text)
            if not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
                raise ValueError(bits)
            return "net", ipaddress.ip_network(f"{addr}/{int(bits)}", strict=False)
        except ValueError:
            pass
    if "-" in pattern:
        lo_text, hi_text = pattern.split("-", 1)
        try:
            lo, hi = _parse_addr(lo_text), _parse_addr(hi_text)
            if lo.version == hi.version and lo <= hi:
                return "range", (lo, hi)
        except ValueError:
            pass
    raise IPPatternError(f'ip: invalid pattern: "{pattern}"')


@dataclass(frozen=True, slots=True)
class IPMatcher:
    pattern: str
    kind: str
    value: Any

    @classmethod
    def compile(cls, pattern: str) -> IPMatcher:
        kind, value = _matcher(pattern)
        return cls(pattern, kind, value)

    def contains(self, addr: Any) -> bool:
        if self.kind == "addr":
            return bool(addr.version == self.value.version and addr == self.value)
        if self.kind == "net":
            return bool(addr.version == self.value.version and addr in self.value)
        lo, hi = self.value
        return bool(addr.version == lo.version and lo <= addr <= hi)

    def _try(self, line: bytes, start: int, charset: frozenset[int]) -> tuple[bool, int]:
        m = (_V4_RUN if charset is _V4 else _V6_RUN).match(line, start)
        length = m.end() - start if m is not None else 0
        addr = _token_addr(line[start : start + length])
        if addr is None:
            return False, length
        return self.contains(addr), length

    @property
    def version(self) -> int:
        return int(self.value[0].version if self.kind == "range" else self.value.version)

    def candidate(self) -> Any:
        """A fixed regex every line holding a matching address must contain (a prefilter)."""
        return _V4_BLOCK if self.version == 4 else _V6_BLOCK

    def search(self, line: bytes) -> bool:
        """True if some IP address in ``line`` matches (Loki's token scan, quirks included).

        Loki walks the line byte by byte; at a position that looks like the start of an
        IPv4 (a digit with a '.' within the next three bytes) or IPv6 address it parses the
        longest run of address characters and, when that fails, skips past the run. Here one
        regex pass finds those candidate positions and the same skipping rule is applied.
        """
        n = len(line)
        skip_to = 0
        for m in _HINT.finditer(line):
            i = m.start()
            if i < skip_to:
                continue
            charset = _V4 if m.group(1) is not None else _V6
            ok, length = self._try(line, i, charset)
            if ok:
                return True
            skip_to = i + length + 1
            if skip_to >= n:
                break
        return False


# Zero-width matches at every position where Loki's ipv4Hint (digit, then '.' within three
# bytes, four bytes available) or ipv6Hint (five bytes available) holds. Fixed pattern.
_HINT = re.compile(
    rb"(?=([0-9](?:\.|.\.|..\.)))(?=.{4})"
    rb"|(?=::[0-9a-fA-F]|[0-9a-fA-F]:|[0-9a-fA-F]{2}:|[0-9a-fA-F]{3}:|[0-9a-fA-F]{4}:)(?=.{5})",
    re.DOTALL,
)


def _ipv6_hint(line: bytes, i: int) -> bool:
    a, b, c, d, e = line[i : i + 5]
    if a == 58 and b == 58 and c in _HEX:  # "::h"
        return True
    if a not in _HEX:
        return False
    if b == 58:
        return True
    if b not in _HEX:
        return False
    if c == 58:
        return True
    if c not in _HEX:
        return False
    return d == 58 or (d in _HEX and e == 58)
