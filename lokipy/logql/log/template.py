"""A Go ``text/template`` subset for ``line_format`` and ``label_format``.

Supported syntax: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming, comments
``{{/* */}}``; pipelines ``a | f b``; operands ``.``, ``.field.sub``, ``$``, ``$var``, ``$var.f``,
strings (``"..."``, raw backquotes), chars, numbers, ``true``/``false``/``nil``, parenthesised
pipelines; variables ``{{ $x := ... }}`` / ``{{ $x = ... }}``; ``if``/``else if``/``else``/``end``,
``with``, ``range`` (over lists, maps, ints; ``$i, $v :=``; ``else``; ``break``/``continue``).
Missing map keys are ``""`` (Loki's ``missingkey=zero``). Not supported: ``define``/``template``/
``block``, method calls, ``call``.

Errors carry Go's shape: ``template: line:1:5: executing "line" at <...>: ...``.
The function set lives in :mod:`lokipy.logql.log.template_funcs`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lokipy.logql.log.template_parse import (
    BreakLoop,
    Command,
    ContinueLoop,
    Node,
    Operand,
    Pipe,
    TemplateExecError,
    TemplateParseError,
    TemplateParser,
)

__all__ = ["JSONObject", "Template", "TemplateExecError", "TemplateParseError", "go_type", "truth"]


Func = Callable[..., Any]


class Template:
    """A parsed template; :meth:`execute` renders it against a label map."""

    def __init__(self, src: str, funcs: Mapping[str, Func], name: str = "line") -> None:
        self.src = src
        self.name = name
        self.funcs = dict(funcs)
        self.root = TemplateParser(src, name, self.funcs).parse()
        # The common case "{{.a}} text {{.b}}" skips the interpreter.
        self._simple = all(n.kind == "text" or _plain_field(n) for n in self.root)

    def execute(self, data: Mapping[str, Any], funcs: Mapping[str, Func] | None = None) -> str:
        if self._simple:
            parts: list[str] = []
            for n in self.root:
                if n.kind == "text":
                    parts.append(n.text)
                else:
                    assert n.pipe is not None
                    v = data.get(n.pipe.cmds[0].args[0].fields[0])
                    parts.append("" if v is None else v if isinstance(v, str) else to_text(v))
            return "".join(parts)
        ex = _Exec(self, data, {**self.funcs, **funcs} if funcs else self.funcs)
        out: list[str] = []
        ex.walk(self.root, data, [{"$": data}], out)
        return "".join(out)


def _plain_field(n: Node) -> bool:
    """``{{.name}}`` alone: no functions, variables or nested fields."""
    if n.kind != "action" or n.pipe is None or n.pipe.decl or len(n.pipe.cmds) != 1:
        return False
    args = n.pipe.cmds[0].args
    return len(args) == 1 and args[0].kind == "field" and len(args[0].fields) == 1


class _Exec:
    def __init__(self, tmpl: Template, data: Any, funcs: dict[str, Func]) -> None:
        self.tmpl = tmpl
        self.funcs = funcs

    def fail(self, pipe: Pipe | None, msg: str, at: str = "", pos: int = -1) -> TemplateExecError:
        if pos < 0:
            pos = pipe.pos if pipe is not None else 0
        src = self.tmpl.src
        line = src.count("\n", 0, pos) + 1
        col = pos - (src.rfind("\n", 0, pos) + 1) if line > 1 else pos
        where = f" at <{at}>" if at else ""
        return TemplateExecError(
            f'template: {self.tmpl.name}:{line}:{col}: executing "{self.tmpl.name}"{where}: {msg}'
        )

    def walk(self, nodes: list[Node], dot: Any, scope: list[dict[str, Any]], out: list[str]) -> None:
        for n in nodes:
            kind = n.kind
            if kind == "text":
                out.append(n.text)
            elif kind == "action":
                assert n.pipe is not None
                value = self.pipe(n.pipe, dot, scope)
                if not n.pipe.decl:
                    out.append(to_text(value))
            elif kind == "if" or kind == "with":
                assert n.pipe is not None
                inner = [dict()] + scope
                value = self.pipe(n.pipe, dot, inner)
                if truth(value):
                    self.walk(n.body, value if kind == "with" else dot, inner, out)
                elif n.else_body is not None:
                    self.walk(n.else_body, dot, inner, out)
            elif kind == "range":
                self.range(n, dot, scope, out)
            elif kind == "break":
                raise BreakLoop
            else:
                raise ContinueLoop

    def range(self, n: Node, dot: Any, scope: list[dict[str, Any]], out: list[str]) -> None:
        assert n.pipe is not None
        pipe = n.pipe
        decl, pipe.decl = pipe.decl, []
        try:
            value = self.pipe(pipe, dot, scope)
        finally:
            pipe.decl = decl
        if isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None:
            items = []
        else:
            raise self.fail(pipe, f"range can't iterate over {to_text(value)}")
        if not items:
            if n.else_body is not None:
                self.walk(n.else_body, dot, [dict()] + scope, out)
            return
        for key, elem in items:
            inner: dict[str, Any] = {}
            if len(decl) == 1:
                inner[decl[0]] = elem
            elif len(decl) == 2:
                inner[decl[0]], inner[decl[1]] = key, elem
            try:
                self.walk(n.body, elem, [inner] + scope, out)
            except BreakLoop:
                break
            except ContinueLoop:
                continue

    def pipe(self, pipe: Pipe, dot: Any, scope: list[dict[str, Any]]) -> Any:
        value: Any = _NO_VALUE
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, scope, value, pipe)
        if pipe.decl:
            if pipe.assign:
                for frame in scope:
                    if pipe.decl[0] in frame:
                        frame[pipe.decl[0]] = value
                        break
                else:
                    scope[-1][pipe.decl[0]] = value
            else:
                scope[0][pipe.decl[0]] = value
        return value

    def command(self, cmd: Command, dot: Any, scope: list[dict[str, Any]], final: Any, pipe: Pipe) -> Any:
        first = cmd.args[0]
        if first.kind == "ident":
            fn = self.funcs[first.value]
            args = [self.operand(a, dot, scope, pipe) for a in cmd.args[1:]]
            if final is not _NO_VALUE:
                args.append(final)
            arity = _arity(fn)
            if arity is not None:
                low, high = arity
                if len(args) < low or (high is not None and len(args) > high):
                    want = f"at least {low}" if high is None else str(low)
                    raise self.fail(
                        pipe,
                        f"wrong number of args for {first.value}: want {want} got {len(args)}",
                        first.text,
                        cmd.pos,
                    )
            try:
                return fn(*args)
            except TemplateExecError:
                raise
            except Exception as err:  # a function's failure is a template execution error
                msg = err.args[0] if err.args and isinstance(err.args[0], str) else str(err)
                raise self.fail(pipe, f"error calling {first.value}: {msg}", cmd.text, cmd.pos) from None
        if len(cmd.args) > 1 and first.kind == "field":
            raise self.fail(
                pipe, f"{first.fields[-1]} is not a method but has arguments", first.text, cmd.pos
            )
        if len(cmd.args) > 1 or final is not _NO_VALUE:
            raise self.fail(pipe, f"can't give argument to non-function {first.text}", cmd.text, cmd.pos)
        return self.operand(first, dot, scope, pipe)

    def operand(self, op: Operand, dot: Any, scope: list[dict[str, Any]], pipe: Pipe) -> Any:
        kind = op.kind
        if kind == "field":
            return self.fields(dot, op.fields, pipe, op.text)
        if kind == "dot":
            return dot
        if kind == "var":
            for frame in scope:
                if op.value in frame:
                    return self.fields(frame[op.value], op.fields, pipe, op.text)
            raise self.fail(pipe, f'undefined variable "{op.value}"')
        if kind == "pipe":
            return self.fields(self.pipe(op.value, dot, scope), op.fields, pipe, op.text)
        if kind == "ident":
            return self.funcs[op.value]()
        return op.value

    def fields(self, value: Any, names: tuple[str, ...], pipe: Pipe, text: str) -> Any:
        for name in names:
            if isinstance(value, Mapping):
                value = value.get(name, "" if _string_map(value) else None)
            elif value is None:
                raise self.fail(pipe, f"nil pointer evaluating interface {{}}.{name}", text)
            else:
                raise self.fail(pipe, f"can't evaluate field {name} in type {go_type(value)}", text)
        return value


_ARITY: dict[Any, tuple[int, int | None] | None] = {}


def _arity(fn: Func) -> tuple[int, int | None] | None:
    """(minimum, maximum or None) positional arguments of a template function."""
    try:
        return _ARITY[fn]
    except KeyError:
        pass
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        _ARITY[fn] = None
        return None
    low = sum(1 for p in params if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD)
    high: int | None = sum(1 for p in params if p.kind == p.POSITIONAL_OR_KEYWORD)
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        high = None
    _ARITY[fn] = (low, high)
    return low, high


def _string_map(m: Mapping[str, Any]) -> bool:
    return not isinstance(m, JSONObject)


class JSONObject(dict):  # type: ignore[type-arg]
    """A map produced by ``fromJson``: missing keys are nil, not ``""``."""


_NO_VALUE: Any = object()


def truth(value: Any) -> bool:
    if value is None or value is _NO_VALUE:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}" if isinstance(value, JSONObject) else "map[string]string"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if value is None:
        return "<nil>"
    return type(value).__name__


def to_text(value: Any) -> str:
    """Go's ``fmt.Sprint`` of a value."""
    if type(value) is str:
        return value
    from lokipy.logql.log.gofmt import sprint  # gofmt imports this module for go_type

    return sprint(value)
