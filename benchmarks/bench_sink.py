"""Sink mode and the logging handler: how fast lines are counted and shipped.

``python -m benchmarks.bench_sink [--quick] [--json FILE]``; ``run(quick) -> dict``.

* ``sink_count``: ``Sink.push_body`` on promtail-shaped protobuf+snappy bodies (1000 lines of
  ~100 bytes per stream, 10 streams per push): decode and count, lines/s of CPU.
* ``sink_http``: the same bodies POSTed one after another to a sink server on loopback
  (uvicorn in a thread of this process, so client and server share this process' GIL).
* ``handler_emit``: ``LokiHandler.emit`` cost per record as the application sees it.
* ``handler_ship``: records logged through ``LokiHandler`` until the sink counted them all.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def _bodies(n_pushes: int, streams: int = 10, lines: int = 1000) -> list[bytes]:
    from lokipy.model.entry import PushRequest, PushStream
    from lokipy.wire import encode_push_proto

    t0 = time.time_ns()
    out = []
    for p in range(n_pushes):
        req = PushRequest(
            [
                PushStream(
                    f'{{job="bench", pod="pod-{s}"}}',
                    [t0 + (p * lines + i) * 1000 for i in range(lines)],
                    [
                        f"{p:06d} {i:06d} level=info msg=request served path=/api/v1/items status=200 took=12ms".encode()
                        for i in range(lines)
                    ],  # fmt: skip
                )
                for s in range(streams)
            ]
        )
        out.append(encode_push_proto(req))
    return out


def measure_count(bodies: list[bytes], runs: int) -> dict[str, Any]:
    from lokipy.sink import Sink

    rates = []
    for _ in range(runs):
        sink = Sink()
        c0 = time.process_time()
        for b in bodies:
            sink.push_body(b, "application/x-protobuf")
        cpu = time.process_time() - c0
        rates.append(sink.total_lines() / cpu)
    return {"runs": runs, "lines_per_cpu_s_p50": statistics.median(rates)}


def measure_http(bodies: list[bytes], runs: int) -> dict[str, Any]:
    import http.client

    from lokipy.testing import LokipyServer

    rates = []
    with LokipyServer(sink=True) as server:
        assert server.sink is not None
        host = server.url.removeprefix("http://")
        for _ in range(runs):
            server.sink.reset()
            conn = http.client.HTTPConnection(host, timeout=60)
            t0 = time.perf_counter()
            for b in bodies:
                conn.request("POST", "/loki/api/v1/push", b, {"Content-Type": "application/x-protobuf"})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 204
            wall = time.perf_counter() - t0
            conn.close()
            rates.append(server.sink.total_lines() / wall)
    return {"runs": runs, "lines_per_s_p50": statistics.median(rates), "bodies": len(bodies)}


def measure_handler(records: int) -> dict[str, Any]:
    from lokipy.handler import LokiHandler
    from lokipy.sink import wait_for_lines
    from lokipy.testing import LokipyServer

    with LokipyServer(sink=True) as server:
        handler = LokiHandler(
            server.url, {"job": "bench"}, batch_size=1000, flush_interval=0.1, max_queue=records + 1
        )
        log = logging.getLogger("lokipy.bench.handler")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        t0 = time.perf_counter()
        for i in range(records):
            log.info("request %d served in %d ms", i, 12)
        emit = time.perf_counter() - t0
        report = wait_for_lines(server.url, records, timeout=300, poll_interval=0.02)
        shipped = time.perf_counter() - t0
        log.removeHandler(handler)
        handler.close()
    return {
        "records": records,
        "emit_us_per_record": emit / records * 1e6,
        "shipped_records_per_s": records / shipped,
        "all_arrived": report.reached and report.duplicates == 0 and handler.dropped == 0,
    }


def run(quick: bool) -> dict[str, Any]:
    bodies = _bodies(5 if quick else 50)
    runs = 2 if quick else 5
    return {
        "benchmark": "sink",
        "quick": quick,
        "lines_per_body": 10_000,
        "results": {
            "sink_count": measure_count(bodies, runs),
            "sink_http": measure_http(bodies, runs),
            "handler": measure_handler(10_000 if quick else 100_000),
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_sink", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    report = run(args.quick)
    r = report["results"]
    print(
        f"sink_count   {r['sink_count']['lines_per_cpu_s_p50']:>14,.0f} lines per CPU second (decode + count)"
    )
    print(f"sink_http    {r['sink_http']['lines_per_s_p50']:>14,.0f} lines/s over loopback HTTP")
    print(f"handler emit {r['handler']['emit_us_per_record']:>14.2f} µs per record in the application thread")
    print(
        f"handler ship {r['handler']['shipped_records_per_s']:>14,.0f} records/s logged → counted by the sink"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
