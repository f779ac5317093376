"""The floor kernels: the fastest plain-Python way to answer each query class from blocks.

They work the way ``docs/performance.md`` says a store should: decompress a block once, search
the whole block (``bytes.find`` or one RE2 search), touch only the hits in Python, and turn hits
into per-step counts by binary search over the timestamp and offset columns instead of looping
over lines. Every kernel returns the same shapes as the oracle, so its answer is checked too.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from operator import itemgetter

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


def regex_starts(pattern: bytes) -> Hits:
    """Same for an RE2 pattern searched over the whole block (``never_nl``: one line at a time)."""
    opts = re2.Options()
    opts.never_nl = True
    search = re2.compile(pattern, options=opts).search

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


def _block_entries(
    b: Block,
    flt: LineFilter | None,
    hits: Hits | None,
    key: SeriesKey,
    window: tuple[int, int],
    limit: int,
    forward: bool,
) -> list[tuple[int, SeriesKey, bytes]]:
    """Entries of one block inside ``window`` that pass the filter; at most the ``limit``
    nearest the query edge can matter, so only those lines are sliced."""
    text = _decompress(b.z3)
    ts, offsets = ts_column(b), b.offsets
    first, last = bisect_left(ts, window[0]), bisect_left(ts, window[1])
    starts = hits(text) if hits is not None else []
    if hits is not None and not (flt is not None and flt.negated):
        res = []
        for s in starts:
            i = bisect_right(offsets, s) - 1
            if first <= i < last:
                res.append((ts[i], key, text[s : offsets[i + 1] - 1]))
        return res
    # Selector only or `!=`: nearly every line survives; slice just the edge-most candidates.
    skip = {bisect_right(offsets, s) - 1 for s in starts}
    span = limit + len(skip)
    if forward:
        last = min(last, first + span)
    else:
        first = max(first, last - span)
    if first >= last:
        return []
    lines = text[offsets[first] : offsets[last] - 1].split(b"\n")
    return [(ts[i], key, lines[i - first]) for i in range(first, last) if i not in skip]


def log_query(
    blocks: Sequence[Block],
    flt: LineFilter | None,
    key_of: dict[int, SeriesKey],
    limit: int,
    direction: str,
    lo: int,
    hi: int,
) -> LogResult:
    """A limited log query: visit blocks nearest the query edge first, stop when no later
    block can beat the current ``limit``-th entry."""
    forward = direction == "forward"
    hits = hits_for(flt) if flt is not None else None
    order = sorted(
        (b for b in blocks if b.max_ts >= lo and b.min_ts < hi),
        key=(lambda b: b.min_ts) if forward else (lambda b: -b.max_ts),
    )
    best: list[tuple[int, SeriesKey, bytes]] = []
    edge: int | None = None  # ts of the limit-th entry seen so far (stale is conservative)
    for b in order:
        if edge is not None and ((forward and b.min_ts > edge) or (not forward and b.max_ts < edge)):
            break
        best.extend(_block_entries(b, flt, hits, key_of[b.sid], (lo, hi), limit, forward))
        # Re-select only when the candidates doubled: amortised O(n log limit), not per block.
        if len(best) >= limit and (edge is None or len(best) >= 2 * limit):
            best.sort(key=_ts, reverse=not forward)
            del best[limit:]
            edge = best[-1][0]
    best.sort(key=_ts, reverse=not forward)
    return best[:limit]
