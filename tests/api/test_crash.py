"""Durability: a real server process SIGKILLed while clients push loses no acknowledged entry."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import orjson

from lokipy.testing.server import ServerProcess

CONFIG = {
    "limits_config": {"discover_service_name": [], "discover_log_levels": False},
    # Small blocks and chunks so flushes, block cuts and WAL markers happen during the test.
    "ingester": {"chunk_block_size": 4096, "chunk_target_size": 8192, "flush_check_period": "100ms"},
}


def pusher(url: str, worker: int, acked: list[tuple[str, str, str]], stop: threading.Event) -> None:
    base = time.time_ns()
    n = 0
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            values = [[str(base + n * 1000 + i), f"w{worker} entry {n + i} " + "x" * 50] for i in range(5)]
            body = orjson.dumps(
                {"streams": [{"stream": {"job": "crash", "w": str(worker)}, "values": values}]}
            )
            try:
                resp = client.post(
                    url + "/loki/api/v1/push", content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError:
                return  # the server died mid-request: this batch was never acknowledged
            if resp.status_code == 204:
                acked.extend((str(worker), ts, line) for ts, line in values)
            n += 5
            time.sleep(0.01)


def read_everything(url: str) -> list[tuple[str, str, str]]:
    out = []
    with httpx.Client(timeout=30) as client:
        for worker in range(3):
            resp = client.get(
                url + "/loki/api/v1/query_range",
                params={
                    "query": f'{{job="crash", w="{worker}"}}',
                    "start": str(time.time_ns() - 3600 * 10**9),
                    "end": str(time.time_ns() + 60 * 10**9),
                    "limit": 5000,
                    "direction": "forward",
                },
            )
            assert resp.status_code == 200, resp.text
            result = resp.json()["data"]["result"]
            assert sum(len(s["values"]) for s in result) < 5000, "raise the limit or page"
            for stream in result:
                out.extend((stream["stream"]["w"], ts, line) for ts, line in stream["values"])
    return out


def test_sigkill_under_push_load_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    acked: list[tuple[str, str, str]] = []
    for round_no in range(3):
        server = ServerProcess(data, CONFIG).start()
        stop = threading.Event()
        threads = [threading.Thread(target=pusher, args=(server.url, w, acked, stop)) for w in range(3)]
        for t in threads:
            t.start()
        # Kill only once this round has had pushes acknowledged (the machine may be busy),
        # at a different moment each round.
        before = len(acked)
        deadline = time.monotonic() + 20
        while len(acked) < before + 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1 * round_no)
        server.kill()  # SIGKILL while the pushers are mid-flight
        stop.set()
        for t in threads:
            t.join()
    server = ServerProcess(data, CONFIG).start()
    try:
        stored = read_everything(server.url)
        assert len(acked) >= 120, "the pushers should have had pushes acknowledged"
        missing = set(acked) - set(stored)
        assert not missing, f"{len(missing)} acknowledged entries lost, e.g. {sorted(missing)[:3]}"
        assert len(stored) == len(set(stored)), "an entry came back twice"
        # The store still accepts writes after recovery.
        resp = httpx.post(
            server.url + "/loki/api/v1/push",
            headers={"Content-Type": "application/json"},
            content=orjson.dumps(
                {"streams": [{"stream": {"job": "after"}, "values": [[str(time.time_ns()), "alive"]]}]}
            ),
        )
        assert resp.status_code == 204
    finally:
        server.stop()
