"""Label filters: conversions, missing labels, errors and boolean combinations (Loki's rules)."""

from __future__ import annotations

from typing import Any

import pytest

from lokipy.logql.log import (
    AndLabelFilter,
    BytesLabelFilter,
    DurationLabelFilter,
    IPLabelFilter,
    LabelsBuilder,
    NumericLabelFilter,
    OrLabelFilter,
    StringLabelFilter,
    parse_bytes_literal,
    parse_duration,
    parse_duration_literal,
)
from lokipy.logql.log.units import ConversionError, parse_bytes, parse_float


def apply(flt: Any, labels: dict[str, str], err: str = "") -> tuple[bool, dict[str, str]]:
    b = LabelsBuilder(labels.items())
    if err:
        b.set_error(err)
    kept = flt.process(0, b"line", b) is not None
    return kept, dict(b.labels())


@pytest.mark.parametrize(
    ("op", "value", "label", "want"),
    [
        ("=", "foo", "foo", True), ("=", "foo", "food", False), ("!=", "foo", "bar", True),
        ("=~", "fo.", "foo", True), ("=~", "fo", "foo", False),  # anchored
        ("!~", "fo", "foo", True), ("=~", "(?i)FOO", "foo", True), ("=~", ".*", "", True),
        ("=", "", None, True), ("!=", "", None, False),  # missing label compares as ""
    ],
)  # fmt: skip
def test_string_filter(op: str, value: str, label: str | None, want: bool) -> None:
    labels = {} if label is None else {"x": label}
    assert apply(StringLabelFilter("x", op, value), labels)[0] is want


@pytest.mark.parametrize(
    ("op", "value", "label", "want"),
    [
        ("==", 5, "5", True), ("=", 5, "5.0", True), ("!=", 5, "5", False),
        (">", 1, "1.5", True), (">=", 2, "2", True), ("<", 0, "-1e3", True),
        ("<=", -1, "-1", True), (">", -1, "-5", False),
        (">", 1, "+Inf", True), ("<", 1, "0x1p-2", True),
    ],
)  # fmt: skip
def test_numeric_filter(op: str, value: float, label: str, want: bool) -> None:
    assert apply(NumericLabelFilter("n", op, value), {"n": label}) == (want, {"n": label})


def test_numeric_filter_missing_and_invalid() -> None:
    assert apply(NumericLabelFilter("n", ">", 1), {}) == (False, {})
    kept, labels = apply(NumericLabelFilter("n", ">", 1), {"n": "abc"})
    assert kept
    assert labels == {
        "n": "abc",
        "__error__": "LabelFilterErr",
        "__error_details__": 'strconv.ParseFloat: parsing "abc": invalid syntax',
    }
    # an earlier error changes nothing: the filter still decides, __error__ is not a label
    assert apply(NumericLabelFilter("n", ">", 1), {"n": "0"}, err="JSONParserErr")[0] is False
    assert apply(NumericLabelFilter("n", ">", 1), {"n": "5"}, err="JSONParserErr")[0] is True
    assert apply(NumericLabelFilter("__error__", ">", 0), {}, err="LabelFilterErr")[0] is False


def test_first_failing_filter_owns_the_error_details() -> None:
    x_then_y = AndLabelFilter(DurationLabelFilter("x", ">", 10**9), DurationLabelFilter("y", ">", 10**9))
    labels = {"x": "nope", "y": "90", "z": "oops"}
    assert apply(x_then_y, labels)[1]["__error_details__"] == 'time: invalid duration "nope"'
    y_then_x = AndLabelFilter(DurationLabelFilter("y", ">", 10**9), DurationLabelFilter("x", ">", 10**9))
    assert apply(y_then_x, labels)[1]["__error_details__"] == 'time: missing unit in duration "90"'
    # the right side still decides after the left side failed to convert
    took_size = AndLabelFilter(DurationLabelFilter("took", ">", 10**9), BytesLabelFilter("size", "<", 10**6))
    assert apply(took_size, {"took": "oops", "size": "3MB"})[0] is False
    assert apply(took_size, {"took": "oops", "size": "3KB"})[0] is True


@pytest.mark.parametrize(
    ("op", "literal", "label", "want"),
    [
        (">", "1s", "5m", True), (">", "1s", "1s", False), (">", "1s", "0s", False),
        (">", "-1s", "-5m", False), (">=", "1ms", "1000us", True), ("==", "1.5h", "1h30m", True),
        ("<", "1d", "23h", True), ("<", "1w", "169h", False), ("==", "2us", "2µs", True),
    ],
)  # fmt: skip
def test_duration_filter(op: str, literal: str, label: str, want: bool) -> None:
    flt = DurationLabelFilter("d", op, parse_duration_literal(literal))
    assert apply(flt, {"d": label})[0] is want


def test_duration_value_units_are_go_only() -> None:
    kept, labels = apply(DurationLabelFilter("d", ">", 0), {"d": "1d"})
    assert kept and labels["__error__"] == "LabelFilterErr"
    assert labels["__error_details__"] == 'time: unknown unit "d" in duration "1d"'
    _, labels = apply(DurationLabelFilter("d", ">", 0), {"d": "12"})
    assert labels["__error_details__"] == 'time: missing unit in duration "12"'
    assert apply(DurationLabelFilter("d", ">", 0), {}) == (False, {})


@pytest.mark.parametrize(
    ("op", "literal", "label", "want"),
    [
        ("<", "1GB", "5kB", True), ("<", "1GB", "256B", True), (">", "1KB", "1KiB", True),
        ("==", "1MB", "1mb", True), ("==", "1MiB", "1 mib", True), ("==", "1KB", "1000", True),
        (">=", "1.5KB", "1,500b", True),
    ],
)  # fmt: skip
def test_bytes_filter(op: str, literal: str, label: str, want: bool) -> None:
    flt = BytesLabelFilter("b", op, parse_bytes_literal(literal))
    assert apply(flt, {"b": label})[0] is want


def test_bytes_literals_are_case_sensitive_values_are_not() -> None:
    with pytest.raises(ConversionError):
        parse_bytes_literal("1mb")
    assert parse_bytes("1mb") == parse_bytes_literal("1MB") == 1_000_000
    kept, labels = apply(BytesLabelFilter("b", ">", 1), {"b": "12 parsecs"})
    assert kept and labels["__error_details__"] == "unhandled size name: parsecs"


def test_ip_label_filter() -> None:
    flt = IPLabelFilter("addr", "=", "192.168.0.0/16")
    assert apply(flt, {"addr": "192.168.4.5"})[0]
    assert not apply(flt, {"addr": "10.0.0.1"})[0]
    assert not apply(flt, {})[0]
    assert apply(IPLabelFilter("addr", "!=", "192.168.0.0/16"), {"addr": "10.0.0.1"})[0]


def test_and_or() -> None:
    bad = NumericLabelFilter("n", ">", 1)  # "x" does not convert: sets an error
    yes = StringLabelFilter("a", "=", "1")
    no = StringLabelFilter("a", "=", "2")
    labels = {"a": "1", "n": "x"}
    kept, out = apply(OrLabelFilter(yes, bad), labels)
    assert kept and "__error__" not in out  # right side skipped
    kept, out = apply(OrLabelFilter(no, bad), labels)
    assert kept and out["__error__"] == "LabelFilterErr"
    assert not apply(AndLabelFilter(yes, no), labels)[0]
    assert apply(AndLabelFilter(yes, StringLabelFilter("n", "=~", "x")), labels)[0]


def test_error_label_filters() -> None:
    no_err = StringLabelFilter("__error__", "=", "")
    assert apply(no_err, {"a": "1"})[0]
    assert not apply(no_err, {"a": "1"}, err="JSONParserErr")[0]
    only_err = StringLabelFilter("__error__", "!=", "")
    assert apply(only_err, {}, err="JSONParserErr")[0]
    assert apply(StringLabelFilter("__error__", "=~", "JSON.*"), {}, err="JSONParserErr")[0]


def test_go_conversions() -> None:
    assert parse_duration("1h1m1s1ms1us1ns") == 3_661_001_001_001
    assert parse_duration("-1.5s") == -1_500_000_000
    assert parse_duration("+0") == 0
    for bad in ("", "s", ".s", "1.2.3s", "1 s"):
        with pytest.raises(ConversionError):
            parse_duration(bad)
    assert parse_float("1e3") == 1000.0
    for bad in ("1_000", " 1", "0x", "--1", ""):
        with pytest.raises(ConversionError):
            parse_float(bad)
