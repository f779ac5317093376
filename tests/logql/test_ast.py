"""The syntax tree: Loki-style printing, and ``parse(str(tree)) == tree`` for generated trees."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.logql import ast as A
from lokipy.logql import format_query, parse
from lokipy.logql._pretty import prettify
from lokipy.model.matchers import LabelMatcher, MatchType

# --- strategies ---------------------------------------------------------------------------

# Identifiers, including function names (they are label names unless a call follows).
names = st.sampled_from(["app", "job", "level", "a_b", "x1", "_z", "rate", "sum", "bytes", "Ünï"])
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
regexes = st.sampled_from([".+", "a|b", "foo.*", "[0-9]+", "(?i)x", "\\d{2,3}"])


@st.composite
def matchers(draw: st.DrawFn) -> LabelMatcher:
    op = draw(st.sampled_from(list(MatchType)))
    value = draw(regexes if op in (MatchType.RE, MatchType.NRE) else texts)
    return LabelMatcher(draw(names), op, value)


@st.composite
def selectors(draw: st.DrawFn) -> A.StreamSelector:
    # the first matcher cannot match "" (Loki rejects selectors that select every stream)
    first = LabelMatcher(draw(names), MatchType.EQ, draw(texts.filter(bool)))
    return A.StreamSelector((first, *draw(st.lists(matchers(), max_size=2))))


ops = st.sampled_from(list(A.LINE_FILTER_OPS))
line_filters = st.builds(
    lambda op, value, ip, ors: A.LineFilter(op, value, ip, ors if op[0] == "|" else ()),
    ops,
    texts,
    st.booleans(),
    st.lists(st.builds(A.LineFilterOr, texts, st.booleans()), max_size=2).map(tuple),
)
extractions = st.lists(st.builds(A.LabelExtraction, names, texts), max_size=3).map(tuple)
parsers = st.one_of(
    st.builds(A.JSONParser, extractions),
    st.builds(A.LogfmtParser, extractions, st.booleans(), st.booleans()),
    st.sampled_from([A.RegexpParser("(?P<a>\\w+) (?P<b>.*)"), A.PatternParser("<ip> - <_>")]),
    st.just(A.UnpackParser()),
)
cmp_ops = st.sampled_from(A.FILTER_COMPARISONS)
finite = st.floats(allow_nan=False, allow_infinity=False)
leaf_filters = st.one_of(
    st.builds(A.StringLabelFilter, matchers()),
    st.builds(A.NumericLabelFilter, names, cmp_ops, finite),
    st.builds(A.DurationLabelFilter, names, cmp_ops, st.integers(-(2**62), 2**62)),
    st.builds(A.BytesLabelFilter, names, cmp_ops, st.integers(0, 2**53)),
    st.builds(A.IPLabelFilter, names, st.sampled_from(["=", "!="]), texts),
)
label_filters = st.recursive(
    leaf_filters,
    lambda kids: st.builds(A.BinaryLabelFilter, st.sampled_from(["and", "or"]), kids, kids),
    max_leaves=4,
)
items = st.lists(st.one_of(names, matchers()), min_size=1, max_size=3).map(tuple)
stages = st.one_of(
    line_filters,
    parsers,
    st.builds(A.LabelFilter, label_filters),
    st.builds(A.LineFormat, texts),
    st.builds(
        A.LabelFormat,
        st.lists(
            st.one_of(
                st.builds(A.LabelFormatOp, names, names, st.just(True)),
                st.builds(A.LabelFormatOp, names, texts, st.just(False)),
            ),
            min_size=1,
            max_size=2,
        ).map(tuple),
    ),
    st.builds(A.Drop, items),
    st.builds(A.Keep, items),
    st.just(A.Decolorize()),
)


def _parser_can_produce(pipeline: tuple[A.Stage, ...]) -> bool:
    """`| drop a != "x"` is a drop with a matcher (goyacc shifts), so a bare-name drop/keep
    is never followed by a `!=`/`!~` line filter in a parsed tree."""
    for before, after in zip(pipeline, pipeline[1:], strict=False):
        bare_last = isinstance(before, A.Drop | A.Keep) and isinstance(before.items[-1], str)
        if bare_last and isinstance(after, A.LineFilter) and after.op in ("!=", "!~"):
            return False
    return True


log_queries = st.builds(
    A.LogQuery, selectors(), st.lists(stages, max_size=4).map(tuple).filter(_parser_can_produce)
)


GROUPING_RANGE_OPS = frozenset({
    "avg_over_time", "max_over_time", "min_over_time", "first_over_time", "last_over_time",
    "stddev_over_time", "stdvar_over_time", "quantile_over_time",
})  # fmt: skip


@st.composite
def range_aggregations(draw: st.DrawFn) -> A.RangeAggregation:
    op = draw(st.sampled_from(sorted(A.RANGE_OPS)))
    unwrap = None
    if op in A.UNWRAP_RANGE_OPS or (op in ("rate", "absent_over_time") and draw(st.booleans())):
        conv = draw(st.sampled_from(["", "bytes", "duration", "duration_seconds"]))
        post = draw(st.lists(label_filters, max_size=2))
        unwrap = A.Unwrap(draw(names), conv, tuple(post))
    log_range = A.LogRange(
        draw(log_queries),
        draw(st.integers(1, 10**7)) * 10**6,  # ranges are whole milliseconds
        draw(st.integers(-(10**15), 10**15)),
        unwrap,
    )
    param = draw(st.floats(0, 1)) if op == "quantile_over_time" else None
    grouping = None
    if op in GROUPING_RANGE_OPS:
        grouping = draw(st.none() | groupings())
    return A.RangeAggregation(op, log_range, param, grouping)


def groupings() -> st.SearchStrategy[A.Grouping]:
    return st.builds(A.Grouping, st.lists(names, max_size=2).map(tuple), st.booleans())


@st.composite
def vector_aggregations(draw: st.DrawFn, inner: st.SearchStrategy[A.SampleExpr]) -> A.SampleExpr:
    op = draw(st.sampled_from(sorted(A.VECTOR_OPS)))
    grouping = draw(groupings())
    if op in ("sort", "sort_desc", "approx_topk"):
        grouping = A.Grouping()
    param = draw(st.integers(1, 100)) if op in A.PARAM_VECTOR_OPS else None
    return A.VectorAggregation(op, draw(inner), grouping, param)


matchings = st.none() | st.builds(
    A.VectorMatching,
    st.just(True),
    st.lists(names, max_size=2).map(tuple),
    st.sampled_from(["one-to-one", "many-to-one", "one-to-many"]),
    st.lists(names, max_size=2).map(tuple),
).map(lambda m: m if m.card != "one-to-one" else A.VectorMatching(True, m.labels))


@st.composite
def binary_ops(draw: st.DrawFn, inner: st.SearchStrategy[A.SampleExpr]) -> A.SampleExpr:
    op = draw(st.sampled_from(sorted(A.BINARY_OPS)))
    lhs, rhs = draw(inner), draw(inner)
    literal = (A.NumberLiteral,)
    if op in A.SET_OPS and (isinstance(lhs, literal) or isinstance(rhs, literal)):
        lhs = rhs = draw(range_aggregations())
    if isinstance(lhs, literal) and isinstance(rhs, literal):  # Loki folds these
        rhs = A.VectorExpr(1.0)
    return A.BinaryOp(op, lhs, rhs, draw(st.booleans()), draw(matchings))


leaves = st.one_of(
    range_aggregations(),
    st.builds(A.NumberLiteral, finite),
    st.builds(A.VectorExpr, st.floats(0, 1e300)),  # `vector(-1)` is not LogQL
)
sample_exprs = st.recursive(
    leaves,
    lambda kids: st.one_of(
        vector_aggregations(kids),
        binary_ops(kids),
        st.builds(A.LabelReplace, kids, names, texts, names, regexes),
    ),
    max_leaves=3,
)

# --- properties ---------------------------------------------------------------------------


@given(log_queries)
def test_log_query_round_trip(tree: A.LogQuery) -> None:
    assert parse(str(tree)) == tree


@given(sample_exprs)
def test_metric_query_round_trip(tree: A.SampleExpr) -> None:
    assert parse(str(tree)) == tree


@given(st.one_of(log_queries, sample_exprs))
def test_formatted_query_round_trip(tree: A.Expr) -> None:
    text = prettify(tree)
    assert parse(text) == tree
    assert format_query(text) == text  # formatting is idempotent


# --- printing like Loki's String() --------------------------------------------------------


PRINTED = [
    ('{app="foo",  env=~"p.*"}', '{app="foo", env=~"p.*"}'),
    ('{a="b"}|="x" or "y"|~"z"', '{a="b"} |= "x" or "y" |~ "z"'),
    (
        '{a="b"} | logfmt --keep-empty --strict a, b="c"',
        '{a="b"} | logfmt --strict --keep-empty a="a",b="c"',
    ),
    ('{a="b"} | json', '{a="b"} | json'),
    ('{a="b"} | x > 1 and y = 2 or z=~"q"', '{a="b"} | ( ( x>1 , y==2 ) or z=~"q" )'),
    ('{a="b"} | d > 1m30s', '{a="b"} | d>1m30s'),
    (
        '{a="b"} | label_format x=y, z="{{.a}}" | drop a, b="c"',
        '{a="b"} | label_format x=y,z="{{.a}}" | drop a,b="c"',
    ),
    ('rate({a="b"}[5m] offset 2h)', 'rate({a="b"}[5m] offset 2h0m0s)'),
    ('sum by (a, b) (rate({a="b"}[1h]))', 'sum by (a,b)(rate({a="b"}[1h]))'),
    ('topk(3, rate({a="b"}[1d]))', 'topk(3,rate({a="b"}[1d]))'),
    (
        'quantile_over_time(0.5, {a="b"} | unwrap bytes(x) [7d]) by (c)',
        'quantile_over_time(0.5,{a="b"} | unwrap bytes(x)[1w]) by (c)',
    ),
    (
        'rate({a="b"}[1m]) > bool on (x) group_left (y) 5',
        '(rate({a="b"}[1m]) > bool on (x) group_left (y) 5)',
    ),
    ("vector(1)", "vector(1.000000)"),
    ("1000000", "1e+06"),
    (
        'label_replace(rate({a="b"}[1m]), "d", "$1", "s", "(.*)")',
        'label_replace(rate({a="b"}[1m]),"d","$1","s","(.*)")',
    ),
]


@pytest.mark.parametrize(("query", "printed"), PRINTED)
def test_canonical_printing(query: str, printed: str) -> None:
    assert str(parse(query)) == printed


def test_line_filter_helpers() -> None:
    f = A.LineFilter("!~", "x")
    assert (f.kind, f.negated) == ("regex", True)
    ip = A.LineFilter("|=", "10.0.0.1", ip=True, ors=(A.LineFilterOr("b"),))
    assert ip.kind == "ip"
    assert ip.alternatives() == (A.LineFilterOr("10.0.0.1", True), A.LineFilterOr("b"))


def test_walk_visits_every_node() -> None:
    tree = parse('sum(rate({a="b"} |= "x" | json [1m])) / vector(2)')
    kinds = [type(n).__name__ for n in A.walk(tree)]
    assert kinds == [
        "BinaryOp", "VectorAggregation", "RangeAggregation", "LogRange", "LogQuery",
        "StreamSelector", "LineFilter", "JSONParser", "Grouping", "VectorExpr",
    ]  # fmt: skip


def test_nodes_are_frozen_and_hashable() -> None:
    tree = parse('count_over_time({a="b"} | level="x" [1m])')
    assert hash(tree) == hash(parse('count_over_time({a="b"} | level="x" [1m])'))
    with pytest.raises(AttributeError):
        tree.op = "rate"  # type: ignore[misc]


def test_nan_literal_prints_like_loki() -> None:
    tree = parse("0 / 0")
    assert isinstance(tree, A.NumberLiteral) and math.isnan(tree.value)
    assert str(tree) == "NaN"
