"""Start-up cost of lokipy as a test dependency: how long until a store / a server is usable.

``python -m benchmarks.bench_startup [--quick] [--json FILE]``; ``run(quick) -> dict``.

Measured (p50 of repetitions; wall and CPU time):

* ``store_ready``: ``LogStore()`` in memory, one push and one query answered (what the
  ``lokipy_store`` fixture costs per test), and ``store_close``.
* ``http_ready``: a ``LokipyServer`` (uvicorn in a thread over an in-memory store) until
  ``GET /ready`` answers 200 (what ``lokipy_server_fn`` costs per test; ``lokipy_server``
  pays it once per session), and ``http_stop``.
* ``cold_http_ready``: a fresh interpreter importing lokipy and starting that server (what a
  test session pays once, imports included), and ``cold_cli_ready``: ``lokipy serve`` in a
  child process until ``/ready`` answers.

No comparison with Loki is measured: a Loki container cannot run on this machine (no container
runtime, no network beyond package registries). Loki's own documentation and common experience
put a single-binary Loki container at several seconds to ready; that figure is not ours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOT_COMPARED = (
    "Loki not measured: no container runtime and no network beyond package registries on this "
    "machine, so a Loki container cannot start here."
)

_COLD = """
import time, urllib.request
t0, c0 = time.perf_counter(), time.process_time()
from lokipy.testing import LokipyServer
srv = LokipyServer().start()
with urllib.request.urlopen(srv.url + "/ready") as r:
    assert r.status == 200
print(time.perf_counter() - t0, time.process_time() - c0)
srv.stop()
"""


def _summary(walls: list[float], cpus: list[float] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "runs": len(walls),
        "p50_ms": statistics.median(walls) * 1e3,
        "min_ms": min(walls) * 1e3,
        "max_ms": max(walls) * 1e3,
    }
    if cpus:
        out["cpu_p50_ms"] = statistics.median(cpus) * 1e3
    return out


def _repeat(n: int, setup_and_time: Callable[[], tuple[float, float]]) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(n):
        wall, cpu = setup_and_time()
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus


def measure_store(runs: int) -> dict[str, dict[str, Any]]:
    from lokipy.logstore import LogStore

    LogStore().close()  # imports and first-use caches are the cold measurement's business
    close_walls: list[float] = []

    def once() -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        store = LogStore()
        store.push({"app": "bench"}, [(time.time_ns(), "ready?")])
        assert len(store.select('{app="bench"}')) == 1
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        t = time.perf_counter()
        store.close()
        close_walls.append(time.perf_counter() - t)
        return wall, cpu

    walls, cpus = _repeat(runs, once)
    return {"store_ready": _summary(walls, cpus), "store_close": _summary(close_walls)}


def _get_ready(url: str) -> None:
    with urllib.request.urlopen(url + "/ready", timeout=10) as resp:
        assert resp.status == 200


def measure_http(runs: int) -> dict[str, dict[str, Any]]:
    from lokipy.testing import LokipyServer

    warm = LokipyServer().start()  # pay the imports outside the timed runs
    warm.stop()
    stop_walls: list[float] = []

    def once() -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        srv = LokipyServer().start()
        _get_ready(srv.url)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        t = time.perf_counter()
        srv.stop()
        stop_walls.append(time.perf_counter() - t)
        return wall, cpu

    walls, cpus = _repeat(runs, once)
    return {"http_ready": _summary(walls, cpus), "http_stop": _summary(stop_walls)}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def measure_cold(runs: int) -> dict[str, dict[str, Any]]:
    """Fresh interpreters: imports included, interpreter start-up excluded (timed inside)."""
    walls, cpus = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _COLD], env=_env(), capture_output=True, text=True, timeout=120, check=True
        )
        wall, cpu = out.stdout.strip().splitlines()[-1].split()
        walls.append(float(wall))
        cpus.append(float(cpu))
    return {"cold_http_ready": _summary(walls, cpus)}


def measure_cli(runs: int) -> dict[str, dict[str, Any]]:
    """``lokipy serve`` from process spawn to ``/ready`` (interpreter start-up included)."""
    from lokipy.testing.server import free_port

    walls = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="lokipy-bench-") as tmp:
            port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "lokipy",
                "serve",
                "--data-dir",
                tmp,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        _get_ready(f"http://127.0.0.1:{port}")
                        break
                    except OSError:
                        if proc.poll() is not None or time.perf_counter() - t0 > 120:
                            raise RuntimeError("lokipy serve did not become ready") from None
                        time.sleep(0.005)
                walls.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait(30)
    return {"cold_cli_ready": _summary(walls)}


def run(quick: bool) -> dict[str, Any]:
    store_runs, http_runs, cold_runs = (20, 5, 1) if quick else (200, 30, 5)
    results: dict[str, dict[str, Any]] = {}
    results.update(measure_store(store_runs))
    results.update(measure_http(http_runs))
    results.update(measure_cold(cold_runs))
    results.update(measure_cli(cold_runs))
    return {
        "benchmark": "startup",
        "quick": quick,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "results": results,
        "loki": None,
        "comparison": NOT_COMPARED,
    }


def format_table(report: dict[str, Any]) -> str:
    lines = [f"{'measurement':<18} {'runs':>5} {'p50 ms':>10} {'cpu p50 ms':>11} {'min ms':>9} {'max ms':>9}"]
    for name, r in report["results"].items():
        cpu = f"{r['cpu_p50_ms']:.2f}" if "cpu_p50_ms" in r else "-"
        lines.append(
            f"{name:<18} {r['runs']:>5} {r['p50_ms']:>10.2f} {cpu:>11} {r['min_ms']:>9.2f} {r['max_ms']:>9.2f}"
        )
    lines.append(
        f"(load average {report['load_avg_1m']:.2f} on {report['cpu_count']} CPUs) {report['comparison']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_startup", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="few repetitions (CI smoke run)")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    report = run(args.quick)
    print(format_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
