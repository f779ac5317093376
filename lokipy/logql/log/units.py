"""Go's number, duration and byte-size parsing, with Go's error messages.

Label filters convert label values the way Loki does (``strconv.ParseFloat``,
``time.ParseDuration``, ``humanize.ParseBytes``) and report failures in ``__error_details__``
with the same text, so the helpers here reproduce both the accepted syntax and the messages.
"""

from __future__ import annotations

import math
import re

from lokipy.model.labels import go_quote


class ConversionError(ValueError):
    """A value that does not convert; ``str()`` is Go's message."""


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)\Z",
    re.IGNORECASE,
)


def parse_float(text: str) -> float:
    """Go's ``strconv.ParseFloat(text, 64)``."""
    if not _GO_FLOAT.match(text):
        raise ConversionError(f"strconv.ParseFloat: parsing {go_quote(text)}: invalid syntax")
    body = text.lstrip("+-")
    if body[:2] in ("0x", "0X"):
        value = float.fromhex(text)
    else:
        value = float(text)
    if math.isinf(value) and body[:1] not in ("i", "I"):
        raise ConversionError(f"strconv.ParseFloat: parsing {go_quote(text)}: value out of range")
    return value


_UNITS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}  # fmt: skip
_MAX = 1 << 63


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds."""
    orig = text
    invalid = ConversionError(f"time: invalid duration {go_quote(orig)}")
    neg = False
    if text[:1] in ("-", "+"):
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise invalid
    total = 0
    i, n = 0, len(text)
    while i < n:
        if not (text[i] == "." or "0" <= text[i] <= "9"):
            raise invalid
        start = i
        while i < n and "0" <= text[i] <= "9":
            i += 1
        whole_digits = text[start:i]
        frac_digits = ""
        if i < n and text[i] == ".":
            i += 1
            fstart = i
            while i < n and "0" <= text[i] <= "9":
                i += 1
            frac_digits = text[fstart:i]
            if not whole_digits and not frac_digits:
                raise invalid
        elif not whole_digits:
            raise invalid
        ustart = i
        while i < n and not (text[i] == "." or "0" <= text[i] <= "9"):
            i += 1
        unit_text = text[ustart:i]
        if not unit_text:
            raise ConversionError(f"time: missing unit in duration {go_quote(orig)}")
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ConversionError(f"time: unknown unit {go_quote(unit_text)} in duration {go_quote(orig)}")
        whole = int(whole_digits) if whole_digits else 0
        value = whole * unit
        if frac_digits:
            # Go accumulates at most 19 significant fraction digits, then scales as a float.
            digits = frac_digits[:19].rstrip("0") or "0"
            value += int(int(digits) * (unit / 10 ** len(digits)))
        if whole > _MAX // unit or value > _MAX:
            raise invalid
        total += value
        if total > _MAX:
            raise invalid
    if neg:
        return -total
    if total > _MAX - 1:
        raise invalid
    return total


_PROM_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?\Z"
)
_PROM_UNITS = (
    365 * 86400 * 10**9, 7 * 86400 * 10**9, 86400 * 10**9, 3600 * 10**9, 60 * 10**9, 10**9, 10**6,
)  # fmt: skip


def parse_duration_literal(text: str) -> int:
    """A duration written in a query: Go syntax, or Prometheus' with ``d``, ``w``, ``y``."""
    try:
        return parse_duration(text)
    except ConversionError:
        m = _PROM_DURATION.match(text)
        if m is None or not text or text == "0":
            raise
        return sum(int(g) * u for g, u in zip(m.groups(), _PROM_UNITS, strict=True) if g)


_SIZES = {
    "b": 1, "": 1,
    "kib": 1 << 10, "ki": 1 << 10, "kb": 10**3, "k": 10**3,
    "mib": 1 << 20, "mi": 1 << 20, "mb": 10**6, "m": 10**6,
    "gib": 1 << 30, "gi": 1 << 30, "gb": 10**9, "g": 10**9,
    "tib": 1 << 40, "ti": 1 << 40, "tb": 10**12, "t": 10**12,
    "pib": 1 << 50, "pi": 1 << 50, "pb": 10**15, "p": 10**15,
    "eib": 1 << 60, "ei": 1 << 60, "eb": 10**18, "e": 10**18,
}  # fmt: skip


def parse_bytes(text: str) -> int:
    """go-humanize's ``ParseBytes`` (units case-insensitive, ``KB`` = 1000, ``KiB`` = 1024)."""
    i = 0
    has_comma = False
    while i < len(text) and (text[i].isdigit() or text[i] in ".,"):
        has_comma = has_comma or text[i] == ","
        i += 1
    num = text[:i].replace(",", "") if has_comma else text[:i]
    value = parse_float(num)
    extra = text[i:].strip().lower()
    mult = _SIZES.get(extra)
    if mult is None:
        raise ConversionError(f"unhandled size name: {extra}")
    size = value * mult
    if size >= 2.0**64:
        raise ConversionError(f"too large: {text}")
    return int(size)


_LITERAL_BYTES = re.compile(r"(\d+(?:\.\d+)?)(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB|PB|PiB|EB|EiB)\Z")


def parse_bytes_literal(text: str) -> int:
    """A byte size written in a query: units are case-sensitive there (``1mb`` is rejected)."""
    if not _LITERAL_BYTES.match(text):
        raise ConversionError(f"invalid bytes literal {text!r}")
    return parse_bytes(text)
