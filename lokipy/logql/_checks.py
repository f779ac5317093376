"""Parse-time checks Loki makes while building the tree, with Loki's wording.

Everything here raises :class:`LogQLParseError` without a position (Loki reports these as
``parse error : <msg>``).
"""

from __future__ import annotations

import math
import re

from lokipy.logql.ast import (
    BinaryOp,
    LabelReplace,
    LogExpr,
    LogQuery,
    NumberLiteral,
    RangeAggregation,
    SampleExpr,
    StreamSelector,
    VectorAggregation,
    VectorExpr,
)
from lokipy.model.errors import LogQLParseError
from lokipy.model.labels import is_valid_label_name
from lokipy.model.regex import RegexError, compile_regex

EMPTY_MATCHERS_ERROR = (
    "queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, but '
    'app=~".+" will'
)

# range aggregation -> (grouping allowed, unwrap allowed, works without unwrap)
_GROUPING_OK = frozenset({
    "avg_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time",
    "max_over_time", "min_over_time", "first_over_time", "last_over_time",
})  # fmt: skip
_UNWRAP_OK = frozenset({
    "avg_over_time", "sum_over_time", "max_over_time", "min_over_time", "stddev_over_time",
    "stdvar_over_time", "quantile_over_time", "rate", "rate_counter", "absent_over_time",
    "first_over_time", "last_over_time",
})  # fmt: skip
_NO_UNWRAP_OK = frozenset({"bytes_over_time", "bytes_rate", "count_over_time", "rate", "absent_over_time"})


def fail(msg: str) -> LogQLParseError:
    return LogQLParseError(msg, 0, 0)


def check_range_aggregation(agg: RangeAggregation) -> None:
    """Loki's ``RangeAggregationExpr.validate``: grouping and unwrap per function."""
    op = agg.op
    if agg.grouping is not None and op not in _GROUPING_OK:
        raise fail(f"grouping not allowed for {op} aggregation")
    if agg.range.unwrap is not None:
        if op not in _UNWRAP_OK:
            raise fail(f"invalid aggregation {op} with unwrap")
    elif op not in _NO_UNWRAP_OK:
        raise fail(f"invalid aggregation {op} without unwrap")


def range_param(op: str, text: str | None) -> float | None:
    """The numeric first argument of a range aggregation (only ``quantile_over_time``)."""
    from lokipy.logql.units import parse_go_float

    if text is None:
        if op == "quantile_over_time":
            raise fail(f"parameter required for operation {op}")
        return None
    if op != "quantile_over_time":
        raise fail(f"parameter {text} not supported for operation {op}")
    try:
        return parse_go_float(text)
    except ValueError as err:
        raise fail(f"invalid parameter for operation {op}: {err}") from None


_ATOI = re.compile(r"[+-]?[0-9]+\Z")


def vector_param(op: str, text: str | None, has_grouping: bool) -> int | None:
    """``topk``/``bottomk``/``approx_topk`` need an integer k > 0; the others take none."""
    if op in ("topk", "bottomk", "approx_topk"):
        if text is None:
            raise fail(f"parameter required for operation {op}")
        if not _ATOI.match(text) or abs(int(text)) >= 1 << 63:
            raise fail(f"invalid parameter {op}({text},")
        k = int(text)
        if k <= 0:
            raise fail(f"invalid parameter (must be greater than 0) {op}({text}")
        if op == "approx_topk" and has_grouping:
            raise fail(f"grouping not allowed for {op} aggregation")
        return k
    if text is not None:
        raise fail(f"unsupported parameter for operation {op}({text},")
    return None


def _go_type(expr: object) -> str:
    if isinstance(expr, LogQuery):
        return "*syntax.PipelineExpr" if expr.pipeline else "*syntax.MatchersExpr"
    return f"*syntax.{type(expr).__name__}"


def binary_op(op: str, lhs: object, rhs: object, return_bool: bool, matching: object) -> SampleExpr:
    """Loki's ``mustNewBinOpExpr``: legs must be metric expressions, set operators take no
    literal, and two literals fold into one (``1 + 1`` is ``2``)."""
    if not isinstance(lhs, SampleExpr):
        raise fail(f"unexpected type for left leg of binary operation ({op}): {_go_type(lhs)}")
    if not isinstance(rhs, SampleExpr):
        raise fail(f"unexpected type for right leg of binary operation ({op}): {_go_type(rhs)}")
    left_lit = isinstance(lhs, NumberLiteral)
    right_lit = isinstance(rhs, NumberLiteral)
    if op in ("and", "or", "unless"):
        if left_lit:
            raise fail(
                f"unexpected literal for left leg of logical/set binary operation ({op}): {lhs.value:f}"  # type: ignore[union-attr]
            )
        if right_lit:
            raise fail(
                f"unexpected literal for right leg of logical/set binary operation ({op}): {rhs.value:f}"  # type: ignore[union-attr]
            )
    if left_lit and right_lit:
        return NumberLiteral(fold(op, lhs.value, rhs.value))  # type: ignore[union-attr]
    return BinaryOp(op, lhs, rhs, return_bool, matching)  # type: ignore[arg-type]


def fold(op: str, a: float, b: float) -> float:
    """Scalar arithmetic as Loki's ``MergeBinOp`` does it (``x/0`` and ``x%0`` are NaN)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return math.nan if b == 0 else a / b
    if op == "%":
        return math.nan if b == 0 else math.fmod(a, b)
    if op == "^":
        return go_pow(a, b)
    result = {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }[op]
    return 1.0 if result else 0.0


def go_pow(a: float, b: float) -> float:
    """Go's ``math.Pow``: NaN (not an exception) for a negative base and fractional power."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf if a > 0 or float(b).is_integer() and b % 2 == 0 else -math.inf
    except ValueError:
        if a == 0 and b < 0:
            return math.inf
        return math.nan


# RE2's error codes -> Go regexp/syntax's wording
_RE2_TO_GO = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid named capture group": "invalid named capture",
    "trailing \\": "trailing backslash at end of expression",
    "invalid repetition size": "invalid repeat count",
    "invalid perl operator": "invalid or unsupported Perl syntax",
}
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z0-9_]+)>")


def go_regex_error(pattern: str) -> str | None:
    """Compile like Go's ``regexp.Compile``; None when fine, else Go's error text."""
    try:
        compile_regex(pattern)
    except RegexError as err:
        text = str(err)
        reason = text.removeprefix("error parsing regexp: ")
        reason = reason.removesuffix(f": `{pattern}`")
        code, _, fragment = reason.partition(": ")
        if code in _RE2_TO_GO or not fragment:
            code = _RE2_TO_GO.get(reason if not fragment else code, code)
            fragment = fragment or pattern
        return f"error parsing regexp: {code}: `{fragment}`"
    # RE2 accepts a repeated group name; Go does not.
    names = _NAMED_GROUP.findall(pattern)
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        return f"error parsing regexp: duplicate capture group name: `{dup}`"
    return None


def check_label_replace_regex(regex: str) -> None:
    msg = go_regex_error(f"^(?:{regex})$")
    if msg is not None:
        raise fail(f"invalid regex in label_replace: {msg}")


def check_regexp_parser(pattern: str) -> None:
    """``| regexp``: compiles, has captures, all named with valid, unique label names."""
    msg = go_regex_error(pattern)
    if msg is not None:
        raise fail(f"invalid regexp parser: {msg}")
    compiled = compile_regex(pattern)
    if compiled.groups == 0:
        raise fail("invalid regexp parser: at least one named capture must be supplied")
    names = {index: name for name, index in compiled.groupindex.items()}
    seen: set[str] = set()
    for i in range(1, compiled.groups + 1):
        name = names.get(i, "")
        if name == "":
            continue  # unnamed groups only group (Loki's parser_test: `(ms|ns)` after captures)
        if not is_valid_label_name(name):
            raise fail(f"invalid regexp parser: invalid extracted label name '{name}'")
        if name in seen:
            raise fail(f"invalid regexp parser: duplicate extracted label name '{name}'")
        seen.add(name)


_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


def check_pattern_parser(pattern: str) -> None:
    """``| pattern``: Loki's pattern grammar -- ``<name>`` captures between literals."""
    nodes: list[str | None] = []  # capture name, or None for a literal run
    pos = 0
    for m in _CAPTURE.finditer(pattern):
        if m.start() > pos:
            nodes.append(None)
        nodes.append(m.group(1))
        pos = m.end()
    if pos < len(pattern):
        nodes.append(None)
    if not pattern:
        raise fail("invalid pattern parser: syntax error: unexpected $end")
    names = [n for n in nodes if n is not None and n != "_"]
    if not names:
        raise fail("invalid pattern parser: at least one capture is required")
    # Loki only compares the pairs (0,1), (2,3), ... when looking for adjacent captures.
    for i in range(0, len(nodes) - 1, 2):
        if nodes[i] is not None and nodes[i + 1] is not None:
            raise fail("invalid pattern parser: found consecutive capture: invalid expression")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise fail(f"invalid pattern parser: duplicate capture name ({name}): invalid expression")
        seen.add(name)


def check_selector(selector: StreamSelector) -> None:
    if not any(not m.matches_empty() for m in selector.matchers):
        raise fail(EMPTY_MATCHERS_ERROR)


def validate(expr: LogExpr | SampleExpr) -> None:
    """Loki's ``validateExpr``: every selector must select specific streams; no grouping
    on ``sort``/``sort_desc``."""
    if isinstance(expr, LogQuery):
        check_selector(expr.selector)
    elif isinstance(expr, BinaryOp):
        validate(expr.lhs)
        validate(expr.rhs)
    elif isinstance(expr, NumberLiteral | VectorExpr):
        return
    elif isinstance(expr, VectorAggregation):
        if expr.op in ("sort", "sort_desc") and expr.grouping.labels:
            raise fail("sort and sort_desc doesn't allow grouping by ")
        validate(expr.expr)
    elif isinstance(expr, RangeAggregation):
        check_selector(expr.range.query.selector)
    elif isinstance(expr, LabelReplace):
        validate(expr.expr)
