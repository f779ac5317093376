"""Load test: concurrent promtail-shaped pushers, queriers and a tail client against a real
``lokipy serve`` process on loopback, for a fixed time.

Run: ``python -m benchmarks.bench_load [--quick] [--seconds N] [--json FILE]``.

Pushers send protobuf+snappy batches like promtail's (a few streams per batch, tens of entries
each, ``lokipy.wire.encode_push_proto``); queriers alternate a log query, a metric query and
a labels call; one websocket tail follows a stream. The server's RSS is sampled from /proc.
Reports throughput, p50/p99 latencies, failures (any non-2xx or transport error) and memory,
and finally checks that every acknowledged entry is counted by the server.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from websockets.sync.client import connect

from lokipy.model.entry import PushRequest, PushStream
from lokipy.testing.server import ServerProcess
from lokipy.wire import encode_push_proto

LEVELS = ("info", "warn", "error", "debug")
PATHS = ("/api/users", "/api/orders", "/static/app.js", "/healthz", "/api/search?q=shoes")
CONFIG: dict[str, Any] = {
    # Generous rate limits: this measures the server, not the limiter.
    "limits_config": {"ingestion_rate_mb": 512, "ingestion_burst_size_mb": 1024},
}


@dataclass
class Tally:
    """Latencies (seconds) and failures of one kind of request, shared by its threads."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if error is not None:
                self.failures.append(error)

    def summary(self, prefix: str) -> dict[str, Any]:
        lat = sorted(self.latencies)
        out: dict[str, Any] = {f"{prefix}_requests": len(lat), f"{prefix}_failures": len(self.failures)}
        if lat:
            out[f"{prefix}_p50_ms"] = round(1000 * lat[len(lat) // 2], 2)
            out[f"{prefix}_p99_ms"] = round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2)
        if self.failures:
            out[f"{prefix}_first_failure"] = self.failures[0]
        return out


def batch(rng: random.Random, pusher: int, seq: int, streams: int, per_stream: int) -> tuple[bytes, int, int]:
    """One promtail-shaped body; returns (body, entries, raw line bytes)."""
    now = time.time_ns()
    out = []
    raw = 0
    for s in range(streams):
        level = LEVELS[s % len(LEVELS)]
        labels = f'{{job="load", host="p{pusher}", level="{level}", stream="{s}"}}'
        ts = [now - 1000 * (per_stream - i) for i in range(per_stream)]
        lines = [
            (
                f'10.0.{pusher}.{rng.randrange(255)} - - "GET {rng.choice(PATHS)} HTTP/1.1" '
                f"{rng.choice((200, 200, 200, 404, 500))} {rng.randrange(50, 50000)} seq={seq} i={i} "
                f'level={level} duration={rng.random():.4f}s ua="Mozilla/5.0 (X11; Linux x86_64)"'
            ).encode()
            for i in range(per_stream)
        ]
        raw += sum(map(len, lines))
        out.append(PushStream(labels, ts, lines))
    return encode_push_proto(PushRequest(out)), streams * per_stream, raw


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(quick: bool, *, seconds: float | None = None, data_dir: Path | None = None) -> dict[str, Any]:
    """Drive a real server for a fixed time; returns a flat dict of figures."""
    duration = seconds if seconds is not None else (4.0 if quick else 30.0)
    pushers, queriers = (4, 2) if quick else (12, 3)
    streams, per_stream = 4, 25
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(data_dir or tmp)
        server = ServerProcess(root / "data", CONFIG).start()
        assert server.proc is not None
        pid = server.proc.pid
        try:
            return _drive(server, pid, duration, pushers, queriers, streams, per_stream)
        finally:
            code = server.stop()
            if code != 0:
                print(f"server exited with code {code}; log: {server.log_text()[-2000:]}", file=sys.stderr)


def _drive(
    server: ServerProcess,
    pid: int,
    duration: float,
    pushers: int,
    queriers: int,
    streams: int,
    per_stream: int,
) -> dict[str, Any]:
    stop = threading.Event()
    push_tally, query_tally = Tally(), Tally()
    acked = [0, 0]  # entries, raw bytes
    acked_lock = threading.Lock()
    tail_state: dict[str, Any] = {"received": 0, "error": None}
    rss: list[float] = [rss_mb(pid)]

    def pusher(n: int) -> None:
        rng = random.Random(n)
        seq = 0
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                body, entries, raw = batch(rng, n, seq, streams, per_stream)
                seq += 1
                began = time.perf_counter()
                try:
                    resp = client.post("/loki/api/v1/push", content=body,
                                       headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
                    error = None if resp.status_code == 204 else f"push {resp.status_code}: {resp.text[:200]}"
                except httpx.HTTPError as err:
                    error = f"push: {err!r}"
                push_tally.record(time.perf_counter() - began, error)
                if error is None:
                    with acked_lock:
                        acked[0] += entries
                        acked[1] += raw

    def querier(n: int) -> None:
        queries = [
            ("/loki/api/v1/query_range", {"query": '{job="load", level="error"} |= "500"', "limit": "100"}),
            ("/loki/api/v1/query_range", {"query": 'sum by (level) (count_over_time({job="load"}[10s]))', "step": "5"}),
            ("/loki/api/v1/labels", {}),
            ("/loki/api/v1/query_range", {"query": '{job="load", host="p0"} | logfmt | duration > 500ms', "limit": "50"}),
        ]  # fmt: skip
        k = n
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                path, params = queries[k % len(queries)]
                k += 1
                now = time.time_ns()
                params = {**params, "start": str(now - 60 * 10**9), "end": str(now)}
                began = time.perf_counter()
                try:
                    resp = client.get(path, params=params)
                    error = (
                        None if resp.status_code == 200 else f"{path} {resp.status_code}: {resp.text[:200]}"
                    )
                except httpx.HTTPError as err:
                    error = f"{path}: {err!r}"
                query_tally.record(time.perf_counter() - began, error)
                time.sleep(0.02)

    def tailer() -> None:
        url = (
            server.url.replace("http://", "ws://")
            + "/loki/api/v1/tail?"
            + urlencode({"query": '{job="load", host="p0", level="error"}'})
        )
        try:
            with connect(url, open_timeout=10, max_size=None) as ws:
                while not stop.is_set():
                    try:
                        msg = orjson.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    tail_state["received"] += sum(len(s["values"]) for s in msg.get("streams", []))
        except Exception as err:  # noqa: BLE001 - any tail failure is reported, not raised
            tail_state["error"] = repr(err)

    def sampler() -> None:
        while not stop.wait(0.25):
            rss.append(rss_mb(pid))

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(pushers)]
    threads += [threading.Thread(target=querier, args=(n,)) for n in range(queriers)]
    threads += [threading.Thread(target=tailer), threading.Thread(target=sampler)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed = time.perf_counter() - began
    rss.append(rss_mb(pid))
    stored = _count_stored(server.url)
    half = max(1, len(rss) // 2)
    figures: dict[str, Any] = {
        "seconds": round(elapsed, 2),
        "pushers": pushers,
        "queriers": queriers,
        "entries_acked": acked[0],
        "entries_stored": stored,
        "entries_per_s": round(acked[0] / elapsed),
        "raw_mb_per_s": round(acked[1] / elapsed / 1e6, 2),
        **push_tally.summary("push"),
        **query_tally.summary("query"),
        "tail_received": tail_state["received"],
        "tail_error": tail_state["error"],
        "rss_start_mb": round(rss[0], 1),
        "rss_first_half_max_mb": round(max(rss[:half]), 1),
        "rss_max_mb": round(max(rss), 1),
        "rss_end_mb": round(rss[-1], 1),
    }
    return figures


def _count_stored(url: str) -> int:
    """Every entry the server holds for the load streams, by a metric query over the run."""
    now = time.time_ns()
    resp = httpx.get(
        url + "/loki/api/v1/query",
        params={"query": 'sum(count_over_time({job="load"}[1h]))', "time": str(now + 10**9)},
        timeout=120,
    )
    resp.raise_for_status()
    result = resp.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    figures = run(args.quick, seconds=args.seconds)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    ok = figures["push_failures"] == 0 and figures["query_failures"] == 0 and not figures["tail_error"]
    ok = ok and figures["entries_stored"] >= figures["entries_acked"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
