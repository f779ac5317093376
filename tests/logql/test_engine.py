"""Engine behaviour over an in-memory querier: log-query limits/direction/intervals, metric
windows and steps, errors and limits. Queries are built as ASTs so these tests pin the
evaluator alone (the parser has its own tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lokipy.logql import ast
from lokipy.logql.engine import Engine, QueryLimits
from lokipy.logql.evaluator import PipelineError
from lokipy.logql.results import Matrix, Scalar, Streams, Vector, make_labels
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import InvalidInput, QueryTimeout
from lokipy.model.matchers import eq
from lokipy.model.querier import Direction
from tests.logql.memquerier import MemoryQuerier

S = 10**9


def sel(**kv: str) -> ast.LogQuery:
    return ast.LogQuery(ast.StreamSelector(tuple(eq(k, v) for k, v in kv.items())))


def count(q: ast.LogQuery, rng: int, offset: int = 0) -> ast.RangeAggregation:
    return ast.RangeAggregation("count_over_time", ast.LogRange(q, rng, offset))


@pytest.fixture
def engine() -> Engine:
    q = MemoryQuerier(batch_size=3)
    q.push({"app": "a"}, [(i * S, f"a{i}") for i in range(1, 11)])
    q.push({"app": "b"}, [(i * S, f"b{i}") for i in range(2, 11, 2)])
    return Engine(q)


def entries(result: Streams) -> list[tuple[int, str]]:
    return [e for s in result.streams for e in s.entries]


def test_log_query_limit_is_global_over_merged_direction_order(engine: Engine) -> None:
    q = ast.LogQuery(ast.StreamSelector((ast.LabelMatcher("app", ast.MatchType.RE, "a|b"),)))
    res = engine.query_range("fake", q, 0, 100 * S, 0, limit=4)
    assert isinstance(res.value, Streams)
    got = sorted(entries(res.value), reverse=True)
    # Equal timestamps are ordered by stream labels.
    assert got == [(10 * S, "b10"), (10 * S, "a10"), (9 * S, "a9"), (8 * S, "a8")]
    # Streams are sorted by label string, entries newest first.
    assert [str(s.labels) for s in res.value.streams] == ['{app="a"}', '{app="b"}']
    assert res.value.streams[0].entries == ((10 * S, "a10"), (9 * S, "a9"), (8 * S, "a8"))
    fwd = engine.query_range("fake", q, 0, 100 * S, 0, limit=3, direction=Direction.FORWARD)
    assert sorted(entries(fwd.value)) == [(1 * S, "a1"), (2 * S, "a2"), (2 * S, "b2")]  # type: ignore[arg-type]


def test_log_query_start_inclusive_end_exclusive(engine: Engine) -> None:
    res = engine.query_range("fake", sel(app="a"), 3 * S, 6 * S, 0, limit=100)
    assert sorted(entries(res.value)) == [(3 * S, "a3"), (4 * S, "a4"), (5 * S, "a5")]  # type: ignore[arg-type]


def test_log_query_interval_samples(engine: Engine) -> None:
    res = engine.query_range("fake", sel(app="a"), 0, 100 * S, 0, direction=Direction.FORWARD, interval=3 * S)
    assert [t for t, _ in entries(res.value)] == [1 * S, 4 * S, 7 * S, 10 * S]  # type: ignore[arg-type]
    res = engine.query_range("fake", sel(app="a"), 0, 100 * S, 0, interval=4 * S)
    assert [t for t, _ in entries(res.value)] == [10 * S, 6 * S, 2 * S]  # type: ignore[arg-type]


def test_log_query_limits_and_instant(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match=r"limit > max_entries_limit_per_query \(5001 > 5000\)"):
        engine.query_range("fake", sel(app="a"), 0, 10 * S, 0, limit=5001)
    with pytest.raises(InvalidInput, match="log queries are not supported as an instant query"):
        engine.query_instant("fake", sel(app="a"), 10 * S)
    with pytest.raises(InvalidInput, match="the query time range exceeds the limit"):
        engine.query_range("fake", sel(app="a"), 0, 722 * 3600 * S, 0)


def test_range_query_steps_and_half_open_windows(engine: Engine) -> None:
    res = engine.query_range("fake", count(sel(app="a"), 2 * S), 2 * S, 12 * S, 3 * S)
    assert isinstance(res.value, Matrix)
    (series,) = res.value.series
    # steps 2, 5, 8, 11: windows (0,2] (3,5] (6,8] (9,11]
    assert series.timestamps == (2 * S, 5 * S, 8 * S, 11 * S)
    assert series.values == (2.0, 2.0, 2.0, 1.0)


def test_matrix_has_gaps_and_offset_shifts_window(engine: Engine) -> None:
    res = engine.query_range("fake", count(sel(app="b"), 1 * S), 1 * S, 5 * S, 1 * S)
    (series,) = res.value.series  # type: ignore[union-attr]
    assert series.timestamps == (2 * S, 4 * S)
    res = engine.query_instant("fake", count(sel(app="a"), 2 * S, offset=5 * S), 10 * S)
    assert isinstance(res.value, Vector)
    assert [s.value for s in res.value.samples] == [2.0]


def test_instant_scalar_and_vector_literals(engine: Engine) -> None:
    res = engine.query_instant("fake", ast.NumberLiteral(2.0), 5 * S)
    assert res.value == Scalar(5 * S, 2.0)
    res = engine.query_instant("fake", ast.BinaryOp("+", ast.VectorExpr(1.0), ast.VectorExpr(1.0)), 5 * S)
    assert isinstance(res.value, Vector)
    assert [(s.labels.pairs, s.value) for s in res.value.samples] == [((), 2.0)]
    res = engine.query_range("fake", ast.NumberLiteral(3.0), 0, 2 * S, S)
    assert isinstance(res.value, Matrix)
    assert res.value.series[0].values == (3.0, 3.0, 3.0)


def test_absent_over_time_labels_from_equality_matchers(engine: Engine) -> None:
    q = ast.LogQuery(ast.StreamSelector((eq("app", "zzz"), ast.LabelMatcher("env", ast.MatchType.RE, ".+"))))
    expr = ast.RangeAggregation("absent_over_time", ast.LogRange(q, S))
    res = engine.query_instant("fake", expr, 5 * S)
    assert [(s.labels, s.value) for s in res.value.samples] == [(make_labels([("app", "zzz")]), 1.0)]  # type: ignore[union-attr]
    present = ast.RangeAggregation("absent_over_time", ast.LogRange(sel(app="a"), S))
    assert len(engine.query_instant("fake", present, 5 * S).value) == 0


def test_metric_query_fails_on_error_label_unless_filtered() -> None:
    q = MemoryQuerier()
    q.push({"app": "j"}, [(1 * S, '{"a":1}'), (2 * S, "not json")])
    engine = Engine(q)
    parsed = ast.LogQuery(sel(app="j").selector, (ast.JSONParser(),))
    with pytest.raises(PipelineError, match="pipeline error: 'JSONParserErr'"):
        engine.query_instant("fake", count(parsed, 10 * S), 5 * S)
    filtered = ast.LogQuery(
        parsed.selector,
        (
            ast.JSONParser(),
            ast.LabelFilter(ast.StringLabelFilter(ast.LabelMatcher("__error__", ast.MatchType.EQ, ""))),
        ),
    )
    res = engine.query_instant("fake", count(filtered, 10 * S), 5 * S)
    assert [(s.labels, s.value) for s in res.value.samples] == [  # type: ignore[union-attr]
        (make_labels([("a", "1"), ("app", "j")]), 1.0)
    ]


def test_unwrap_drops_label_and_skips_missing() -> None:
    q = MemoryQuerier()
    q.push({"app": "u"}, [(1 * S, "v=2 k=x"), (2 * S, "noise"), (3 * S, "v=5 k=x")])
    engine = Engine(q)
    logfmt = ast.LogQuery(sel(app="u").selector, (ast.LogfmtParser(),))
    expr = ast.RangeAggregation("sum_over_time", ast.LogRange(logfmt, 10 * S, unwrap=ast.Unwrap("v")))
    res = engine.query_instant("fake", expr, 5 * S)
    assert [(s.labels, s.value) for s in res.value.samples] == [  # type: ignore[union-attr]
        (make_labels([("app", "u"), ("k", "x")]), 7.0)
    ]


def test_series_limit_returns_partial_results_with_warning() -> None:
    q = MemoryQuerier()
    for i in range(5):
        q.push({"app": "m", "pod": str(i)}, [(1 * S, "x")])
    engine = Engine(q, QueryLimits(max_query_series=3))
    res = engine.query_range("fake", count(sel(app="m"), 10 * S), 1 * S, 2 * S, S)
    assert len(res.value) == 3
    assert res.warnings == (
        "maximum number of series (3) reached for a single query; returning partial results",
    )


def test_step_validation(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="zero or negative query resolution step"):
        engine.query_range("fake", count(sel(app="a"), S), 0, 10 * S, 0)
    with pytest.raises(InvalidInput, match="exceeded maximum resolution of 11,000 points"):
        engine.query_range("fake", count(sel(app="a"), S), 0, 20000 * S, S)


@settings(max_examples=40)
@given(
    stamps=st.lists(st.integers(0, 60), min_size=0, max_size=40),
    start=st.integers(0, 40),
    span=st.integers(0, 30),
    step=st.integers(1, 9),
    rng=st.integers(1, 15),
    offset=st.integers(0, 5),
)
def test_range_windows_match_a_brute_force_oracle(
    stamps: list[int], start: int, span: int, step: int, rng: int, offset: int
) -> None:
    """count/sum/max over (t-offset-range, t-offset] at every step, against a direct count."""
    q = MemoryQuerier(batch_size=5)
    q.push({"app": "h"}, [(t * S, f"v={t}") for t in stamps])
    engine = Engine(q)
    counted = count(sel(app="h"), rng * S, offset * S)
    res = engine.query_range("fake", counted, start * S, (start + span) * S, step * S)
    unique = sorted(set(stamps))  # exact duplicates (same ts and line) are one entry
    want = {}
    for t in range(start, start + span + 1, step):
        n = sum(1 for x in unique if t - offset - rng < x <= t - offset)
        if n:
            want[t * S] = float(n)
    got = {}
    for series in res.value.series:  # type: ignore[union-attr]
        got.update(zip(series.timestamps, series.values, strict=True))
    assert got == want
    summed = ast.RangeAggregation(
        "max_over_time",
        ast.LogRange(
            ast.LogQuery(sel(app="h").selector, (ast.LogfmtParser(),)),
            rng * S,
            offset * S,
            ast.Unwrap("v"),
        ),
    )
    res = engine.query_range("fake", summed, start * S, (start + span) * S, step * S)
    got = {}
    for series in res.value.series:  # type: ignore[union-attr]
        got.update(zip(series.timestamps, series.values, strict=True))
    want = {}
    for t in range(start, start + span + 1, step):
        inside = [x for x in unique if t - offset - rng < x <= t - offset]
        if inside:
            want[t * S] = float(max(inside))
    assert got == want


def test_series_mixing_fast_and_slow_batches_stays_aligned() -> None:
    """A stream whose batches sometimes carry metadata feeds one series from both paths."""
    q = MemoryQuerier(batch_size=2)
    q.push({"app": "x"}, [(1 * S, "a"), (2 * S, "b"), (3 * S, "c", {"k": ""}), (4 * S, "d")])
    q.push({"app": "y"}, [(1 * S, "a")])
    engine = Engine(q)
    counted = ast.VectorAggregation(
        "sum",
        count(
            ast.LogQuery(ast.StreamSelector((ast.LabelMatcher("app", ast.MatchType.RE, "x|y"),))),
            10 * S,
        ),
    )
    res = engine.query_instant("fake", counted, 5 * S)
    assert [s.value for s in res.value.samples] == [5.0]  # type: ignore[union-attr]
    first = ast.RangeAggregation("bytes_over_time", ast.LogRange(sel(app="x"), 10 * S))
    res = engine.query_instant("fake", first, 5 * S)
    assert sorted(s.value for s in res.value.samples) == [1.0, 3.0]  # type: ignore[union-attr]


class _TimestampsOnly(MemoryQuerier):
    """A querier whose timestamps-only path hands out batches without line bytes."""

    def __init__(self) -> None:
        super().__init__(batch_size=2)
        self.calls = 0

    def select_timestamps(self, tenant, labels, start, end, direction=Direction.FORWARD):  # type: ignore[no-untyped-def]
        self.calls += 1
        for batch in self.select_batches(tenant, labels, start, end, direction):
            yield EntryBatch(batch.timestamps, b"", [0] * (len(batch) + 1), batch.metadata)


def test_bare_selector_counts_use_the_timestamps_only_path() -> None:
    q = _TimestampsOnly()
    q.push({"app": "t"}, [(1 * S, "a"), (2 * S, "b", {"k": "v"}), (3 * S, "c")])
    engine = Engine(q)
    res = engine.query_instant("fake", count(sel(app="t"), 10 * S), 5 * S)
    assert q.calls == 1
    assert sorted((str(s.labels), s.value) for s in res.value.samples) == [  # type: ignore[union-attr]
        ('{app="t", k="v"}', 1.0),
        ('{app="t"}', 2.0),
    ]
    # bytes_over_time needs line lengths: the full path.
    engine.query_instant(
        "fake", ast.RangeAggregation("bytes_over_time", ast.LogRange(sel(app="t"), 10 * S)), 5 * S
    )
    assert q.calls == 1


def test_direction_accepts_strings(engine: Engine) -> None:
    res = engine.query_range("fake", sel(app="a"), 0, 100 * S, 0, limit=2, direction="FORWARD")  # type: ignore[arg-type]
    assert entries(res.value) == [(1 * S, "a1"), (2 * S, "a2")]  # type: ignore[arg-type]


def test_query_timeout_stops_between_batches() -> None:
    q = MemoryQuerier(batch_size=1)
    q.push({"app": "slow"}, [(i * S, "x") for i in range(1, 50)])
    engine = Engine(q, QueryLimits(query_timeout=1e-9))
    with pytest.raises(QueryTimeout, match="request timed out"):
        engine.query_instant("fake", count(sel(app="slow"), 100 * S), 60 * S)
    with pytest.raises(QueryTimeout):
        engine.query_range("fake", sel(app="slow"), 0, 100 * S, 0)


@settings(max_examples=40)
@given(
    streams=st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=4),
    limit=st.integers(1, 20),
    forward=st.booleans(),
    interval=st.integers(0, 4),
    start=st.integers(0, 10),
    end=st.integers(10, 31),
)
def test_log_queries_match_a_brute_force_merge(
    streams: list[list[int]], limit: int, forward: bool, interval: int, start: int, end: int
) -> None:
    q = MemoryQuerier(batch_size=3)
    everything = []
    for n, stamps in enumerate(streams):
        q.push({"app": "p", "n": str(n)}, [(t * S, f"{n}-{t}") for t in stamps])
        key = f'{{app="p", n="{n}"}}'
        everything += {(t, key, f"{n}-{t}") for t in stamps if start <= t < end}
    # Direction order; equal timestamps by stream label string in both directions.
    everything.sort(key=lambda e: (e[0] if forward else -e[0], e[1]))
    want = []
    last = None
    for t, _, line in everything:
        if interval and last is not None and (t < last + interval if forward else t > last - interval):
            continue
        want.append((t * S, line))
        last = t
        if len(want) == limit:
            break
    res = Engine(q).query_range(
        "fake",
        sel(app="p"),
        start * S,
        end * S,
        0,
        limit=limit,
        direction=Direction.FORWARD if forward else Direction.BACKWARD,
        interval=interval * S,
    )
    got = sorted(entries(res.value))  # type: ignore[arg-type]
    assert got == sorted(want)
    for stream in res.value.streams:  # type: ignore[union-attr]
        stamps = [t for t, _ in stream.entries]
        assert stamps == sorted(stamps, reverse=not forward)


@pytest.mark.parametrize(("rng", "offset", "step"), [(10, 0, 1), (7, 3, 2), (1, 0, 3), (40, 5, 7)])
def test_sparse_series_over_many_steps(rng: int, offset: int, step: int) -> None:
    """Two samples and hundreds of steps: the sparse window path, against a direct count."""
    stamps = [5, 100]
    q = MemoryQuerier()
    q.push({"app": "s"}, [(t * S, "x") for t in stamps])
    res = Engine(q).query_range("fake", count(sel(app="s"), rng * S, offset * S), 0, 300 * S, step * S)
    got = {}
    for series in res.value.series:  # type: ignore[union-attr]
        got.update(zip(series.timestamps, series.values, strict=True))
    want = {}
    for t in range(0, 301, step):
        n = sum(1 for x in stamps if t - offset - rng < x <= t - offset)
        if n:
            want[t * S] = float(n)
    assert got == want


@given(
    streams=st.lists(
        st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=30), min_size=2, max_size=5
    ),
    step=st.integers(min_value=1, max_value=20),
)
@settings(max_examples=40)
def test_sums_over_several_streams_match_a_brute_force_count(streams: list[list[int]], step: int) -> None:
    """sum(count_over_time) and sum(rate) over several streams are counted run by run (one
    sorted run per stream, never merged); the result must equal counting every sample."""
    q = MemoryQuerier()
    for n, seconds in enumerate(streams):
        q.push({"app": "x", "n": str(n)}, [(sec * S + n, f"l{n}") for sec in sorted(set(seconds))])
    samples = sorted(sec * S + n for n, seconds in enumerate(streams) for sec in set(seconds))
    engine = Engine(q)
    for op, scale in (("count_over_time", 1.0), ("rate", 1 / 30)):
        res = engine.query_range("fake", f'sum({op}({{app="x"}}[30s]))', 0, 150 * S, step * S)
        assert isinstance(res.value, Matrix)
        got = {t: v for s in res.value.series for t, v in zip(s.timestamps, s.values, strict=True)}
        want = {}
        for t in range(0, 150 * S + 1, step * S):
            c = sum(1 for x in samples if t - 30 * S < x <= t)
            if c:
                want[t] = c * scale
        assert got.keys() == want.keys()
        assert all(abs(got[t] - want[t]) < 1e-9 for t in want)
