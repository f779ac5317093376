"""An in-memory :class:`~lokipy.model.querier.Querier` for engine tests.

Streams are built from pushed entries: sorted by timestamp (ties keep push order) with exact
duplicates (ts, line, metadata) removed, as the store does. Batches are small on purpose so
tests cross batch boundaries.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence

from lokipy.model.entry import EntryBatch, Metadata
from lokipy.model.labels import Labels
from lokipy.model.matchers import LabelMatcher
from lokipy.model.querier import Direction

Entry = tuple[int, bytes, Metadata]


class MemoryQuerier:
    def __init__(self, batch_size: int = 4) -> None:
        self.batch_size = batch_size
        self._streams: dict[tuple[str, Labels], list[Entry]] = {}
        self._sorted: dict[tuple[str, Labels], tuple[list[int], list[Entry]]] = {}

    def push(
        self,
        labels: Labels | Mapping[str, str],
        entries: Iterable[tuple[int, bytes | str] | tuple[int, bytes | str, Mapping[str, str]]],
        tenant: str = "fake",
    ) -> None:
        lbls = labels if isinstance(labels, Labels) else Labels.from_map(labels)
        key = (tenant, lbls)
        dest = self._streams.setdefault(key, [])
        for e in entries:
            ts, line = int(e[0]), e[1]
            raw = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
            md: Metadata = ()
            if len(e) > 2 and e[2]:  # type: ignore[misc]
                md = tuple(sorted(e[2].items()))  # type: ignore[misc]
            dest.append((ts, raw, md))
        self._sorted.pop(key, None)

    def _entries(self, key: tuple[str, Labels]) -> tuple[list[int], list[Entry]]:
        cached = self._sorted.get(key)
        if cached is None:
            seen: set[Entry] = set()
            unique = []
            for e in sorted(self._streams[key], key=lambda e: e[0]):
                if e not in seen:
                    seen.add(e)
                    unique.append(e)
            cached = ([e[0] for e in unique], unique)
            self._sorted[key] = cached
        return cached

    def select_streams(
        self, tenant: str, matchers: Sequence[LabelMatcher], start: int, end: int
    ) -> list[Labels]:
        out = []
        for t, labels in self._streams:
            if t != tenant or not all(m.matches(labels.get(m.name)) for m in matchers):
                continue
            ts, _ = self._entries((t, labels))
            i = bisect_left(ts, start)
            if i < len(ts) and ts[i] < end:
                out.append(labels)
        return sorted(out, key=str)

    def select_batches(
        self,
        tenant: str,
        labels: Labels,
        start: int,
        end: int,
        direction: Direction = Direction.FORWARD,
    ) -> Iterator[EntryBatch]:
        ts, entries = self._entries((tenant, labels))
        lo, hi = bisect_left(ts, start), bisect_left(ts, end)
        chunks = [entries[i : min(i + self.batch_size, hi)] for i in range(lo, hi, self.batch_size)]
        if direction is Direction.BACKWARD:
            chunks.reverse()
        for chunk in chunks:
            yield EntryBatch.from_entries(chunk)
