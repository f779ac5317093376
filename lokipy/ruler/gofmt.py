"""Go's number printing where alerts show numbers: ``%v`` (templates), ``'e'`` (API ``value``),
``printf`` verbs, and Prometheus' ``humanize*`` template functions."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from lokipy.logql.units import format_go_float as format_g  # Go's %v (shortest %g)

_SI_UP = ("", "k", "M", "G", "T", "P", "E", "Z", "Y")
_SI_DOWN = ("", "m", "u", "n", "p", "f", "a", "z", "y")


def _special(v: float) -> str | None:
    if v != v:
        return "NaN"
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    return None


def _digits(v: float) -> tuple[str, str, int]:
    """(sign, shortest round-trip digits, decimal exponent of the first digit)."""
    text = repr(abs(v))
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    m, _, e = text.partition("e")
    ip, _, fp = m.partition(".")
    exp10 = int(e) if e else 0
    digits = (ip + fp).lstrip("0")
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    if not digits:
        return sign, "0", 0
    point = len(ip) + exp10 - lead_zeros  # digits.dp in strconv terms
    return sign, digits.rstrip("0") or "0", point - 1


def _fmt_e(sign: str, digits: str, exp: int) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def format_e(v: float) -> str:
    """``strconv.FormatFloat(v, 'e', -1, 64)``: ``2e+00``, ``1.23456e+05``, ``NaN``, ``+Inf``."""
    special = _special(v)
    if special is not None:
        return special
    return _fmt_e(*_digits(v))


def go_value(value: Any) -> str:
    """Go's ``%v`` for the template values we produce (floats, strings, maps)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_g(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if value is None:
        return "<no value>"
    return str(value)


def _g4(v: float) -> str:
    special = _special(v)
    return special if special is not None else f"{v:.4g}"


def humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    if abs(v) >= 1:
        i = 0
        while abs(v) >= 1000 and i < len(_SI_UP) - 1:
            v /= 1000
            i += 1
        return _g4(v) + _SI_UP[i]
    i = 0
    while v != 0 and abs(v) < 1 and i < len(_SI_DOWN) - 1:
        v *= 1000
        i += 1
    return _g4(v) + _SI_DOWN[i]


def humanize1024(v: float) -> str:
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    units = ("", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")
    i = 0
    while abs(v) >= 1024 and i < len(units) - 1:
        v /= 1024
        i += 1
    return _g4(v) + units[i]


def humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        secs = int(v) % 60
        minutes = int(v) // 60 % 60
        hours = int(v) // 3600 % 24
        days = int(v) // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {secs}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {secs}s"
        if minutes:
            return f"{sign}{minutes}m {secs}s"
        return f"{sign}{v:.4g}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{v:.4g}{prefix}s"


def humanize_percentage(v: float) -> str:
    return _g4(v * 100) + "%"


def humanize_timestamp(v: float) -> str:
    """Go's ``time.Time`` printing of a unix time, at Prometheus' millisecond resolution."""
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    ms = int(v * 1e9) // 1_000_000
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    frac = f"{ms % 1000:03d}".rstrip("0")
    return dt.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"
