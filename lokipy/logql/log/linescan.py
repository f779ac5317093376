"""Searching a range of a block's lines: the building blocks of the line filters.

A batch's lines are back to back in ``data`` (no separator), line ``i`` being
``data[off[i]:off[i + 1]]``. Every function here answers "which lines in ``[lo, hi)`` match",
ascending, reading only those lines' bytes, so a filter can search a whole block at once or a
segment at a time (a limited query stops searching once it has what it needs).

A hit that runs past its line's end is re-checked on that line alone and the search resumes at
the next line (never inside it, which could hide a match there). When hits turn out dense, the
rest of the range is tested line by line in a C-level ``map`` instead of one bisect per hit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import compress, repeat
from operator import ne
from typing import Any


def complement_range(hits: list[int], lo: int, hi: int, reverse: bool) -> Sequence[int]:
    """``[lo, hi)`` without ``hits`` (sorted), in scan order."""
    if not hits:
        return range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
    keep = bytearray(b"\x01") * (hi - lo)
    for i in hits:
        keep[i - lo] = 0
    kept = list(compress(range(lo, hi), keep))
    if reverse:
        kept.reverse()
    return kept


def find_lines(needle: bytes, data: bytes, off: Sequence[int], lo: int, hi: int) -> list[int]:
    """Indices ``i`` in ``[lo, hi)`` whose line holds ``needle`` (non-empty), ascending.

    One ``find`` per hit over the block, bounded to the lines' bytes; a hit that runs past
    its line's end is re-checked on that line alone. When hits turn out dense, the rest is
    tested line by line in a C-level map (no bisects, no slices): no counting pass first.
    """
    width = len(needle)
    hits: list[int] = []
    find = data.find
    limit = off[hi]
    pos = find(needle, off[lo], limit)
    first = lo
    while pos >= 0:
        i = bisect_right(off, pos, lo, hi) - 1
        end = off[i + 1]
        if pos + width <= end or needle in data[off[i] : end]:
            hits.append(i)
            if len(hits) >= 64 and len(hits) * 8 > i - first:
                hits.extend(find_each(needle, data, off, i + 1, hi))
                return hits
        lo = i + 1
        pos = find(needle, end, limit)
    return hits


def find_each(needle: bytes, data: bytes, off: Sequence[int], lo: int, hi: int) -> list[int]:
    """Lines in ``[lo, hi)`` holding ``needle``: one bounded find per line, at C speed (a
    bounded find only sees occurrences wholly inside the line)."""
    if lo >= hi:
        return []
    found = map(data.find, repeat(needle), off[lo:hi], off[lo + 1 : hi + 1])
    return list(compress(range(lo, hi), map(ne, found, repeat(-1))))


def find_any(needles: list[bytes], data: bytes, off: Sequence[int], lo: int, hi: int) -> list[int]:
    found: set[int] = set()
    for needle in needles:
        found.update(find_lines(needle, data, off, lo, hi))
    return sorted(found)


def every_line(lo: int, hi: int) -> list[int]:
    return list(range(lo, hi))


def each_line_in(test: Any, data: bytes, off: Sequence[int], lo: int, hi: int) -> list[int]:
    """Lines in ``[lo, hi)`` passing ``test``, in a C-level loop over the lines."""
    if lo >= hi:
        return []
    lines = map(data.__getitem__, map(slice, off[lo:hi], off[lo + 1 : hi + 1]))
    return list(compress(range(lo, hi), map(test, lines)))


def search_lines(search: Any, data: bytes, off: Sequence[int], lo: int, hi: int) -> list[int]:
    """Lines in ``[lo, hi)`` holding a match of a context-free regex: one RE2 search per hit
    over the lines' bytes (the search stops at the range's end)."""
    hits: list[int] = []
    first = lo
    pos, size = off[lo], off[hi]
    while pos < size:
        m = search(data, pos, size)
        if m is None:
            break
        start, stop = m.span()
        i = bisect_right(off, start, lo, hi) - 1
        end = off[i + 1]
        if stop > end:
            # The match ran past its line (lines have no separator): each such search can
            # scan to the end of the range, so finish line by line to stay linear.
            if search(data[off[i] : end]) is not None:
                hits.append(i)
            hits.extend(each_line_in(search, data, off, i + 1, hi))
            return hits
        hits.append(i)
        if len(hits) >= 64 and len(hits) * 4 > i - first:
            # Most lines hit: finish line by line in a C-level loop instead.
            hits.extend(each_line_in(search, data, off, i + 1, hi))
            return hits
        lo = i + 1
        pos = end
    return hits
