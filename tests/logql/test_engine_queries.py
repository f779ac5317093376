"""End-to-end engine behaviour through LogQL text (parser + evaluator + JSON shape)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lokipy.logql.engine import Engine
from lokipy.logql.evaluator import PipelineError
from lokipy.logql.results import QueryResult, Scalar, Vector, to_loki_data
from lokipy.model.errors import LogQLEvalError
from lokipy.model.querier import Direction
from tests.logql.memquerier import MemoryQuerier

S = 10**9
T = 1700000000 * S


@pytest.fixture
def engine() -> Engine:
    q = MemoryQuerier()
    for pod, lines in (("1", 3), ("2", 5)):
        q.push(
            {"app": "web", "pod": pod},
            [(T - i * S, f"level=info status=200 latency={i}ms") for i in range(lines)],
        )
    q.push({"app": "db", "pod": "1"}, [(T - S, "level=error status=500 latency=2s")])
    q.push(
        {"app": "md"},
        [(T - S, "hello", {"trace_id": "abc"}), (T - 2 * S, "hello")],
    )
    return Engine(q)


def values(result: Vector) -> dict[str, float]:
    return {str(s.labels): s.value for s in result.samples}


def test_grafana_health_check_json(engine: Engine) -> None:
    res = engine.query_instant("fake", "vector(1)+vector(1)", 4000000000 * S)
    data = to_loki_data(res)
    assert data["resultType"] == "vector"
    assert data["result"] == [{"metric": {}, "value": [4000000000, "2"]}]


def test_scalar_arithmetic(engine: Engine) -> None:
    assert engine.query_instant("fake", "2^3^2", T).value == Scalar(T, 512.0)
    assert engine.query_instant("fake", "-2^2", T).value == Scalar(T, 4.0)
    res = engine.query_instant("fake", "1 / 0", T).value
    assert isinstance(res, Scalar) and math.isnan(res.value)
    assert to_loki_data(engine.query_instant("fake", "1 / 0", T))["result"] == [1700000000, "NaN"]


def test_vector_aggregation_and_binop(engine: Engine) -> None:
    res = engine.query_instant("fake", 'sum by (app) (count_over_time({app=~"web|db"}[1m]))', T).value
    assert values(res) == {'{app="db"}': 1.0, '{app="web"}': 8.0}  # type: ignore[arg-type]
    res = engine.query_instant(
        "fake",
        'count_over_time({app="web"}[1m]) / on (app) group_left '
        'sum by (app) (count_over_time({app="web"}[1m]))',
        T,
    ).value
    assert values(res) == {  # type: ignore[arg-type]
        '{app="web", pod="1"}': 3 / 8,
        '{app="web", pod="2"}': 5 / 8,
    }
    with pytest.raises(LogQLEvalError, match="many-to-one matching must be explicit"):
        engine.query_instant(
            "fake",
            'count_over_time({app="web"}[1m]) / on (app) sum by (app) (count_over_time({app="web"}[1m]))',
            T,
        )
    res = engine.query_instant("fake", 'topk(1, count_over_time({app="web"}[1m]))', T).value
    assert values(res) == {'{app="web", pod="2"}': 5.0}  # type: ignore[arg-type]
    res = engine.query_instant("fake", 'count_over_time({app="web"}[1m]) > bool 4', T).value
    assert values(res) == {'{app="web", pod="1"}': 0.0, '{app="web", pod="2"}': 1.0}  # type: ignore[arg-type]


def test_unwrap_conversions(engine: Engine) -> None:
    res = engine.query_instant(
        "fake",
        'max_over_time({app=~"web|db"} | logfmt | unwrap duration(latency) [1m]) by (app)',
        T,
    ).value
    assert values(res) == {'{app="db"}': 2.0, '{app="web"}': 0.004}  # type: ignore[arg-type]


def test_structured_metadata_is_part_of_the_series(engine: Engine) -> None:
    res = engine.query_instant("fake", 'count_over_time({app="md"}[1m])', T).value
    assert values(res) == {'{app="md"}': 1.0, '{app="md", trace_id="abc"}': 1.0}  # type: ignore[arg-type]
    logs = engine.query_range("fake", '{app="md"}', T - 10 * S, T, 0, direction=Direction.FORWARD)
    data = to_loki_data(logs)
    # Sorted by label string, as Loki does: '{app="md", ...' comes before '{app="md"}'.
    assert [s["stream"] for s in data["result"]] == [
        {"app": "md", "trace_id": "abc"},
        {"app": "md"},
    ]
    cat = to_loki_data(logs, categorize_labels=True)
    assert cat["result"] == [
        {
            "stream": {"app": "md"},
            "values": [
                ["1699999998000000000", "hello", {}],
                ["1699999999000000000", "hello", {"structuredMetadata": {"trace_id": "abc"}}],
            ],
        }
    ]


def test_pipeline_errors_fail_metric_queries_only(engine: Engine) -> None:
    with pytest.raises(PipelineError, match="JSONParserErr"):
        engine.query_instant("fake", 'count_over_time({app="web"} | json [1m])', T)
    with pytest.raises(PipelineError, match="JSONParserErr"):  # also when summed at the source
        engine.query_instant("fake", 'sum by (app) (count_over_time({app="web"} | json [1m]))', T)
    logs = engine.query_range("fake", '{app="db"} | json', T - 10 * S, T, 0)
    (stream,) = to_loki_data(logs)["result"]
    assert stream["stream"]["__error__"] == "JSONParserErr"
    res = engine.query_instant("fake", 'count_over_time({app="db"} | json | __error__="" [1m])', T)
    assert len(res.value) == 0


def test_label_replace(engine: Engine) -> None:
    res = engine.query_instant(
        "fake",
        'label_replace(count_over_time({app="db"}[1m]), "kind", "$1-x", "app", "(d)b")',
        T,
    ).value
    assert values(res) == {'{app="db", kind="d-x", pod="1"}': 1.0}  # type: ignore[arg-type]


def test_stats_count_scanned_lines_and_returned_entries(engine: Engine) -> None:
    res = engine.query_range("fake", '{app="web"} |= "latency=1ms"', T - 60 * S, T + S, 0)
    summary = to_loki_data(res)["stats"]["summary"]
    assert summary["totalLinesProcessed"] == 8
    assert summary["totalBytesProcessed"] == sum(
        len(f"level=info status=200 latency={i}ms") for i in (0, 1, 2, 0, 1, 2, 3, 4)
    )
    assert summary["totalEntriesReturned"] == 2
    assert summary["totalPostFilterLines"] == 2
    md = engine.query_range("fake", '{app="md"}', T - 60 * S, T + S, 0)
    assert md.stats.total_structured_metadata_bytes == len("trace_id") + len("abc")


@settings(max_examples=30)
@given(
    data=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from("xy"), st.integers(0, 40)),
        max_size=40,
    ),
    op=st.sampled_from(["sum", "avg", "min", "max", "count", "stddev", "stdvar"]),
    grouping=st.sampled_from(["by (g)", "without (g)", "by (g, h)", ""]),
)
def test_column_aggregation_matches_the_step_path(
    data: list[tuple[str, str, int]], op: str, grouping: str
) -> None:
    """The column-wise fast path and the generic per-step path must agree exactly."""
    q = MemoryQuerier()
    for g, h, t in data:
        q.push({"app": "c", "g": g, "h": h}, [(T + t * S, f"l{t}")])
    engine = Engine(q)
    inner = 'count_over_time({app="c"}[10s])'
    noop = f'label_replace({inner}, "zz", "", "zz", "")'  # forces the per-step path
    fast = engine.query_range("fake", f"{op} {grouping} ({inner})", T, T + 40 * S, 5 * S)
    slow = engine.query_range("fake", f"{op} {grouping} ({noop})", T, T + 40 * S, 5 * S)

    def points(res: QueryResult) -> dict[str, list[tuple[int, float]]]:
        return {
            str(s.labels): list(zip(s.timestamps, s.values, strict=True))
            for s in res.value.series  # type: ignore[union-attr]
        }

    assert points(fast) == points(slow)
