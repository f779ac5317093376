"""SIGKILL at every step of a batched flush loses and duplicates nothing.

A flush writes its chunk files as batches (temp files → one sync → renames → one sync of the
directories), then the index segment, then one WAL FLUSHED record per chunk, then deletes WAL
segments. A child process pushes, acknowledges, and kills itself with SIGKILL at one chosen
step; the test then reopens the data folder, checks every acknowledged entry is there exactly
once, flushes and compacts (the retried flush meets chunk files already in place; the orphan
sweep deletes the unindexed ones) and checks again. The random crash loop
(``test_crash_loop.py``) covers the same windows by chance; this covers each of them every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lokipy.config import Config, IngesterConfig, Limits, WALConfig
from lokipy.model.labels import Labels
from lokipy.store.store import Store

REPO = Path(__file__).resolve().parents[2]
STREAMS = 30

CHILD = r"""
import json, os, signal, sys, time
from pathlib import Path
import lokipy.store.durable as durable
import lokipy.store.store as store_mod
from lokipy.config import Config, IngesterConfig, Limits, WALConfig
from lokipy.model.entry import PushRequest, PushStream
from lokipy.store.wal import WAL, RecordType

data, point, count, round_no, streams = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sync = sys.argv[6]
store_mod._FLUSH_BATCH_BYTES = 2048  # several chunk batches per flush
cfg = Config(
    data_dir=Path(data),
    limits=Limits(discover_service_name=(), discover_log_levels=False),
    ingester=IngesterConfig(chunk_block_size=512, chunk_target_size=1024),
    wal=WALConfig(segment_size=4096),
)
store = store_mod.Store(cfg, start_flusher=False)
if sync == "syncfs" and durable.syncfs_available():
    store.objects._batch_syncer = durable.make_syncer("syncfs")
store.objects._batch_min = 2  # chunk batches take the batch path, the index the single-file one
base = time.time_ns() - 10**9
for n in range(4):
    req = PushRequest([
        PushStream(f'{{job="crash", s="{s}"}}', [base + round_no * 10**6 + n * 1000 + s], [f"r{round_no} n{n} s{s}".encode() * (1 + s % 5)])
        for s in range(streams)
    ])
    result = store.push(req, "t")
    assert not result.errors, result.errors
    print(json.dumps([[f"{s}", base + round_no * 10**6 + n * 1000 + s, f"r{round_no} n{n} s{s}" * (1 + s % 5)] for s in range(streams)]), flush=True)

calls = {"n": 0}
def die_at(name):
    if name == point:
        calls["n"] += 1
        if calls["n"] > count:
            os.kill(os.getpid(), signal.SIGKILL)

real_replace = os.replace
def replace(src, dst, **kw):
    die_at("rename")
    return real_replace(src, dst, **kw)
os.replace = replace
for cls in (durable.FsyncBatch, durable.SyncfsBatch):
    for step in ("files", "names"):
        def wrapped(self, paths, _real=getattr(cls, step), _step=step):
            die_at(_step)
            return _real(self, paths)
        setattr(cls, step, wrapped)
real_index = store_mod.Store.write_index_segment
def write_index_segment(self, tenant, rows):
    real_index(self, tenant, rows)
    die_at("index")
store_mod.Store.write_index_segment = write_index_segment
real_append = WAL.append
def append(self, rtype, payload):
    pos = real_append(self, rtype, payload)
    if rtype is RecordType.FLUSHED:
        die_at("flushed")
    return pos
WAL.append = append
real_delete = WAL.delete_before
def delete_before(self, segment, **kw):
    die_at("wal-delete")
    return real_delete(self, segment, **kw)
WAL.delete_before = delete_before
store.flush()
print("survived", flush=True)
"""

# (step, how many calls of it survive): before the data sync, mid-renames, after the renames
# before the directory sync, between chunk batches, after the index, mid-FLUSHED, at truncation.
POINTS = [
    ("files", 0),
    ("rename", 5),
    ("names", 0),
    ("files", 2),
    ("index", 0),
    ("flushed", 7),
    ("wal-delete", 0),
]


def config(data: Path) -> Config:
    return Config(
        data_dir=data,
        limits=Limits(discover_service_name=(), discover_log_levels=False),
        ingester=IngesterConfig(chunk_block_size=512, chunk_target_size=1024),
        wal=WALConfig(segment_size=4096),
    )


def run_child(
    data: Path, point: str, count: int, round_no: int, sync: str = "auto"
) -> list[tuple[str, int, bytes]]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(data), point, str(count), str(round_no), str(STREAMS), sync],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, (
        f"{point}:{count} not reached: {proc.returncode} {proc.stderr[-2000:]}"
    )
    acked = []
    for line in proc.stdout.splitlines():
        acked.extend((s, ts, text.encode()) for s, ts, text in json.loads(line))
    return acked


def stored(store: Store) -> list[tuple[str, int, bytes]]:
    out = []
    for s in range(STREAMS):
        labels = Labels.parse(f'{{job="crash", s="{s}"}}')
        for batch in store.select_batches("t", labels, 0, 2**62):
            out.extend((str(s), ts, line) for ts, line in zip(batch.timestamps, batch.lines(), strict=True))
    return out


def check(data: Path, acked: list[tuple[str, int, bytes]]) -> None:
    store = Store(config(data), start_flusher=False)
    try:
        got = stored(store)
        assert sorted(got) == sorted(acked), (
            f"lost {len(set(acked) - set(got))}, extra {len(got) - len(acked)}"
        )
        store.flush()
        store.compact()
        assert sorted(stored(store)) == sorted(acked)
        indexed = {r.key for refs in store.chunk_refs("t").values() for r in refs}
        assert set(store.objects.list("chunks/")) == indexed, "orphan chunk files survived the sweep"
    finally:
        store.close()
    reopened = Store(config(data), start_flusher=False)
    try:
        assert sorted(stored(reopened)) == sorted(acked)
    finally:
        reopened.close()


@pytest.mark.parametrize(("point", "count"), POINTS, ids=[f"{p}-{c}" for p, c in POINTS])
@pytest.mark.parametrize("sync", ["auto", "syncfs"])
def test_sigkill_at_each_step_of_a_batched_flush(tmp_path: Path, point: str, count: int, sync: str) -> None:
    acked = run_child(tmp_path / "data", point, count, 0, sync)
    assert len(acked) == 4 * STREAMS
    check(tmp_path / "data", acked)


@pytest.mark.slow
def test_consecutive_sigkills_at_every_step_on_one_data_folder(tmp_path: Path) -> None:
    """Each round replays the previous round's WAL, pushes more and is killed at the next step."""
    data = tmp_path / "data"
    acked: list[tuple[str, int, bytes]] = []
    began = time.monotonic()
    for round_no, (point, count) in enumerate(POINTS, start=1):
        acked.extend(run_child(data, point, count, round_no, "syncfs" if round_no % 2 else "auto"))
    check(data, acked)
    assert time.monotonic() - began < 120
