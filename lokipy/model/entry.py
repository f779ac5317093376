"""Entries on the way in (push) and on the way out (query), kept columnar.

Python pays per object, so a push carries per-stream lists rather than one object per entry,
and a query reads whole blocks: concatenated line bytes plus offset and timestamp columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple, overload

from lokipy.model.labels import Labels

Metadata = tuple[tuple[str, str], ...]
"""Structured metadata of one entry: (name, value) pairs sorted by name."""

NO_METADATA: Metadata = ()


class ColumnStats(NamedTuple):
    """What a decoder learnt in passing about one stream's columns, so that validation and the
    head need not walk them again."""

    oldest: int
    newest: int
    increasing: bool  # strictly, in the order sent
    longest: int  # bytes of the longest line


class JoinedLines(Sequence[bytes]):
    """A stream's lines kept as one buffer plus their lengths, as the C push decoders hand
    them over; single lines are cut out only when something asks for them.

    The push path wants exactly this form (the WAL record, the head and the block encoder
    take ``text`` and ``lengths``), so a push decoded this way never makes one ``bytes``
    object per line.
    """

    __slots__ = ("text", "lengths", "_starts")

    def __init__(self, text: bytes, lengths: list[int]) -> None:
        self.text = text
        self.lengths = lengths
        self._starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self.lengths)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("line index out of range")
        if self._starts is None:
            self._starts = [0, *accumulate(self.lengths)]
        return self.text[self._starts[i] : self._starts[i + 1]]

    def __iter__(self) -> Iterator[bytes]:
        text = self.text
        pos = 0
        for n in self.lengths:
            yield text[pos : pos + n]
            pos += n

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JoinedLines):
            return self.text == other.text and self.lengths == other.lengths
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list, which is unhashable

    def __repr__(self) -> str:
        return f"JoinedLines({list(self)!r})"


@dataclass(slots=True)
class PushStream:
    """One stream of a push request, as decoded, before validation.

    ``labels`` is the label text as sent (protobuf, legacy JSON) or an already-built
    :class:`Labels` (v1 JSON maps). ``lines`` is a list, or :class:`JoinedLines` from the C
    decoders, which also fill in ``stats``. ``metadata`` is None when no entry has any.
    """

    labels: str | Labels
    timestamps: list[int] = field(default_factory=list)
    lines: list[bytes] | JoinedLines = field(default_factory=list)
    metadata: list[Metadata] | None = None
    stats: ColumnStats | None = field(default=None, compare=False)  # derived from the columns

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
