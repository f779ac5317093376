"""Line filters: ``|=``, ``!=``, ``|~``, ``!~``, ``|>``, ``!>``, ``or`` chains and ``ip()``.

Each filter answers two questions:

* ``matches(line) -> bool`` for one line (used after a parser or formatter changed the line);
* ``select(batch, candidates) -> list[int]`` for a whole :class:`EntryBatch`: the indices of the
  entries it keeps. ``|=`` runs one ``bytes.find`` loop over the concatenated block and ``|~``
  one RE2 search loop, mapping hit positions to entries by bisecting ``offsets``. Lines are
  back to back with no separator, so a hit that runs past its line's end is re-checked on that
  line alone, and the scan resumes at the next line (never inside it, which could hide a match
  there). Regexes whose result depends on context (``^``, ``$``, ``\\b`` ...) are matched line by
  line instead, since a neighbouring line would change their answer.

When most lines hit, the per-hit bisect costs more than testing each line, so dense batches
are tested line by line in a C-level ``map`` (after 64 hits covering over an eighth of the lines
seen for ``|=``, a quarter for ``|~``; see :mod:`linescan`). Regexes that are only literals
(``foo``, ``foo|bar``, ``(?i)error``) run as substring searches.

Filters that can search part of a block also offer ``scan(batch, reverse)``: the kept lines a
segment at a time from one end, for limited log queries that stop early; :func:`dropped` gives
the lines a negated filter drops, for counting queries that count ``all - dropped``.

Regexes are RE2 (linear time) via :func:`lokipy.model.regex.compile_regex`; line filters are
unanchored.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from itertools import compress, islice
from typing import Any, Protocol

from lokipy.logql.log.ip import IPMatcher
from lokipy.logql.log.linescan import (
    complement_range,
    each_line_in,
    every_line,
    find_any,
    find_lines,
    search_lines,
)
from lokipy.logql.log.pattern import PatternTester
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import InvalidInput
from lokipy.model.regex import compile_regex

# Past this share of the batch, scanning the whole block beats checking candidates one by one.
_DENSE = 0.25
# Lines scanned per step of a lazy scan (by bytes of text): small enough that a limited query
# stops near its last result, large enough that per-segment overhead is noise.
_SEGMENT = 32 << 10
RangeHits = Callable[[int, int], list[int]]
_REGEX_META = frozenset("\\.+*?()|[]{}^$")  # "|" is handled by _literal_alternatives


class LineFilter(Protocol):
    def matches(self, line: bytes) -> bool: ...

    def select(self, batch: EntryBatch, candidates: list[int] | None = None) -> list[int]: ...


def _all(batch: EntryBatch, candidates: list[int] | None) -> list[int]:
    return list(range(len(batch))) if candidates is None else list(candidates)


def _per_line(flt: LineFilter, batch: EntryBatch, candidates: list[int] | None) -> list[int]:
    if candidates is None:
        return _each_line(flt.matches, batch)
    data, off = batch.data, batch.offsets
    m = flt.matches
    return [i for i in candidates if m(data[off[i] : off[i + 1]])]


def _restrict(hits: list[int], candidates: list[int] | None) -> list[int]:
    if candidates is None:
        return hits
    keep = set(hits)
    return [i for i in candidates if i in keep]


def _complement(hits: list[int], batch: EntryBatch, candidates: list[int] | None) -> list[int]:
    if not hits:
        return list(range(len(batch))) if candidates is None else list(candidates)
    if len(hits) == len(batch):
        return []
    if candidates is None:
        keep = bytearray(b"\x01") * len(batch)  # a mask and one C-level compress, no set
        for i in hits:
            keep[i] = 0
        return list(compress(range(len(batch)), keep))
    drop = set(hits)
    return [i for i in candidates if i not in drop]


def _sparse(batch: EntryBatch, candidates: list[int] | None) -> bool:
    return candidates is not None and len(candidates) < _DENSE * len(batch)


class _Positive:
    """Shared select() for filters that keep lines containing a hit."""

    negate: bool

    def _hits(self, batch: EntryBatch) -> list[int]:
        raise NotImplementedError

    def _test(self, line: bytes) -> bool:
        raise NotImplementedError

    def matches(self, line: bytes) -> bool:
        return self._test(line) != self.negate

    def select(self, batch: EntryBatch, candidates: list[int] | None = None) -> list[int]:
        if not len(batch):
            return []
        if _sparse(batch, candidates):
            return _per_line(self, batch, candidates)  # type: ignore[arg-type]
        hits = self._hits(batch)
        if self.negate:
            return _complement(hits, batch, candidates)
        return _restrict(hits, candidates)

    def _range_hits(self, batch: EntryBatch) -> RangeHits | None:
        """``hits(lo, hi)``: the matching lines among ``[lo, hi)`` of this batch, ascending,
        for filters that can search part of a block; None for the others."""
        return None

    def scan(
        self, batch: EntryBatch, reverse: bool = False, *, segment: int = _SEGMENT
    ) -> Iterator[tuple[int, Sequence[int]]]:
        """Kept indices segment by segment in scan order (see :func:`scan`): a limited query
        stops searching a block as soon as the merge has what it needs. ``segment`` is the
        text per segment in bytes."""
        hits_in = self._range_hits(batch) if len(batch) else None
        if hits_in is None:
            yield from _one_segment(self, batch, reverse)
            return
        off, negate = batch.offsets, self.negate
        n = len(batch)
        if reverse:
            hi = n
            while hi > 0:
                lo = max(0, min(hi - 1, bisect_right(off, off[hi] - segment, 0, hi) - 1))
                hits = hits_in(lo, hi)
                if negate:
                    yield lo - 1, complement_range(hits, lo, hi, reverse)
                else:
                    hits.reverse()
                    yield lo - 1, hits
                hi = lo
        else:
            lo = 0
            while lo < n:
                hi = min(n, max(lo + 1, bisect_right(off, off[lo] + segment, lo, n + 1) - 1))
                hits = hits_in(lo, hi)
                yield (hi if hi < n else -1), complement_range(hits, lo, hi, reverse) if negate else hits
                lo = hi


class ContainsFilter(_Positive):
    """``|= "text"`` (or ``!=`` with ``negate``): a case-sensitive substring test."""

    __slots__ = ("needle", "negate")

    def __init__(self, needle: str | bytes, negate: bool = False) -> None:
        self.needle = needle.encode() if isinstance(needle, str) else needle
        self.negate = negate

    def _test(self, line: bytes) -> bool:
        return self.needle in line

    def _hits(self, batch: EntryBatch) -> list[int]:
        if not self.needle:
            return list(range(len(batch)))
        return find_lines(self.needle, batch.data, batch.offsets, 0, len(batch))

    def _range_hits(self, batch: EntryBatch) -> RangeHits | None:
        if not self.needle:
            return None
        return partial(find_lines, self.needle, batch.data, batch.offsets)


def _one_segment(flt: LineFilter, batch: EntryBatch, reverse: bool) -> Iterator[tuple[int, Sequence[int]]]:
    kept = list(flt.select(batch))
    if reverse:
        kept.reverse()
    yield -1, kept


def scan(flt: LineFilter, batch: EntryBatch, reverse: bool = False) -> Iterator[tuple[int, Sequence[int]]]:
    """``(next, kept)`` pairs covering the batch in scan order (newest first with ``reverse``):
    ``kept`` are the indices a segment keeps, in scan order; ``next`` is the first index of the
    following segment (-1 after the last). An empty segment tells a lazy consumer how far the
    scan got without results, so it can stop before scanning the rest of the block."""
    own = getattr(flt, "scan", None)
    if own is not None:
        return own(batch, reverse)  # type: ignore[no-any-return]
    return _one_segment(flt, batch, reverse)


def _slices(batch: EntryBatch, start: int = 0) -> Iterator[bytes]:
    """The lines of a batch from ``start`` on, sliced lazily at C speed."""
    off = batch.offsets
    bounds = map(slice, islice(off, start, None), islice(off, start + 1, None))
    return map(batch.data.__getitem__, bounds)


def _each_line(test: Any, batch: EntryBatch, start: int = 0) -> list[int]:
    """Indices from ``start`` on whose line passes ``test`` (a C-level loop over the lines:
    the fastest way when most lines hit, or when a test cannot run over the whole block)."""
    return list(compress(range(start, len(batch)), map(test, _slices(batch, start))))


def _literal_alternatives(pattern: str) -> tuple[list[bytes] | None, bool]:
    """``foo``, ``foo|bar``, ``(?i)foo``: the regex is a set of plain substrings.

    Case folding is only taken over for ASCII literals without ``k``/``s``, whose Unicode
    case-fold classes are ASCII-only (``k`` also folds to the Kelvin sign, ``s`` to the
    long s), so lowering the line's ASCII bytes finds exactly what RE2 finds.
    """
    fold = pattern.startswith("(?i)")
    body = pattern[4:] if fold else pattern
    parts = body.split("|")
    if not all(parts) or any(_REGEX_META.intersection(p) for p in parts):
        return None, False
    if fold:
        if not body.isascii() or any(c in body for c in "kKsS"):
            return None, False
        parts = [p.lower() for p in parts]
    return [p.encode() for p in parts], fold


def _context_free(pattern: str) -> bool:
    """No anchors or word boundaries: a match inside a line is a match in the block too."""
    if "^" in pattern or "$" in pattern:
        return False
    for esc in ("\\b", "\\B", "\\A", "\\z", "\\Z"):
        if esc in pattern:
            return False
    return True


class RegexFilter(_Positive):
    """``|~ "re"`` (or ``!~``): an unanchored RE2 search."""

    __slots__ = ("pattern", "negate", "_rx", "_literals", "_fold", "_block", "_matches_empty")

    def __init__(self, pattern: str, negate: bool = False) -> None:
        self.pattern = pattern
        self.negate = negate
        self._rx: Any = compile_regex(pattern.encode("utf-8", "surrogateescape"))
        self._literals, self._fold = _literal_alternatives(pattern)
        self._block = _context_free(pattern)
        self._matches_empty = self._rx.search(b"") is not None

    def _test(self, line: bytes) -> bool:
        if self._literals is not None:
            if self._fold:
                line = line.lower()
            return any(lit in line for lit in self._literals)
        return self._rx.search(line) is not None

    def _hits(self, batch: EntryBatch) -> list[int]:
        hits_in = self._range_hits(batch)
        assert hits_in is not None
        return hits_in(0, len(batch))

    def _range_hits(self, batch: EntryBatch) -> RangeHits | None:
        data, off = batch.data, batch.offsets
        if self._literals is not None:
            if self._fold:  # ASCII-only lowering keeps every offset where it was
                data = data.lower()
            if len(self._literals) == 1:
                return partial(find_lines, self._literals[0], data, off)
            return partial(find_any, self._literals, data, off)
        if not self._block:
            return partial(each_line_in, self._rx.search, data, off)
        if self._matches_empty:
            return every_line
        return partial(search_lines, self._rx.search, data, off)


class PatternFilter(_Positive):
    """``|> "pattern"`` (or ``!>``): Loki's pattern test, ``<_>`` wildcards only."""

    __slots__ = ("pattern", "negate", "_tester", "_needle")

    def __init__(self, pattern: str, negate: bool = False) -> None:
        self.pattern = pattern
        self.negate = negate
        self._tester = PatternTester.compile(pattern)
        literals = [v for is_cap, v in self._tester.nodes if not is_cap]
        # Every matching line contains each literal: the longest one prefilters the block.
        self._needle = max(literals, key=len) if literals else None

    def _test(self, line: bytes) -> bool:
        return self._tester.test(line)

    def _hits(self, batch: EntryBatch) -> list[int]:
        if not self._needle:
            return _each_line(self._test, batch)
        maybe = ContainsFilter(self._needle)._hits(batch)
        data, off, test = batch.data, batch.offsets, self._test
        return [i for i in maybe if test(data[off[i] : off[i + 1]])]


class IPLineFilter(_Positive):
    """``|= ip("...")`` (or ``!=``): keeps lines holding an address inside the pattern."""

    __slots__ = ("pattern", "negate", "_ip")

    def __init__(self, pattern: str, negate: bool = False) -> None:
        self.pattern = pattern
        self.negate = negate
        self._ip = IPMatcher.compile(pattern)

    def _test(self, line: bytes) -> bool:
        return self._ip.search(line)

    def _hits(self, batch: EntryBatch) -> list[int]:
        # One C pass for address-shaped text picks the few lines worth Loki's token scan.
        shape = self._ip.candidate()
        data, off = batch.data, batch.offsets
        n = len(batch)
        search = self._ip.search
        hits: list[int] = []
        pos = 0
        size = len(data)
        while pos < size:
            m = shape.search(data, pos)
            if m is None:
                break
            i = bisect_right(off, m.start(), 0, n) - 1
            end = off[i + 1]
            if search(data[off[i] : end]):
                hits.append(i)
            pos = end
        return hits


class OrFilter(_Positive):
    """``|= "a" or "b"``: a line matching any alternative. ``negate`` drops those lines instead.

    The alternatives are positive filters; ``!= "a" or "b"`` is ``OrFilter([a, b], negate=True)``.
    """

    __slots__ = ("filters", "negate")

    def __init__(self, filters: Sequence[_Positive], negate: bool = False) -> None:
        self.filters = list(filters)
        self.negate = negate

    def _test(self, line: bytes) -> bool:
        return any(f._test(line) for f in self.filters)

    def _hits(self, batch: EntryBatch) -> list[int]:
        found: set[int] = set()
        for f in self.filters:
            found.update(f._hits(batch))
        return sorted(found)


class AndFilter:
    """Consecutive line filters: a line must pass all of them, applied in order."""

    __slots__ = ("filters",)

    def __init__(self, filters: Sequence[LineFilter]) -> None:
        self.filters = list(filters)

    def matches(self, line: bytes) -> bool:
        return all(f.matches(line) for f in self.filters)

    def select(self, batch: EntryBatch, candidates: list[int] | None = None) -> list[int]:
        for f in self.filters:
            candidates = f.select(batch, candidates)
            if not candidates:
                return []
        return _all(batch, candidates)


def dropped(flt: LineFilter, batch: EntryBatch) -> list[int] | None:
    """For a filter that only drops lines (``!=``, ``!~``, ``!>``, ``or`` chains and runs of
    them): the sorted indices it drops. None when the filter keeps only matching lines.

    Counting queries then count ``all - dropped`` per window: the kept lines, usually nearly
    all of them, are never listed one by one.
    """
    if not len(batch):
        return []
    if isinstance(flt, _Positive):
        return flt._hits(batch) if flt.negate else None
    if isinstance(flt, AndFilter) and all(isinstance(f, _Positive) and f.negate for f in flt.filters):
        found: set[int] = set()
        for f in flt.filters:
            found.update(f._hits(batch))  # type: ignore[attr-defined]
        return sorted(found)
    return None


_OPS = {"|=": (False, "contains"), "!=": (True, "contains"), "|~": (False, "regex"),
        "!~": (True, "regex"), "|>": (False, "pattern"), "!>": (True, "pattern")}  # fmt: skip


def _positive(kind: str, value: str, is_ip: bool) -> _Positive:
    if is_ip:
        if kind != "contains":
            raise InvalidInput("ip: invalid operation")
        return IPLineFilter(value)
    if kind == "contains":
        return ContainsFilter(value)
    if kind == "regex":
        return RegexFilter(value)
    return PatternFilter(value)


def line_filter(op: str, value: str, *, ip: bool = False) -> LineFilter:
    """One filter from an operator (``|=`` ``!=`` ``|~`` ``!~`` ``|>`` ``!>``) and its value."""
    return line_filter_or(op, [(value, ip)])


def line_filter_or(op: str, alternatives: Sequence[tuple[str, bool]]) -> LineFilter:
    """``op "a" or "b" or ip("c")``: ``alternatives`` are (value, is_ip) pairs.

    Every alternative inherits ``op``: a positive op keeps lines matching any of them, a
    negative op drops lines matching any of them.
    """
    try:
        negate, kind = _OPS[op]
    except KeyError:
        raise InvalidInput(f"unknown line filter operator {op!r}") from None
    parts = [_positive(kind, value, is_ip) for value, is_ip in alternatives]
    if len(parts) == 1:
        part = parts[0]
        part.negate = negate
        return part
    return OrFilter(parts, negate)


def chain(filters: Sequence[LineFilter]) -> LineFilter:
    """Several consecutive filters as one."""
    if len(filters) == 1:
        return filters[0]
    return AndFilter(filters)
