"""The load benchmark in its quick form: zero failed requests, nothing acknowledged missing,
and server memory bounded. Speed is never asserted (the machine is shared)."""

from __future__ import annotations

import pytest

from benchmarks.bench_load import run


@pytest.mark.slow
def test_quick_load_has_no_failures_and_bounded_memory() -> None:
    figures = run(True, seconds=3.0)
    assert figures["push_failures"] == 0, figures.get("push_first_failure")
    assert figures["query_failures"] == 0, figures.get("query_first_failure")
    assert figures["tail_error"] is None
    assert figures["push_requests"] > 0 and figures["query_requests"] > 0
    assert figures["tail_received"] > 0
    assert figures["entries_stored"] == figures["entries_acked"] > 0
    # Heads hold at most a chunk per stream; a few seconds of load must not balloon the server.
    assert figures["rss_max_mb"] < 400, figures
    for key in ("push_p50_ms", "push_p99_ms", "query_p50_ms", "query_p99_ms", "entries_per_s"):
        assert figures[key] >= 0
