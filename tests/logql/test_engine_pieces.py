"""Pure pieces of the evaluator: number formatting, JSON shapes, range functions, vector ops."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.logql import functions as fn
from lokipy.logql.results import (
    EntryLabels,
    Matrix,
    QueryResult,
    Sample,
    Scalar,
    Series,
    Stream,
    Streams,
    Vector,
    format_value,
    make_labels,
    seconds,
    to_loki_data,
)
from lokipy.logql.vector import (
    Grouping,
    VectorMatching,
    aggregate,
    label_replace,
    scalar_binop,
    vector_binop,
    vector_scalar_binop,
)
from lokipy.model.errors import LogQLEvalError

S = 10**9


def L(**kv: str) -> object:  # noqa: N802 - reads like a label literal
    return make_labels(kv.items())


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2"),
        (0.1, "0.1"),
        (-1.5, "-1.5"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (1.2345e-5, "0.000012345"),
        (123456789.125, "123456789.125"),
        (-0.0, "-0"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (1.7976931348623157e308, "17976931348623157" + "0" * 292),
    ],
)
def test_format_value_is_go_shortest_f(value: float, text: str) -> None:
    assert format_value(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_value_round_trips_without_exponent(value: float) -> None:
    text = format_value(value)
    assert "e" not in text and "E" not in text
    assert float(text) == value


def test_seconds_have_millisecond_precision() -> None:
    assert seconds(1700000000 * S) == 1700000000
    assert seconds(1700000000123456789) == 1700000000.123
    assert seconds(1700000000500000000) == 1700000000.5


def test_matrix_json_shape_and_key_order() -> None:
    series = Series(L(level="info"), (60 * S, 120 * S), (12.0, 7.0))
    data = to_loki_data(QueryResult(Matrix((series,))))
    assert list(data) == ["resultType", "result", "stats"]
    assert data["resultType"] == "matrix"
    assert data["result"] == [{"metric": {"level": "info"}, "values": [[60, "12"], [120, "7"]]}]
    summary = data["stats"]["summary"]
    assert isinstance(summary["totalBytesProcessed"], int)
    assert isinstance(summary["execTime"], float)


def test_vector_scalar_and_empty_label_json() -> None:
    vec = Vector(4000000000 * S, (Sample(L(app="a", age=""), 2.0),))
    data = to_loki_data(QueryResult(vec))
    assert data["result"] == [{"metric": {"app": "a", "age": ""}, "value": [4000000000, "2"]}]
    data = to_loki_data(QueryResult(Scalar(1700000000 * S, 2.0)))
    assert data["resultType"] == "scalar"
    assert data["result"] == [1700000000, "2"]


def test_streams_json_plain_and_categorized() -> None:
    stream = Stream(
        L(app="api", trace="t1", status="200"),
        ((2 * S, "b"), (1 * S, "a")),
        L(app="api"),
        (
            EntryLabels((("trace", "t1"),), (("status", "200"),)),
            EntryLabels((("trace", "t1"),), (("status", "200"),)),
        ),
    )
    result = QueryResult(Streams((stream,)))
    plain = to_loki_data(result)
    assert plain["result"] == [
        {
            "stream": {"app": "api", "status": "200", "trace": "t1"},
            "values": [["2000000000", "b"], ["1000000000", "a"]],
        }
    ]
    cat = to_loki_data(result, categorize_labels=True)
    assert list(cat) == ["resultType", "encodingFlags", "result", "stats"]
    assert cat["result"][0]["stream"] == {"app": "api"}
    assert cat["result"][0]["values"][0] == [
        "2000000000",
        "b",
        {"structuredMetadata": {"trace": "t1"}, "parsed": {"status": "200"}},
    ]


# --- range functions --------------------------------------------------------------------------


def _window(ts: list[int], vals: list[float], f: fn.RangeFn, rng: int, end: int) -> float:
    lo = next(i for i, t in enumerate(ts) if t > end - rng)
    hi = max(i for i, t in enumerate(ts) if t <= end) + 1
    return f(ts, vals, lo, hi, rng, end)


def test_rate_counter_extrapolates_to_window_edges() -> None:
    # Loki's documented fixture: c=100@90s ... 340@240s; (60,240] sees +240 over 150s,
    # extrapolated to 180s -> 240 * 180/150 / 180 = 1.6.
    ts = [90 * S, 120 * S, 150 * S, 180 * S, 210 * S, 240 * S]
    vals = [100.0, 130.0, 160.0, 250.0, 280.0, 340.0]
    assert _window(ts, vals, fn.rate_counter, 180 * S, 240 * S) == pytest.approx(1.6)
    # A reset (90 -> 30) adds the pre-drop value back.
    ts = [30 * S, 60 * S, 90 * S, 120 * S, 150 * S]
    vals = [30.0, 60.0, 90.0, 30.0, 60.0]
    assert _window(ts, vals, fn.rate_counter, 120 * S, 150 * S) == pytest.approx(1.0)
    assert fn.rate_counter([5 * S], [3.0], 0, 1, 10 * S, 10 * S) == 0.0


def test_window_functions() -> None:
    ts = [1 * S, 2 * S, 3 * S, 4 * S]
    vals = [1.0, 2.0, 3.0, 4.0]
    assert fn.count_over_time(ts, vals, 0, 4, 10 * S, 4 * S) == 4
    assert fn.rate(ts, vals, 0, 4, 2 * S, 4 * S) == 2
    assert fn.rate_values(ts, vals, 0, 4, 2 * S, 4 * S) == 5
    assert fn.avg_over_time(ts, vals, 0, 4, S, 0) == 2.5
    assert fn.stddev_over_time(ts, vals, 0, 4, S, 0) == pytest.approx(math.sqrt(1.25))
    assert fn.quantile(0.4, [1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.6)
    assert fn.quantile(1.5, [1.0]) == math.inf
    assert fn.quantile(-1, [1.0]) == -math.inf
    assert fn.first_over_time(ts, vals, 1, 3, S, 0) == 2.0
    assert fn.last_over_time(ts, vals, 1, 3, S, 0) == 3.0
    assert math.isnan(fn.sum_over_time(ts, [math.inf, -math.inf, 1, 1], 0, 4, S, 0))
    assert fn.avg_over_time(ts, [math.inf, 1.0, 2.0, 3.0], 0, 4, S, 0) == math.inf
    assert math.isnan(fn.max_over_time(ts, [math.nan, math.nan, math.nan, math.nan], 0, 4, S, 0))
    assert fn.max_over_time(ts, [math.nan, 1.0, 5.0, 2.0], 0, 4, S, 0) == 5.0


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", 1.5), ("-2", -2.0), ("1e3", 1000.0), ("0x1p3", 8.0), (".5", 0.5), ("Inf", math.inf)],
)
def test_go_float_accepts(text: str, value: float) -> None:
    assert fn.parse_go_float(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "1_000", "abc", "1e400", "0x10", "1.2.3"])
def test_go_float_rejects(text: str) -> None:
    with pytest.raises(fn.ConversionError):
        fn.parse_go_float(text)


def test_conversions() -> None:
    assert fn.convert_duration("1h30m") == 5400.0
    assert fn.convert_duration("1.5s") == 1.5
    assert fn.convert_duration("-250ms") == -0.25
    assert fn.convert_duration("0") == 0.0
    assert fn.convert_duration("1us") == 1e-6
    for bad in ("1", "", "5d", "1.s.", "s"):
        with pytest.raises(fn.ConversionError):
            fn.convert_duration(bad)
    assert fn.convert_bytes("42 MB") == 42e6
    assert fn.convert_bytes("1.5KiB") == 1536
    assert fn.convert_bytes("1,024") == 1024
    assert fn.convert_bytes("10kb") == 10000
    with pytest.raises(fn.ConversionError):
        fn.convert_bytes("10 parsecs")


# --- vector operations ------------------------------------------------------------------------


def test_aggregations_by_without() -> None:
    vec = [(L(app="a", pod="1"), 1.0), (L(app="a", pod="2"), 3.0), (L(app="b", pod="1"), 5.0)]
    assert dict(aggregate("sum", vec, Grouping(("app",)))) == {L(app="a"): 4.0, L(app="b"): 5.0}
    assert dict(aggregate("count", vec, Grouping(("pod",), without=True))) == {
        L(app="a"): 2.0,
        L(app="b"): 1.0,
    }
    assert dict(aggregate("avg", vec)) == {L(): 3.0}
    assert dict(aggregate("max", vec)) == {L(): 5.0}
    assert dict(aggregate("stdvar", vec)) == {L(): pytest.approx(8 / 3)}
    top = aggregate("topk", vec, Grouping(("app",)), 1)
    assert sorted(v for _, v in top) == [3.0, 5.0]
    assert aggregate("bottomk", vec, param=1) == [(L(app="a", pod="1"), 1.0)]
    assert [v for _, v in aggregate("sort_desc", vec)] == [5.0, 3.0, 1.0]


def test_scalar_and_vector_scalar_ops() -> None:
    assert math.isnan(scalar_binop("/", 1, 0))
    assert math.isnan(scalar_binop("%", 5, 0))
    assert scalar_binop("^", 2, 9) == 512
    assert scalar_binop(">", 2, 7) == 0.0
    assert math.isnan(scalar_binop("^", -8, 1 / 3))
    assert scalar_binop("%", -7, 3) == -1.0
    vec = [(L(a="1"), 1.0), (L(a="2"), 5.0)]
    assert vector_scalar_binop(">", vec, 2, scalar_left=False, return_bool=False) == [vec[1]]
    assert vector_scalar_binop("<", vec, 2, scalar_left=True, return_bool=False) == [vec[1]]
    assert [v for _, v in vector_scalar_binop(">", vec, 2, scalar_left=False, return_bool=True)] == [
        0.0,
        1.0,
    ]
    assert all(
        math.isnan(v) for _, v in vector_scalar_binop("/", vec, 0, scalar_left=False, return_bool=False)
    )


def test_vector_matching() -> None:
    lhs = [(L(app="a", pod="1"), 10.0), (L(app="a", pod="2"), 20.0), (L(app="b", pod="1"), 30.0)]
    rhs = [(L(app="a"), 2.0), (L(app="b"), 3.0)]
    on_app = VectorMatching(on=True, names=("app",), card="many-to-one")
    out = dict(vector_binop("/", lhs, rhs, on_app, return_bool=False))
    assert out == {L(app="a", pod="1"): 5.0, L(app="a", pod="2"): 10.0, L(app="b", pod="1"): 10.0}
    with pytest.raises(LogQLEvalError, match="many-to-one matching must be explicit"):
        vector_binop("/", lhs, rhs, VectorMatching(on=True, names=("app",)), return_bool=False)
    with pytest.raises(LogQLEvalError, match="many-to-many matching not allowed"):
        vector_binop("/", rhs, lhs, VectorMatching(on=True, names=("app",)), return_bool=False)
    one_to_one = dict(vector_binop("+", rhs, rhs, VectorMatching(), return_bool=False))
    assert one_to_one == {L(app="a"): 4.0, L(app="b"): 6.0}
    incl = VectorMatching(on=True, names=("app",), card="many-to-one", include=("team",))
    teams = [(L(app="a", team="x"), 1.0)]
    assert vector_binop("*", lhs[:1], teams, incl, return_bool=False) == [
        (L(app="a", pod="1", team="x"), 10.0)
    ]


def test_set_operators() -> None:
    lhs = [(L(a="1"), 1.0), (L(a="2"), 2.0)]
    rhs = [(L(a="2"), 20.0), (L(a="3"), 30.0)]
    m = VectorMatching()
    assert vector_binop("and", lhs, rhs, m, return_bool=False) == [lhs[1]]
    assert vector_binop("unless", lhs, rhs, m, return_bool=False) == [lhs[0]]
    assert vector_binop("or", lhs, rhs, m, return_bool=False) == [*lhs, rhs[1]]


def test_label_replace_expands_like_go() -> None:
    vec = [(L(src="alpha-7"), 1.0), (L(src="none"), 2.0)]
    out = label_replace(vec, "dst", "$1/${num}", "src", "(?P<name>[a-z]+)-(?P<num>\\d)")
    assert out[0][0] == L(src="alpha-7", dst="alpha/7")
    assert out[1][0] == L(src="none")
    # "$1x" names a group called "1x" (Go's rule), which does not exist: empty.
    out = label_replace(vec[:1], "dst", "$1x", "src", "([a-z]+)-\\d")
    assert out[0][0] == L(src="alpha-7")
    # The regex is anchored.
    assert label_replace(vec[:1], "dst", "y", "src", "alpha")[0][0] == L(src="alpha-7")


def test_matching_errors_come_before_comparison_filtering() -> None:
    lhs = [(L(app="a", pod="1"), 1.0), (L(app="a", pod="2"), 9.0)]
    rhs = [(L(app="a"), 5.0)]
    # Only one pair passes "> 5", but two lhs series match one rhs series: Loki refuses.
    with pytest.raises(LogQLEvalError, match="many-to-one matching must be explicit"):
        vector_binop(">", lhs, rhs, VectorMatching(on=True, names=("app",)), return_bool=False)
    kept = vector_binop(
        ">",
        lhs,
        rhs,
        VectorMatching(on=True, names=("app",), card="many-to-one"),
        return_bool=False,
    )
    assert kept == [(L(app="a", pod="2"), 9.0)]
    with pytest.raises(LogQLEvalError, match="found duplicate series on the right hand-side"):
        vector_binop("+", rhs, lhs, VectorMatching(on=True, names=("app",)), return_bool=False)


def test_encoding_flags_are_echoed_and_switch_categorization() -> None:
    stream = Stream(L(app="a", x="1"), ((1 * S, "l"),), L(app="a"), (EntryLabels((), (("x", "1"),)),))
    result = QueryResult(Streams((stream,)))
    assert "encodingFlags" not in to_loki_data(result, encoding_flags=[])
    data = to_loki_data(result, encoding_flags=["categorize-labels"])
    assert data["encodingFlags"] == ["categorize-labels"]
    assert data["result"] == [
        {"stream": {"app": "a"}, "values": [["1000000000", "l", {"parsed": {"x": "1"}}]]}
    ]


def test_make_labels_is_a_labels_that_keeps_empty_values() -> None:
    from lokipy.model.labels import Labels

    made = make_labels([("b", "2"), ("a", "1")])
    plain = Labels.from_map({"a": "1", "b": "2"})
    assert made == plain and hash(made) == hash(plain) and str(made) == str(plain)
    assert str(make_labels([("age", ""), ("app", "a")])) == '{age="", app="a"}'
