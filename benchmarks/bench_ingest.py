"""Ingest I1-I3 and bytes on disk S1, each checked against what the corpus holds.

- I1: Loki JSON bodies through ``LogStore.push_body`` in process (what the HTTP route runs);
- I2: protobuf+snappy bodies the same way;
- I3: the protobuf bodies POSTed over loopback, one keep-alive client, to a real
  ``python -m lokipy serve`` process, stopped with SIGTERM afterwards (which flushes);
- S1: bytes left on disk after flush and close (chunks + index + any WAL), from I2's store;
- ``model.ingest_json`` / ``model.ingest_protobuf``: the minimal in-memory ingest models of
  ``docs/performance.md`` (:mod:`benchmarks.ingest_models`), timed round-robin with a SQLite
  insert of their own after I1/I2's rounds, as context for the I1/I2 ratios.

The timed phase of I1/I2 is push + flush: at its end every line is compressed into chunk files,
as in the minimal ingest model of ``docs/performance.md``; the push-only rate is reported too.
After every run the stored streams are read back and compared with the corpus (entry count
plus an xxh64 of every stream's timestamps and lines): a fast wrong store fails the run.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xxhash

from benchmarks.baselines import SqliteInsert
from benchmarks.datasets import SPAN_NS, T0_NS, Corpus
from benchmarks.ingest_models import MODEL_SQLITE, model_tasks
from benchmarks.pushbodies import Bodies
from benchmarks.results import Measurement, Results
from benchmarks.timing import Task, Timing, measure_many, peak_rss_bytes, reset_peak_rss, rss_bytes

REPO = Path(__file__).resolve().parents[1]
PROTO_TYPE = "application/x-protobuf"
JSON_TYPE = "application/json"

# Relaxed only where the workload needs it: its timestamps are from 2023 (older than Loki's
# one-week reject_old_samples_max_age) and it pushes far above Loki's default 4 MB/s per tenant.
# Label discovery is off so stored streams carry exactly the pushed labels.
BENCH_LIMITS: dict[str, Any] = {
    "reject_old_samples": False,
    "ingestion_rate_mb": 1_000_000.0,
    "ingestion_burst_size_mb": 1_000_000.0,
    "discover_service_name": (),
    "discover_log_levels": False,
    "max_entries_limit_per_query": 10_000_000,
    "max_query_series": 100_000,
    "max_global_streams_per_user": 0,  # scaling runs push up to 63 000 streams
}


def bench_config() -> Any:
    from lokipy.config import Config, Limits

    known = Limits.__dataclass_fields__
    return Config().with_limits(**{k: v for k, v in BENCH_LIMITS.items() if k in known})


def bench_config_yaml() -> str:
    from lokipy.config import Limits

    known = Limits.__dataclass_fields__
    lines = ["limits_config:"]
    for key, value in BENCH_LIMITS.items():
        if key in known:
            rendered = "[]" if value == () else str(value).lower()
            lines.append(f"  {key}: {rendered}")
    return "\n".join(lines) + "\n"


def expected_streams(corpus: Corpus) -> dict[str, tuple[int, str]]:
    """Canonical labels -> (entries, xxh64 of the stream's timestamps then lines)."""
    ts_of: dict[int, array] = {}
    lines_of: dict[int, list[bytes]] = {}
    for sid, ts, line in zip(corpus.sids, corpus.ts, corpus.lines, strict=True):
        ts_of.setdefault(sid, array("q")).append(ts)
        lines_of.setdefault(sid, []).append(line)
    out = {}
    for sid, col in ts_of.items():
        h = xxhash.xxh64(col.tobytes())
        h.update(b"".join(lines_of[sid]))
        out[corpus.streams[sid].canonical()] = (len(col), h.hexdigest())
    return out


def verify_store(store: Any, want: dict[str, tuple[int, str]]) -> str | None:
    """Read every stream back through the public API; None when it matches the corpus."""
    got: dict[str, tuple[int, str]] = {}
    total = sum(n for n, _ in want.values())
    streams = store.select('{job=~".+"}', T0_NS, T0_NS + SPAN_NS, limit=total + 1, direction="forward")
    for s in streams:
        col = array("q", (e.ts for e in s.entries))
        h = xxhash.xxh64(col.tobytes())
        h.update(b"".join(e.line for e in s.entries))
        got[str(s.labels)] = (len(col), h.hexdigest())
    if got == want:
        return None
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    n = sum(v[0] for v in got.values())
    return (
        f"{n} entries in {len(got)} streams read back, want {total} in {len(want)}; "
        f"missing {missing[:2]}, unexpected {extra[:2]}, different {wrong[:2]}"
    )


def dir_breakdown(path: Path) -> dict[str, int]:
    """Bytes on disk under ``path`` by the first two path components (store/chunks, wal/...)."""
    out: dict[str, int] = {}
    for p in path.rglob("*"):
        if p.is_file():
            key = "/".join(p.relative_to(path).parts[:2])
            out[key] = out.get(key, 0) + p.stat().st_size
    return dict(sorted(out.items()))


class InProcessIngest:
    """I1/I2: push every body into a fresh on-disk LogStore, then flush (one timed run)."""

    def __init__(self, key: str, what: str, bodies: list[bytes], content_type: str, tmp: Path) -> None:
        self.key, self.what, self.bodies, self.content_type = key, what, bodies, content_type
        self.tmp = tmp
        self.config = bench_config()
        self.push_walls: list[float] = []
        self.flush_walls: list[float] = []
        self.error: str | None = None
        self.stats: dict[str, Any] = {}
        self._dir: Path | None = None
        self._rss0: int | None = None
        self._peak_reset = False

    def setup(self) -> Any:
        from lokipy.logstore import LogStore

        self._dir = Path(tempfile.mkdtemp(prefix=f"lokipy-bench-{self.key}-", dir=self.tmp))
        store = LogStore(self._dir, self.config)
        self._rss0 = rss_bytes()
        self._peak_reset = reset_peak_rss()
        return store

    def run(self, store: Any) -> int:
        accepted = 0
        t0 = time.perf_counter()
        for body in self.bodies:
            r = store.push_body(body, self.content_type)
            if r.errors:
                raise RuntimeError(f"{self.key}: push rejected: {r.message[:300]}")
            accepted += r.accepted
        t1 = time.perf_counter()
        store.flush()
        self.push_walls.append(t1 - t0)
        self.flush_walls.append(time.perf_counter() - t1)
        return accepted

    def teardown(self, store: Any) -> None:
        assert self._dir is not None
        peak = peak_rss_bytes()
        self.stats["disk_usage_after_flush_bytes"] = store.disk_usage()
        self.error = self.error or verify_store(store, self.want)
        store.close()
        # S1 is the steady state: after close nothing but chunks and index should remain.
        self.stats["disk_after_close"] = dir_breakdown(self._dir)
        self.stats["peak_rss_bytes"] = peak
        if peak is not None and self._peak_reset and self._rss0 is not None:
            self.stats["peak_rss_over_start_bytes"] = peak - self._rss0
        shutil.rmtree(self._dir, ignore_errors=True)

    def task(self, want: dict[str, tuple[int, str]]) -> Task:
        self.want = want
        return Task(self.key, self.run, self.setup, self.teardown)

    def measurement(self, t: Timing, corpus: Corpus) -> Measurement:
        push_s = statistics.median(self.push_walls)
        error = self.error
        if error is None and t.result != corpus.n_lines:
            error = f"{t.result} entries accepted, want {corpus.n_lines}"
        return Measurement(
            self.key,
            self.what,
            t,
            nbytes=corpus.raw_bytes,
            nlines=corpus.n_lines,
            check="accepted == lines; every stream read back == corpus (count + xxh64)",
            error=error,
            extra={
                "push_only_median_s": push_s,
                "push_only_lines_s": corpus.n_lines / push_s,
                "push_only_mb_s": corpus.raw_bytes / push_s / 1e6,
                "flush_median_s": statistics.median(self.flush_walls),
                "body_bytes": sum(map(len, self.bodies)),
                "bodies": len(self.bodies),
                **self.stats,
            },
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m lokipy serve`` on loopback with a fresh data folder."""

    def __init__(self, data_dir: Path, config_yaml: str) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        cfg = data_dir.parent / f"{data_dir.name}.yaml"
        cfg.write_text(config_yaml)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [
            sys.executable,
            "-m",
            "lokipy",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--config",
            str(cfg),
            "--log-level",
            "warning",
        ]
        self.log = open(data_dir.parent / f"{data_dir.name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=self.log)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lokipy serve exited with {self.proc.returncode}: {self.log_tail()!r}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/ready")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("lokipy serve did not become ready")

    def log_tail(self, n: int = 400) -> str:
        """The end of the server's output (its folder is removed after the run)."""
        return Path(self.log.name).read_bytes()[-n:].decode("utf-8", "replace")

    def peak_rss(self) -> int | None:
        return peak_rss_bytes(self.proc.pid)

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM, as a service manager sends it: ``lokipy serve`` drains, flushes its heads
        and exits 0 (the exit code is checked; the data folder is verified afterwards)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def push_http(port: int, bodies: list[bytes], content_type: str) -> int:
    """POST every body on one keep-alive connection; returns the number of 204s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    ok = 0
    headers = {"Content-Type": content_type}
    for body in bodies:
        conn.request("POST", "/loki/api/v1/push", body, headers)
        r = conn.getresponse()
        text = r.read()
        if r.status != 204:
            raise RuntimeError(f"push answered {r.status}: {text[:300]!r}")
        ok += 1
    conn.close()
    return ok


def _http(
    bodies: list[bytes],
    corpus: Corpus,
    want: dict[str, tuple[int, str]],
    res: Results,
    runs: int,
    tmp: Path,
) -> Measurement:
    from lokipy.logstore import LogStore

    walls: list[float] = []
    extra: dict[str, Any] = {}
    error: str | None = None
    for _ in range(runs):
        d = Path(tempfile.mkdtemp(prefix="lokipy-bench-I3-", dir=tmp)) / "data"
        n = 0
        server = Server(d, bench_config_yaml())
        try:
            t0 = time.perf_counter()
            n = push_http(server.port, bodies, PROTO_TYPE)
            walls.append(time.perf_counter() - t0)
            extra["server_peak_rss_bytes"] = server.peak_rss()
        finally:
            t1 = time.perf_counter()
            code = server.stop()
            extra["graceful_stop_s"] = time.perf_counter() - t1
        extra["server_exit_code"] = code
        if code != 0 and error is None:
            error = f"server exited with {code} on SIGTERM: {server.log_tail()!r}"
        extra["disk_after_stop"] = dir_breakdown(d)
        # Reopen the folder in process: everything the server acknowledged must be there.
        with LogStore(d, bench_config()) as store:
            error = error or verify_store(store, want)
        if n != len(bodies) and error is None:
            error = f"{n} of {len(bodies)} pushes acknowledged"
        shutil.rmtree(d.parent, ignore_errors=True)
    t = Timing(tuple(walls), tuple(0.0 for _ in walls), None)
    return res.add(
        Measurement(
            "I3",
            "HTTP push: protobuf+snappy ~1 MiB bodies, one keep-alive client, loopback",
            t,
            nbytes=corpus.raw_bytes,
            nlines=corpus.n_lines,
            check="every push 204; exit 0 on SIGTERM; data dir reopened == corpus",
            error=error,
            extra=extra,
        )
    )


def _measure_models(
    corpus: Corpus, bodies: Bodies, res: Results, runs: int, tmp: Path, only: Callable[[str], bool]
) -> None:
    """The minimal models, interleaved with a SQLite insert of their own: in rounds apart from
    I1/I2's, so the models' allocations never run between a target row and its baseline."""
    models = model_tasks(bodies.json if only("I1") else None, bodies.proto if only("I2") else None)
    sqlite = SqliteInsert(corpus, tmp, MODEL_SQLITE)
    timings = measure_many([sqlite.task(), *models], runs)
    res.add(sqlite.measurement(timings[sqlite.name]))
    for model in models:
        res.add(_model_measurement(model.name, timings[model.name], corpus))


def _model_measurement(key: str, t: Timing, corpus: Corpus) -> Measurement:
    kind = "JSON" if key.endswith("json") else "protobuf+snappy"
    return Measurement(
        key,
        f"performance.md's minimal {kind} ingest model (decode, append, cut, zstd; no WAL/files)",
        t,
        nbytes=corpus.raw_bytes,
        nlines=corpus.n_lines,
        check="entries stored == lines",
        error=None if t.result == corpus.n_lines else f"{t.result} entries stored, want {corpus.n_lines}",
    )


def measure_ingest(
    corpus: Corpus,
    bodies: Bodies,
    res: Results,
    runs: int = 3,
    tmp: Path | None = None,
    only: Callable[[str], bool] = lambda key: True,
    http_runs: int | None = None,
) -> None:
    """I1, I2 interleaved with the SQLite insert they are compared with; then S1 and I3."""
    want = expected_streams(corpus)
    base = Path(tempfile.mkdtemp(prefix="lokipy-bench-ingest-", dir=tmp))
    try:
        runners = []
        if only("I1"):
            runners.append(
                InProcessIngest(
                    "I1", "JSON push in process: LogStore.push_body + flush", bodies.json, JSON_TYPE, base
                )
            )
        if only("I2"):
            runners.append(
                InProcessIngest(
                    "I2",
                    "protobuf+snappy push in process: LogStore.push_body + flush",
                    bodies.proto,
                    PROTO_TYPE,
                    base,
                )
            )
        if runners:
            sqlite = SqliteInsert(corpus, base)
            tasks = [sqlite.task(), *(r.task(want) for r in runners)]
            timings = measure_many(tasks, runs)
            res.add(sqlite.measurement(timings[sqlite.name]))
            for r in runners:
                m = res.add(r.measurement(timings[r.key], corpus))
                if r.key == "I2":
                    disk = m.extra["disk_after_close"]
                    res.add(
                        Measurement(
                            "S1",
                            "bytes on disk after flush + close (I2 store)",
                            value=sum(disk.values()),
                            unit="bytes",
                            extra={"breakdown": disk},
                        )
                    )
            _measure_models(corpus, bodies, res, runs, base, only)
        if only("I3"):
            _http(bodies.proto, corpus, want, res, http_runs or runs, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
