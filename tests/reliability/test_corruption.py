"""Damaged files: reported (log line + counter on /metrics), quarantined where it applies, the
rest served; a damaged chunk met by a query is skipped, never a 500."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.api.app import create_app
from lokipy.config import Config
from lokipy.logstore import LogStore
from lokipy.store.store import Store
from lokipy.testing.server import ThreadServer
from tests.reliability.test_replay_regressions import crash
from tests.store.test_store import PLAIN, config, push, read_all

T0 = time.time_ns() - 600 * 10**9


def records(n: int) -> list[list[tuple[int, bytes]]]:
    """``n`` pushes of 3 entries each (one WAL record per push)."""
    return [[(T0 + k * 10 + i, f"record {k} entry {i}".encode()) for i in range(3)] for k in range(n)]


def wal_segment(path: Path) -> Path:
    segments = sorted(p for p in (path / "wal").iterdir() if p.stat().st_size)
    assert len(segments) == 1
    return segments[0]


def write_wal(path: Path, n: int) -> list[list[tuple[int, bytes]]]:
    pushes = records(n)
    store = Store(config(path), start_flusher=False)
    for entries in pushes:
        push(store, '{a="1"}', entries)
    crash(store)  # nothing flushed: everything lives in the WAL only
    return pushes


# --- WAL --------------------------------------------------------------------------------------


def test_truncated_wal_replays_every_intact_record_and_reports_the_torn_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pushes = write_wal(tmp_path, 10)
    seg = wal_segment(tmp_path)
    data = seg.read_bytes()
    seg.write_bytes(data[: len(data) - 7])  # the last record loses its tail
    with caplog.at_level(logging.WARNING, logger="lokipy.store.wal"):
        store = Store(config(tmp_path), start_flusher=False)
    assert read_all(store, '{a="1"}', "t") == [e for p in pushes[:-1] for e in p]
    assert store.stats.corrupt_files == 1
    assert "checksum mismatch or truncated record" in caplog.text
    store.close()


def test_bit_flipped_wal_keeps_the_records_before_the_damage(tmp_path: Path) -> None:
    pushes = write_wal(tmp_path, 10)
    seg = wal_segment(tmp_path)
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x10  # somewhere in record 5 of 10
    seg.write_bytes(bytes(data))
    store = Store(config(tmp_path), start_flusher=False)
    got = read_all(store, '{a="1"}', "t")
    kept = len(got) // 3
    assert 3 <= kept < 10
    assert got == [e for p in pushes[:kept] for e in p]  # a prefix, record by record
    assert store.stats.corrupt_files == 1
    # the damaged segment is kept for an operator, byte for byte
    assert (tmp_path / "quarantine" / "wal" / seg.name).read_bytes() == bytes(data)
    store.close()


@given(offset=st.integers(min_value=0), xor=st.integers(min_value=1, max_value=255))
def test_any_single_byte_damage_in_the_wal_still_starts_and_replays_a_prefix(offset: int, xor: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        pushes = write_wal(path, 6)
        seg = wal_segment(path)
        data = bytearray(seg.read_bytes())
        data[offset % len(data)] ^= xor
        seg.write_bytes(bytes(data))
        store = Store(config(path), start_flusher=False)
        got = read_all(store, '{a="1"}', "t")
        assert len(got) % 3 == 0 and len(got) < 18
        assert got == [e for p in pushes[: len(got) // 3] for e in p]
        assert store.stats.corrupt_files == 1
        store.close()


# --- index segments ---------------------------------------------------------------------------


def two_flushed_streams(path: Path) -> None:
    store = Store(config(path), start_flusher=False)
    push(store, '{a="1"}', [(T0, b"in segment one")])
    store.flush()
    push(store, '{a="2"}', [(T0, b"in segment two")])
    store.flush()
    store.close()


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "garbage"])
def test_a_damaged_index_segment_is_quarantined_and_the_rest_served(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    two_flushed_streams(tmp_path)
    index_dir = tmp_path / "store" / "index" / "t"
    first = sorted(index_dir.iterdir())[0]
    data = bytearray(first.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "bitflip":
        data[-3] ^= 0x01
    else:
        data = bytearray(b"not an index segment at all")
    first.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="lokipy.store.store"):
        store = Store(config(tmp_path), start_flusher=False)
    assert store.stats.corrupt_files == 1
    assert f"corrupt file index/t/{first.name}" in caplog.text
    assert not first.exists()
    assert (tmp_path / "store" / "quarantine" / "index" / "t" / first.name).read_bytes() == bytes(data)
    assert read_all(store, '{a="1"}', "t") == []  # its only reference was in the damaged segment
    assert read_all(store, '{a="2"}', "t") == [(T0, b"in segment two")]
    store.close()
    # Quarantined once: a second start-up finds nothing more to report.
    again = Store(config(tmp_path), start_flusher=False)
    assert again.stats.corrupt_files == 0
    again.close()


# --- chunks at start-up ----------------------------------------------------------------------


def test_a_truncated_chunk_is_quarantined_and_a_missing_one_reported_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(config(tmp_path), start_flusher=False)
    for name in ("cut", "gone", "fine"):
        push(store, f'{{a="{name}"}}', [(T0 + i, f"{name} {i}".encode()) for i in range(50)])
    store.close()
    refs = {str(ls): refs[0] for ls, refs in store.chunk_refs("t").items()}
    cut, gone = refs['{a="cut"}'].key, refs['{a="gone"}'].key
    data = (tmp_path / "store" / cut).read_bytes()
    (tmp_path / "store" / cut).write_bytes(data[:-5])
    (tmp_path / "store" / gone).unlink()
    with caplog.at_level(logging.ERROR, logger="lokipy.store.store"):
        reopened = Store(config(tmp_path), start_flusher=False)
    assert reopened.stats.corrupt_files == 2
    assert f"corrupt file {cut}: chunk file is {len(data) - 5} bytes" in caplog.text
    assert f"chunk {gone} listed by the index is missing" in caplog.text
    assert (tmp_path / "store" / "quarantine" / cut).read_bytes() == data[:-5]
    assert not (tmp_path / "store" / cut).exists()
    assert read_all(reopened, '{a="fine"}', "t") == [(T0 + i, f"fine {i}".encode()) for i in range(50)]
    assert reopened.label_values("t", "a", 0, 2**62) == ["fine"]  # the damaged streams are gone
    assert reopened.stats.corrupt_blocks == 0
    reopened.close()
    again = Store(config(tmp_path), start_flusher=False)
    assert again.stats.corrupt_files == 1  # the missing chunk is still missing; the cut one was handled
    again.close()


# --- chunks at query time ---------------------------------------------------------------------


@given(offset=st.integers(min_value=0), xor=st.integers(min_value=1, max_value=255))
def test_any_single_byte_damage_in_a_chunk_skips_data_but_never_raises(offset: int, xor: int) -> None:
    store = Store(Config(data_dir=None, limits=PLAIN), start_flusher=False)
    entries = [(T0 + i, f"line {i} {'q' * (i % 50)}".encode()) for i in range(400)]
    push(store, '{a="1"}', entries)
    store.flush()
    (key,) = list(store.objects.list("chunks/"))
    data = bytearray(store.objects.get(key))
    data[offset % len(data)] ^= xor
    store.objects.put(key, bytes(data))
    store.forget_chunk(key)
    got = read_all(store, '{a="1"}', "t")
    assert set(got) <= set(entries)
    if len(got) < len(entries):
        assert store.stats.corrupt_blocks >= 1  # anything missing was reported
    store.close()


@pytest.fixture()
def damaged_server(tmp_path: Path) -> Iterator[tuple[str, LogStore]]:
    """A server over a data dir holding one damaged chunk, one truncated chunk, one good one."""
    cfg = Config(data_dir=tmp_path, limits=replace(PLAIN, reject_old_samples=False))
    first = LogStore(config=cfg)
    now = time.time_ns()
    for name in ("flipped", "truncated", "good"):
        first.push({"job": name}, [(now - 60 * 10**9 + i, f"{name} {i}") for i in range(200)], tenant="t")
    first.close()
    for key in first.store.objects.list("chunks/"):
        path = tmp_path / "store" / key
        data = bytearray(path.read_bytes())
        if b"flipped 0" in first.store._reader(key).block(0).line(0):
            data[len(data) // 3] ^= 0x55
        elif b"truncated 0" in first.store._reader(key).block(0).line(0):
            data = data[: len(data) - 20]
        path.write_bytes(bytes(data))
    store = LogStore(config=cfg)
    with ThreadServer(create_app(store, cfg)) as srv:
        yield srv.url, store
    store.close()


def test_a_damaged_chunk_at_query_time_is_skipped_counted_and_never_a_500(
    damaged_server: tuple[str, LogStore],
) -> None:
    url, _ = damaged_server
    now = time.time_ns()
    with httpx.Client(base_url=url, timeout=30, headers={"X-Scope-OrgID": "t"}) as client:
        rng = {"start": str(now - 3600 * 10**9), "end": str(now)}
        for query in ('{job=~".+"}', 'count_over_time({job=~".+"}[1h])', '{job="flipped"}'):
            resp = client.get("/loki/api/v1/query_range", params={"query": query, "limit": 1000, **rng})
            assert resp.status_code == 200, resp.text
        resp = client.get("/loki/api/v1/query_range", params={"query": '{job=~".+"}', "limit": 1000, **rng})
        jobs = {s["stream"]["job"]: len(s["values"]) for s in resp.json()["data"]["result"]}
        assert jobs.get("good") == 200  # the rest is served whole
        assert jobs.get("truncated") is None  # the chunk's index is at its end: all of it is lost
        assert jobs.get("flipped", 0) < 200
        metrics = client.get("/metrics").text

    def counter(name: str) -> float:
        (line,) = [ln for ln in metrics.splitlines() if ln.startswith(name + " ")]
        return float(line.split()[1])

    assert counter("lokipy_corrupt_files_total") == 1  # the truncated chunk, found at start-up
    assert counter("lokipy_corrupt_blocks_total") >= 2  # the flipped one, at every query reading it
