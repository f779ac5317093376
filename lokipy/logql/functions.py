"""Range-vector functions and unwrap conversions, one small pure function each.

Every range function sees one window of one series: ascending timestamps (ns) and values,
restricted to ``[lo, hi)`` (never empty), plus the range in ns. They compute exactly what
Loki's ``pkg/logql/range_vector.go`` computes, including its float quirks (incremental mean,
Welford variance, counter-reset extrapolation).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

RangeFn = Callable[[Sequence[int], Sequence[float], int, int, int, int], float]


def count_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return float(hi - lo)


def rate(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    """Lines per second (no unwrap)."""
    return (hi - lo) / (rng / 1e9)


def rate_values(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    """``rate(... | unwrap x)``: the sum of the values per second of range."""
    return sum_over_time(ts, vals, lo, hi, rng, end) / (rng / 1e9)


def sum_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    total = 0.0
    for i in range(lo, hi):  # left to right like Go: sum() would differ with mixed Inf/NaN
        total += vals[i]
    return total


bytes_over_time = sum_over_time  # values are line lengths


def bytes_rate(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return sum_over_time(ts, vals, lo, hi, rng, end) / (rng / 1e9)


def avg_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    # Incremental mean, as Loki: keeps an infinite mean instead of producing Inf - Inf = NaN.
    mean = 0.0
    count = 0.0
    for i in range(lo, hi):
        v = vals[i]
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean += v / count - mean / count
    return mean


def max_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    best = vals[lo]
    for i in range(lo, hi):
        v = vals[i]
        if v > best or best != best:
            best = v
    return best


def min_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    best = vals[lo]
    for i in range(lo, hi):
        v = vals[i]
        if v < best or best != best:
            best = v
    return best


def _welford(vals: Sequence[float], lo: int, hi: int) -> float:
    aux = count = mean = 0.0
    for i in range(lo, hi):
        v = vals[i]
        count += 1
        delta = v - mean
        mean += delta / count
        aux += delta * (v - mean)
    return aux / count


def stdvar_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return _welford(vals, lo, hi)


def stddev_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    var = _welford(vals, lo, hi)
    return math.sqrt(var) if var >= 0 or var != var else math.nan


def first_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return vals[lo]


def last_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return vals[hi - 1]


def quantile(q: float, values: Sequence[float]) -> float:
    """Prometheus' quantile: linear interpolation between closest ranks; NaN for no values."""
    if not values:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if q != q:
        return math.nan
    ordered = sorted(values, key=lambda v: (v == v, v if v == v else 0.0))  # NaN sorts first
    n = len(ordered)
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def quantile_over_time(q: float) -> RangeFn:
    def fn(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
        return quantile(q, vals[lo:hi])

    return fn


def rate_counter(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    """Counter rate with Prometheus' extrapolation to the window edges ``(end - rng, end]``.

    Decreases are counter resets (the pre-drop value is added back); the start is never
    extrapolated past the counter's zero point; fewer than two samples give 0, as in Loki.
    """
    n = hi - lo
    if n < 2:
        return 0.0
    first, last = vals[lo], vals[hi - 1]
    result = last - first
    prev = 0.0
    for i in range(lo, hi):
        v = vals[i]
        if v < prev:
            result += prev
        prev = v
    range_s = rng / 1e9
    duration_to_start = (ts[lo] - (end - rng)) / 1e9
    duration_to_end = (end - ts[hi - 1]) / 1e9
    sampled = (ts[hi - 1] - ts[lo]) / 1e9
    if sampled == 0:  # Go divides by zero here
        return math.nan if result == 0 else math.copysign(math.inf, result)
    avg_between = sampled / (n - 1)
    if result > 0 and first >= 0:
        duration_to_zero = sampled * (first / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero
    threshold = avg_between * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else avg_between / 2
    interval += duration_to_end if duration_to_end < threshold else avg_between / 2
    return result * (interval / sampled) / range_s


def absent_value(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return 1.0


# --- unwrap conversions ---------------------------------------------------------------------

_DEC_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+\Z")
_SPECIAL = {
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
}


class ConversionError(ValueError):
    """A label value that the unwrap conversion cannot read (becomes SampleExtractionErr)."""


def parse_go_float(text: str) -> float:
    """Go's ``strconv.ParseFloat(s, 64)``: no spaces or underscores; overflow is an error."""
    special = _SPECIAL.get(text.lower())
    if special is not None:
        return special
    if _DEC_FLOAT.match(text):
        value = float(text)
    elif _HEX_FLOAT.match(text):
        value = float.fromhex(text)
    else:
        raise ConversionError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if math.isinf(value):
        raise ConversionError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")
_MAX_DURATION = (1 << 63) - 1


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in ns (``1h30m``, ``1.5s``, ``-2ms``; a bare ``0``)."""
    s = text
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ConversionError(f'time: invalid duration "{text}"')
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or m.end() == pos:
            raise ConversionError(f'time: invalid duration "{text}"')
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise ConversionError(f'time: invalid duration "{text}"')
        if not unit:
            raise ConversionError(f'time: missing unit in duration "{text}"')
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise ConversionError(f'time: unknown unit "{unit}" in duration "{text}"')
        value = int(whole or "0") * scale
        if frac:
            value += int(int(frac) * (scale / 10 ** len(frac)))
        total += value
        if total > _MAX_DURATION:
            raise ConversionError(f'time: invalid duration "{text}"')
        pos = m.end()
    return -total if neg else total


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ti": 1024**4,
    "tib": 1024**4,
    "p": 1000**5,
    "pb": 1000**5,
    "pi": 1024**5,
    "pib": 1024**5,
    "e": 1000**6,
    "eb": 1000**6,
    "ei": 1024**6,
    "eib": 1024**6,
}


def parse_bytes(text: str) -> float:
    """go-humanize's ``ParseBytes``: ``42 MB``, ``1.5KiB``, ``1,024`` (units case-insensitive)."""
    end = 0
    while end < len(text) and (text[end].isdigit() or text[end] in ".,"):
        end += 1
    number = text[:end].replace(",", "")
    value = parse_go_float(number)
    unit = text[end:].strip().lower()
    mult = _BYTE_UNITS.get(unit)
    if mult is None:
        raise ConversionError(f"unhandled size name: {unit}")
    value *= mult
    if value >= 2.0**64:
        raise ConversionError(f"too large: {text}")
    return float(int(value))


def convert_float(text: str) -> float:
    return parse_go_float(text)


def convert_bytes(text: str) -> float:
    return parse_bytes(text)


def convert_duration(text: str) -> float:
    """``duration()``/``duration_seconds()``: seconds as a float, like Go's ``d.Seconds()``."""
    ns = parse_go_duration(text)
    sec, nsec = divmod(abs(ns), 1_000_000_000)
    value = sec + nsec / 1e9
    return -value if ns < 0 else value


CONVERSIONS: dict[str, Callable[[str], float]] = {
    "": convert_float,
    "bytes": convert_bytes,
    "duration": convert_duration,
    "duration_seconds": convert_duration,
}

RANGE_FUNCTIONS: dict[str, RangeFn] = {
    "count_over_time": count_over_time,
    "rate": rate,
    "bytes_over_time": bytes_over_time,
    "bytes_rate": bytes_rate,
    "sum_over_time": sum_over_time,
    "avg_over_time": avg_over_time,
    "max_over_time": max_over_time,
    "min_over_time": min_over_time,
    "stdvar_over_time": stdvar_over_time,
    "stddev_over_time": stddev_over_time,
    "first_over_time": first_over_time,
    "last_over_time": last_over_time,
    "rate_counter": rate_counter,
    "absent_over_time": absent_value,
}


def range_function(name: str, *, unwrapped: bool, param: float | None = None) -> RangeFn:
    """The window function for a range aggregation (``rate`` differs with ``unwrap``)."""
    if name == "quantile_over_time":
        return quantile_over_time(param if param is not None else math.nan)
    if name == "rate" and unwrapped:
        return rate_values
    fn = RANGE_FUNCTIONS.get(name)
    if fn is None:
        raise ValueError(f"unsupported range aggregation {name}")
    return fn
