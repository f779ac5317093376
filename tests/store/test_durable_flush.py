"""A flush makes its chunk files durable as one batch, and only then indexes them.

The contract (``lokipy/store/objstore.py``): no key names bytes that are not durable yet, and
``put_many`` returns only when every object of the batch is durable. A recording syncer sees
the filesystem at each sync step; a recording object store sees the order of a whole flush.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

import lokipy.store.durable as durable
from lokipy.config import Config
from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.errors import StorageUnavailable
from lokipy.store.durable import FsyncBatch, SyncfsBatch, make_syncer, syncfs_available
from lokipy.store.objstore import LocalObjectStore, MemoryObjectStore
from lokipy.store.store import Store
from lokipy.store.wal import RecordType

NOW = time.time_ns()
PLAIN = {"reject_old_samples": False, "discover_service_name": (), "discover_log_levels": False}


class Recorder:
    """A syncer that records what it was asked to sync and what the disk looked like then."""

    def __init__(self, root: Path, fail_at: str | None = None) -> None:
        self.root = root
        self.fail_at = fail_at
        self.events: list[tuple[str, list[str]]] = []
        self.written = 0
        self.visible_at_files: set[str] = set()
        self.temp_at_files: dict[str, bytes] = {}

    def __call__(self, root: Path, count: int) -> Recorder:
        assert root == self.root
        return self

    def wrote(self, fd: int) -> None:
        self.written += 1
        os.close(fd)

    def files(self, kept: Iterable[str]) -> None:
        self.events.append(("files", list(kept)))
        for dirpath, _, files in os.walk(self.root):
            for f in files:
                path = os.path.join(dirpath, f)
                if f.startswith("."):
                    self.temp_at_files[path] = Path(path).read_bytes()
                else:
                    self.visible_at_files.add(os.path.relpath(path, self.root))
        if self.fail_at == "files":
            raise OSError(5, "Input/output error")

    def names(self, dirs: Iterable[str]) -> None:
        self.events.append(("names", list(dirs)))
        if self.fail_at == "names":
            raise OSError(5, "Input/output error")

    def close(self) -> None:
        self.events.append(("close", []))


def items(n: int) -> list[tuple[str, bytes]]:
    return [(f"chunks/t/{i % 3:016x}/c{i}", f"chunk {i} ".encode() * (i + 1)) for i in range(n)]


def test_put_many_syncs_every_temp_file_before_any_key_appears(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    store = LocalObjectStore(tmp_path, sync=rec, batch_min=1)
    batch = items(7)
    store.put_many(batch, create_only=True)
    (step1, kept), (step2, dirs), (step3, _) = rec.events
    assert (step1, step2, step3) == ("files", "names", "close")
    assert (rec.written, kept) == (7, [])
    # At the data sync, every object exists only as a complete temp file under a hidden name.
    assert not any(v.startswith("chunks/") for v in rec.visible_at_files)
    assert sorted(rec.temp_at_files.values()) == sorted(v for _, v in batch)
    # The names are synced in every directory that got a new entry, including new directories'
    # parents (a directory made by this batch is itself a new name in its parent).
    assert set(dirs) == {
        str(tmp_path),
        str(tmp_path / "chunks"),
        str(tmp_path / "chunks" / "t"),
        *(str(tmp_path / "chunks" / "t" / f"{i:016x}") for i in range(3)),
    }
    assert sorted(store.list("chunks/")) == sorted(k for k, _ in batch)
    assert all(store.get(k) == v for k, v in batch)
    assert not [p for p in tmp_path.rglob(".*")], "temp files left behind"


def test_existing_keys_are_synced_again_not_rewritten_and_repeats_are_written_once(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    store = LocalObjectStore(tmp_path, sync=rec, batch_min=1)
    store.put("chunks/t/a/x", b"first")
    rec.events.clear()
    rec.written = 0
    # A retried flush after a crash may find its content-named chunk already renamed into place
    # without knowing whether that rename was synced: it is synced again before being trusted.
    store.put_many(
        [("chunks/t/a/x", b"second"), ("chunks/t/a/y", b"y"), ("chunks/t/a/y", b"y")], create_only=True
    )
    assert rec.events[0] == ("files", [str(tmp_path / "chunks/t/a/x")])
    assert rec.written == 1  # one temp file, for y
    assert store.get("chunks/t/a/x") == b"first"
    assert store.get("chunks/t/a/y") == b"y"
    assert rec.events[1] == ("names", [str(tmp_path / "chunks/t/a")])


@pytest.mark.parametrize("fail_at", ["files", "names"])
def test_a_failed_sync_leaves_no_key_and_no_temp_file(tmp_path: Path, fail_at: str) -> None:
    rec = Recorder(tmp_path, fail_at=fail_at)
    store = LocalObjectStore(tmp_path, sync=rec, batch_min=1)
    with pytest.raises(StorageUnavailable, match="cannot write 7 objects under"):
        store.put_many(items(7), create_only=True)
    assert list(store.list("chunks/")) == []
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert rec.events[-1] == ("close", [])


@pytest.mark.parametrize(
    "mode",
    [
        "fsync",
        pytest.param(
            "syncfs", marks=pytest.mark.skipif(not syncfs_available(), reason="syncfs(2) needs Linux >= 5.8")
        ),
    ],
)
def test_both_real_sync_modes_store_the_same_objects(tmp_path: Path, mode: str) -> None:
    store = LocalObjectStore(tmp_path, sync=mode, batch_min=2)  # type: ignore[arg-type]
    batch = items(40)
    store.put_many(batch, create_only=True)
    store.put("index/t/one", b"segment")
    assert sorted(store.list("")) == sorted([k for k, _ in batch] + ["index/t/one"])
    assert all(store.get(k) == v for k, v in batch)


def test_auto_mode_is_the_fsync_pool_and_syncfs_is_chosen_explicitly() -> None:
    assert make_syncer("auto") is FsyncBatch
    assert make_syncer("fsync") is FsyncBatch
    if syncfs_available():
        assert make_syncer("syncfs") is SyncfsBatch
    else:
        with pytest.raises(ValueError, match="syncfs"):
            make_syncer("syncfs")


@pytest.mark.skipif(not syncfs_available(), reason="syncfs(2) needs Linux >= 5.8")
def test_a_syncfs_error_fails_the_whole_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_syncfs(fd: int) -> int:
        ctypes.set_errno(5)  # what the kernel reports after a writeback error on the filesystem
        return -1

    monkeypatch.setattr(durable, "_SYNCFS", failing_syncfs)
    store = LocalObjectStore(tmp_path, sync="syncfs", batch_min=2)
    with pytest.raises(StorageUnavailable, match="Input/output error"):
        store.put_many(items(5), create_only=True)
    assert list(store.list("")) == []


def test_memory_store_put_many_keeps_create_only() -> None:
    store = MemoryObjectStore()
    store.put("k", b"old")
    store.put_many([("k", b"new"), ("j", b"j")], create_only=True)
    assert (store.get("k"), store.get("j")) == (b"old", b"j")


# --- the order of a whole flush -------------------------------------------------------------


class OrderedObjects(MemoryObjectStore):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        super().put(key, data, create_only=create_only)
        self.log.append(f"put {key.split('/')[0]}")

    def put_many(self, items: list[tuple[str, bytes]], *, create_only: bool = False) -> None:  # type: ignore[override]
        for key, data in items:
            MemoryObjectStore.put(self, key, data, create_only=create_only)
        self.log.append(f"put_many {len(items)}")


def test_a_flush_indexes_and_marks_the_wal_only_after_every_chunk_batch_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lokipy.store.store as store_mod

    monkeypatch.setattr(store_mod, "_FLUSH_BATCH_BYTES", 1)  # one batch per chunk: several batches
    store = Store(Config(data_dir=tmp_path).with_limits(**PLAIN), start_flusher=False)
    log: list[str] = []
    store.objects = OrderedObjects(log)
    assert store.wal is not None
    wal = store.wal
    real_append, real_delete = wal.append, wal.delete_before

    def append(rtype: RecordType, payload: bytes) -> tuple[int, int]:
        if rtype is RecordType.FLUSHED:
            log.append("wal FLUSHED")
        return real_append(rtype, payload)

    def delete_before(segment: int, *, include_open: bool = False) -> int:
        log.append("wal delete")
        return real_delete(segment, include_open=include_open)

    monkeypatch.setattr(wal, "append", append)
    monkeypatch.setattr(wal, "delete_before", delete_before)
    streams = [PushStream(f'{{job="j{i}"}}', [NOW + i], [b"line"]) for i in range(4)]
    store.push(PushRequest(streams), "t")
    assert store.flush() == 4
    assert log == ["put_many 1"] * 4 + ["put index"] + ["wal FLUSHED"] * 4 + ["wal delete"]
    store.close()


def test_the_flush_uses_one_batch_for_many_small_chunks(tmp_path: Path) -> None:
    store = Store(Config(data_dir=tmp_path).with_limits(**PLAIN), start_flusher=False)
    log: list[str] = []
    store.objects = OrderedObjects(log)
    streams = [PushStream(f'{{job="j{i}"}}', [NOW + i], [b"line"]) for i in range(50)]
    store.push(PushRequest(streams), "t")
    assert store.flush() == 50
    assert log == ["put_many 50", "put index"]
    store.close()


def test_a_flush_that_starts_while_another_runs_does_not_write_its_chunks_again(tmp_path: Path) -> None:
    # The flusher thread checks every second; a forced flush of 20 000 streams takes longer.
    store = Store(Config(data_dir=tmp_path).with_limits(**PLAIN), start_flusher=False)
    entered, release = threading.Event(), threading.Event()
    written: list[str] = []

    class Slow(MemoryObjectStore):
        def put_many(self, items: Sequence[tuple[str, bytes]], *, create_only: bool = False) -> None:
            written.extend(k for k, _ in items)
            entered.set()
            release.wait(10)
            super().put_many(items, create_only=create_only)

    store.objects = Slow()
    streams = [PushStream(f'{{job="j{i}"}}', [NOW + i], [b"line"]) for i in range(20)]
    store.push(PushRequest(streams), "t")
    counts: list[int] = []
    first = threading.Thread(target=lambda: counts.append(store.flush()))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=lambda: counts.append(store.flush(reason=None)))
    second.start()
    second.join(0.3)
    assert second.is_alive(), "the second flush did not wait for the first"
    release.set()
    first.join(10)
    second.join(10)
    assert sorted(counts) == [0, 20]
    assert len(written) == len(set(written)) == 20
    store.close()


def test_a_failed_fsync_in_the_pool_fails_the_batch_and_leaks_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "fsync", fsync)
    store = LocalObjectStore(tmp_path, sync="fsync", batch_min=2)
    open_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    with pytest.raises(StorageUnavailable, match="Input/output error"):
        store.put_many(items(300), create_only=True)
    assert list(store.list("")) == []
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    if open_before is not None:
        assert len(os.listdir("/proc/self/fd")) == open_before
