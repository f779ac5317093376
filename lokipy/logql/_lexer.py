"""LogQL tokens, produced the way Loki's lexer (``lex.go`` over Go's ``text/scanner``) does.

The lexer is context-sensitive, which is why it is hand-written and fed to the Lark LALR
parser as a token list: ``rate`` is a function token only when ``(`` (or ``by``/``without (``)
follows, otherwise it is a label name; a number glued to units is a duration (``5m``) or a
byte size (``10KB``); ``[...]`` is read whole as a range; ``--strict`` is a parser flag.
Keywords are case-insensitive. Unknown characters become IDENTIFIER tokens, as in Loki, so
the parser reports them as ``unexpected IDENTIFIER``.

Positions follow Go's scanner: 1-based line and column (in characters) of the token start;
tokens that Loki finishes with ``Scanner.Next`` (two-character operators, durations, byte
sizes, flags, ranges) report line 0, because ``Next`` invalidates the token position.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from lokipy.logql.units import (
    DurationError,
    parse_bytes,
    parse_duration,
    parse_prom_duration_strict,
)
from lokipy.model.errors import InvalidLabels
from lokipy.model.labels import unquote_go_string

# Tokens whose spelling is fixed; the value is Loki's display name in error messages.
KEYWORDS = {
    ",": "COMMA", ".": "DOT", "{": "OPEN_BRACE", "}": "CLOSE_BRACE", "=": "EQ", "!=": "NEQ",
    "=~": "RE", "!~": "NRE", "!>": "NPA", "|=": "PIPE_EXACT", "|~": "PIPE_MATCH",
    "|>": "PIPE_PATTERN", "|": "PIPE", "unwrap": "UNWRAP", "(": "OPEN_PARENTHESIS",
    ")": "CLOSE_PARENTHESIS", "by": "BY", "without": "WITHOUT", "bool": "BOOL",
    "[": "OPEN_BRACKET", "]": "CLOSE_BRACKET", "label_replace": "LABEL_REPLACE",
    "offset": "OFFSET", "on": "ON", "ignoring": "IGNORING", "group_left": "GROUP_LEFT",
    "group_right": "GROUP_RIGHT", "or": "OR", "and": "AND", "unless": "UNLESS", "+": "ADD",
    "-": "SUB", "*": "MUL", "/": "DIV", "%": "MOD", "^": "POW", "==": "CMP_EQ", ">": "GT",
    ">=": "GTE", "<": "LT", "<=": "LTE", "json": "JSON", "regexp": "REGEXP",
    "logfmt": "LOGFMT", "unpack": "UNPACK", "pattern": "PATTERN",
    "label_format": "LABEL_FMT", "line_format": "LINE_FMT", "ip": "IP",
    "decolorize": "DECOLORIZE", "drop": "DROP", "keep": "KEEP",
}  # fmt: skip
TWO_CHAR_OPS = frozenset(k for k in KEYWORDS if len(k) == 2 and not k.isalpha())

RANGE_FUNCS = (
    "count_over_time", "rate", "rate_counter", "bytes_over_time", "bytes_rate",
    "avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "stdvar_over_time",
    "stddev_over_time", "quantile_over_time", "first_over_time", "last_over_time",
    "absent_over_time",
)  # fmt: skip
VECTOR_FUNCS = (
    "sum", "avg", "max", "min", "count", "stddev", "stdvar", "bottomk", "topk", "sort",
    "sort_desc", "approx_topk",
)  # fmt: skip
CONV_FUNCS = {"bytes": "BYTES_CONV", "duration": "DURATION_CONV",
              "duration_seconds": "DURATION_SECONDS_CONV"}  # fmt: skip

# Function tokens (only when a call follows): name -> (terminal, display name).
FUNCTIONS: dict[str, tuple[str, str]] = {
    **{f: ("RANGE_OP", f.upper()) for f in RANGE_FUNCS},
    **{f: ("VECTOR_OP", f.upper()) for f in VECTOR_FUNCS},
    **{f: ("CONV_OP", d) for f, d in CONV_FUNCS.items()},
    "vector": ("VECTOR", "VECTOR"),
    "label_replace": ("LABEL_REPLACE", "label_replace"),
    "ip": ("IP", "ip"),
}

# Token names as goyacc prints them in "unexpected X, expecting Y" (Loki maps its spelled
# tokens to their text; the others keep their token names).
DISPLAY = {kind: text for text, kind in KEYWORDS.items()}
DISPLAY.update({"$END": "$end", "LABEL_REPLACE": "label_replace", "IP": "ip"})

PARSER_FLAGS = frozenset({"--strict", "--keep-empty"})
_NEWLINE = re.compile("\n")
# The common tokens, matched in one go: plain identifiers, strings without escapes and
# punctuation that never starts a two-character operator. Everything else takes the slow,
# character-by-character path that mirrors Go's scanner.
_FAST = re.compile(
    r"([ \t\n\r]*)(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>\"[^\"\\\n]*\")"
    r"|(?P<punct>[{},()+*^%\]])|(?P<op2>\|[=~>]|![=~>]|=[=~]|[<>]=)|(?P<op1>[|=<>]))?"
)
_PUNCT = {
    "{": "OPEN_BRACE", "}": "CLOSE_BRACE", ",": "COMMA", "(": "OPEN_PARENTHESIS",
    ")": "CLOSE_PARENTHESIS", "+": "ADD", "*": "MUL", "^": "POW", "%": "MOD",
    "]": "CLOSE_BRACKET",
}  # fmt: skip
_DURATION_RUNES = frozenset("nu\u00b5mshdwy.")
_BYTES_RUNES = frozenset("BikKMGTP.")
_SPACE = " \t\n\r"


class Tok:
    """One token: Loki's token name (``type``), its value, and its Go scanner position."""

    __slots__ = ("type", "value", "line", "column")

    def __init__(self, type: str, value: Any, line: int, column: int) -> None:
        self.type = type
        self.value = value
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"Tok({self.type}, {self.value!r}, {self.line}:{self.column})"


@dataclass(frozen=True, slots=True)
class LexError:
    """A lexer/scanner error: Loki reports the first one, at the token's position."""

    msg: str
    line: int
    col: int
    index: int  # number of tokens emitted before it


class Lexed:
    """The token list plus the first lexer error and the end-of-input position."""

    __slots__ = ("tokens", "error", "end_line", "end_col")

    def __init__(self) -> None:
        self.tokens: list[Tok] = []
        self.error: LexError | None = None
        self.end_line = 1
        self.end_col = 1


def _is_letter(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def _is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd" if ch > "\x7f" else "0" <= ch <= "9"


def _is_number(ch: str) -> bool:  # Go's unicode.IsNumber: any N* category
    return ("0" <= ch <= "9") or (ch > "\x7f" and unicodedata.category(ch)[0] == "N")


def _is_space(ch: str) -> bool:  # Go's unicode.IsSpace
    return ch in " \t\n\v\f\r\x85\xa0" or (ch > "\xff" and ch.isspace())


class _Scanner:
    """Go ``text/scanner`` (GoTokens mode) over a Python string, plus Loki's ``Lex`` rules."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.out = Lexed()
        # line starts, for (line, col) of any index; most queries are one line
        self.line_starts = [0]
        if "\n" in text:
            self.line_starts += [m.end() for m in _NEWLINE.finditer(text)]

    def pos(self, i: int) -> tuple[int, int]:
        if len(self.line_starts) == 1:
            return 1, i + 1
        k = bisect_right(self.line_starts, i) - 1
        return k + 1, i - self.line_starts[k] + 1

    def error(self, msg: str, line: int, col: int) -> None:
        if self.out.error is None:
            self.out.error = LexError(msg, line, col, len(self.out.tokens))

    def emit(self, kind: str, value: object, start: int, line: int, col: int) -> None:
        self.out.tokens.append(Tok(kind, value, line, col))

    # --- the main loop ------------------------------------------------------------------

    def run(self) -> Lexed:
        text, n = self.text, self.n
        tokens = self.out.tokens
        one_line = len(self.line_starts) == 1
        i = 0
        while True:
            m = _FAST.match(text, i)
            i = m.end(1)
            if i >= n:
                break
            line, col = (1, i + 1) if one_line else self.pos(i)
            kind = m.lastgroup
            if kind == "word":
                j = m.end()
                if j == n or text[j] < "\x80":  # else a non-ASCII letter may continue it
                    word = m.group("word")
                    lower = word.lower()
                    if lower in FUNCTIONS:
                        self.word(word, i, j, line, col)
                    else:
                        kw = KEYWORDS.get(lower)
                        tokens.append(Tok(kw or "IDENTIFIER", lower if kw else word, line, col))
                    i = j
                    continue
            elif kind == "str":
                tokens.append(Tok("STRING", m.group("str")[1:-1], line, col))
                i = m.end()
                continue
            elif kind == "punct":
                tokens.append(Tok(_PUNCT[m.group("punct")], m.group("punct"), line, col))
                i = m.end()
                continue
            elif kind == "op2":  # finished with Scanner.Next in Loki: line 0
                tokens.append(Tok(KEYWORDS[m.group("op2")], m.group("op2"), 0, col))
                i = m.end()
                continue
            elif kind == "op1":
                tokens.append(Tok(KEYWORDS[m.group("op1")], m.group("op1"), line, col))
                i = m.end()
                continue
            ch = text[i]
            if ch == "#":  # Loki: comment until the end of the line
                nl = text.find("\n", i)
                i = n if nl < 0 else nl
                continue
            if ch == "/" and i + 1 < n and text[i + 1] in "/*":  # Go scanner comments
                i = self.skip_go_comment(i, line, col)
                continue
            if _is_letter(ch):
                j = i + 1
                while j < n and (_is_letter(text[j]) or _is_digit(text[j])):
                    j += 1
                self.word(text[i:j], i, j, line, col)
                i = j
                continue
            if "0" <= ch <= "9" or (ch == "." and i + 1 < n and "0" <= text[i + 1] <= "9"):
                i = self.number(i, line, col)
                continue
            if ch == '"' or ch == "`":
                i = self.string(i, line, col)
                if i < 0:
                    break
                continue
            if ch == "'":  # a Go char literal: Loki passes it on as an IDENTIFIER
                i = self.char_literal(i, line, col)
                continue
            if ch == "-":
                j = self.minus(i, line, col)
                if j:
                    i = j
                    continue
            if ch == "[":
                i = self.range(i, line, col)
                if i < 0:
                    break
                continue
            two = text[i : i + 2].lower()
            if two in TWO_CHAR_OPS:
                self.emit(KEYWORDS[two], two, i, 0, col)
                i += 2
                continue
            kind = KEYWORDS.get(ch)
            self.emit(kind or "IDENTIFIER", ch, i, line, col)
            i += 1
        self.out.end_line, self.out.end_col = self.pos(n)
        return self.out

    def skip_go_comment(self, i: int, line: int, col: int) -> int:
        if self.text[i + 1] == "/":
            nl = self.text.find("\n", i)
            return self.n if nl < 0 else nl
        end = self.text.find("*/", i + 2)
        if end < 0:
            self.error("comment not terminated", line, col)
            return self.n
        return end + 2

    def word(self, word: str, i: int, j: int, line: int, col: int) -> None:
        lower = word.lower()
        func = FUNCTIONS.get(lower)
        if func is not None:
            if self.is_function(j):
                self.emit(func[0], lower, i, line, col)
            else:
                self.emit("IDENTIFIER", word, i, line, col)
            return
        kind = KEYWORDS.get(lower)
        self.emit(kind or "IDENTIFIER", lower if kind else word, i, line, col)

    def is_function(self, j: int) -> bool:
        """Loki's ``isFunction``: ``(`` or ``by``/``without`` then ``(`` follows."""
        text, n = self.text, self.n
        while j < n and _is_space(text[j]):
            j += 1
        if j < n and text[j] == "(":
            return True
        rest = text[j : j + 7].lower()
        for kw in ("by", "without"):
            if rest.startswith(kw):
                k = j + len(kw)
                while k < n and _is_space(text[k]):
                    k += 1
                return k < n and text[k] == "("
        return False

    # --- numbers, durations, byte sizes -------------------------------------------------

    def number(self, i: int, line: int, col: int) -> int:
        j, is_float, err = _scan_number(self.text, i)
        if err:
            self.error(err, line, col)
        num = self.text[i:j]
        k, dur = self.try_suffix(num, j, _DURATION_RUNES, _parse_duration_or_none)
        if dur is not None:
            self.emit("DURATION", dur, i, 0, col)
            return k
        k, size = self.try_suffix(num, j, _BYTES_RUNES, parse_bytes)
        if size is not None:
            self.emit("BYTES", size, i, 0, col)
            return k
        self.emit("NUMBER", num, i, line, col)
        return j

    def try_suffix(self, head: str, j: int, runes: frozenset[str], conv):  # type: ignore[no-untyped-def]
        text, n = self.text, self.n
        k = j
        while k < n and not _is_space(text[k]) and (_is_number(text[k]) or text[k] in runes):
            k += 1
        if k == j:
            return j, None
        value = conv(head + text[j:k])
        return (k, value) if value is not None else (j, None)

    def minus(self, i: int, line: int, col: int) -> int:
        """``--strict``/``--keep-empty`` flags and negative durations (``-5m``); else 0."""
        text, n = self.text, self.n
        if i + 1 < n and text[i + 1] == "-":
            k = i + 1
            while k < n and (text[k].isalpha() or text[k] == "-"):
                k += 1
            flag = text[i:k]
            if flag in PARSER_FLAGS:
                self.emit("PARSER_FLAG", flag, i, 0, col)
                return k
        k, dur = self.try_suffix("-", i + 1, _DURATION_RUNES, _parse_duration_or_none)
        if dur is not None:
            self.emit("DURATION", dur, i, 0, col)
            return k
        return 0

    def range(self, i: int, line: int, col: int) -> int:
        close = self.text.find("]", i + 1)
        if close < 0:
            self.error("missing closing ']' in duration", 0, col)
            return -1
        try:
            value = parse_prom_duration_strict(self.text[i + 1 : close])
        except DurationError as err:
            self.error(str(err), 0, col)
            return -1
        self.emit("RANGE", value, i, 0, col)
        return close + 1

    # --- strings ------------------------------------------------------------------------

    def string(self, i: int, line: int, col: int) -> int:
        text = self.text
        if text[i] == "`":
            close = text.find("`", i + 1)
            if close < 0:
                self.error("literal not terminated", line, col)
                return -1
            self.emit("STRING", text[i + 1 : close], i, line, col)
            return close + 1
        j = i + 1
        while True:
            if j >= self.n or text[j] == "\n":
                self.error("literal not terminated", line, col)
                return -1
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == '"':
                break
            j += 1
        try:
            value, _ = unquote_go_string(text[i : j + 1], 0)
        except InvalidLabels as err:
            self.error(_unquote_message(str(err)), line, col)
            return -1
        self.emit("STRING", value, i, line, col)
        return j + 1

    def char_literal(self, i: int, line: int, col: int) -> int:
        text = self.text
        j = i + 1
        count = 0
        while j < self.n and text[j] != "'":
            if text[j] == "\n":
                break
            j += 2 if text[j] == "\\" else 1
            count += 1
        if j >= self.n or text[j] != "'":
            self.error("literal not terminated", line, col)
            end = j
        else:
            end = j + 1
            if count != 1:
                self.error("invalid char literal", line, col)
        self.emit("IDENTIFIER", text[i:end], i, line, col)
        return end


def _unquote_message(msg: str) -> str:
    return "invalid syntax" if "unterminated" in msg else msg


def _parse_duration_or_none(text: str) -> int | None:
    try:
        return parse_duration(text)
    except DurationError:
        return None


def _scan_number(text: str, i: int) -> tuple[int, bool, str]:
    """Go ``scanNumber``: returns (end, is_float, error message or "")."""
    n = len(text)
    j = i
    err = ""
    is_float = False
    prefix = ""

    def digits(k: int, hexa: bool) -> int:
        while k < n and ("0" <= text[k] <= "9" or text[k] == "_" or (hexa and text[k].lower() in "abcdef")):
            k += 1
        return k

    if text[j] == ".":
        is_float = True
        j = digits(j + 1, False)
    else:
        if text[j] == "0" and j + 1 < n and text[j + 1].lower() in "xob":
            p = text[j + 1].lower()
            if p != "b" or j + 2 >= n or not _is_space(text[j + 2]):
                prefix = p
                j += 2
        j = digits(j, prefix == "x")
        if j < n and text[j] == ".":
            is_float = True
            j = digits(j + 1, prefix == "x")
    body = text[i:j]
    if prefix and len(body) <= 2 and not is_float:
        err = {"x": "hexadecimal", "o": "octal", "b": "binary"}[prefix] + " literal has no digits"
    if j < n and text[j].lower() in ("e", "p"):
        # (an 'e' after a hex prefix never gets here: it is a hex digit)
        ch = text[j]
        if ch.lower() == "e" and prefix in ("o", "b"):
            err = err or f"'{ch}' exponent requires decimal mantissa"
        elif ch.lower() == "p" and prefix != "x":
            err = err or f"'{ch}' exponent requires hexadecimal mantissa"
        j += 1
        is_float = True
        if j < n and text[j] in "+-":
            j += 1
        k = digits(j, False)
        if k == j:
            err = err or "exponent has no digits"
        j = k
    elif prefix == "x" and is_float:
        err = err or "hexadecimal mantissa requires a 'p' exponent"
    if not is_float and not prefix and body[:1] == "0" and any(c in "89" for c in body):
        bad = next(c for c in body if c in "89")
        err = err or f"invalid digit '{bad}' in octal literal"
    return j, is_float, err


def tokenize(text: str) -> Lexed:
    """All tokens of ``text`` (stopping at a fatal lexer error), as Loki's lexer yields them."""
    return _Scanner(text).run()


def display_name(tok: Tok) -> str:
    """How goyacc names a token in ``unexpected X``: Loki's spelling or its token name."""
    if tok.type in ("RANGE_OP", "VECTOR_OP", "CONV_OP"):
        return FUNCTIONS[tok.value][1]
    return DISPLAY.get(tok.type, tok.type)
