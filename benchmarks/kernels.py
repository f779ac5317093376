"""The floor kernels: the fastest plain-Python way to answer each query class from blocks.

They work the way ``docs/performance.md`` says a store should: decompress a block once, search
the whole block (``bytes.find`` or one RE2 search), touch only the hits in Python, and turn hits
into per-step counts by binary search over the timestamp and offset columns instead of looping
over lines. Every kernel returns the same shapes as the oracle, so its answer is checked too.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import re2
import zstandard

from benchmarks.datasets import Block
from benchmarks.oracle import LineFilter, LogResult, Matrix, SeriesKey, step_index

_decompress = zstandard.ZstdDecompressor().decompress
Hits = Callable[[bytes], list[int]]
_ts = itemgetter(0)


def find_starts(needle: bytes) -> Hits:
    """Start offsets of the lines containing ``needle`` (one find per hit, no per-line work)."""

    def hits(text: bytes) -> list[int]:
        out: list[int] = []
        find, rfind, app = text.find, text.rfind, out.append
        p = find(needle)
        while p != -1:
            app(rfind(b"\n", 0, p) + 1)
            e = find(b"\n", p)
            if e == -1:
                break
            p = find(needle, e + 1)
        return out

    return hits


def _line_regex(pattern: bytes) -> Any:
    """RE2 search that never crosses a newline (``never_nl``): one line at a time."""
    opts = re2.Options()
    opts.never_nl = True
    return re2.compile(pattern, options=opts).search


def regex_starts(pattern: bytes) -> Hits:
    """Same for an RE2 pattern searched over the whole block (``never_nl``: one line at a time)."""
    search = _line_regex(pattern)

    def hits(text: bytes) -> list[int]:
        out: list[int] = []
        find, rfind, app = text.find, text.rfind, out.append
        m = search(text)
        while m is not None:
            app(rfind(b"\n", 0, m.start()) + 1)
            e = find(b"\n", m.end())
            if e == -1:
                break
            m = search(text, e + 1)
        return out

    return hits


def hits_for(flt: LineFilter) -> Hits:
    return regex_starts(flt.pattern) if flt.is_regex else find_starts(flt.pattern)


def count_find(blocks: Sequence[Block], needle: bytes) -> int:
    """The ``|=`` floor: decompress each block and count lines holding ``needle``."""
    n = 0
    for b in blocks:
        text = _decompress(b.z3)
        find = text.find
        p = find(needle)
        while p != -1:
            n += 1
            e = find(b"\n", p)
            if e == -1:
                break
            p = find(needle, e + 1)
    return n


def decompress_all(blocks: Sequence[Block]) -> int:
    return sum(len(_decompress(b.z3)) for b in blocks)


def ts_column(b: Block) -> array:
    col = array("q")
    col.frombytes(_decompress(b.zts))
    return col


def metric_counts(
    blocks: Sequence[Block],
    flt: LineFilter | None,
    key_of: dict[int, SeriesKey],
    start: int,
    end: int,
    step: int,
    per_second: float | None = None,
) -> Matrix:
    """count_over_time / rate with range == step, summed into ``key_of[sid]`` series.

    Per block: the step boundaries are bisected into the timestamp column (lines with
    ``ts <= t``), the line index into the offsets, the offset into the sorted hit list: the
    count per step costs O(log n), whatever the number of lines.
    """
    hits = hits_for(flt) if flt is not None else None
    negated = flt is not None and flt.negated
    nsteps = (end - start) // step
    out: Matrix = {}
    for b in blocks:
        if b.max_ts <= start - step or b.min_ts > end:
            continue
        ts = ts_column(b)
        starts = hits(_decompress(b.z3)) if hits is not None else None
        offsets = b.offsets
        k_lo = max(0, step_index(b.min_ts, start, step))
        k_hi = min(nsteps, step_index(b.max_ts, start, step))
        series = out.setdefault(key_of[b.sid], {})
        prev_line = bisect_right(ts, start + (k_lo - 1) * step)
        prev_hit = 0 if starts is None else bisect_left(starts, offsets[prev_line])
        for k in range(k_lo, k_hi + 1):
            t = start + k * step
            line = bisect_right(ts, t)
            n = line - prev_line
            if starts is not None:
                hit = bisect_left(starts, offsets[line])
                n = n - (hit - prev_hit) if negated else hit - prev_hit
                prev_hit = hit
            prev_line = line
            if n:
                series[t] = series.get(t, 0) + n
    out = {k: s for k, s in out.items() if s}
    if per_second is not None:
        out = {k: {t: v / per_second for t, v in s.items()} for k, s in out.items()}
    return out


# Text searched per step of a lazy block scan (as lokipy's engine does): a limited query stops
# searching a block near its limit-th entry instead of at the block's far end.
SEGMENT = 32 << 10
RangeHits = Callable[[bytes, int, int], list[int]]


def find_starts_in(needle: bytes) -> RangeHits:
    """Start offsets of the lines containing ``needle`` within ``text[a:b]`` (whole lines)."""

    def hits(text: bytes, a: int, b: int) -> list[int]:
        out: list[int] = []
        find, rfind, app = text.find, text.rfind, out.append
        p = find(needle, a, b)
        while p != -1:
            app(rfind(b"\n", 0, p) + 1)
            e = find(b"\n", p, b)
            if e == -1:
                break
            p = find(needle, e + 1, b)
        return out

    return hits


def regex_starts_in(pattern: bytes) -> RangeHits:
    search = _line_regex(pattern)

    def hits(text: bytes, a: int, b: int) -> list[int]:
        out: list[int] = []
        find, rfind, app = text.find, text.rfind, out.append
        m = search(text, a, b)
        while m is not None:
            app(rfind(b"\n", 0, m.start()) + 1)
            e = find(b"\n", m.end(), b)
            if e == -1:
                break
            m = search(text, e + 1, b)
        return out

    return hits


def _lazy_block(
    b: Block,
    hits: RangeHits | None,
    negated: bool,
    key: SeriesKey,
    lo: int,
    hi: int,
    forward: bool,
) -> Iterator[tuple[int, int, SeriesKey | None, bytes | None]]:
    """One block's entries in ``[lo, hi)`` passing the filter, in query order, as merge items
    ``(sort key, 1, series, line)``. First comes a watermark ``(edge-most time, 0, None, None)``:
    the block is decompressed only if the merge gets that far. The text is then searched a
    segment at a time from the query edge."""
    if forward:
        yield (max(lo, b.min_ts), 0, None, None)
    else:
        yield (-min(hi - 1, b.max_ts), 0, None, None)
    text = _decompress(b.z3)
    ts, off = ts_column(b), b.offsets
    first, last = bisect_left(ts, lo), bisect_left(ts, hi)
    sign = 1 if forward else -1
    i = first if forward else last
    while (i < last) if forward else (i > first):
        if forward:
            a, z = i, min(last, max(i + 1, bisect_right(off, off[i] + SEGMENT) - 1))
            i = z
        else:
            a, z = max(first, min(i - 1, bisect_right(off, off[i] - SEGMENT) - 1)), i
            i = a
        if hits is None:
            rows = range(a, z) if forward else range(z - 1, a - 1, -1)
        else:
            found = [bisect_right(off, s) - 1 for s in hits(text, off[a], off[z])]
            if negated:
                skip = set(found)
                rows = [r for r in (range(a, z) if forward else range(z - 1, a - 1, -1)) if r not in skip]
            else:
                rows = found if forward else found[::-1]
        for r in rows:
            yield (sign * ts[r], 1, key, text[off[r] : off[r + 1] - 1])


def log_query(
    blocks: Sequence[Block],
    flt: LineFilter | None,
    key_of: dict[int, SeriesKey],
    limit: int,
    direction: str,
    lo: int,
    hi: int,
) -> LogResult:
    """A limited log query as a merge of lazy blocks: every block first announces its
    edge-most time, and is decompressed and searched (segment by segment, from the query edge)
    only while it can still hold one of the ``limit`` entries nearest the edge. Timestamps are
    unique in the corpus, so the sort key alone orders entries."""
    forward = direction == "forward"
    hits = None
    if flt is not None:
        hits = regex_starts_in(flt.pattern) if flt.is_regex else find_starts_in(flt.pattern)
    negated = flt is not None and flt.negated
    sources = [
        _lazy_block(b, hits, negated, key_of[b.sid], lo, hi, forward)
        for b in blocks
        if b.max_ts >= lo and b.min_ts < hi
    ]
    out: LogResult = []
    sign = 1 if forward else -1
    for t, kind, key, line in heapq.merge(*sources):
        if kind:
            out.append((sign * t, key, line))  # type: ignore[arg-type]
            if len(out) == limit:
                break
    return out
