"""Timing: median wall time of repeated runs, with a discarded warm-up for short kernels."""

from __future__ import annotations

import gc
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter, process_time
from typing import Any


@dataclass(frozen=True, slots=True)
class Timing:
    walls: tuple[float, ...]
    cpus: tuple[float, ...]
    result: Any

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpus)

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": len(self.walls),
            "median_s": self.median,
            "min_s": min(self.walls),
            "max_s": max(self.walls),
            "cpu_median_s": self.cpu_median,
        }


@dataclass(frozen=True, slots=True)
class Task:
    """One thing to time: ``fn()``, or ``fn(setup())`` followed by ``teardown(arg)``."""

    name: str
    fn: Callable[..., Any]
    setup: Callable[[], Any] | None = None
    teardown: Callable[[Any], None] | None = None


def measure_many(
    tasks: list[Task], runs: int = 3, *, min_time: float = 0.0, max_runs: int = 15
) -> dict[str, Timing]:
    """Time tasks round-robin, one run of each per round, keeping each task's last result.

    Interleaving matters on a shared machine: a burst of load from another process then hits
    a round (every task alike) instead of the whole measurement of one task, so the ratios
    between tasks stay meaningful. A first run under 0.5 s of a task without setup is a
    warm-up (allocator, caches) and is discarded. Rounds repeat until every task has ``runs``
    samples and (up to ``max_runs``) ``min_time`` seconds of them.
    """
    walls: dict[str, list[float]] = {t.name: [] for t in tasks}
    cpus: dict[str, list[float]] = {t.name: [] for t in tasks}
    results: dict[str, Any] = {}
    warm = {t.name: t.setup is not None for t in tasks}

    def more(t: Task) -> bool:
        w = walls[t.name]
        return len(w) < runs or (sum(w) < min_time and len(w) < max_runs)

    while any(more(t) for t in tasks):
        for t in tasks:
            if not more(t):
                continue
            arg = t.setup() if t.setup is not None else None
            gc.collect()
            c0, t0 = process_time(), perf_counter()
            results[t.name] = t.fn(arg) if t.setup is not None else t.fn()
            wall, cpu = perf_counter() - t0, process_time() - c0
            if t.teardown is not None:
                t.teardown(arg)
            if not warm[t.name]:
                warm[t.name] = True
                if wall < 0.5:
                    continue
            walls[t.name].append(wall)
            cpus[t.name].append(cpu)
    return {t.name: Timing(tuple(walls[t.name]), tuple(cpus[t.name]), results[t.name]) for t in tasks}


def measure(
    fn: Callable[..., Any],
    runs: int = 3,
    *,
    setup: Callable[[], Any] | None = None,
    teardown: Callable[[Any], None] | None = None,
    min_time: float = 0.0,
    max_runs: int = 15,
) -> Timing:
    """Time one function (see :func:`measure_many`)."""
    task = Task("fn", fn, setup, teardown)
    return measure_many([task], runs, min_time=min_time, max_runs=max_runs)["fn"]


def _status_kib(field: str, pid: int | str = "self") -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes(pid: int | str = "self") -> int | None:
    kib = _status_kib("VmRSS", pid)
    return None if kib is None else kib * 1024


def peak_rss_bytes(pid: int | str = "self") -> int | None:
    """High-water RSS (VmHWM) of a process; see :func:`reset_peak_rss`."""
    kib = _status_kib("VmHWM", pid)
    return None if kib is None else kib * 1024


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs`` 5), if allowed.

    Without this, the peak would include the corpus and bodies built before the measurement.
    """
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
