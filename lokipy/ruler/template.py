"""Go ``text/template`` as Prometheus runs it for alert labels and annotations (ruler.md §4.4).

A compact interpreter for the subset rule files use: text and ``{{ }}`` actions with ``-``
trimming and comments, pipelines with ``|``, variables (``$labels``, ``$value``,
``$externalLabels``, ``$externalURL``, ``$x := …``), field/key chains (``$labels.user``,
``.Labels.user``), ``if``/``else``/``else if``/``with``/``range``/``end``, and Prometheus'
functions plus Go's builtins. Missing map keys render as "" (Prometheus' ``missingkey=zero``).
Parsing is done once per rule; expansion errors become ``<error expanding template: …>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lokipy.logql.log.gofmt import sprintf
from lokipy.model.labels import unquote_go_string
from lokipy.model.regex import compile_regex
from lokipy.ruler import gofmt


class TemplateError(Exception):
    pass


# The ``query`` function: LogQL text → samples as ``{"Labels": {...}, "Value": float}``.
TemplateQuery = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # "pipe" | "if" | "elif" | "else" | "end" | "range" | "with" | "comment"
    tokens: tuple[str, ...]


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r'\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(:=|=|\||\(|\)|,)|'
    r"(\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|(\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?)|"
    r"([-+]?[0-9][0-9.eExXa-fA-F_+-]*)|([A-Za-z_][A-Za-z0-9_]*))"
)


def _tokens(src: str, name: str) -> tuple[str, ...]:
    out: list[str] = []
    pos = 0
    src = src.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"template: {name}:1: unexpected {src[pos : pos + 10]!r} in command")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
    return tuple(out)


def _lex(src: str, name: str) -> list[Text | Action]:
    items: list[Text | Action] = []
    pos = 0
    for m in _ACTION.finditer(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip()
        if items and isinstance(items[-1], Action) and items[-1].kind == "trim":
            items.pop()
            text = text.lstrip()
        if text:
            items.append(Text(text))
        body = m.group(2).strip()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError(f"template: {name}:1: unclosed comment")
        else:
            toks = _tokens(body, name)
            if not toks:
                raise TemplateError(f"template: {name}:1: missing value for command")
            head = toks[0]
            if head == "else" and len(toks) > 1 and toks[1] == "if":
                items.append(Action("elif", toks[2:]))
            elif head in ("if", "range", "with", "else", "end", "define", "template", "block"):
                if head in ("define", "template", "block"):
                    raise TemplateError(f"template: {name}:1: {head} is not supported in alert templates")
                items.append(Action(head, toks[1:]))
            else:
                items.append(Action("pipe", toks))
        if m.group(3):
            items.append(Action("trim", ()))
        pos = m.end()
    if "{{" in src[pos:]:
        raise TemplateError(f"template: {name}:1: unclosed action")
    text = src[pos:]
    if items and isinstance(items[-1], Action) and items[-1].kind == "trim":
        items.pop()
        text = text.lstrip()
    if text:
        items.append(Text(text))
    return items


# A parsed template: nested lists. Block = list of nodes; node = Text | Action | branch tuple.
Node = Any


def _parse_block(
    items: list[Text | Action], i: int, name: str, closers: tuple[str, ...]
) -> tuple[list[Node], int]:
    block: list[Node] = []
    while i < len(items):
        it = items[i]
        if isinstance(it, Action) and it.kind in closers:
            return block, i
        if isinstance(it, Action) and it.kind in ("if", "range", "with"):
            branches: list[tuple[tuple[str, ...] | None, list[Node]]] = []
            body, i = _parse_block(items, i + 1, name, ("elif", "else", "end"))
            branches.append((it.tokens, body))
            while True:
                if i >= len(items):
                    raise TemplateError(f"template: {name}:1: unexpected EOF")
                closer = items[i]
                assert isinstance(closer, Action)
                if closer.kind == "end":
                    i += 1
                    break
                cond = closer.tokens if closer.kind == "elif" else None
                body, i = _parse_block(items, i + 1, name, ("elif", "else", "end"))
                branches.append((cond, body))
            block.append((it.kind, branches))
            continue
        if isinstance(it, Action) and it.kind in ("end", "else", "elif"):
            raise TemplateError(f"template: {name}:1: unexpected {{{{{it.kind}}}}}")
        block.append(it)
        i += 1
    if closers:
        raise TemplateError(f"template: {name}:1: unexpected EOF")
    return block, i


def _truth(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, int | float | str | dict | list | tuple):
        return bool(v)
    return True


def _field(v: Any, key: str) -> Any:
    if isinstance(v, dict):
        return v.get(key, "")
    raise TemplateError(f"can't evaluate field {key} in type {type(v).__name__}")


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    rx = compile_regex(pattern)
    py_repl = re.sub(
        r"\$(\d+)|\$\{(\w+)\}", lambda m: f"\\g<{m.group(1) or m.group(2)}>", repl.replace("\\", "\\\\")
    )
    return str(rx.sub(py_repl, text))


def _title(s: str) -> str:
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), s)


def _cmp(op: str) -> Callable[..., bool]:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    }  # fmt: skip
    f = ops[op]
    if op == "eq":
        return lambda a, *bs: any(f(a, b) for b in bs)
    return lambda a, b: f(a, b)


def _num(v: Any) -> float:
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise TemplateError(f"can't convert {v!r} to float") from None
    return float(v)


FUNCS: dict[str, Callable[..., Any]] = {
    "humanize": lambda v: gofmt.humanize(_num(v)),
    "humanize1024": lambda v: gofmt.humanize1024(_num(v)),
    "humanizeDuration": lambda v: gofmt.humanize_duration(_num(v)),
    "humanizePercentage": lambda v: gofmt.humanize_percentage(_num(v)),
    "humanizeTimestamp": lambda v: gofmt.humanize_timestamp(_num(v)),
    "printf": sprintf,  # the one Go fmt.Sprintf, shared with LogQL templates
    "print": lambda *a: "".join(gofmt.go_value(x) for x in a),
    "println": lambda *a: " ".join(gofmt.go_value(x) for x in a) + "\n",
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: _title(str(s)),
    "reReplaceAll": _re_replace_all,
    "match": lambda p, s: compile_regex(p).search(s) is not None,
    "label": lambda name, sample: _field(sample, "Labels").get(name, "") if isinstance(sample, dict) else "",
    "value": lambda sample: _field(sample, "Value"),
    "first": lambda seq: _first(seq),
    "sortByLabel": lambda name, seq: sorted(seq, key=lambda s: s["Labels"].get(name, "")),
    "stripPort": lambda s: str(s).rsplit(":", 1)[0] if ":" in str(s) else str(s),
    "stripDomain": lambda s: str(s).split(".", 1)[0],
    "args": lambda *a: {f"arg{i}": v for i, v in enumerate(a)},
    "safeHtml": str,
    "len": len,
    "index": lambda v, *keys: _index(v, keys),
    "not": lambda v: not _truth(v),
    "and": lambda *a: next((x for x in a if not _truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truth(x)), a[-1]),
    **{op: _cmp(op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
}


def _first(seq: Any) -> Any:
    if not seq:
        raise TemplateError("first() called on vector with no elements")
    return seq[0]


def _index(v: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        v = v.get(k, "") if isinstance(v, dict) else v[int(k)]
    return v


class Template:
    """One parsed template. ``expand(data)`` → text; never raises for runtime errors."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.body, _ = _parse_block(_lex(source, name), 0, name, ())
        self._check(self.body)

    def _check(self, block: list[Node]) -> None:
        for node in block:
            if isinstance(node, Action):
                self._check_tokens(node.tokens)
            elif isinstance(node, tuple):
                for cond, body in node[1]:
                    if cond:
                        self._check_tokens(cond)
                    self._check(body)

    def _check_tokens(self, toks: tuple[str, ...]) -> None:
        for t in toks:
            if (
                re.fullmatch(r"[A-Za-z_]\w*", t)
                and t not in FUNCS
                and t not in ("true", "false", "nil", "query")
            ):
                raise TemplateError(f'template: {self.name}:1: function "{t}" not defined')

    def expand(self, data: dict[str, Any], query: TemplateQuery | None = None) -> str:
        variables = {
            "$": data,
            "$labels": data.get("Labels", {}),
            "$externalLabels": data.get("ExternalLabels", {}),
            "$externalURL": data.get("ExternalURL", ""),
            "$value": data.get("Value", 0.0),
        }
        out: list[str] = []
        try:
            _Exec(variables, query).block(self.body, data, out)
        except (TemplateError, TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as err:
            return f"<error expanding template: template: {self.name}:1: {err}>"
        return "".join(out)


class _Exec:
    def __init__(self, variables: dict[str, Any], query: TemplateQuery | None) -> None:
        self.vars = variables
        self.query = query

    def block(self, block: list[Node], dot: Any, out: list[str]) -> None:
        for node in block:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                toks = node.tokens
                if len(toks) >= 2 and toks[0].startswith("$") and toks[1] in (":=", "="):
                    self.vars[toks[0]] = self.pipeline(toks[2:], dot)
                else:
                    out.append(gofmt.go_value(self.pipeline(toks, dot)))
            else:
                kind, branches = node
                if kind == "range":
                    cond, body = branches[0]
                    self.range(cond, body, dot, out, branches)
                    continue
                for cond, body in branches:  # if / else if / else, or with / else
                    value = dot if cond is None else self.pipeline(cond, dot)
                    if cond is None or _truth(value):
                        self.block(body, value if kind == "with" else dot, out)
                        break

    def range(self, cond: tuple[str, ...], body: list[Node], dot: Any, out: list[str], branches: Any) -> None:
        names: list[str] = []
        if ":=" in cond:
            at = cond.index(":=")
            names = [t for t in cond[:at] if t != ","]
            cond = cond[at + 1 :]
        seq = self.pipeline(cond, dot)
        items = sorted(seq.items()) if isinstance(seq, dict) else list(enumerate(seq or []))
        if not items:
            if len(branches) > 1:
                self.block(branches[1][1], dot, out)
            return
        for k, v in items:
            if len(names) == 2:
                self.vars[names[0]], self.vars[names[1]] = k, v
            elif names:
                self.vars[names[0]] = v
            self.block(body, v, out)

    def pipeline(self, toks: tuple[str, ...], dot: Any) -> Any:
        cmds: list[list[str]] = [[]]
        depth = 0
        for t in toks:
            depth += (t == "(") - (t == ")")
            if t == "|" and depth == 0:
                cmds.append([])
            else:
                cmds[-1].append(t)
        value: Any = _NOTHING
        for cmd in cmds:
            value = self.command(cmd, dot, value)
        return None if value is _NOTHING else value

    def command(self, toks: list[str], dot: Any, piped: Any) -> Any:
        if not toks:
            raise TemplateError("missing value for command")
        args: list[Any] = []
        i = 1
        while i < len(toks):
            if toks[i] == "(":
                depth, j = 1, i + 1
                while depth:
                    depth += (toks[j] == "(") - (toks[j] == ")")
                    j += 1
                args.append(self.pipeline(tuple(toks[i + 1 : j - 1]), dot))
                i = j
            else:
                args.append(self.operand(toks[i], dot))
                i += 1
        if piped is not _NOTHING:
            args.append(piped)
        head = toks[0]
        if head == "(":
            return self.pipeline(tuple(toks[1:-1]), dot)
        if head == "query":
            if self.query is None:
                raise TemplateError("query is not available here")
            return self.query(str(args[0]))
        if re.fullmatch(r"[A-Za-z_]\w*", head) and head not in ("true", "false", "nil"):
            return FUNCS[head](*args)
        if args:
            raise TemplateError(f"can't give argument to non-function {head}")
        return self.operand(head, dot)

    def operand(self, tok: str, dot: Any) -> Any:
        if tok.startswith('"'):
            return unquote_go_string(tok, 0)[0]
        if tok.startswith("`"):
            return tok[1:-1]
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "nil":
            return None
        if tok.startswith("$"):
            name, *path = tok.split(".")
            if name not in self.vars:
                raise TemplateError(f"undefined variable: {name}")
            value = self.vars[name]
        elif tok.startswith("."):
            value, path = dot, [p for p in tok.split(".") if p]
        else:
            try:
                return int(tok, 0)
            except ValueError:
                return float(tok)
        for p in path:
            value = _field(value, p)
        return value


_NOTHING = object()


def alert_data(
    labels: dict[str, str], external_labels: dict[str, str], external_url: str, value: float
) -> dict[str, Any]:
    return {"Labels": labels, "ExternalLabels": external_labels, "ExternalURL": external_url, "Value": value}
