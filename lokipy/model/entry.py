"""Entries on the way in (push) and on the way out (query), kept columnar.

Python pays per object, so a push carries per-stream lists rather than one object per entry,
and a query reads whole blocks: concatenated line bytes plus offset and timestamp columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lokipy.model.labels import Labels

Metadata = tuple[tuple[str, str], ...]
"""Structured metadata of one entry: (name, value) pairs sorted by name."""

NO_METADATA: Metadata = ()


@dataclass(slots=True)
class PushStream:
    """One stream of a push request, as decoded, before validation.

    ``labels`` is the label text as sent (protobuf, legacy JSON) or an already-built
    :class:`Labels` (v1 JSON maps). ``metadata`` is None when no entry has any.
    """

    labels: str | Labels
    timestamps: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    metadata: list[Metadata] | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    def metadata_at(self, i: int) -> Metadata:
        return NO_METADATA if self.metadata is None else self.metadata[i]


@dataclass(slots=True)
class PushRequest:
    streams: list[PushStream] = field(default_factory=list)

    def entry_count(self) -> int:
        return sum(len(s) for s in self.streams)


@dataclass(slots=True)
class EntryBatch:
    """Entries of one stream in ascending time order (ties in insertion order).

    ``data`` holds the lines back to back; line ``i`` is ``data[offsets[i]:offsets[i+1]]``, so a
    line filter can scan ``data`` once and map hit positions back to entries by bisecting
    ``offsets``. ``metadata`` is None when no entry in the batch has any.
    """

    timestamps: Sequence[int]
    data: bytes
    offsets: Sequence[int]
    metadata: Sequence[Metadata] | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    def line(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def lines(self) -> list[bytes]:
        data, off = self.data, self.offsets
        return [data[off[i] : off[i + 1]] for i in range(len(self.timestamps))]

    def metadata_at(self, i: int) -> Metadata:
        return NO_METADATA if self.metadata is None else self.metadata[i]

    @classmethod
    def from_entries(cls, entries: Sequence[tuple[int, bytes, Metadata]]) -> EntryBatch:
        """Build from (ts, line, metadata) triples already in time order (tests, heads)."""
        offsets = [0]
        pos = 0
        for _, line, _ in entries:
            pos += len(line)
            offsets.append(pos)
        has_md = any(md for _, _, md in entries)
        return cls(
            timestamps=[e[0] for e in entries],
            data=b"".join(e[1] for e in entries),
            offsets=offsets,
            metadata=[e[2] for e in entries] if has_md else None,
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry, for APIs that hand out single entries (embedded API, tail)."""

    ts: int
    line: bytes
    metadata: Metadata = NO_METADATA


@dataclass(frozen=True, slots=True)
class StreamEntries:
    """A stream's labels with the entries selected from it."""

    labels: Labels
    entries: tuple[Entry, ...]
