"""Parse LogQL text into the :mod:`lokipy.logql.ast` tree, accepting what Loki accepts.

The grammar lives in ``grammar.lark`` (LALR(1)); tokens come from :mod:`._lexer`. The Lark
parser object is built once per process (and cached on disk by Lark), and the tree is built
by an inline transformer while parsing, so no intermediate parse tree is materialised.
Errors are :class:`LogQLParseError`, worded as Loki words them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lark import Lark, Transformer
from lark.lexer import Lexer
from lark.parsers.lalr_analysis import Reduce, Shift

from lokipy.logql import _checks
from lokipy.logql._lexer import FUNCTIONS, KEYWORDS, Tok, tokenize
from lokipy.logql._pretty import prettify
from lokipy.logql.ast import BinaryLabelFilter as _BLF
from lokipy.logql.ast import (
    BytesLabelFilter,
    Decolorize,
    Drop,
    DurationLabelFilter,
    Expr,
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

MAX_INPUT_SIZE = 5120  # bytes, Loki's maxInputSize

_GRAMMAR = Path(__file__).with_name("grammar.lark")


class _NoLexer(Lexer):
    """Lark wants a lexer; tokens come from :mod:`._lexer` and are fed by :func:`_drive`."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Any:  # type: ignore[override]
        return iter(data)


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


class _Build(Transformer):  # type: ignore[type-arg]
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


# --- the parser object, built once ------------------------------------------------------


class _Tables:
    """Lark's LALR table flattened for a tight driver loop.

    Per state: terminal or rule name -> next state (shift/goto, an int) or
    ``(rhs size, callback, rule name)`` (reduce). Lark's own ``feed_token`` pays for
    generic checks on every token; this loop is what keeps short queries well under 1 ms.
    """

    def __init__(self, lark: Lark) -> None:
        inner = lark.parser.parser.parser  # lark's _Parser: parse_table + callbacks
        table = inner.parse_table
        callbacks = inner.callbacks
        self.table = table
        self.start: int = table.start_states["start"]
        self.end: int = table.end_states["start"]
        self.actions: dict[int, dict[str, Any]] = {}
        for state, acts in table.states.items():
            row: dict[str, Any] = {}
            for term, (action, arg) in acts.items():
                if action is Shift:
                    row[term] = arg
                elif arg.options.expand1 and len(arg.expansion) == 1:
                    row[term] = (1, None, arg.origin.name)  # `?rule` with one child: pass it on
                else:
                    row[term] = (len(arg.expansion), callbacks[arg], arg.origin.name)
            self.actions[state] = row


_lock = threading.Lock()
_tables: _Tables | None = None


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                lark = Lark(
                    _GRAMMAR.read_text(encoding="utf-8"),
                    parser="lalr",
                    lexer=_NoLexer,
                    transformer=_Build(),
                    cache=True,
                    maybe_placeholders=False,
                )
                _tables = _Tables(lark)
    return _tables


class _Unexpected(Exception):
    def __init__(self, stack: list[int], tok: Tok) -> None:
        self.stack = stack
        self.tok = tok


def _drive(tables: _Tables, tokens: list[Tok], end: Tok) -> Any:
    """The LALR(1) loop: shift tokens, reduce through the AST-building callbacks."""
    actions = tables.actions
    end_state = tables.end
    stack = [tables.start]
    values: list[Any] = []
    tokens.append(end)
    for tok in tokens:
        kind = tok.type
        while True:
            act = actions[stack[-1]].get(kind)
            if act is None:
                raise _Unexpected(stack, tok)
            if act.__class__ is int:
                stack.append(act)
                values.append(tok)
                break
            size, callback, name = act
            if callback is None:  # pass-through reduction: only the state changes
                del stack[-1]
                stack.append(actions[stack[-1]][name])
                continue
            if size:
                args = values[-size:]
                del stack[-size:]
                del values[-size:]
            else:
                args = []
            stack.append(actions[stack[-1]][name])
            values.append(callback(args))
            if kind == "$END" and stack[-1] == end_state:
                return values[-1]
    raise AssertionError("unreachable: $END always reduces to the start rule")


# --- errors -----------------------------------------------------------------------------

# goyacc lists expected tokens in declaration order (Loki's %token list).
_TOKEN_ORDER = [
    "BYTES", "IDENTIFIER", "STRING", "NUMBER", "PARSER_FLAG", "DURATION", "RANGE", "EQ", "RE",
    "NRE", "NPA", "OPEN_BRACE", "CLOSE_BRACE", "OPEN_BRACKET", "CLOSE_BRACKET", "COMMA", "DOT",
    "PIPE_MATCH", "PIPE_EXACT", "PIPE_PATTERN", "OPEN_PARENTHESIS", "CLOSE_PARENTHESIS", "BY",
    "WITHOUT", "RANGE_OP", "VECTOR_OP", "BOOL", "JSON", "REGEXP", "LOGFMT", "PIPE",
    "LINE_FMT", "LABEL_FMT", "UNWRAP", "CONV_OP", "VECTOR", "LABEL_REPLACE", "UNPACK",
    "OFFSET", "PATTERN", "IP", "ON", "IGNORING", "GROUP_LEFT", "GROUP_RIGHT", "DECOLORIZE",
    "DROP", "KEEP", "OR", "AND", "UNLESS", "CMP_EQ", "NEQ", "LT", "LTE", "GT", "GTE", "ADD",
    "SUB", "MUL", "DIV", "MOD", "POW",
]  # fmt: skip
_ORDER = {name: i for i, name in enumerate(_TOKEN_ORDER)}
_DISPLAY = {kind: text for text, kind in KEYWORDS.items()}
_DISPLAY.update({"$END": "$end", "LABEL_REPLACE": "label_replace", "IP": "ip"})
_GROUP_SIZES = {"RANGE_OP": 15, "VECTOR_OP": 12, "CONV_OP": 3}


def display_name(tok: Tok) -> str:
    """How goyacc names a token in ``unexpected X``: Loki's spelling or its token name."""
    if tok.type in ("RANGE_OP", "VECTOR_OP", "CONV_OP"):
        return FUNCTIONS[tok.value][1]
    return _DISPLAY.get(tok.type, tok.type)


def _expected(table: Any, stack: list[int]) -> list[str]:
    """Shiftable tokens after goyacc-style default reductions; empty when more than four."""
    stack = list(stack)
    for _ in range(64):
        actions = table.states[stack[-1]]
        reduces: dict[Any, int] = {}
        for term, (action, arg) in actions.items():
            if action is Reduce and term.isupper() or action is Reduce and term == "$END":
                reduces[arg] = reduces.get(arg, 0) + 1
        if not reduces:
            break
        rule = max(reduces, key=lambda r: reduces[r])
        size = len(rule.expansion)
        if size:
            del stack[-size:]
        goto = table.states[stack[-1]].get(rule.origin.name)
        if goto is None:
            break
        stack.append(goto[1])
    names = [
        t for t, (action, _) in table.states[stack[-1]].items()
        if action is Shift and (t.isupper() or t == "$END")
    ]  # fmt: skip
    if sum(_GROUP_SIZES.get(t, 1) for t in names) > 4:
        return []
    names.sort(key=lambda t: _ORDER.get(t, 99))
    return [_DISPLAY.get(t, t) for t in names]


def _syntax_error(table: Any, err: _Unexpected) -> LogQLParseError:
    tok = err.tok
    msg = f"syntax error: unexpected {display_name(tok)}"
    expected = _expected(table, err.stack)
    if expected:
        msg += ", expecting " + " or ".join(expected)
    return LogQLParseError(msg, tok.line, tok.column)


# --- public API -------------------------------------------------------------------------


def _parse(text: str) -> Any:
    lexed = tokenize(text)
    lex_error = lexed.error
    tables = _get_tables()
    end = Tok("$END", "", lexed.end_line, lexed.end_col)
    try:
        expr = _drive(tables, lexed.tokens, end)
    except _Unexpected as err:
        if lex_error is not None:  # the lexer failed first (at or before this token)
            raise LogQLParseError(lex_error.msg, lex_error.line, lex_error.col) from None
        raise _syntax_error(tables.table, err) from None
    except LogQLParseError:
        if lex_error is not None:
            raise LogQLParseError(lex_error.msg, lex_error.line, lex_error.col) from None
        raise
    if lex_error is not None:
        raise LogQLParseError(lex_error.msg, lex_error.line, lex_error.col)
    return expr


def parse(text: str) -> Expr:
    """Parse and validate a LogQL query, as Loki's ``syntax.ParseExpr`` does.

    Returns a :class:`LogQuery` or a :class:`SampleExpr`; raises :class:`LogQLParseError`.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size >= MAX_INPUT_SIZE:
        raise LogQLParseError(f"input size too long ({size} > {MAX_INPUT_SIZE})", 0, 0, text)
    try:
        expr = _parse(text)
        _checks.validate(expr)
    except LogQLParseError as err:
        err.query = text
        raise
    return expr  # type: ignore[no-any-return]


def format_query(text: str) -> str:
    """Loki's ``/loki/api/v1/format_query``: the query parsed, validated and re-printed by
    Loki's formatter (one line up to 100 characters, split and indented beyond)."""
    return prettify(parse(text))
