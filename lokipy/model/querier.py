"""The storage protocol the LogQL engine reads through (Loki's ``Querier``).

The engine never imports the store; ``lokipy.store.Store`` satisfies this structurally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from lokipy.model.entry import EntryBatch
from lokipy.model.labels import Labels
from lokipy.model.matchers import LabelMatcher


class Direction(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """A batch announced by its time bounds before it is read.

    ``min_ts <= ts <= max_ts`` for every entry ``load()`` returns (the batch, already limited to
    the query's range; it may turn out empty). A querier may offer
    ``select_pending(tenant, labels, start, end, direction) -> Iterator[PendingBatch]`` beside
    :meth:`Querier.select_batches` (same order): a reader merging many streams then reads a
    block only when its time range can still contribute to the answer.
    """

    min_ts: int
    max_ts: int
    load: Callable[[], EntryBatch]


class Querier(Protocol):
    def select_streams(
        self, tenant: str, matchers: Sequence[LabelMatcher], start: int, end: int
    ) -> list[Labels]:
        """Streams matching every matcher with data possibly in ``[start, end)``."""
        ...

    def select_batches(
        self,
        tenant: str,
        labels: Labels,
        start: int,
        end: int,
        direction: Direction = Direction.FORWARD,
    ) -> Iterator[EntryBatch]:
        """The stream's entries with ``start <= ts < end``, exact duplicates removed.

        Each batch is in ascending time order; batches come oldest first for FORWARD and
        newest first for BACKWARD, so a backward reader reverses each batch as it goes.
        """
        ...
