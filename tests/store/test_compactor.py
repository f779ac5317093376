from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from lokipy.config import CompactorConfig, Config, IngesterConfig, Limits
from lokipy.model.labels import Labels
from lokipy.store.store import Store
from tests.store.test_store import push, read_all

HOUR = 3600 * 10**9


def make(path: Path, **compactor: object) -> Store:
    cfg = Config(
        data_dir=path,
        limits=Limits(discover_service_name=(), discover_log_levels=False, reject_old_samples=False),
        compactor=CompactorConfig(**compactor),  # type: ignore[arg-type]
    )
    return Store(cfg, start_flusher=False)


def test_small_chunks_of_a_stream_are_merged_and_data_is_unchanged(tmp_path: Path) -> None:
    store = make(tmp_path)
    t = time.time_ns() - HOUR
    expected = []
    for n in range(5):  # five flushes → five small chunks
        entries = [(t + n * 1000 + i, f"flush {n} entry {i}".encode()) for i in range(50)]
        push(store, '{a="1"}', entries)
        expected += entries
        store.flush()
    labels = Labels.parse('{a="1"}')
    assert len(store.chunk_refs("t")[labels]) == 5
    result = store.compact()
    assert (result.chunks_merged, result.chunks_written) == (5, 1)
    assert len(store.chunk_refs("t")[labels]) == 1
    assert read_all(store, '{a="1"}') == expected
    store.close()
    reopened = make(tmp_path)  # the new index segment replaced the old ones on disk
    assert len(reopened.chunk_refs("t")[labels]) == 1
    assert read_all(reopened, '{a="1"}') == expected
    assert len(list(reopened.objects.list("chunks/"))) == 1
    reopened.close()


def test_retention_deletes_expired_chunks_per_tenant(tmp_path: Path) -> None:
    base = make(tmp_path, retention_enabled=True)
    cfg = replace(
        base.config,
        limits=replace(base.config.limits, retention_period=24 * HOUR),
        overrides={"short": replace(base.config.limits, retention_period=2 * HOUR)},
    )
    base.close()
    store = Store(cfg, start_flusher=False)
    now = time.time_ns()
    for tenant in ("long", "short"):
        push(store, '{age="old"}', [(now - 5 * HOUR, b"five hours ago")], tenant=tenant)
        push(store, '{age="new"}', [(now - 10**9, b"just now")], tenant=tenant)
    store.flush()
    result = store.compact()
    assert result.chunks_deleted == 1  # only tenant "short"'s old chunk is past retention
    assert read_all(store, '{age="old"}', tenant="long") == [(now - 5 * HOUR, b"five hours ago")]
    assert read_all(store, '{age="old"}', tenant="short") == []
    assert store.label_values("short", "age", 0, 2**62) == ["new"]
    store.close()


def test_an_interrupted_compaction_leaves_readable_data(tmp_path: Path) -> None:
    store = make(tmp_path)
    t = time.time_ns() - HOUR
    for n in range(3):
        push(store, '{a="1"}', [(t + n, f"e{n}".encode())])
        store.flush()
    old_segments = list(store.objects.list("index/"))
    old_chunks = {k: store.objects.get(k) for k in store.objects.list("chunks/")}
    old_index = {k: store.objects.get(k) for k in old_segments}
    store.compact()
    store.close()
    # Crash before the old segments and chunks were deleted: put them back.
    for key, data in {**old_chunks, **old_index}.items():
        store.objects.put(key, data)
    reopened = make(tmp_path)
    assert read_all(reopened, '{a="1"}') == [(t + n, f"e{n}".encode()) for n in range(3)]
    reopened.close()


def test_a_corrupt_chunk_is_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    cfg = Config(
        data_dir=tmp_path,
        limits=Limits(discover_service_name=(), discover_log_levels=False),
        ingester=IngesterConfig(),
    )
    store = Store(cfg, start_flusher=False)
    t = time.time_ns()
    push(store, '{a="1"}', [(t, b"will be damaged")])
    push(store, '{a="2"}', [(t, b"stays fine")])
    store.flush()
    store.close()
    key = next(k for k in store.objects.list("chunks/") if k.split("/")[2] != "")
    path = tmp_path / "store" / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    reopened = Store(cfg, start_flusher=False)
    survivors = [line for ls in ('{a="1"}', '{a="2"}') for _, line in read_all(reopened, ls)]
    assert len(survivors) == 1
    assert reopened.stats.corrupt_blocks == 1
    reopened.close()


def test_chunk_files_no_index_names_are_swept_but_fresh_ones_kept(tmp_path: Path) -> None:
    store = make(tmp_path)
    t = time.time_ns() - HOUR
    push(store, '{a="1"}', [(t, b"kept")])
    store.flush()
    # a chunk written by a flush that crashed before its index segment
    store.objects.put("chunks/t/00000000000000aa/orphan", b"left behind")
    # a chunk a concurrent flush is writing right now
    store._inflight_chunks.add("chunks/t/00000000000000bb/inflight")
    store.objects.put("chunks/t/00000000000000bb/inflight", b"being indexed")
    result = store.compact()
    assert result.orphans_deleted == 1
    keys = list(store.objects.list("chunks/"))
    assert "chunks/t/00000000000000aa/orphan" not in keys
    assert "chunks/t/00000000000000bb/inflight" in keys
    assert read_all(store, '{a="1"}') == [(t, b"kept")]
    store.close()


def test_a_merge_that_reproduces_one_of_its_chunks_keeps_that_file(tmp_path: Path) -> None:
    # A client retries a push whose reply it lost, after the first copy was already flushed and
    # merged: merging the retry's chunk into the merged one yields the merged chunk again, byte
    # for byte, under the same content-derived key. Deleting the "old" chunks must not delete it.
    store = make(tmp_path)
    t = time.time_ns() - HOUR
    first = [(t + i, f"first {i}".encode()) for i in range(3)]
    second = [(t + 10 + i, f"second {i}".encode()) for i in range(3)]
    push(store, '{a="1"}', first)
    store.flush()
    push(store, '{a="1"}', second)
    store.flush()
    assert store.compact().chunks_written == 1
    push(store, '{a="1"}', first)  # the retry: exact duplicates of flushed entries
    store.flush()
    result = store.compact()
    assert (result.chunks_merged, result.chunks_written) == (2, 1)
    assert read_all(store, '{a="1"}') == first + second
    (ref,) = store.chunk_refs("t")[Labels.parse('{a="1"}')]
    assert store.objects.size(ref.key) == ref.size
    store.close()
    reopened = make(tmp_path)
    assert read_all(reopened, '{a="1"}') == first + second
    reopened.close()
