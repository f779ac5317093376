"""Go-compatible number, duration and byte-size text, as LogQL's lexer and printer use it.

Loki reads durations with Prometheus' ``model.ParseDuration`` first and Go's
``time.ParseDuration`` second, byte sizes with ``humanize.ParseBytes`` and numbers with
``strconv.ParseFloat``; it prints ranges as ``model.Duration``, offsets and duration filters as
``time.Duration`` and literals with Go's ``%v``. Everything is int nanoseconds / int bytes here.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from lokipy.model.labels import go_quote

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY

_MAX_INT64 = (1 << 63) - 1

_PROM_UNITS = {
    "y": (1, YEAR),
    "w": (2, WEEK),
    "d": (3, DAY),
    "h": (4, HOUR),
    "m": (5, MINUTE),
    "s": (6, SECOND),
    "ms": (7, MS),
}


class DurationError(ValueError):
    """A duration Go/Prometheus would reject; the message is Go's (without ``time: ``)."""


def parse_prom_duration_strict(text: str) -> int:
    """Prometheus ``model.ParseDuration``: ``1h30m``, ``7d``, ``2w``, ``1y``, ``0``.

    Units ``y w d h m s ms`` in that order, integers only. Raises DurationError worded like
    Prometheus (``not a valid duration string: "x"``, ``unknown unit "u" in duration "x"``).
    """
    if text == "0":
        return 0
    if not text:
        raise DurationError("empty duration string")
    bad = DurationError(f"not a valid duration string: {go_quote(text)}")
    total = 0
    last = 0
    pos = 0
    n = len(text)
    while pos < n:
        j = pos
        while j < n and "0" <= text[j] <= "9":
            j += 1
        if j == pos:
            raise bad
        k = j
        while k < n and not "0" <= text[k] <= "9":
            k += 1
        if k == j:
            raise bad
        unit = text[j:k]
        spec = _PROM_UNITS.get(unit)
        if spec is None:
            raise DurationError(f"unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        order, mult = spec
        if order <= last:
            raise bad
        last = order
        value = int(text[pos:j])
        if value > (1 << 63) // mult:
            raise DurationError("duration out of range")
        total += value * mult
        if total > _MAX_INT64:
            raise DurationError("duration out of range")
        pos = k
    return total


def parse_prom_duration(text: str) -> int | None:
    """Like :func:`parse_prom_duration_strict` but None instead of an error."""
    try:
        return parse_prom_duration_strict(text)
    except DurationError:
        return None


def parse_go_duration(text: str) -> int:
    """Go ``time.ParseDuration`` (the one implementation in :mod:`lokipy.logql.log.units`),
    with the ``time:``-less message the parser quotes; raises DurationError."""
    # Imported here: the pipeline package imports this module for number printing.
    from lokipy.logql.log.units import ConversionError
    from lokipy.logql.log.units import parse_duration as go_parse_duration

    try:
        return go_parse_duration(text)
    except ConversionError as err:
        raise DurationError(str(err).removeprefix("time: ")) from None


def parse_duration(text: str) -> int:
    """Loki's ``parseDuration``: Prometheus syntax first, then Go's; raises DurationError."""
    prom = parse_prom_duration(text)
    if prom is not None:
        return prom
    return parse_go_duration(text)


def format_prom_duration(ns: int) -> str:
    """Prometheus ``model.Duration.String`` (millisecond precision; ``y``/``w`` only if exact).

    Durations that are not whole milliseconds (or negative) fall back to Go's form so the
    text always parses back to the same value.
    """
    if ns < 0 or ns % MS:
        return format_go_duration(ns)
    ms = ns // MS
    if ms == 0:
        return "0s"
    out = []
    for unit, mult, exact in (
        ("y", YEAR // MS, True),
        ("w", WEEK // MS, True),
        ("d", DAY // MS, False),
        ("h", HOUR // MS, False),
        ("m", MINUTE // MS, False),
        ("s", SECOND // MS, False),
        ("ms", 1, False),
    ):
        if exact and ms % mult:
            continue
        v = ms // mult
        if v > 0:
            out.append(f"{v}{unit}")
            ms -= v * mult
    return "".join(out)


def format_go_duration(ns: int) -> str:
    """Go ``time.Duration.String``: ``1h0m0s``, ``1.5s``, ``500ms``, ``0s``, ``-5m0s``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    sign = "-" if neg else ""
    if u < SECOND:
        for unit, mult in (("ns", 1), ("\u00b5s", US), ("ms", MS)):
            if u < mult * 1000:
                return sign + _frac(u, mult) + unit
    secs_part = _frac(u % MINUTE, SECOND) + "s"
    minutes = u // MINUTE
    if minutes == 0:
        return sign + secs_part
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{minutes}m{secs_part}"
    return f"{sign}{hours}h{minutes}m{secs_part}"


def _frac(value: int, mult: int) -> str:
    whole, rest = divmod(value, mult)
    if not rest:
        return str(whole)
    digits = len(str(mult)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


# --- byte sizes ------------------------------------------------------------------------

_BYTE_SIZES = {
    "b": 1,
    "": 1,
    "kib": 1 << 10,
    "ki": 1 << 10,
    "kb": 1000,
    "k": 1000,
    "mib": 1 << 20,
    "mi": 1 << 20,
    "mb": 1000**2,
    "m": 1000**2,
    "gib": 1 << 30,
    "gi": 1 << 30,
    "gb": 1000**3,
    "g": 1000**3,
    "tib": 1 << 40,
    "ti": 1 << 40,
    "tb": 1000**4,
    "t": 1000**4,
    "pib": 1 << 50,
    "pi": 1 << 50,
    "pb": 1000**5,
    "p": 1000**5,
    "eib": 1 << 60,
    "ei": 1 << 60,
    "eb": 1000**6,
    "e": 1000**6,
}


def parse_bytes(text: str) -> int | None:
    """``humanize.ParseBytes``: ``10KB``, ``1.5MiB``, ``42B``; None when it is not a size."""
    i = 0
    while i < len(text) and (text[i].isdigit() or text[i] in ".,"):
        i += 1
    number = text[:i].replace(",", "")
    try:
        value = float(number)
    except ValueError:
        return None
    mult = _BYTE_SIZES.get(text[i:].strip().lower())
    if mult is None:
        return None
    total = value * mult
    if total >= 2.0**64:
        return None
    return int(total)


def format_bytes(value: int) -> str:
    """Exact, re-parsable byte text (Loki prints ``humanize.Bytes``, ``1.0 kB``, which is lossy).

    Zero is ``0KiB``: ``0B`` would lex as an (empty) Go binary literal, as it does in Loki;
    and there is no ``PiB``: Go's scanner reads ``1P`` as a hex-float exponent.
    """
    if value == 0:
        return "0KiB"
    for unit, mult in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if value and value % mult == 0:
            return f"{value // mult}{unit}"
    if value and value % 1024 == 0:
        return f"{value // 1024}KiB"
    return f"{value}B"


# --- floats ----------------------------------------------------------------------------

_DEC_FLOAT = re.compile(r"[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?\Z")
_HEX_FLOAT = re.compile(r"0[xX](?:[0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP][+-]?[0-9_]+\Z")


def parse_go_float(text: str) -> float:
    """``strconv.ParseFloat`` for number tokens: decimals and hex floats (``0x1p3``).

    ``0x1A``, ``0o17`` and ``0b1010`` are rejected like Go does (hex needs a ``p`` exponent).
    Raises ValueError with Go's wording.
    """
    bad = ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if _HEX_FLOAT.match(text):
        try:
            return float.fromhex(text.replace("_", ""))
        except (ValueError, OverflowError) as err:
            raise bad from err
    if not _DEC_FLOAT.match(text) or not any(c.isdigit() for c in text):
        raise bad
    if "_" in text and not _underscores_ok(text):
        raise bad
    value = float(text.replace("_", ""))
    if math.isinf(value):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def _underscores_ok(text: str) -> bool:
    saw = "^"
    for ch in text:
        if ch.isdigit():
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
    return saw != "_"


def format_go_float(value: float) -> str:
    """Go's ``fmt.Sprint(float64)`` (``%v`` = shortest ``%g``): ``1``, ``0.5``, ``1e+06``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exp = Decimal(repr(value)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    assert isinstance(exp, int)
    # decimal point position relative to the digit string
    point = len(digits) + exp
    x = point - 1
    prefix = "-" if sign else ""
    # strconv's %g with shortest precision switches to an exponent below 1e-4 or from 1e6 up
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{prefix}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return prefix + ds + "0" * (point - len(ds))
    return f"{prefix}{ds[:point]}.{ds[point:]}"


def format_float_f(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
