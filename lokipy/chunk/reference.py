"""ListChunk: a deliberately naive chunk kept as a Python list, the oracle for the real one.

Loki tests its compressed chunk against ``dumb_chunk.go``; this is ours. It has the reading
surface of :class:`~lokipy.chunk.chunk.ChunkReader` (count, time bounds, raw size, entries as an
:class:`EntryBatch`) with none of the encoding, so a round trip through the real format can be
compared with ``==`` on plain lists. Nothing here is fast, and nothing should be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lokipy.model.entry import NO_METADATA, EntryBatch, Metadata

__all__ = ["ListChunk"]


@dataclass(slots=True)
class ListChunk:
    """Entries of one stream in time order (ties kept in insertion order)."""

    labels: bytes = b""
    entries: list[tuple[int, bytes, Metadata]] = field(default_factory=list)

    def append(self, ts: int, line: bytes, metadata: Metadata = NO_METADATA) -> None:
        if self.entries and ts < self.entries[-1][0]:
            raise ValueError("entries must be appended in time order")
        self.entries.append((ts, bytes(line), tuple(metadata)))

    def extend(
        self,
        timestamps: Sequence[int],
        lines: Sequence[bytes],
        metadata: Sequence[Metadata] | None = None,
    ) -> None:
        for i, ts in enumerate(timestamps):
            self.append(ts, lines[i], NO_METADATA if metadata is None else metadata[i])

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def min_ts(self) -> int:
        return self.entries[0][0]

    @property
    def max_ts(self) -> int:
        return self.entries[-1][0]

    @property
    def raw_bytes(self) -> int:
        return sum(len(line) for _, line, _ in self.entries)

    def timestamps(self) -> list[int]:
        return [ts for ts, _, _ in self.entries]

    def lines(self) -> list[bytes]:
        return [line for _, line, _ in self.entries]

    def metadata(self) -> list[Metadata] | None:
        """Per-entry metadata, or None when no entry has any (as :class:`EntryBatch` has it)."""
        if not any(md for _, _, md in self.entries):
            return None
        return [md for _, _, md in self.entries]

    def batch(self) -> EntryBatch:
        return EntryBatch.from_entries(self.entries)
