"""Go's ``fmt`` printing (``Sprint``, ``Sprintf``) and ``time`` layouts, for templates.

Only what templates reach: basic values (string, int, float64, bool, nil, maps, lists) and a
``GoTime`` value. Mismatched verbs print Go's ``%!d(string=abc)`` markers.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lokipy.logql.units import format_go_float as format_float_v  # Go's %v of a float64
from lokipy.model.labels import go_quote


@dataclass(frozen=True, slots=True)
class GoTime:
    """A point in time with nanoseconds and a fixed zone (UTC unless parsed with an offset)."""

    ns: int
    offset: int = 0  # seconds east of UTC
    zone: str = "UTC"

    @classmethod
    def now(cls) -> GoTime:
        return cls(time.time_ns())

    def unix(self) -> int:
        return self.ns // 1_000_000_000

    def parts(self) -> tuple[datetime, int]:
        secs, frac = divmod(self.ns, 1_000_000_000)
        tz = UTC if self.offset == 0 and self.zone == "UTC" else timezone(timedelta(seconds=self.offset))
        return datetime.fromtimestamp(secs, tz), frac

    def is_zero(self) -> bool:
        return self.ns == ZERO_TIME_NS


# Go's zero time.Time, 0001-01-01 00:00:00 UTC, in Unix nanoseconds.
ZERO_TIME_NS = -62135596800 * 1_000_000_000


def format_time(t: GoTime) -> str:
    """Go's ``time.Time.String()``."""
    return format_layout(t, "2006-01-02 15:04:05.999999999 -0700 MST")


def sprint(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_v(value)
    if isinstance(value, GoTime):
        return format_time(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{sprint(k)}:{sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(sprint(v) for v in value) + "]"
    return str(value)


def _type_name(value: Any) -> str:
    from lokipy.logql.log.template import go_type

    return "time.Time" if isinstance(value, GoTime) else go_type(value)


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?([a-zA-Z%])")


def _pad(text: str, width: int | None, flags: str, numeric: bool = False) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+- " and text[:1] != "" else ""
        body = text[len(sign) :]
        return sign + body.rjust(width - len(sign), "0")
    return text.rjust(width)


def _bad(verb: str, value: Any) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_type_name(value)}={sprint(value)})"


def _format_one(verb: str, flags: str, width: int | None, prec: int | None, value: Any) -> str:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if verb == "v":
        if isinstance(value, float) and prec is not None:
            return _pad(f"{value:.{prec}g}", width, flags, True)
        return _pad(sprint(value), width, flags)
    if verb == "T":
        return _pad(_type_name(value), width, flags)
    if verb == "s":
        if isinstance(value, (int, float, bool)) or value is None:
            return _bad(verb, value)
        text = sprint(value)
        return _pad(text[:prec] if prec is not None else text, width, flags)
    if verb == "q":
        if isinstance(value, str):
            return _pad(go_quote(value), width, flags)
        if is_int:
            return _pad("'" + chr(value) + "'", width, flags)
        return _bad(verb, value)
    if verb == "t":
        return _pad(sprint(value), width, flags) if isinstance(value, bool) else _bad(verb, value)
    if verb in "dboxXc":
        if verb in "xX" and isinstance(value, str):
            out = value.encode().hex()
            return _pad(out.upper() if verb == "X" else out, width, flags)
        if not is_int:
            return _bad(verb, value)
        if verb == "c":
            return _pad(chr(value), width, flags)
        spec = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb]
        sign = "+" if "+" in flags else (" " if " " in flags else "-")
        text = format(value, sign + ("#" if "#" in flags else "") + spec)
        if prec is not None:
            neg = text.startswith("-")
            digits = text.lstrip("+- ")
            text = text[: len(text) - len(digits)] + digits.rjust(prec, "0")
            del neg
        return _pad(text, width, flags, True)
    if verb in "feEgGF":
        if not isinstance(value, float):
            return _bad(verb, value)
        if math.isnan(value) or math.isinf(value):
            text = format_float_v(value)
            if "+" not in flags and text == "+Inf":
                text = "+Inf"
            return _pad(text, width, flags)
        sign = "+" if "+" in flags else (" " if " " in flags else "")
        if verb in "gG" and prec is None:
            text = format_float_v(value)
            if sign and value >= 0:
                text = sign + text
        else:
            p = 6 if prec is None else prec
            py = {"f": "f", "F": "f", "e": "e", "E": "E", "g": "g", "G": "G"}[verb]
            text = format(value, f"{sign}.{p}{py}")
            if verb in "eE":  # Go prints at least two exponent digits, like Python
                pass
        return _pad(text, width, flags, True)
    return f"%!{verb}({_type_name(value)}={sprint(value)})"


def sprintf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the common verbs (v s q d b o x X c t f F e E g G T %)."""
    out: list[str] = []
    pos = 0
    argi = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        width = int(width_s) if width_s else None
        prec = (int(prec_s) if prec_s else 0) if prec_s is not None else None
        out.append(_format_one(verb, flags, width, prec, args[argi]))
        argi += 1
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{_type_name(a)}={sprint(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# --- time layouts -----------------------------------------------------------------------

_LAYOUT = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|Z07:00:00|-07:00:00|Z07:00|-07:00|Z0700|-0700|Z07|-07"
    r"|[.,](?:0+|9+)(?!\d)|002|__2|_2|01|02|03|04|05|06|15|PM|pm|1|2|3|4|5"
)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _zone(offset: int, colon: bool, short: bool, z: bool) -> str:
    if z and offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    h, m = divmod(abs(offset) // 60, 60)
    if short:
        return f"{sign}{h:02d}"
    return f"{sign}{h:02d}:{m:02d}" if colon else f"{sign}{h:02d}{m:02d}"


def format_layout(t: GoTime, layout: str) -> str:
    """Go's ``time.Time.Format(layout)``."""
    dt, frac = t.parts()

    def tok(m: re.Match[str]) -> str:
        s = m.group()
        if s == "2006":
            return f"{dt.year:04d}"
        if s == "06":
            return f"{dt.year % 100:02d}"
        if s == "January":
            return _MONTHS[dt.month - 1]
        if s == "Jan":
            return _MONTHS[dt.month - 1][:3]
        if s == "01":
            return f"{dt.month:02d}"
        if s == "1":
            return str(dt.month)
        if s == "Monday":
            return _DAYS[dt.weekday()]
        if s == "Mon":
            return _DAYS[dt.weekday()][:3]
        if s == "02":
            return f"{dt.day:02d}"
        if s == "2":
            return str(dt.day)
        if s == "_2":
            return f"{dt.day:2d}"
        if s in ("002", "__2"):
            return f"{dt.timetuple().tm_yday:03d}" if s == "002" else f"{dt.timetuple().tm_yday:3d}"
        if s == "15":
            return f"{dt.hour:02d}"
        if s in ("03", "3"):
            h = dt.hour % 12 or 12
            return f"{h:02d}" if s == "03" else str(h)
        if s in ("04", "4"):
            return f"{dt.minute:02d}" if s == "04" else str(dt.minute)
        if s in ("05", "5"):
            return f"{dt.second:02d}" if s == "05" else str(dt.second)
        if s in ("PM", "pm"):
            v = "PM" if dt.hour >= 12 else "AM"
            return v if s == "PM" else v.lower()
        if s == "MST":
            return t.zone if t.zone else _zone(t.offset, False, False, False)
        if s[0] in ".,":
            digits = f"{frac:09d}"[: len(s) - 1]
            if s[1] == "9":
                digits = digits.rstrip("0")
                return s[0] + digits if digits else ""
            return s[0] + digits
        z = s[0] == "Z"
        body = s[1:]
        return _zone(t.offset, ":" in body, body == "07", z)

    return _LAYOUT.sub(tok, layout)


def parse_layout(layout: str, text: str, zone: str = "UTC") -> GoTime:
    """Go's ``time.ParseInLocation`` for the common layout elements; raises ValueError.

    ``zone`` (an IANA name) applies when the text carries no offset of its own.
    """
    pattern: list[str] = []
    pos = 0
    keys: list[str] = []
    for m in _LAYOUT.finditer(layout):
        pattern.append(re.escape(layout[pos : m.start()]))
        pos = m.end()
        s = m.group()
        keys.append(s)
        if s in ("2006",):
            pattern.append(r"(\d{4})")
        elif s in ("January", "Monday"):
            pattern.append(r"([A-Za-z]+)")
        elif s in ("Jan", "Mon"):
            pattern.append(r"([A-Za-z]{3})")
        elif s in ("1", "2", "3", "4", "5", "_2"):
            pattern.append(r" ?(\d{1,2})")
        elif s in ("PM", "pm"):
            pattern.append(r"([AaPp][Mm])")
        elif s == "MST":
            pattern.append(r"([A-Z]{3,5}|[+-]\d{2,4})")
        elif s[0] in ".,":
            pattern.append(r"[.,](\d+)")
        elif s[0] in "Z-":
            pattern.append(r"(Z|[+-]\d{2}(?::?\d{2})?(?::?\d{2})?)")
        elif s in ("002", "__2"):
            pattern.append(r" *(\d{1,3})")
        else:
            pattern.append(r"(\d{2})")
    pattern.append(re.escape(layout[pos:]))
    m = re.fullmatch("".join(pattern), text)
    if m is None:
        raise ValueError(f'parsing time "{text}" as "{layout}": cannot parse')
    year, month, day, hour, minute, sec, frac, pm = 1, 1, 1, 0, 0, 0, 0, None
    offset: int | None = None
    for key, val in zip(keys, m.groups(), strict=True):
        if key == "2006":
            year = int(val)
        elif key == "06":
            year = 2000 + int(val) if int(val) < 69 else 1900 + int(val)
        elif key in ("01", "1"):
            month = int(val)
        elif key in ("January", "Jan"):
            month = [mn[: len(val)] for mn in _MONTHS].index(val.capitalize()) + 1
        elif key in ("02", "2", "_2"):
            day = int(val)
        elif key in ("15", "03", "3"):
            hour = int(val)
        elif key in ("04", "4"):
            minute = int(val)
        elif key in ("05", "5"):
            sec = int(val)
        elif key in ("PM", "pm"):
            pm = val.upper() == "PM"
        elif key[0] in ".,":
            frac = int(val.ljust(9, "0")[:9])
        elif key[0] in "Z-" and val == "Z":
            offset = 0
        elif key[0] in "Z-":
            digits = val[1:].replace(":", "")
            offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) >= 4 else 0)
            offset = -offset if val[0] == "-" else offset
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)
    if offset is None and zone not in ("", "UTC", "Local"):
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone}") from None
        dt = datetime(year, month, day, hour, minute, sec, tzinfo=tz)
        off = dt.utcoffset()
        secs = int(off.total_seconds()) if off is not None else 0
        ns = int(dt.timestamp()) * 1_000_000_000 + frac
        return GoTime(ns, secs, dt.tzname() or "")
    offset = offset or 0
    dt = datetime(year, month, day, hour, minute, sec, tzinfo=timezone(timedelta(seconds=offset)))
    ns = int(dt.timestamp()) * 1_000_000_000 + frac
    return GoTime(ns, offset, "UTC" if offset == 0 else "")
