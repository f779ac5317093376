"""Engine-only query throughput: LogQL over an in-memory querier, beside the machine's floor.

Measures what the evaluator itself costs (storage decoding excluded): every query scans the
whole data set, and throughput is raw line bytes scanned per second. The floor, measured in
the same run over the same batches, is one ``bytes.find`` of an absent needle per block: the
least any line filter can do in Python.

Run: ``python benchmarks/bench_query.py [--mb 32]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lokipy.logql.engine import Engine  # noqa: E402
from lokipy.model.entry import EntryBatch  # noqa: E402
from lokipy.model.querier import Direction  # noqa: E402
from tests.logql.memquerier import MemoryQuerier  # noqa: E402

S = 10**9
T0 = 1767225600 * S
LEVELS = ("info", "warn", "error", "debug")


class BlockQuerier(MemoryQuerier):
    """Hands out prebuilt blocks, as a store with decompressed blocks cached would."""

    def __init__(self, batch_size: int) -> None:
        super().__init__(batch_size)
        self._blocks: dict[object, list[EntryBatch]] = {}

    def select_batches(self, tenant, labels, start, end, direction=Direction.FORWARD):  # type: ignore[no-untyped-def]
        # Every query here covers all the data, so one block list per stream serves them all.
        key = (tenant, labels)
        blocks = self._blocks.get(key)
        if blocks is None:
            blocks = self._blocks[key] = list(
                super().select_batches(tenant, labels, 0, 2**62, Direction.FORWARD)
            )
        return iter(blocks if direction is Direction.FORWARD else blocks[::-1])


def build(mb: float, seed: int = 7) -> tuple[MemoryQuerier, int, int]:
    """~``mb`` MiB of JSON lines in 4 streams (one per level), 2000-entry blocks."""
    rnd = random.Random(seed)
    q = BlockQuerier(batch_size=2000)
    target = int(mb * 1024 * 1024)
    size = 0
    n = 0
    per_level: dict[str, list[tuple[int, str]]] = {lv: [] for lv in LEVELS}
    while size < target:
        lv = LEVELS[n % 4]
        line = json.dumps(
            {
                "ts": n,
                "level": lv,
                "method": rnd.choice(("GET", "POST", "PUT")),
                "path": f"/api/v1/items/{rnd.randrange(10000)}",
                "status": rnd.choice((200, 200, 200, 404, 500)),
                "latency_ms": rnd.randrange(1, 2000),
                "user": {"id": rnd.randrange(1000), "region": rnd.choice(("eu", "us"))},
            }
        )
        per_level[lv].append((T0 + n * 10_000_000, line))  # 100 lines per second
        size += len(line)
        n += 1
    for lv, entries in per_level.items():
        q.push({"app": "bench", "level": lv}, entries)
    return q, size, T0 + n * 10_000_000 + 1


def floor(q: MemoryQuerier, end: int) -> float:
    """Seconds for one absent-needle ``bytes.find`` over every block of every stream."""
    began = time.perf_counter()
    for labels in q.select_streams("fake", [], 0, end):
        for batch in q.select_batches("fake", labels, 0, end, Direction.FORWARD):
            batch.data.find(b"\x00needle\x00")
    return time.perf_counter() - began


QUERIES = [
    ("selector only (log, limit 5000)", '{app="bench"}', "log"),
    ("|= (rare)", '{app="bench"} |= "items/9999,"', "log"),
    ("|~ (rare)", '{app="bench"} |~ "items/999[0-9]\\","', "log"),
    ("!= (drops all)", '{app="bench"} != "level"', "log"),
    ("| json | label filter", '{app="bench"} | json | status = 500 and latency_ms > 1990', "log"),
    ("| json, limit 100 (stops early)", '{app="bench"} | json', "log100"),
    ("count_over_time", 'count_over_time({app="bench"}[1h])', "instant"),
    ("sum by (level) (rate(...))", 'sum by (level) (rate({app="bench"}[1m]))', "range"),
    (
        "sum by (method) (count(... | json))",
        'sum by (method) (count_over_time({app="bench"} | json [1m]))',
        "range",
    ),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=16.0)
    args = ap.parse_args()
    q, size, end = build(args.mb)
    # Warm the in-memory sort cache so every query measures evaluation only.
    floor(q, end)
    engine = Engine(q)
    floor_s = min(floor(q, end) for _ in range(3))
    mib = size / 2**20
    print(f"data: {mib:.1f} MiB raw lines; floor (one bytes.find per block): "
          f"{mib / floor_s:,.0f} MiB/s")  # fmt: skip
    print(f"{'query':34} {'seconds':>8} {'MiB/s':>9}  {'x floor':>8}")
    for name, text, kind in QUERIES:
        began = time.perf_counter()
        if kind.startswith("log"):
            limit = 100 if kind == "log100" else 5000
            engine.query_range("fake", text, T0, end, 0, limit=limit, direction=Direction.BACKWARD)
        elif kind == "instant":
            engine.query_instant("fake", text, end)
        else:
            engine.query_range("fake", text, T0, end, 60 * S)
        took = time.perf_counter() - began
        print(f"{name:34} {took:8.3f} {mib / took:9,.1f}  {took / floor_s:8.1f}")


if __name__ == "__main__":
    main()
