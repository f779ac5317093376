"""The LogQL parser: what it accepts, the tree it builds, and Loki's errors."""

from __future__ import annotations

import math

import pytest

from lokipy.logql import format_query, parse
from lokipy.logql.ast import (
    BinaryLabelFilter,
    BinaryOp,
    BytesLabelFilter,
    DurationLabelFilter,
    Grouping,
    IPLabelFilter,
    JSONParser,
    LabelExtraction,
    LabelFilter,
    LabelFormat,
    LabelFormatOp,
    LabelReplace,
    LineFilter,
    LineFilterOr,
    LogfmtParser,
    LogQuery,
    NumberLiteral,
    NumericLabelFilter,
    RangeAggregation,
    StringLabelFilter,
    Unwrap,
    VectorAggregation,
    VectorExpr,
    VectorMatching,
)
from lokipy.model.errors import LogQLParseError
from lokipy.model.matchers import LabelMatcher, MatchType

SEL = '{app="foo"}'


def err(query: str) -> str:
    with pytest.raises(LogQLParseError) as info:
        parse(query)
    return str(info.value)


def stages(query: str) -> tuple[object, ...]:
    expr = parse(query)
    assert isinstance(expr, LogQuery)
    return expr.pipeline


# --- stream selectors and log queries -----------------------------------------------------


def test_selector_keeps_matchers_in_written_order() -> None:
    expr = parse('{b="1", a=~"x.+", c!="z", d!~"q"}')
    assert isinstance(expr, LogQuery)
    assert [(m.name, m.type) for m in expr.matchers] == [
        ("b", MatchType.EQ),
        ("a", MatchType.RE),
        ("c", MatchType.NEQ),
        ("d", MatchType.NRE),
    ]
    assert expr.pipeline == ()


@pytest.mark.parametrize("query", ['{app=~".*"}', '{foo!="bar"}', "{}", '{a=""}'])
def test_selector_must_not_match_everything(query: str) -> None:
    assert "queries require at least one regexp or equality matcher" in err(query)


def test_selector_check_applies_to_every_leg() -> None:
    msg = err('count_over_time({a="b"}[1m]) + count_over_time({a=~".*"}[1m])')
    assert msg.startswith("parse error : queries require")


def test_invalid_selector_regex_is_a_parse_error() -> None:
    assert err('{a=~"("}') == "parse error : error parsing regexp: missing closing ): `(`"


# --- lexer behaviour ----------------------------------------------------------------------


def test_function_names_are_label_names_unless_called() -> None:
    expr = parse('sum by (rate, count) (rate({rate="x", bytes="y"} | unwrap bytes [1m]))')
    assert isinstance(expr, VectorAggregation)
    assert expr.grouping == Grouping(("rate", "count"))
    assert isinstance(expr.expr, RangeAggregation)
    assert [m.name for m in expr.expr.range.query.matchers] == ["rate", "bytes"]
    assert expr.expr.range.unwrap == Unwrap("bytes")


def test_keywords_are_case_insensitive_identifiers_keep_case() -> None:
    expr = parse('SUM BY (App) (COUNT_OVER_TIME({App="x"} |= "y" | JSON [5m]))')
    assert isinstance(expr, VectorAggregation)
    assert expr.op == "sum" and expr.grouping.labels == ("App",)


def test_comments_run_to_end_of_line() -> None:
    assert parse('{app="foo"} # a comment\n |= "x" # another') == parse('{app="foo"} |= "x"')
    msg = "parse error at line 1, col 20: syntax error: unexpected $end"
    assert err('#{app="foo"} | json') == msg


def test_go_scanner_comments_are_skipped() -> None:
    # Loki's scanner runs in Go's GoTokens mode, which skips // and /* */ comments.
    assert parse('{app="foo"} /* x */ |= "y"') == parse('{app="foo"} |= "y"')


def test_raw_strings_take_no_escapes() -> None:
    (f,) = stages(r'{app="foo"} |~ `\d+"`')
    assert f == LineFilter("|~", '\\d+"')


def test_go_string_escapes() -> None:
    (f,) = stages(r'{app="foo"} |= "a\tb\u00e9\x41"')
    assert f == LineFilter("|=", "a\tb\u00e9A")


def test_single_quotes_are_go_char_literals_not_strings() -> None:
    assert err("{app='foo'}") == "parse error at line 1, col 6: invalid char literal"
    assert err("{app='f'}") == (
        "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING"
    )


def test_unknown_unit_in_range() -> None:
    assert err('rate({ foo = "bar" }[5minutes])') == (
        'parse error at line 0, col 21: unknown unit "minutes" in duration "5minutes"'
    )
    assert err('rate({ foo = "bar" }[5)') == (
        "parse error at line 0, col 21: missing closing ']' in duration"
    )


def test_ranges_use_prometheus_durations() -> None:
    expr = parse('count_over_time({a="b"}[1h30m])')
    assert isinstance(expr, RangeAggregation)
    assert expr.range.range_ns == 5400 * 10**9
    assert 'unknown unit "." in duration "1.5h"' in err('count_over_time({a="b"}[1.5h])')
    assert "not a valid duration string" in err('count_over_time({a="b"}[5m1h])')


def test_durations_and_bytes_in_label_filters() -> None:
    (f,) = stages('{a="b"} | d >= 1.5s and s < 10KB or s > 1KiB')
    assert isinstance(f, LabelFilter)
    assert f.filter == BinaryLabelFilter(
        "or",
        BinaryLabelFilter(
            "and", DurationLabelFilter("d", ">=", 1_500_000_000), BytesLabelFilter("s", "<", 10_000)
        ),
        BytesLabelFilter("s", ">", 1024),
    )


def test_duration_literals_accept_days_weeks_years() -> None:
    (f,) = stages('{a="b"} | d > 1d')
    assert f == LabelFilter(DurationLabelFilter("d", ">", 86400 * 10**9))


def test_peta_and_exa_byte_units_lex_as_exponents() -> None:
    # Go's scanner reads `1P`/`1E` as the start of an exponent before Loki sees a unit.
    assert err('{a="b"} | x > 1PiB') == (
        "parse error at line 1, col 15: 'P' exponent requires hexadecimal mantissa"
    )
    assert err('{a="b"} | x > 1EB') == "parse error at line 1, col 15: exponent has no digits"
    assert "binary literal has no digits" in err('{a="b"} | x > 0B')


def test_byte_units_are_case_sensitive() -> None:
    # `1mb` lexes as the duration 1m followed by the identifier b.
    assert "syntax error" in err('{a="b"} | size > 1mb')


# --- numbers and binary operators ---------------------------------------------------------


def test_hex_floats_are_numbers_other_bases_are_not() -> None:
    assert parse("0x1p3") == NumberLiteral(8.0)
    for text in ("0x1A", "0o17", "0b1010"):
        assert "unable to parse literal as a float" in err(text)


def test_leading_sign_belongs_to_the_literal() -> None:
    assert parse("-2^2") == NumberLiteral(4.0)
    assert parse("2^3^2") == NumberLiteral(512.0)
    assert parse("2 - -2") == NumberLiteral(4.0)
    assert err('-count_over_time({app="foo"}[1m])') == (
        "parse error at line 1, col 2: syntax error: unexpected COUNT_OVER_TIME, expecting NUMBER"
    )


def test_minus_zero_lexes_as_a_duration() -> None:
    # Go's time.ParseDuration accepts "-0", and Loki tries it on every `-<digits>`.
    assert err("-0") == "parse error at line 0, col 1: syntax error: unexpected DURATION"
    assert str(parse("0 * -1")) == "0"  # so a folded negative zero prints as 0


def test_constant_folding_matches_loki() -> None:
    assert parse("1 + 2 * 3") == NumberLiteral(7.0)
    assert math.isnan(parse("1 / 0").value)  # type: ignore[attr-defined]
    assert math.isnan(parse("5 % 0").value)  # type: ignore[attr-defined]
    assert parse("3 > 2") == NumberLiteral(1.0)
    assert parse("3 < 2") == NumberLiteral(0.0)


def _rate(app: str) -> str:
    return f'rate({{app="{app}"}}[1m])'


def test_precedence_and_associativity() -> None:
    expr = parse(f"{_rate('a')} + {_rate('b')} * {_rate('c')} > 1 or {_rate('d')}")
    assert isinstance(expr, BinaryOp) and expr.op == "or"
    cmp = expr.lhs
    assert isinstance(cmp, BinaryOp) and cmp.op == ">"
    add = cmp.lhs
    assert isinstance(add, BinaryOp) and add.op == "+"
    assert isinstance(add.rhs, BinaryOp) and add.rhs.op == "*"
    chain = parse(f"{_rate('a')} - {_rate('b')} - {_rate('c')}")
    assert isinstance(chain, BinaryOp) and isinstance(chain.lhs, BinaryOp)  # left-assoc
    power = parse(f"{_rate('a')} ^ {_rate('b')} ^ {_rate('c')}")
    assert isinstance(power, BinaryOp) and isinstance(power.rhs, BinaryOp)  # right-assoc


def test_and_unless_bind_tighter_than_or() -> None:
    expr = parse(f"{_rate('a')} or {_rate('b')} unless {_rate('c')}")
    assert isinstance(expr, BinaryOp) and expr.op == "or"
    assert isinstance(expr.rhs, BinaryOp) and expr.rhs.op == "unless"


def test_bool_and_vector_matching() -> None:
    expr = parse(f"{_rate('a')} > bool on (x, y) group_left (z) {_rate('b')}")
    assert isinstance(expr, BinaryOp)
    assert expr.return_bool
    assert expr.matching == VectorMatching(True, ("x", "y"), "many-to-one", ("z",))
    right = parse(f"{_rate('a')} / ignoring (x) group_right {_rate('b')}")
    assert isinstance(right, BinaryOp)
    assert right.matching == VectorMatching(False, ("x",), "one-to-many", ())
    plain = parse(f"{_rate('a')} / ignoring () {_rate('b')}")
    assert isinstance(plain, BinaryOp) and plain.matching is None
    assert "unexpected bool" in err(f"sum({_rate('a')}) bool > sum({_rate('b')})")


def test_set_operators_reject_literals() -> None:
    assert err('1 unless sum(count_over_time({foo="bar"}[5m])) by (foo)') == (
        "parse error : unexpected literal for left leg of logical/set binary operation (unless): 1.000000"
    )
    assert "right leg of logical/set binary operation (or): 1.000000" in err(f"{_rate('a')} or 1")


def test_log_queries_cannot_be_arithmetic_legs() -> None:
    assert err('{foo="bar"} + {foo="bar"}') == (
        "parse error : unexpected type for left leg of binary operation (+): *syntax.MatchersExpr"
    )
    assert "right leg of binary operation (-): *syntax.PipelineExpr" in err(
        f'{_rate("a")} - {{foo="bar"}} |= "x"'
    )


def test_vector_and_label_replace() -> None:
    assert parse("vector(2)") == VectorExpr(2.0)
    assert err("vector(abc)") == (
        "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting NUMBER"
    )
    expr = parse(f'label_replace({_rate("a")}, "dst", "$1", "src", "(.*)")')
    assert isinstance(expr, LabelReplace)
    assert (expr.dst, expr.replacement, expr.src, expr.regex) == ("dst", "$1", "src", "(.*)")
    assert "invalid regex in label_replace" in err(f'label_replace({_rate("a")},"a","b","c","(")')


# --- aggregations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", ["count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time"]
)
def test_log_range_aggregations_reject_grouping(op: str) -> None:
    assert err(f'{op}({{app="a"}}[1m]) by (app)') == (
        f"parse error : grouping not allowed for {op} aggregation"
    )


@pytest.mark.parametrize(
    "op",
    ["sum_over_time", "avg_over_time", "min_over_time", "max_over_time", "first_over_time",
     "last_over_time", "stddev_over_time", "stdvar_over_time", "rate_counter"],
)  # fmt: skip
def test_unwrap_aggregations_need_unwrap(op: str) -> None:
    assert err(f'{op}({{app="a"}}[1m])') == (f"parse error : invalid aggregation {op} without unwrap")
    parse(f'{op}({{app="a"}} | unwrap v [1m])')


def test_unwrap_forbidden_for_counting_aggregations() -> None:
    assert err('count_over_time({app="a"} | unwrap v [1m])') == (
        "parse error : invalid aggregation count_over_time with unwrap"
    )
    parse('rate({app="a"} | unwrap v [1m])')  # rate takes it optionally


def test_grouping_allowed_on_unwrap_aggregations_but_not_sum() -> None:
    expr = parse('max_over_time({app="a"} | unwrap v [1m]) without (pod)')
    assert isinstance(expr, RangeAggregation)
    assert expr.grouping == Grouping(("pod",), without=True)
    assert "grouping not allowed for sum_over_time" in err(
        'sum_over_time({app="a"} | unwrap v [1m]) by (app)'
    )


def test_quantile_over_time_parameter() -> None:
    expr = parse('quantile_over_time(0.99, {app="a"} | unwrap v [1m]) by (x)')
    assert isinstance(expr, RangeAggregation) and expr.param == 0.99
    assert "parameter required for operation quantile_over_time" in err(
        'quantile_over_time({app="a"} | unwrap v [1m])'
    )
    assert "parameter 2 not supported for operation rate" in err('rate(2, {app="a"}[1m])')


def test_unwrap_conversions_and_post_filters() -> None:
    expr = parse('sum_over_time({a="b"} | logfmt | unwrap duration_seconds(d) | __error__="" [1m])')
    assert isinstance(expr, RangeAggregation)
    assert expr.range.unwrap == Unwrap(
        "d", "duration_seconds", (StringLabelFilter(LabelMatcher("__error__", MatchType.EQ, "")),)
    )


def test_log_range_forms_are_equivalent() -> None:
    want = parse('count_over_time({a="b"} |= "x" [5m] offset 1h)')
    for form in (
        'count_over_time({a="b"}[5m] offset 1h |= "x")',
        'count_over_time(({a="b"} |= "x")[5m] offset 1h)',
        'count_over_time((({a="b"} |= "x")[5m] offset 1h))',
    ):
        assert parse(form) == want
    assert isinstance(want, RangeAggregation)
    assert want.range.offset_ns == 3600 * 10**9
    unwrapped = parse('max_over_time({a="b"}[5m] offset 1m | json | unwrap v)')
    assert isinstance(unwrapped, RangeAggregation) and unwrapped.range.unwrap == Unwrap("v")
    # Loki has no form with the pipeline before and the unwrap after the range
    assert "syntax error" in err('max_over_time({a="b"} | json [5m] | unwrap v)')


def test_vector_aggregation_grouping_positions() -> None:
    before = parse(f"sum by (a) ({_rate('x')})")
    after = parse(f"sum({_rate('x')}) by (a)")
    assert before == after
    assert parse(f"sum by () ({_rate('x')})") == parse(f"sum({_rate('x')})")


def test_topk_parameter() -> None:
    expr = parse(f"topk(3, {_rate('x')})")
    assert isinstance(expr, VectorAggregation) and expr.param == 3
    assert err(f"topk(0, {_rate('x')})") == (
        "parse error : invalid parameter (must be greater than 0) topk(0"
    )
    assert "invalid parameter bottomk(1.2," in err(f"bottomk(1.2,{_rate('x')})")
    assert "parameter required for operation topk" in err(f"topk({_rate('x')})")
    assert "unsupported parameter for operation sum(2," in err(f"sum(2, {_rate('x')})")
    assert "grouping not allowed for approx_topk" in err(f"approx_topk(2, {_rate('x')}) by (a)")


def test_sort_rejects_grouping() -> None:
    assert "sort and sort_desc doesn't allow grouping by" in err(f"sort({_rate('x')}) by (a)")


def test_vector_aggregation_of_a_log_query_is_a_syntax_error() -> None:
    assert "syntax error: unexpected )" in err('sum({app="foo"})')


# --- pipelines ----------------------------------------------------------------------------


def test_line_filters_and_or_chains() -> None:
    got = stages(f'{SEL} |= "a" or "b" or ip("1.2.3.4") |~ "c" !> "<_> d" != "e"')
    assert got == (
        LineFilter("|=", "a", ors=(LineFilterOr("b"), LineFilterOr("1.2.3.4", True))),
        LineFilter("|~", "c"),
        LineFilter("!>", "<_> d"),
        LineFilter("!=", "e"),
    )
    assert got[0].kind == "contains" and not got[0].negated  # type: ignore[attr-defined]


def test_negated_or_chain_becomes_separate_filters() -> None:
    assert stages(f'{SEL} != "a" or "b" or "c"') == (
        LineFilter("!=", "a"),
        LineFilter("!=", "b"),
        LineFilter("!=", "c"),
    )


def test_parsers_with_params_and_flags() -> None:
    got = stages(f'{SEL} | json a="b.c", d | logfmt --keep-empty --strict x | unpack')
    assert got[0] == JSONParser((LabelExtraction("a", "b.c"), LabelExtraction("d", "d")))
    assert got[1] == LogfmtParser((LabelExtraction("x", "x"),), strict=True, keep_empty=True)


def test_regexp_and_pattern_parsers_are_checked() -> None:
    parse(f'{SEL} | regexp "(?P<a>\\\\w+) (?P<b>.*)"')
    assert "invalid regexp parser" in err(f'{SEL} | regexp "("')
    assert "at least one named capture must be supplied" in err(f'{SEL} | regexp "x"')
    # Unnamed groups only group: Loki's own stage test extracts from `(?P<a>\w+)(ms|ns)`.
    parse(f'{SEL} | regexp "(?P<a>x)(y)"')
    parse(f'{SEL} | pattern "<ip> - <_> <status>"')
    assert "at least one capture is required" in err(f'{SEL} | pattern "no captures"')
    assert "found consecutive capture" in err(f'{SEL} | pattern "<a><b>"')
    assert "duplicate capture name (a)" in err(f'{SEL} | pattern "<a> <a>"')


def test_label_filter_precedence() -> None:
    def lf(name: str) -> StringLabelFilter:
        return StringLabelFilter(LabelMatcher(name, MatchType.EQ, "1"))

    def tree(text: str) -> object:
        (stage,) = stages(f"{SEL} | {text}")
        assert isinstance(stage, LabelFilter)
        return stage.filter

    a, b, c = lf("a"), lf("b"), lf("c")
    assert tree('a="1" and b="1" or c="1"') == BinaryLabelFilter("or", BinaryLabelFilter("and", a, b), c)
    assert tree('a="1" or b="1" and c="1"') == BinaryLabelFilter("or", a, BinaryLabelFilter("and", b, c))
    # `,` and a space take everything to their right (goyacc shifts these conflicts)
    assert tree('a="1", b="1" or c="1"') == BinaryLabelFilter("and", a, BinaryLabelFilter("or", b, c))
    assert tree('a="1" b="1" or c="1"') == tree('a="1", b="1" or c="1"')
    assert tree('(a="1" or b="1") c="1"') == BinaryLabelFilter("and", BinaryLabelFilter("or", a, b), c)


def test_numeric_and_ip_label_filters() -> None:
    (f,) = stages(f'{SEL} | x == -1.5 , y != 2 , addr = ip("10.0.0.0/8")')
    assert isinstance(f, LabelFilter)
    assert f.filter == BinaryLabelFilter(
        "and",
        NumericLabelFilter("x", "==", -1.5),
        BinaryLabelFilter(
            "and", NumericLabelFilter("y", "!=", 2.0), IPLabelFilter("addr", "=", "10.0.0.0/8")
        ),
    )
    assert err('{ foo = "bar" }|logfmt|addr>=ip("1.2.3.4")') == (
        "parse error at line 1, col 30: syntax error: unexpected ip"
    )


def test_label_format_rename_versus_template() -> None:
    (f,) = stages(f'{SEL} | label_format a=b, c="{{{{.d}}}}"')
    assert f == LabelFormat((LabelFormatOp("a", "b", True), LabelFormatOp("c", "{{.d}}", False)))


def test_drop_keep_need_arguments() -> None:
    got = stages(f'{SEL} | drop a, b="x" | keep c')
    assert got[0].items == ("a", LabelMatcher("b", MatchType.EQ, "x"))  # type: ignore[attr-defined]
    assert "expecting IDENTIFIER" in err('count_over_time({app="a"} | drop [1m])')


def test_negated_line_filter_after_drop_name_is_a_matcher() -> None:
    # goyacc shifts: `drop a != "x"` drops label a when it is not "x" (no line filter)
    (stage,) = stages(f'{SEL} | drop a != "x"')
    assert stage.items == (LabelMatcher("a", MatchType.NEQ, "x"),)  # type: ignore[attr-defined]


def test_label_filter_with_string_comparison_operator_is_a_syntax_error() -> None:
    assert "syntax error" in err('count_over_time({app="a"} | logfmt | code == "200" [1m])')


# --- errors -------------------------------------------------------------------------------


SYNTAX_ERRORS = [
    ('{foo="bar"', "1, col 11: syntax error: unexpected $end, expecting } or ,"),
    ('{foo="bar"} |~', "1, col 15: syntax error: unexpected $end, expecting STRING or ip"),
    ('{foo="bar"} "foo"', "1, col 13: syntax error: unexpected STRING"),
    ('{foo="bar"} foo', "1, col 13: syntax error: unexpected IDENTIFIER"),
    ('unk({ foo = "bar" }[5m])', "1, col 1: syntax error: unexpected IDENTIFIER"),
    ('min({ foo = "bar" }[5m])', "0, col 20: syntax error: unexpected RANGE"),
    ("bool 1 > 1 > bool 1", "1, col 1: syntax error: unexpected bool"),
    (
        'quantile_over_time(foo,{a="b"} | unwrap x [5m])',
        "1, col 20: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or (",
    ),
    ("{foo", "1, col 5: syntax error: unexpected $end, expecting = or =~ or !~ or !="),
    (
        'count_over_time({ foo != "bar"%LKJ }[12m]) > 1',
        "1, col 31: syntax error: unexpected %, expecting } or ,",
    ),
    (
        'label_replace(rate({ foo = "bar" }[5m]),"")',
        "1, col 43: syntax error: unexpected ), expecting ,",
    ),
]


@pytest.mark.parametrize(("query", "message"), SYNTAX_ERRORS)
def test_syntax_errors_use_loki_wording(query: str, message: str) -> None:
    assert err(query) == "parse error at line " + message


def test_error_positions_count_lines_and_characters() -> None:
    assert err('{app="b"}\n  |= "x" foo') == (
        "parse error at line 2, col 10: syntax error: unexpected IDENTIFIER"
    )
    # columns count characters, not bytes
    msg = "parse error at line 1, col 11: syntax error: unexpected IDENTIFIER"
    assert err('{app="é"} foo') == msg


def test_tokens_finished_with_scanner_next_report_line_zero() -> None:
    # Loki's lexer consumes the second character of `|=` with Scanner.Next, which
    # invalidates the token's line (Go's text/scanner), so the error says line 0.
    assert err('{foo="bar"} |= |=') == (
        "parse error at line 0, col 16: syntax error: unexpected |=, expecting STRING or ip"
    )


def test_error_carries_position_and_query() -> None:
    with pytest.raises(LogQLParseError) as info:
        parse('{foo="bar"')
    assert (info.value.line, info.value.col, info.value.query) == (1, 11, '{foo="bar"')


def test_input_size_limit() -> None:
    query = '{app="' + "x" * 5200 + '"}'
    assert err(query) == f"parse error : input size too long ({len(query)} > 5120)"


# --- format_query -------------------------------------------------------------------------


def test_format_query_short_query_is_one_line() -> None:
    assert format_query('sum by(a,b)(rate({app="x"}|="y"[5m]))') == (
        'sum by (a,b)(rate({app="x"} |= "y"[5m]))'
    )
    assert format_query("1+1") == "2"


def test_format_query_splits_long_queries_and_reparses() -> None:
    query = (
        'sum by (namespace, pod) (rate({app="frontend", env=~"prod|staging"} |= "error" '
        '!= "timeout" | json | status >= 500 | line_format "{{.msg}}" [5m])) / on (pod) '
        'group_left sum by (pod) (rate({app="frontend"}[5m]))'
    )
    text = format_query(query)
    assert "\n" in text and all(len(line) <= 100 for line in text.splitlines())
    assert parse(text) == parse(query)


def test_format_query_raises_parse_errors() -> None:
    with pytest.raises(LogQLParseError):
        format_query('{foo="bar"')
