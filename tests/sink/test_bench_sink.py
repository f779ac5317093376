"""The sink benchmark runs (quick) and everything it logged arrived exactly once."""

from __future__ import annotations

import pytest

from benchmarks import bench_sink


@pytest.mark.slow
def test_quick_run() -> None:
    report = bench_sink.run(quick=True)
    r = report["results"]
    assert r["sink_count"]["lines_per_cpu_s_p50"] > 0
    assert r["sink_http"]["lines_per_s_p50"] > 0 and r["sink_http"]["bodies"] == 5
    assert r["handler"]["all_arrived"] and r["handler"]["records"] == 10_000
    assert r["handler"]["emit_us_per_record"] > 0
