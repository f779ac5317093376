"""Rule callbacks of the LogQL grammar: parse-tree children in, checked AST nodes out.

Lark calls these while the LALR driver reduces (``Lark(transformer=Build())``), so no parse
tree is built. Children are :class:`._lexer.Tok` tokens and already-built values.
"""

from __future__ import annotations

from typing import Any

from lark import Transformer

from lokipy.logql import _checks
from lokipy.logql._lexer import Tok, display_name
from lokipy.logql.ast import BinaryLabelFilter as _BLF
from lokipy.logql.ast import (
    BytesLabelFilter,
    Decolorize,
    Drop,
    DurationLabelFilter,
    Grouping,
    IPLabelFilter,
    JSONParser,
    Keep,
    LabelExtraction,
    LabelFilter,
    LabelFormat,
    LabelFormatOp,
    LabelReplace,
    LineFilter,
    LineFilterOr,
    LineFormat,
    LogfmtParser,
    LogQuery,
    LogRange,
    NumberLiteral,
    PatternParser,
    RangeAggregation,
    RegexpParser,
    SampleExpr,
    StreamSelector,
    StringLabelFilter,
    UnpackParser,
    Unwrap,
    VectorAggregation,
    VectorExpr,
    VectorMatching,
)
from lokipy.logql.ast import NumericLabelFilter as _NLF
from lokipy.logql.units import parse_go_float
from lokipy.model.errors import InvalidInput, LogQLParseError
from lokipy.model.matchers import LabelMatcher, MatchType


class _Group:
    __slots__ = ("card", "include")

    def __init__(self, card: str, include: tuple[str, ...]) -> None:
        self.card = card
        self.include = include


class _Args:
    __slots__ = ("param", "expr", "close")

    def __init__(self, param: str | None, expr: Any, close: Tok) -> None:
        self.param = param
        self.expr = expr
        self.close = close


def _syntax_error_at(tok: Tok) -> LogQLParseError:
    return LogQLParseError(f"syntax error: unexpected {display_name(tok)}", tok.line, tok.column)


def _metric(expr: Any, close: Tok) -> SampleExpr:
    """Loki's grammar only takes a metric expression here; a log query is a syntax error."""
    if not isinstance(expr, SampleExpr):
        raise _syntax_error_at(close)
    return expr


def _matcher(name: str, op: str, value: str) -> LabelMatcher:
    try:
        return LabelMatcher(name, MatchType(op), value)
    except InvalidInput as err:
        raise _checks.fail(_checks.go_regex_error(value) or str(err)) from None


def _number(text: str, negative: bool = False, what: str = "literal") -> float:
    try:
        value = parse_go_float(text)
    except ValueError as err:
        raise _checks.fail(f"unable to parse {what} as a float: {err}") from None
    return -value if negative else value


_CMP = {"=": "==", "==": "==", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class Build(Transformer):  # type: ignore[type-arg]
    """Rule callbacks: parse-tree children in, AST nodes out (validated as Loki does)."""

    # --- expressions ---

    def start(self, c: list[Any]) -> Any:
        return c[0]

    def paren(self, c: list[Any]) -> Any:
        return c[1]

    def binop(self, c: list[Any]) -> SampleExpr:
        return_bool, matching = c[2]
        return _checks.binary_op(c[1].value, c[0], c[3], return_bool, matching)

    def bin_mod(self, c: list[Any]) -> tuple[bool, VectorMatching | None]:
        return_bool = bool(c) and isinstance(c[0], Tok)
        matching = c[-1] if c and isinstance(c[-1], VectorMatching) else None
        return return_bool, matching

    def matching(self, c: list[Any]) -> VectorMatching | None:
        on = c[0].type == "ON"
        labels: tuple[str, ...] = next((x for x in c if isinstance(x, tuple)), ())
        group = c[-1] if isinstance(c[-1], _Group) else None
        card = group.card if group else "one-to-one"
        if not on and not labels and card == "one-to-one":
            return None  # `ignoring ()` changes nothing
        return VectorMatching(on, labels, card, group.include if group else ())

    def group_mod(self, c: list[Any]) -> _Group:
        card = "many-to-one" if c[0].type == "GROUP_LEFT" else "one-to-many"
        include: tuple[str, ...] = next((x for x in c if isinstance(x, tuple)), ())
        return _Group(card, include)

    def labels(self, c: list[Any]) -> tuple[str, ...]:
        head: tuple[str, ...] = c[0] if isinstance(c[0], tuple) else (c[0].value,)
        return head + (c[2].value,) if len(c) == 3 else head

    def literal(self, c: list[Tok]) -> NumberLiteral:
        return NumberLiteral(_number(c[-1].value, c[0].type == "SUB"))

    def vector_expr(self, c: list[Tok]) -> VectorExpr:
        return VectorExpr(_number(c[2].value, what="vectorExpr"))

    def label_replace(self, c: list[Any]) -> LabelReplace:
        expr = _metric(c[2], c[3])
        strings = [t.value for t in c if isinstance(t, Tok) and t.type == "STRING"]
        dst, replacement, src, regex = strings
        _checks.check_label_replace_regex(regex)
        return LabelReplace(expr, dst, replacement, src, regex)

    # --- aggregations ---

    def range_agg(self, c: list[Any]) -> RangeAggregation:
        op = c[0].value
        param_text = c[2].value if isinstance(c[2], Tok) and c[2].type == "NUMBER" else None
        log_range = next(x for x in c if isinstance(x, LogRange))
        grouping = c[-1] if isinstance(c[-1], Grouping) else None
        param = _checks.range_param(op, param_text)
        agg = RangeAggregation(op, log_range, param, grouping)
        _checks.check_range_aggregation(agg)
        return agg

    def vector_agg(self, c: list[Any]) -> VectorAggregation:
        op = c[0].value
        args: _Args = next(x for x in c if isinstance(x, _Args))
        grouping = next((x for x in c if isinstance(x, Grouping)), None)
        param = _checks.vector_param(op, args.param, grouping is not None)
        expr = _metric(args.expr, args.close)
        return VectorAggregation(op, expr, grouping or Grouping(), param)

    def vector_args(self, c: list[Any]) -> _Args:
        param = c[1].value if len(c) == 5 else None
        return _Args(param, c[-2], c[-1])

    def grouping(self, c: list[Any]) -> Grouping:
        labels: tuple[str, ...] = next((x for x in c if isinstance(x, tuple)), ())
        return Grouping(labels, c[0].type == "WITHOUT")

    def log_range(self, c: list[Any]) -> LogRange:
        for x in c:
            if isinstance(x, LogRange):
                return x  # ( log_range )
        selector = None
        pipeline: tuple[Any, ...] = ()
        unwrap = None
        range_ns = offset_ns = 0
        for x in c:
            if isinstance(x, StreamSelector):
                selector = x
            elif isinstance(x, tuple):
                pipeline = x
            elif isinstance(x, Unwrap):
                unwrap = x
            elif isinstance(x, Tok) and x.type == "RANGE":
                range_ns = x.value  # type: ignore[assignment]
            elif isinstance(x, int):
                offset_ns = x
        assert selector is not None
        return LogRange(LogQuery(selector, pipeline), range_ns, offset_ns, unwrap)

    def offset(self, c: list[Tok]) -> int:
        return c[1].value  # type: ignore[return-value]

    def unwrap(self, c: list[Any]) -> Unwrap:
        if isinstance(c[0], Unwrap):  # unwrap | label filter
            u = c[0]
            return Unwrap(u.label, u.conversion, (*u.post_filters, c[2]))
        if len(c) == 3:
            return Unwrap(c[2].value)
        return Unwrap(c[4].value, c[2].value)

    # --- log queries ---

    def log_expr(self, c: list[Any]) -> LogQuery:
        return LogQuery(c[0], c[1] if len(c) > 1 else ())

    def selector(self, c: list[Any]) -> StreamSelector:
        return StreamSelector(c[1] if len(c) == 3 else ())

    def matchers(self, c: list[Any]) -> tuple[LabelMatcher, ...]:
        return c[0] + (c[2],) if len(c) == 3 else (c[0],)

    def matcher(self, c: list[Tok]) -> LabelMatcher:
        return _matcher(c[0].value, c[1].value, c[2].value)

    def pipeline(self, c: list[Any]) -> tuple[Any, ...]:
        head: tuple[Any, ...] = c[0] if len(c) == 2 else ()
        stage = c[-1]
        return head + (tuple(stage) if isinstance(stage, list) else (stage,))

    def line_filter(self, c: list[Any]) -> LineFilter | list[LineFilter]:
        op = c[0]
        terms = [x for x in c[1:] if isinstance(x, LineFilterOr)]
        if op in ("!=", "!~", "!>") and len(terms) > 1:
            # Loki: !(a or b) == !a and !b, so a negated `or` chain is separate filters.
            return [LineFilter(op, t.value, t.ip) for t in terms]
        return LineFilter(op, terms[0].value, terms[0].ip, tuple(terms[1:]))

    def line_filter_op(self, c: list[Tok]) -> str:
        return c[0].value

    def line_filter_term(self, c: list[Tok]) -> LineFilterOr:
        if c[0].type == "IP":
            return LineFilterOr(c[2].value, True)
        return LineFilterOr(c[0].value)

    def json_parser(self, c: list[Any]) -> JSONParser:
        return JSONParser(c[2] if len(c) > 2 else ())

    def logfmt_parser(self, c: list[Any]) -> LogfmtParser:
        flags = {t.value for t in c if isinstance(t, Tok) and t.type == "PARSER_FLAG"}
        params = c[-1] if isinstance(c[-1], tuple) else ()
        return LogfmtParser(params, "--strict" in flags, "--keep-empty" in flags)

    def extractions(self, c: list[Any]) -> tuple[LabelExtraction, ...]:
        return c[0] + (c[2],) if len(c) == 3 else (c[0],)

    def extraction(self, c: list[Tok]) -> LabelExtraction:
        return LabelExtraction(c[0].value, c[2].value if len(c) == 3 else c[0].value)

    def regexp_parser(self, c: list[Tok]) -> RegexpParser:
        _checks.check_regexp_parser(c[2].value)
        return RegexpParser(c[2].value)

    def pattern_parser(self, c: list[Tok]) -> PatternParser:
        _checks.check_pattern_parser(c[2].value)
        return PatternParser(c[2].value)

    def unpack_parser(self, c: list[Tok]) -> UnpackParser:
        return UnpackParser()

    def line_format(self, c: list[Tok]) -> LineFormat:
        return LineFormat(c[2].value)

    def decolorize(self, c: list[Tok]) -> Decolorize:
        return Decolorize()

    def label_format(self, c: list[Any]) -> LabelFormat:
        return LabelFormat(tuple(x for x in c if isinstance(x, LabelFormatOp)))

    def label_format_op(self, c: list[Tok]) -> LabelFormatOp:
        return LabelFormatOp(c[0].value, c[2].value, c[2].type == "IDENTIFIER")

    def drop(self, c: list[Any]) -> Drop:
        return Drop(tuple(x for x in c if not isinstance(x, Tok)))

    def keep(self, c: list[Any]) -> Keep:
        return Keep(tuple(x for x in c if not isinstance(x, Tok)))

    def named_matcher(self, c: list[Any]) -> str | LabelMatcher:
        return c[0].value if isinstance(c[0], Tok) else c[0]

    def label_filter_stage(self, c: list[Any]) -> LabelFilter:
        return LabelFilter(c[1])

    # --- label filters ---

    def lf_or_node(self, c: list[Any]) -> _BLF:
        return _BLF("or", c[0], c[-1])

    def lf_and_node(self, c: list[Any]) -> _BLF:
        return _BLF("and", c[0], c[-1])

    def lf_paren(self, c: list[Any]) -> Any:
        return c[1]

    def lf_string(self, c: list[Any]) -> StringLabelFilter:
        return StringLabelFilter(c[0])

    def lf_ip(self, c: list[Tok]) -> IPLabelFilter:
        return IPLabelFilter(c[0].value, c[1].value, c[4].value)

    def lf_duration(self, c: list[Any]) -> DurationLabelFilter:
        return DurationLabelFilter(c[0].value, c[1], c[2].value)

    def lf_bytes(self, c: list[Any]) -> BytesLabelFilter:
        return BytesLabelFilter(c[0].value, c[1], c[2].value)

    def lf_number(self, c: list[Any]) -> _NLF:
        return _NLF(c[0].value, c[1], c[2].value)

    def filter_cmp(self, c: list[Tok]) -> str:
        return _CMP[c[0].value]
