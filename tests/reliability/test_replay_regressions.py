"""Store bugs the crash loop found, each pinned down in-process (fast and deterministic)."""

from __future__ import annotations

import time
from pathlib import Path

from lokipy.store.store import Store
from tests.store.test_store import config, push, read_all


def crash(store: Store) -> None:
    """Abandon a store as SIGKILL would: no flush, no close (its WAL writes are already in the OS)."""
    store._stop.set()


def test_a_chunk_closed_during_replay_does_not_hide_later_replayed_entries(tmp_path: Path) -> None:
    # Tiny blocks and chunks: replaying the WAL fills a head past its target size, so a chunk is
    # closed mid-replay while later records of the same stream still go to a fresh head.
    cfg = config(tmp_path, chunk_block_size=256, chunk_target_size=512)
    t = time.time_ns()
    expected = []
    first = Store(cfg, start_flusher=False)
    for n in range(60):
        entries = [(t + n * 10 + i, f"push {n} entry {i} {'z' * (n * 7 % 31)}".encode()) for i in range(3)]
        push(first, '{a="1"}', entries)
        expected.extend(entries)
    crash(first)  # heads and pending chunks lost; everything is in the WAL

    second = Store(cfg, start_flusher=False)
    assert second.flush(reason=None) > 0  # writes the chunks closed during replay, FLUSHED markers
    assert read_all(second, '{a="1"}') == expected
    crash(second)  # the head after the last replay-time close is not flushed

    third = Store(cfg, start_flusher=False)
    assert read_all(third, '{a="1"}') == expected
    third.close()
