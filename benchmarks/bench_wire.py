"""Push body decode speed: JSON, JSON+gzip and protobuf+snappy bodies of ~1 MiB of lines.

Reports lines/s, MB/s of raw line bytes and MB/s of body bytes for ``lokipy.wire.decode_push``
(median CPU time of five runs), next to SQLite ``executemany`` of the same rows measured in the same
run: decoding is one stage of ingest, so it has to be comfortably faster than the ingest
target (>= 1x SQLite executemany lines/s, ``../shared/docs/performance.md`` I1/I2).

    python -m benchmarks.bench_wire [--quick]
"""

from __future__ import annotations

import gc
import gzip
import json
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lokipy.model.entry import PushRequest, PushStream  # noqa: E402
from lokipy.model.labels import Labels  # noqa: E402
from lokipy.wire import decode_push, encode_push_json, encode_push_proto  # noqa: E402

T0_NS = 1_700_000_000_000_000_000
BODY_LINE_BYTES = 1 << 20
PATHS = ("/api/v1/orders", "/api/v1/users/42", "/healthz", "/static/app.js", "/login")
MSGS = ("order created", "cache miss", "retrying request", "payment accepted", "user logged in")


def _streams() -> list[tuple[str, str, str]]:
    keys = [("osquery", f"host-{h:02d}", "info") for h in range(28)]
    keys += [(j, f"host-{h:02d}", lv) for h in range(28) for j in ("nginx", "app")
             for lv in ("info", "warn", "error")]  # fmt: skip
    return sorted(keys)


def _line(rng: random.Random, job: str, host: str, level: str, ts: int) -> bytes:
    """Roughly the shared workload's mix: nginx access, logfmt app, osquery JSON (~200 B)."""
    if job == "nginx":
        status = {"info": 200, "warn": 404, "error": 502}[level]
        return (
            f"10.0.{rng.randrange(256)}.{rng.randrange(256)} - - [14/Nov/2023:22:13:20 +0000] "
            f'"GET {rng.choice(PATHS)} HTTP/1.1" {status} {rng.randrange(20000)} "-" '
            f'"Mozilla/5.0 (X11; Linux x86_64)" rt={rng.random():.3f} host={host}'
        ).encode()
    if job == "app":
        return (
            f"ts={ts} level={level} caller=orders.go:{rng.randrange(400)} "
            f'msg="{rng.choice(MSGS)}" duration_ms={rng.randrange(3000)} '
            f"user_id={rng.randrange(50000)} trace_id={rng.getrandbits(64):016x}"
        ).encode()
    return json.dumps(
        {
            "name": "pack_incident-response_last",
            "hostIdentifier": host,
            "unixTime": ts // 1_000_000_000,
            "columns": {"username": "alice", "pid": str(rng.randrange(60000)), "tty": "pts/0"},
            "action": "added",
        },
        separators=(",", ":"),
    ).encode()


def make_requests(total_bytes: int, seed: int = 42) -> list[PushRequest]:
    """Time-ordered push requests of ~1 MiB of line bytes each, grouped by stream."""
    rng = random.Random(seed)
    keys = _streams()
    labels = [Labels.from_map({"job": j, "host": h, "level": lv}) for j, h, lv in keys]
    reqs: list[PushRequest] = []
    cur: dict[int, PushStream] = {}
    size = done = 0
    ts = T0_NS
    while done < total_bytes:
        sid = rng.randrange(len(keys))
        ts += rng.randrange(1, 4_000_000)
        line = _line(rng, *keys[sid], ts)
        s = cur.get(sid)
        if s is None:
            s = cur[sid] = PushStream(labels[sid])
        s.timestamps.append(ts)
        s.lines.append(line)
        size += len(line)
        done += len(line)
        if size >= BODY_LINE_BYTES:
            reqs.append(PushRequest(list(cur.values())))
            cur, size = {}, 0
    if cur:
        reqs.append(PushRequest(list(cur.values())))
    return reqs


def _median_seconds(fn: Callable[[], object], runs: int = 5) -> float:
    """Median CPU seconds of ``runs`` calls: CPU time, because the machines we measure on are
    shared and wall time mostly measures the neighbours."""
    cpu = []
    for _ in range(runs):
        gc.collect()
        t0 = time.process_time()
        fn()
        cpu.append(time.process_time() - t0)
    return statistics.median(cpu)


def _decode_all(bodies: list[bytes], ctype: str | None, enc: str | None) -> None:
    for body in bodies:
        decode_push(body, ctype, enc, legacy=False)


def _sqlite_executemany(rows: list[tuple[int, int, bytes]]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE logs (ts INTEGER, stream INTEGER, line BLOB)")
    with db:
        db.executemany("INSERT INTO logs VALUES (?, ?, ?)", rows)
    db.close()


def run(quick: bool = False) -> dict[str, object]:
    reqs = make_requests((4 if quick else 24) << 20)
    n_lines = sum(r.entry_count() for r in reqs)
    line_bytes = sum(len(x) for r in reqs for s in r.streams for x in s.lines)
    formats: dict[str, tuple[list[bytes], str | None, str | None]] = {
        "json": ([encode_push_json(r) for r in reqs], "application/json", None),
        "json_gzip": (
            [gzip.compress(encode_push_json(r), 6) for r in reqs],
            "application/json",
            "gzip",
        ),
        "protobuf_snappy": (
            [encode_push_proto(r) for r in reqs],
            "application/x-protobuf",
            None,
        ),
    }
    results: dict[str, object] = {
        "bodies": len(reqs),
        "lines": n_lines,
        "line_bytes": line_bytes,
    }
    for name, (bodies, ctype, enc) in formats.items():
        decoded = [decode_push(b, ctype, enc, legacy=False) for b in bodies]
        assert sum(d.entry_count() for d in decoded) == n_lines
        del decoded  # each run frees its results as it goes, as an ingest pipeline would
        secs = _median_seconds(partial(_decode_all, bodies, ctype, enc))
        body_bytes = sum(map(len, bodies))
        results[name] = {
            "seconds": round(secs, 4),
            "lines_per_s": round(n_lines / secs),
            "line_MB_per_s": round(line_bytes / secs / 1e6, 1),
            "body_MB_per_s": round(body_bytes / secs / 1e6, 1),
            "body_bytes": body_bytes,
        }
    rows = [
        (t, sid, line)
        for r in reqs
        for sid, s in enumerate(r.streams)
        for t, line in zip(s.timestamps, s.lines, strict=True)
    ]
    secs = _median_seconds(lambda: _sqlite_executemany(rows))
    sqlite_lps = n_lines / secs
    results["sqlite_executemany"] = {"seconds": round(secs, 4), "lines_per_s": round(sqlite_lps)}
    for name in formats:
        entry = results[name]
        assert isinstance(entry, dict)
        entry["x_sqlite"] = round(entry["lines_per_s"] / sqlite_lps, 2)
    return results


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    res = run(quick="--quick" in argv)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
