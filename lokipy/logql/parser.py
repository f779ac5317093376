"""Parse LogQL text into the :mod:`lokipy.logql.ast` tree, accepting what Loki accepts.

The grammar lives in ``grammar.lark`` (LALR(1)); tokens come from :mod:`._lexer`; the rule
callbacks that build and check the tree are in :mod:`._build`. Lark computes the LALR table
once per process (and caches its analysis on disk); a small driver here runs it. Errors are
:class:`LogQLParseError`, worded as Loki words them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lark import Lark
from lark.lexer import Lexer
from lark.parsers.lalr_analysis import Reduce, Shift

from lokipy.logql import _checks
from lokipy.logql._build import Build
from lokipy.logql._lexer import DISPLAY, Tok, display_name, tokenize
from lokipy.logql._pretty import prettify
from lokipy.logql.ast import Expr
from lokipy.model.errors import LogQLParseError

MAX_INPUT_SIZE = 5120  # bytes, Loki's maxInputSize

_GRAMMAR = Path(__file__).with_name("grammar.lark")


class _NoLexer(Lexer):
    """Lark wants a lexer; tokens come from :mod:`._lexer` and are fed by :func:`_drive`."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Any:  # type: ignore[override]
        return iter(data)


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
                    transformer=Build(),
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
_GROUP_SIZES = {"RANGE_OP": 15, "VECTOR_OP": 12, "CONV_OP": 3}


def _shifts(table: Any, state: int) -> set[str]:
    return {
        t for t, (action, _) in table.states[state].items()
        if action is Shift and (t.isupper() or t == "$END")
    }  # fmt: skip


def _expected(table: Any, stack: list[int]) -> list[str]:
    """What goyacc would list after ``expecting``: at most four tokens, else nothing.

    goyacc takes a state's most common reduction by default before it notices the error,
    and lists the tokens the state it ends up in can shift. Loki's grammar is flat (one
    ``expr`` rule with precedence declarations) where ours has a rule per precedence level,
    so the tokens shiftable anywhere along our chain of default reductions are what that one
    goyacc state can shift.
    """
    stack = list(stack)
    names = _shifts(table, stack[-1])
    reduced = False
    for _ in range(64):
        reduces: dict[Any, int] = {}
        for term, (action, arg) in table.states[stack[-1]].items():
            if action is Reduce and (term.isupper() or term == "$END"):
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
        if not reduced:
            names, reduced = set(), True
        names |= _shifts(table, goto[1])
    if sum(_GROUP_SIZES.get(t, 1) for t in names) > 4:
        return []
    return [DISPLAY.get(t, t) for t in sorted(names, key=lambda t: _ORDER.get(t, 99))]


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
