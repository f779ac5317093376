"""``ip("...")`` matching for line filters and label filters, as Loki's ``ip.go`` does it.

A pattern is one address, a CIDR prefix or an ``a-b`` range (IPv4 or IPv6). A line matches when
any address-looking token in it (found with Loki's cheap prefix hints, then parsed strictly)
falls inside the pattern.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from lokipy.model.errors import InvalidInput

_V4 = frozenset(b"0123456789.")
_V6 = frozenset(b"0123456789abcdefABCDEF:.")
_DIGIT = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")


class IPPatternError(InvalidInput):
    pass


def _parse_addr(text: str) -> Any:
    # Go's netip.ParseAddr rejects zones only when they are empty; tokens never carry '%'.
    return ipaddress.ip_address(text)


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


def _span(line: bytes, start: int, charset: frozenset[int]) -> int:
    i = start
    n = len(line)
    while i < n and line[i] in charset:
        i += 1
    return i - start


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
        length = _span(line, start, charset)
        try:
            addr = _parse_addr(line[start : start + length].decode("ascii"))
        except ValueError:
            return False, length
        return self.contains(addr), length

    def search(self, line: bytes) -> bool:
        """True if some IP address in ``line`` matches (Loki's token scan, quirks included)."""
        n = len(line)
        i = 0
        while i < n:
            c0 = line[i]
            if i + 3 < n and c0 in _DIGIT and 46 in (line[i + 1], line[i + 2], line[i + 3]):
                ok, length = self._try(line, i, _V4)
                if ok:
                    return True
                i += length + 1
                continue
            if i + 4 < n and _ipv6_hint(line, i):
                ok, length = self._try(line, i, _V6)
                if ok:
                    return True
                i += length + 1
                continue
            i += 1
        return False


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
