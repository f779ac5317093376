"""Small encoders the API writes with: Go duration text, matrix seconds, stats completion."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from lokipy.api.params import format_go_duration
from lokipy.api.responses import complete_stats, query_data, seconds, stats_skeleton

_GO_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?\Z")


@given(st.integers(1, 10**6 * 3600).map(lambda ms: ms * 1_000_000))
def test_go_duration_text_reads_back(ns: int) -> None:
    text = format_go_duration(ns)
    if ns < 10**9:
        assert text.endswith("ms") and float(text[:-2]) * 1e6 == ns
        return
    m = _GO_DURATION.match(text)
    assert m, text
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    assert round((h * 3600 + mi * 60 + s) * 1e9) == ns
    if h:
        assert m.group(2) is not None and m.group(3) is not None  # Go prints 721h0m0s, not 721h


def test_go_duration_examples() -> None:
    assert format_go_duration(721 * 3600 * 10**9) == "721h0m0s"
    assert format_go_duration(90 * 10**9) == "1m30s"
    assert format_go_duration(1_500_000_000) == "1.5s"
    assert format_go_duration(0) == "0s"


@given(st.integers(0, 2**62))
def test_matrix_seconds_have_millisecond_precision(ns: int) -> None:
    t = seconds(ns)
    assert round(t * 1000) == ns // 1_000_000
    assert isinstance(t, int) == (ns // 1_000_000 % 1000 == 0)


def test_complete_stats_keeps_ints_ints_and_fills_exec_time() -> None:
    stats = complete_stats({"summary": {"totalBytesProcessed": 10.0, "execTime": 0}}, exec_time=0.5)
    assert stats["summary"]["totalBytesProcessed"] == 10 and isinstance(
        stats["summary"]["totalBytesProcessed"], int
    )
    assert stats["summary"]["execTime"] == 0.5 and stats["summary"]["bytesProcessedPerSecond"] == 20
    assert list(stats) == list(stats_skeleton())


def test_query_data_key_order_whatever_the_input_order() -> None:
    data = query_data({"stats": {}, "result": None, "resultType": "streams"}, ["categorize-labels"])
    assert list(data) == ["resultType", "encodingFlags", "result", "stats"]
    assert data["result"] == [] and data["encodingFlags"] == ["categorize-labels"]
    metric = query_data({"result": [], "resultType": "matrix"}, ["categorize-labels"])
    assert list(metric) == ["resultType", "result", "stats"]
