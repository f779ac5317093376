"""Time and duration parsing as Loki's HTTP API does it; everything inside is int nanoseconds.

Rules from Loki's ``pkg/loghttp/params.go`` (see ``docs/api.md``): a decimal is unix seconds
rounded to milliseconds, up to 10 digits is unix seconds, more digits are unix nanoseconds,
anything else is RFC3339(Nano).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from lokipy.model.errors import InvalidInput

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

_UNITS_NS = {
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
    "y": 365 * 86400 * NS_PER_S,
}
_PROM_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?\Z"
)
_PROM_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def now_ns() -> int:
    return time.time_ns()


def parse_prometheus_duration(text: str) -> int:
    """``1h30m``, ``15000ms``, ``7d`` → ns. Raises :class:`InvalidInput`."""
    m = _PROM_DURATION.match(text) if text and text != "0" else None
    if text == "0":
        return 0
    if m is None or not any(m.groups()):
        raise InvalidInput(f'cannot parse "{text}" to a valid duration')
    return sum(int(v) * _UNITS_NS[u] for v, u in zip(m.groups(), _PROM_ORDER, strict=True) if v)


def parse_step(text: str) -> int:
    """``step``/``interval``: float seconds first, then a Prometheus duration (Loki's order)."""
    try:
        seconds = float(text)
    except ValueError:
        return parse_prometheus_duration(text)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise InvalidInput(f'cannot parse "{text}" to a valid duration')
    return round(seconds * NS_PER_S)


def parse_rfc3339(text: str) -> int:
    m = _RFC3339.match(text)
    if m is None:
        raise InvalidInput(f'cannot parse "{text}" as RFC3339')
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7), m.group(8)
    try:
        dt = datetime(year, month, day, hour, minute, sec, tzinfo=UTC)
    except ValueError as err:
        raise InvalidInput(f'cannot parse "{text}" as RFC3339: {err}') from err
    ns = (int(dt.timestamp()) * NS_PER_S) + (int(frac.ljust(9, "0")) if frac else 0)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        ns -= sign * offset * NS_PER_S
    return ns


def parse_timestamp(text: str, param: str = "time") -> int:
    """A query-parameter timestamp in any of Loki's accepted forms → unix ns."""
    if "." in text:
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            ms = round(seconds * 1000)
            return ms * NS_PER_MS
    # isascii: str.isdigit() is also true for "²" or "٣", which int() refuses (a 500, not a 400).
    if text.isascii() and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
        digits = text.lstrip("-")
        value = int(text)
        return value * NS_PER_S if len(digits) <= 10 else value
    try:
        return parse_rfc3339(text)
    except InvalidInput as err:
        raise InvalidInput(
            f"could not parse '{param}' parameter: cannot parse \"{text}\" to a valid timestamp"
        ) from err


def format_rfc3339(ts: int) -> str:
    """Go's ``time.RFC3339`` (second precision, UTC ``Z``) as Loki's messages print it."""
    dt = datetime.fromtimestamp(ts // NS_PER_S, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_rfc3339_nano(ts: int) -> str:
    """Go's ``time.RFC3339Nano``: fraction without trailing zeros."""
    dt = datetime.fromtimestamp(ts // NS_PER_S, tz=UTC)
    frac = ts % NS_PER_S
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"
