from __future__ import annotations

import struct
import time
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from lokipy.config import Config, IngesterConfig, Limits
from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.labels import Labels
from lokipy.model.matchers import LabelMatcher, MatchType
from lokipy.model.querier import Direction
from lokipy.store.distributor import ValidStream
from lokipy.store.store import Store
from lokipy.store.wal import RecordType, encode_entries

PLAIN = Limits(discover_service_name=(), discover_log_levels=False)


def config(path: Path | None, **ingester: int) -> Config:
    return Config(data_dir=path, limits=PLAIN, ingester=IngesterConfig(**ingester))


def push(store: Store, labels: str, entries: list[tuple[int, bytes]], tenant: str = "t"):  # type: ignore[no-untyped-def]
    req = PushRequest([PushStream(labels, [e[0] for e in entries], [e[1] for e in entries])])
    return store.push(req, tenant)


def read_all(
    store: Store, labels: str, tenant: str = "t", direction: Direction = Direction.FORWARD
) -> list[tuple[int, bytes]]:
    out = []
    for batch in store.select_batches(tenant, Labels.parse(labels), 0, 2**62, direction):
        pairs = list(zip(batch.timestamps, batch.lines(), strict=True))
        out.extend(pairs if direction is Direction.FORWARD else reversed(pairs))
    return out


def now() -> int:
    return time.time_ns()


def test_out_of_order_within_the_window_is_accepted_and_read_back_sorted(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{a="1"}', [(t, b"c"), (t - 2 * 10**9, b"a"), (t - 10**9, b"b")])
    assert [line for _, line in read_all(store, '{a="1"}')] == [b"a", b"b", b"c"]
    assert [line for _, line in read_all(store, '{a="1"}', direction=Direction.BACKWARD)] == [
        b"c",
        b"b",
        b"a",
    ]
    store.close()


def test_entry_too_far_behind_is_rejected_with_lokis_message(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{a="1"}', [(t, b"new")])
    result = push(store, '{a="1"}', [(t - 2 * 3600 * 10**9, b"old")])
    assert result.accepted == 0
    assert result.errors[0].startswith("entry too far behind, entry timestamp is: ")
    store.close()


def test_exact_duplicates_are_stored_once_but_same_ts_other_line_is_kept(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{a="1"}', [(t, b"x"), (t, b"y")])
    r = push(store, '{a="1"}', [(t, b"x"), (t, b"y"), (t, b"z")])
    assert (r.accepted, r.duplicates, r.errors) == (1, 2, [])
    assert read_all(store, '{a="1"}') == [(t, b"x"), (t, b"y"), (t, b"z")]
    store.close()


def test_blocks_and_chunks_are_cut_and_read_across_boundaries(tmp_path: Path) -> None:
    store = Store(config(tmp_path, chunk_block_size=2000, chunk_target_size=3000), start_flusher=False)
    t = now() - 10**12
    entries = [(t + i * 1000, f"line {i} ".encode() * 10) for i in range(2000)]
    for i in range(0, 2000, 100):
        push(store, '{a="1"}', entries[i : i + 100])
    store.flush()
    info = store._tenants["t"].streams[Labels.parse('{a="1"}')]
    assert len(info.chunks) >= 2
    assert read_all(store, '{a="1"}') == entries
    sliced = []
    for batch in store.select_batches("t", Labels.parse('{a="1"}'), t + 500_000, t + 700_000):
        sliced.extend(batch.timestamps)
    assert sliced == [ts for ts, _ in entries if t + 500_000 <= ts < t + 700_000]
    store.close()


def test_data_survives_a_clean_restart_through_chunks_and_index(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{a="1", b="x"}', [(t, b"one"), (t + 1, b"two")])
    store.close()
    assert not any((tmp_path / "wal").iterdir()) or all(
        p.stat().st_size == 0 for p in (tmp_path / "wal").iterdir()
    )
    reopened = Store(config(tmp_path), start_flusher=False)
    assert read_all(reopened, '{a="1", b="x"}') == [(t, b"one"), (t + 1, b"two")]
    reopened.close()


def test_wal_replay_restores_unflushed_entries_without_duplicating_flushed_ones(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{a="1"}', [(t, b"flushed")])
    store.flush()  # a chunk on disk + a FLUSHED marker in the WAL
    push(store, '{a="1"}', [(t + 1, b"only in wal")])
    push(store, '{b="2"}', [(t, b"other stream")])
    # Simulate a crash: drop the object without closing (no shutdown flush).
    store._stop.set()
    assert store.wal is not None
    store.wal._file.close()
    reopened = Store(config(tmp_path), start_flusher=False)
    assert read_all(reopened, '{a="1"}') == [(t, b"flushed"), (t + 1, b"only in wal")]
    assert read_all(reopened, '{b="2"}') == [(t, b"other stream")]
    reopened.close()


def test_wal_records_written_with_crc32_by_earlier_versions_still_replay(tmp_path: Path) -> None:
    # Records are written with an xxh3 checksum now (type byte flag 0x80); a segment left by a
    # version that wrote CRC-32 must replay, and damage to it must still be detected.
    t = now()
    payload = encode_entries("t", [ValidStream.from_lines(Labels.parse('{a="1"}'), [t], [b"old"], None)])
    rtype = int(RecordType.ENTRIES)
    crc = zlib.crc32(bytes([rtype]) + payload)
    record = struct.pack("<IIB", len(payload), crc, rtype) + payload
    wal_dir = tmp_path / "wal"
    wal_dir.mkdir(parents=True)
    (wal_dir / "00000001").write_bytes(record + record[:-1] + b"X")  # intact, then damaged
    store = Store(config(tmp_path), start_flusher=False)
    assert read_all(store, '{a="1"}') == [(t, b"old")]
    assert store.stats.corrupt_files == 1
    push(store, '{a="1"}', [(t + 1, b"new")])
    store._stop.set()
    assert store.wal is not None
    store.wal._file.close()  # crash: the new record (xxh3) must replay too
    reopened = Store(config(tmp_path), start_flusher=False)
    assert read_all(reopened, '{a="1"}') == [(t, b"old"), (t + 1, b"new")]
    reopened.close()


def test_wal_segments_are_deleted_once_flushed(tmp_path: Path) -> None:
    cfg = replace(config(tmp_path), wal=replace(Config().wal, segment_size=1000))
    store = Store(cfg, start_flusher=False)
    t = now()
    for i in range(50):
        push(store, '{a="1"}', [(t + i, b"x" * 200)])
    assert store.wal is not None
    assert len(store.wal.segments()) > 5
    store.flush()
    assert len(store.wal.segments()) <= 2
    store.close()


def test_matchers_select_streams_and_a_hash_collision_keeps_streams_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lokipy.store.store as store_mod

    monkeypatch.setattr(store_mod, "stream_id", lambda labels: 42)  # every stream collides
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{job="api", env="prod"}', [(t, b"p")])
    push(store, '{job="api", env="dev"}', [(t, b"d")])
    push(store, '{job="web"}', [(t, b"w")])
    store.flush()

    def sel(*ms: LabelMatcher) -> list[str]:
        return [str(ls) for ls in store.select_streams("t", ms, 0, 2**62)]

    assert sel(LabelMatcher("job", MatchType.EQ, "api")) == [
        '{env="dev", job="api"}',
        '{env="prod", job="api"}',
    ]
    assert sel(LabelMatcher("job", MatchType.RE, "api|web"), LabelMatcher("env", MatchType.NEQ, "dev")) == [
        '{env="prod", job="api"}',
        '{job="web"}',
    ]
    assert sel(LabelMatcher("env", MatchType.RE, ".+")) == [
        '{env="dev", job="api"}',
        '{env="prod", job="api"}',
    ]
    assert read_all(store, '{env="dev", job="api"}') == [(t, b"d")]
    assert read_all(store, '{env="prod", job="api"}') == [(t, b"p")]
    store.close()


def test_labels_values_series_and_time_pruning(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{job="api", env="prod"}', [(t, b"p")])
    push(store, '{job="web"}', [(t - 3600 * 10**9 + 10**9, b"w")])
    store.flush()
    assert store.label_names("t", t - 10, t + 10) == ["env", "job"]
    assert store.label_names("t", 0, 2**62) == ["env", "job"]
    assert store.label_values("t", "job", 0, 2**62) == ["api", "web"]
    assert store.label_values("t", "job", t - 10, t + 10) == ["api"]
    assert [str(s) for s in store.series("t", [], 0, 2**62)] == ['{env="prod", job="api"}', '{job="web"}']
    assert store.label_names("other-tenant", 0, 2**62) == []
    store.close()


def test_in_memory_mode_writes_nothing_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store(config(None), start_flusher=False)
    push(store, '{a="1"}', [(now(), b"x")])
    store.flush()
    assert read_all(store, '{a="1"}')[0][1] == b"x"
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_timestamps_only_reads_match_full_reads_without_line_bytes(tmp_path: Path) -> None:
    store = Store(config(tmp_path, chunk_block_size=500, chunk_target_size=800), start_flusher=False)
    t = now() - 10**12
    req = PushRequest(
        [
            PushStream(
                '{a="1"}',
                [t + i for i in range(300)],
                [f"l{i}".encode() * 5 for i in range(300)],
                [(("k", str(i % 3)),) for i in range(300)],
            )
        ]  # fmt: skip
    )
    store.push(req, "t")
    store.flush()
    push(store, '{a="1"}', [(t + 150, b"out of order, overlaps a flushed chunk"), (t + 1000, b"in the head")])
    labels = Labels.parse('{a="1"}')
    for direction in Direction:
        full = list(store.select_batches("t", labels, t + 10, t + 2000, direction))
        cols = list(store.select_timestamps("t", labels, t + 10, t + 2000, direction))
        assert [list(b.timestamps) for b in cols] == [list(b.timestamps) for b in full]
        assert [list(b.metadata or []) for b in cols] == [list(b.metadata or []) for b in full]
        assert all(b.data == b"" for b in cols)
    store.close()


def test_a_push_whose_entries_are_all_dropped_does_not_pin_the_wal(tmp_path: Path) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    t = now()
    push(store, '{a="1"}', [(t, b"x")])
    store.flush()
    head = store._tenants["t"].streams[Labels.parse('{a="1"}')].head
    assert head is not None and head.pin is None
    result = push(store, '{a="1"}', [(t, b"x")])  # an exact duplicate: dropped silently
    assert (result.accepted, result.duplicates) == (0, 1)
    assert head.pin is None
    assert store._oldest_pin() is None  # so every older WAL segment may go
    store.close()


def test_active_stream_count_follows_heads_created_and_dropped_when_idle(tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    cfg = dc_replace(
        config(tmp_path, chunk_idle_period=1), limits=dc_replace(PLAIN, max_global_streams_per_user=1)
    )
    store = Store(cfg, start_flusher=False)
    t = now()
    assert push(store, '{a="1"}', [(t, b"x")]).accepted == 1
    refused = push(store, '{a="2"}', [(t, b"y")])
    assert refused.rate_limited and store.memory_streams() == 1
    time.sleep(0.01)
    store.flush(reason=None)  # idle: flushed, then the next pass forgets the empty head
    store.flush(reason=None)
    assert store.memory_streams() == 0
    assert push(store, '{a="2"}', [(t, b"y")]).accepted == 1  # a slot is free again
    store.close()
