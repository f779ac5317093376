"""Crash loop: a real server under push load, SIGKILLed at random moments, many times over.

The config makes everything happen all the time: tiny blocks and chunks (a flush every few
pushes), a 50 ms flush check, a compaction pass with retention every 200 ms and small WAL
segments (rotation and deletion), so random kill points land mid-WAL-write, mid-flush and
mid-compaction. After the last restart every acknowledged entry must be there exactly once.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from lokipy.testing.server import ServerProcess

WORKERS = 3
STREAMS_PER_WORKER = 6  # 18 streams: flushes write many chunk files as one batch

CONFIG = {
    "limits_config": {
        "discover_service_name": [],
        "discover_log_levels": False,
        "max_entries_limit_per_query": 1_000_000,
        # Retention runs on every pass but never reaches this test's fresh entries.
        "retention_period": "24h",
    },
    "ingester": {
        "chunk_block_size": 1024,
        "chunk_target_size": 8192,
        "max_chunk_age": "1s",  # chunks close by age too: many small ones for the compactor
        "flush_check_period": "50ms",
    },
    "wal": {"segment_size": 32768},
    "compactor": {"compaction_interval": "200ms", "retention_enabled": True, "min_chunk_size": 65536},
}

Entry = tuple[str, str, str]  # (stream id, ts, line)


def pusher(url: str, worker: int, acked: list[Entry], stop: threading.Event, seq: list[int]) -> None:
    """Push until told to stop or the server dies; record only what got a 204."""
    base = time.time_ns() - 60 * 10**9
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            n = seq[worker]
            seq[worker] += 4
            streams = []
            for s in range(STREAMS_PER_WORKER):
                values = [
                    [str(base + (n + i) * 1000), f"w{worker} s{s} n{n + i} " + "y" * 40] for i in range(4)
                ]
                streams.append({"stream": {"job": "loop", "s": f"{worker}-{s}"}, "values": values})
            body = orjson.dumps({"streams": streams})
            try:
                resp = client.post(
                    url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError:
                return  # died mid-request: never acknowledged
            if resp.status_code == 204:
                acked.extend((st["stream"]["s"], ts, line) for st in streams for ts, line in st["values"])


def read_everything(url: str) -> list[Entry]:
    out: list[Entry] = []
    now = time.time_ns()
    with httpx.Client(timeout=60) as client:
        resp = client.get(
            url + "/loki/api/v1/query_range",
            params={
                "query": '{job="loop"}',
                "start": str(now - 3600 * 10**9),
                "end": str(now + 60 * 10**9),
                "limit": 1_000_000,
                "direction": "forward",
            },
        )
        assert resp.status_code == 200, resp.text
        for stream in resp.json()["data"]["result"]:
            out.extend((stream["stream"]["s"], ts, line) for ts, line in stream["values"])
    return out


@pytest.mark.slow
def test_random_sigkills_under_load_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("LOKIPY_CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    data = tmp_path / "data"
    acked: list[Entry] = []
    seq = [0] * WORKERS  # never reuse a timestamp across rounds: a retry is not a duplicate
    rounds = 8
    began = time.monotonic()
    for _ in range(rounds):
        server = ServerProcess(data, CONFIG).start()
        stop = threading.Event()
        threads = [
            threading.Thread(target=pusher, args=(server.url, w, acked, stop, seq)) for w in range(WORKERS)
        ]
        for t in threads:
            t.start()
        # Some acknowledged pushes first (a busy machine starts slowly), then a random moment.
        before = len(acked)
        deadline = time.monotonic() + 20
        while len(acked) < before + 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.5))
        server.kill()
        stop.set()
        for t in threads:
            t.join()
    server = ServerProcess(data, CONFIG).start()
    try:
        stored = read_everything(server.url)
        assert len(acked) >= rounds * 16, f"too few acknowledged pushes (seed {seed})"
        missing = set(acked) - set(stored)
        assert not missing, (
            f"seed {seed}: {len(missing)} acknowledged entries lost, e.g. {sorted(missing)[:3]}"
        )
        assert len(stored) == len(set(stored)), f"seed {seed}: an entry came back twice"
        resp = httpx.post(
            server.url + "/loki/api/v1/push",
            headers={"Content-Type": "application/json"},
            content=orjson.dumps(
                {"streams": [{"stream": {"job": "after"}, "values": [[str(time.time_ns()), "alive"]]}]}
            ),
        )
        assert resp.status_code == 204, resp.text
        metrics = httpx.get(server.url + "/metrics").text
        assert "lokipy_corrupt_files_total" in metrics
    finally:
        server.stop()
    # No round logged an error: a crash is never met with a traceback at the next start.
    for log in tmp_path.glob("lokipy-*.log"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and "ERROR" not in text, f"{log.name}: {text[-1500:]}"
    # Flushes and compactions really happened while the server was being killed.
    store_dir = data / "store"
    assert any((store_dir / "chunks").rglob("*")), "no chunk was ever flushed"
    assert time.monotonic() - began < 120, "the crash loop outgrew its time budget"
