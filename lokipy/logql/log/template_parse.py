"""Parsing the Go ``text/template`` subset used by ``line_format``/``label_format``.

Text and ``{{ }}`` actions (with ``{{-``/``-}}`` trimming and ``{{/* */}}`` comments) become a
small tree of :class:`Node` (text, action, if, with, range, break, continue); actions hold a
:class:`Pipe` of :class:`Command` whose arguments are :class:`Operand`. Errors are worded like
Go's parser (``template: line:1: function "x" not defined``) and raised when the query is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lokipy.model.errors import InvalidInput


class TemplateParseError(InvalidInput):
    """The template text does not parse (reported when the query is built)."""


class TemplateExecError(Exception):
    """Execution failed for one line; the stage turns it into ``TemplateFormatErr``."""


class BreakLoop(Exception):
    pass


class ContinueLoop(Exception):
    pass


# --- lexing -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<raw>`[^`]*`)
    |(?P<str>"(?:[^"\\\n]|\\.)*")
    |(?P<char>'(?:[^'\\\n]|\\.[^']*)')
    |(?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
    |(?P<decl>:=)
    |(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
    |(?P<var>\$[A-Za-z0-9_]*)
    |(?P<dot>\.)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>[|(),=])
    """,
    re.VERBOSE,
)


@dataclass(slots=True)
class Tok:
    kind: str
    text: str
    pos: int


def _lex_action(text: str, base: int) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TemplateParseError(f"unexpected {text[pos]!r} in command")
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(Tok(kind, m.group(), base + pos))
        pos = m.end()
    return toks


# --- tree -------------------------------------------------------------------------------


@dataclass(slots=True)
class Operand:
    kind: str  # field, var, dot, str, num, bool, nil, ident, pipe
    value: Any
    fields: tuple[str, ...] = ()
    text: str = ""


@dataclass(slots=True)
class Command:
    args: list[Operand]
    text: str
    pos: int = 0


@dataclass(slots=True)
class Pipe:
    decl: list[str]
    assign: bool
    cmds: list[Command]
    text: str
    pos: int


@dataclass(slots=True)
class Node:
    kind: str  # text, action, if, range, with, break, continue
    text: str = ""
    pipe: Pipe | None = None
    body: list[Node] = field(default_factory=list)
    else_body: list[Node] | None = None


class TemplateParser:
    def __init__(self, src: str, name: str, funcs: Mapping[str, Any]) -> None:
        self.src = src
        self.name = name
        self.funcs = funcs
        self.items = self._split(src)
        self.i = 0
        self.vars: list[list[str]] = [["$"]]

    def _split(self, src: str) -> list[tuple[str, str, int]]:
        """Text and action items, with trim markers applied."""
        items: list[tuple[str, str, int]] = []
        pos = 0
        while True:
            start = src.find("{{", pos)
            if start < 0:
                items.append(("text", src[pos:], pos))
                return items
            text = src[pos:start]
            inner_start = start + 2
            if (
                src.startswith("{{- ", start)
                or src.startswith("{{-\t", start)
                or src.startswith("{{-\n", start)
            ):
                text = text.rstrip(" \t\r\n")
                inner_start = start + 3
            items.append(("text", text, pos))
            end = self._action_end(src, inner_start)
            inner = src[inner_start:end]
            pos = end + 2
            if inner.endswith(" -") or inner.endswith("\t-") or inner.endswith("\n-"):
                inner = inner[:-1]
                while pos < len(src) and src[pos] in " \t\r\n":
                    pos += 1
            items.append(("action", inner, inner_start))

    def _action_end(self, src: str, pos: int) -> int:
        i = pos
        while i < len(src):
            c = src[i]
            if c == '"' or c == "`" or c == "'":
                close = i + 1
                while close < len(src) and src[close] != c:
                    close += 2 if (src[close] == "\\" and c != "`") else 1
                i = close + 1
                continue
            if src.startswith("/*", i) and src[pos:i].strip() == "":
                close = src.find("*/", i + 2)
                if close < 0:
                    raise self.error(pos, "unclosed comment")
                i = close + 2
                continue
            if src.startswith("}}", i):
                return i
            i += 1
        raise self.error(pos, "unclosed action")

    def error(self, pos: int, msg: str) -> TemplateParseError:
        line = self.src.count("\n", 0, pos) + 1
        return TemplateParseError(f"template: {self.name}:{line}: {msg}")

    def parse(self) -> list[Node]:
        body, end = self._list()
        if end is not None:
            raise self.error(end[1], f"unexpected {{{{{end[0]}}}}}")
        return body

    def _list(self) -> tuple[list[Node], tuple[str, int, list[Tok]] | None]:
        nodes: list[Node] = []
        while self.i < len(self.items):
            kind, text, pos = self.items[self.i]
            self.i += 1
            if kind == "text":
                if text:
                    nodes.append(Node("text", text))
                continue
            stripped = text.strip()
            if stripped.startswith("/*"):
                if not stripped.endswith("*/"):
                    raise self.error(pos, "comment ends before closing delimiter")
                continue
            words = _lex_action(text, pos)
            if not words:
                raise self.error(pos, "missing value for command")
            head = words[0]
            if head.kind == "ident" and head.text in ("end", "else"):
                return nodes, (head.text, pos, words[1:])
            if head.kind == "ident" and head.text in ("if", "with", "range"):
                nodes.append(self._control(head.text, words[1:], pos))
                continue
            if head.kind == "ident" and head.text in ("break", "continue"):
                nodes.append(Node(head.text))
                continue
            if head.kind == "ident" and head.text in ("define", "template", "block"):
                raise self.error(pos, f"{head.text} is not supported by lokipy")
            nodes.append(Node("action", text, self._pipe(words, pos, text)))
        return nodes, None

    def _control(self, kind: str, words: list[Tok], pos: int) -> Node:
        self.vars.append(list(self.vars[-1]))
        pipe = self._pipe(words, pos, " ".join(w.text for w in words), allow_two=kind == "range")
        body, end = self._list()
        node = Node(kind, pipe=pipe, body=body)
        if end is None:
            raise self.error(pos, f"unexpected EOF in {kind}")
        if end[0] == "else":
            rest = end[2]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                # "else if" nests a new control node that shares this node's end
                inner = self._control(rest[0].text, rest[1:], end[1])
                node.else_body = [inner]
            else:
                node.else_body, end2 = self._list()
                if end2 is None or end2[0] != "end":
                    raise self.error(pos, f"expected end; found {end2[0] if end2 else 'EOF'}")
        self.vars.pop()
        return node

    def _pipe(self, words: list[Tok], pos: int, text: str, allow_two: bool = False) -> Pipe:
        decl: list[str] = []
        assign = False
        # variable declarations: $x := / $x = / $i, $v :=
        j = 0
        names: list[str] = []
        while j < len(words) and words[j].kind == "var":
            names.append(words[j].text)
            if j + 1 < len(words) and words[j + 1].text == ",":
                j += 2
                continue
            break
        if (
            names
            and j + 1 < len(words)
            and words[j + 1].kind in ("decl", "punct")
            and words[j + 1].text in (":=", "=")
        ):
            if len(names) > (2 if allow_two else 1):
                raise self.error(pos, "too many declarations in command")
            assign = words[j + 1].text == "="
            decl = names
            if not assign:
                self.vars[-1].extend(names)
            elif names[0] not in self.vars[-1]:
                raise self.error(pos, f'undefined variable "{names[0]}"')
            words = words[j + 2 :]
        cmds = self._cmds(words, pos)
        if not cmds:
            raise self.error(pos, "missing value for command")
        return Pipe(decl, assign, cmds, text.strip(), pos)

    def _cmds(self, words: list[Tok], pos: int) -> list[Command]:
        cmds: list[Command] = []
        current: list[Operand] = []
        start = 0
        k = 0
        while k < len(words):
            w = words[k]
            if w.text == "|" and w.kind == "punct":
                if not current:
                    raise self.error(pos, "missing command")
                cmds.append(
                    Command(current, " ".join(t.text for t in words[start:k]), words[start].pos)
                )
                current, start = [], k + 1
                k += 1
                continue
            op, k = self._operand(words, k, pos)
            current.append(op)
        if current:
            cmds.append(Command(current, " ".join(t.text for t in words[start:]), words[start].pos))
        elif cmds:
            raise self.error(pos, "missing command")
        for i, cmd in enumerate(cmds[1:]):
            if cmd.args[0].kind in ("bool", "dot", "nil", "num", "str"):
                raise self.error(pos, f"non executable command in pipeline stage {i + 2}")
        return cmds

    def _operand(self, words: list[Tok], k: int, pos: int) -> tuple[Operand, int]:
        w = words[k]
        kind, text = w.kind, w.text
        if kind == "punct" and text == "(":
            depth, j = 1, k + 1
            while j < len(words) and depth:
                if words[j].text == "(" and words[j].kind == "punct":
                    depth += 1
                elif words[j].text == ")" and words[j].kind == "punct":
                    depth -= 1
                j += 1
            if depth:
                raise self.error(pos, "unclosed left paren")
            inner = words[k + 1 : j - 1]
            sub = Pipe([], False, self._cmds(inner, pos), " ".join(t.text for t in inner), pos)
            fields: tuple[str, ...] = ()
            if j < len(words) and words[j].kind == "field":
                fields = tuple(words[j].text.split(".")[1:])
                j += 1
            return Operand("pipe", sub, fields, "(" + sub.text + ")"), j
        if kind == "field":
            return Operand("field", None, tuple(text.split(".")[1:]), text), k + 1
        if kind == "dot":
            return Operand("dot", None, (), "."), k + 1
        if kind == "var":
            fields = ()
            if k + 1 < len(words) and words[k + 1].kind == "field":
                fields = tuple(words[k + 1].text.split(".")[1:])
                text += words[k + 1].text
                k += 1
            if w.text not in self.vars[-1]:
                raise self.error(pos, f'undefined variable "{w.text}"')
            return Operand("var", w.text, fields, text), k + 1
        if kind == "str":
            return Operand("str", _go_unquote(text), (), text), k + 1
        if kind == "raw":
            return Operand("str", text[1:-1], (), text), k + 1
        if kind == "char":
            return Operand("num", ord(_go_unquote('"' + text[1:-1] + '"')), (), text), k + 1
        if kind == "num":
            return Operand("num", _number(text), (), text), k + 1
        if kind == "ident":
            if text in ("true", "false"):
                return Operand("bool", text == "true", (), text), k + 1
            if text == "nil":
                return Operand("nil", None, (), text), k + 1
            if text not in self.funcs:
                raise self.error(pos, f'function "{text}" not defined')
            return Operand("ident", text, (), text), k + 1
        raise self.error(pos, f"unexpected {text!r} in operand")


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    try:
        return int(clean, 0)
    except ValueError:
        return float(clean)


_ESC = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
        "\\": "\\", '"': '"', "'": "'"}  # fmt: skip


def _go_unquote(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESC:
            out.append(_ESC[e])
            i += 2
        elif e == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif e == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif e == "U":
            out.append(chr(int(body[i + 2 : i + 10], 16)))
            i += 10
        else:
            out.append(chr(int(body[i + 1 : i + 4], 8)))
            i += 4
    return "".join(out)
