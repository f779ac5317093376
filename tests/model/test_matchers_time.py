from __future__ import annotations

import time

import pytest

from lokipy.model.errors import InvalidInput
from lokipy.model.matchers import LabelMatcher, MatchType
from lokipy.model.regex import RegexError, compile_regex
from lokipy.model.selector import parse_selector
from lokipy.model.timeparse import (
    format_rfc3339,
    parse_prometheus_duration,
    parse_step,
    parse_timestamp,
)


def test_regex_matchers_are_anchored_to_the_whole_value() -> None:
    m = LabelMatcher("job", MatchType.RE, "alph")
    assert m.matches("alph") and not m.matches("alpha")
    assert LabelMatcher("job", MatchType.NRE, "a.*").matches("ba")
    assert LabelMatcher("job", MatchType.RE, "a.b").matches("a\nb")  # (?s) like Prometheus


def test_empty_compatible_matchers() -> None:
    assert LabelMatcher("a", MatchType.RE, ".*").matches_empty()
    assert LabelMatcher("a", MatchType.NEQ, "x").matches_empty()
    assert not LabelMatcher("a", MatchType.RE, ".+").matches_empty()


def test_invalid_regex_is_a_clear_input_error() -> None:
    with pytest.raises(RegexError, match="error parsing regexp: missing \\)"):
        LabelMatcher("a", MatchType.RE, "(a")


def test_regexes_run_in_linear_time() -> None:
    # (a+)+$ is catastrophic for a backtracking engine; RE2 answers at once.
    rx = compile_regex("(a+)+$")
    line = "a" * 100_000 + "!"
    started = time.perf_counter()
    assert rx.search(line) is None
    assert time.perf_counter() - started < 2.0


def test_selector_parsing() -> None:
    ms = parse_selector('{job="app", level=~"err.*", host!="a", x!~`b`}')
    assert [str(m) for m in ms] == ['job="app"', 'level=~"err.*"', 'host!="a"', 'x!~"b"']
    with pytest.raises(InvalidInput):
        parse_selector('{job="app"} |= "x"')


@pytest.mark.parametrize(
    ("raw", "ns"),
    [
        ("4000000000", 4_000_000_000 * 10**9),  # 10 digits: seconds (Grafana's health check)
        ("1700000000123456789", 1700000000123456789),  # more digits: nanoseconds
        ("1700000000.1234", 1700000000123 * 10**6),  # decimal: seconds rounded to ms
        ("2024-05-01T10:00:00.123456789Z", 1714557600123456789),
        ("2019-11-27T10:00:00.123456+00:00", 1574848800123456000),
        ("2019-11-27T12:00:00+02:00", 1574848800 * 10**9),
    ],
)
def test_timestamps_follow_lokis_rules(raw: str, ns: int) -> None:
    assert parse_timestamp(raw) == ns


def test_bad_timestamp_names_the_parameter() -> None:
    with pytest.raises(InvalidInput, match="could not parse 'start' parameter"):
        parse_timestamp("yesterday", "start")


def test_durations_and_steps() -> None:
    assert parse_prometheus_duration("1h30m") == 5400 * 10**9
    assert parse_prometheus_duration("15000ms") == 15 * 10**9
    assert parse_step("60000ms") == 60 * 10**9
    assert parse_step("0.5") == 5 * 10**8
    assert parse_step("14") == 14 * 10**9
    with pytest.raises(InvalidInput, match='cannot parse "5minutes" to a valid duration'):
        parse_step("5minutes")


def test_rfc3339_in_messages_has_second_precision() -> None:
    assert format_rfc3339(1700000000_999_999_999) == "2023-11-14T22:13:20Z"
