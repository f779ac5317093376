"""The start-up benchmark runs (quick) and its numbers are sane and in the goal's range."""

from __future__ import annotations

import pytest

from benchmarks import bench_startup


@pytest.mark.slow
def test_quick_run_reports_every_measurement() -> None:
    report = bench_startup.run(quick=True)
    results = report["results"]
    assert set(results) == {
        "store_ready", "store_close", "http_ready", "http_stop", "cold_http_ready", "cold_cli_ready",
    }  # fmt: skip
    for name, r in results.items():
        assert r["runs"] >= 1 and 0 < r["min_ms"] <= r["p50_ms"] <= r["max_ms"], name
    # Goals: milliseconds for the store, well under a second for the HTTP fixture. CPU time,
    # not wall time, so a busy shared machine does not fail the test.
    assert results["store_ready"]["cpu_p50_ms"] < 50
    assert results["http_ready"]["cpu_p50_ms"] < 500
    assert report["loki"] is None and "Loki not measured" in report["comparison"]
    assert "store_ready" in bench_startup.format_table(report)
