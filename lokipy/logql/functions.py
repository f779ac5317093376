"""Range-vector functions and unwrap conversions, one small pure function each.

Every range function sees one window of one series: ascending timestamps (ns) and values,
restricted to ``[lo, hi)`` (never empty), plus the range in ns. They compute exactly what
Loki's ``pkg/logql/range_vector.go`` computes, including its float quirks (incremental mean,
Welford variance, counter-reset extrapolation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from lokipy.logql.log.units import ConversionError as ConversionError  # re-exported for the extractor
from lokipy.logql.log.units import parse_bytes, parse_duration, parse_float

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


def incremental_mean(values: Iterable[float]) -> float:
    """Loki's (Prometheus') incremental mean: an infinite mean stays infinite instead of
    becoming Inf - Inf = NaN. Shared by ``avg_over_time`` and the ``avg`` aggregation."""
    mean = 0.0
    count = 0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean += v / count - mean / count
    return mean


def avg_over_time(ts: Sequence[int], vals: Sequence[float], lo: int, hi: int, rng: int, end: int) -> float:
    return incremental_mean(vals[lo:hi])


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

# Loki converts with Go's strconv.ParseFloat, time.ParseDuration and humanize.ParseBytes; the
# label filters need the same functions with the same messages, so both share one module.
parse_go_float = parse_float
parse_go_duration = parse_duration


def convert_float(text: str) -> float:
    return parse_go_float(text)


def convert_bytes(text: str) -> float:
    return float(parse_bytes(text))


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
