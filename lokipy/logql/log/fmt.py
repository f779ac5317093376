"""``line_format``, ``label_format``, ``decolorize``: stages that rewrite the line or labels.

Templates see every current label (errors included) as ``.name``; missing names are ``""``.
``__line__`` and ``__timestamp__`` give the line being formatted and its timestamp. A template
that fails on a line sets ``__error__=TemplateFormatErr`` with Go's message in
``__error_details__`` and leaves the line (or label) unchanged, as Loki does.
"""

from __future__ import annotations

from collections.abc import Sequence

from lokipy.logql.log.gofmt import GoTime
from lokipy.logql.log.labels import ERR_TEMPLATE_FORMAT, PARSED, LabelsBuilder
from lokipy.logql.log.template import Template, TemplateExecError
from lokipy.logql.log.template_funcs import FUNCS
from lokipy.model.errors import InvalidInput
from lokipy.model.labels import is_valid_label_name
from lokipy.model.regex import compile_regex


class _Bound:
    """Per-line values for ``__line__`` / ``__timestamp__`` without rebuilding the map."""

    __slots__ = ("line", "ts", "funcs")

    def __init__(self) -> None:
        self.line = b""
        self.ts = 0
        self.funcs = {
            "__line__": lambda: self.line.decode("utf-8", "replace"),
            "__timestamp__": lambda: GoTime(self.ts),
        }


class LineFormatter:
    """``| line_format "template"``."""

    __slots__ = ("template", "_bound")

    def __init__(self, template: str) -> None:
        self._bound = _Bound()
        self.template = Template(template, {**FUNCS, **self._bound.funcs}, "line")

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        bound = self._bound
        bound.line, bound.ts = line, ts
        try:
            text = self.template.execute(lbs.as_dict())
        except TemplateExecError as err:
            lbs.set_error(ERR_TEMPLATE_FORMAT, str(err))
            return line
        return text.encode("utf-8", "surrogateescape")


class LabelsFormatter:
    """``| label_format dst=src, dst2="{{template}}"``.

    ``formats`` are (name, value, is_template) triples: ``is_template=False`` renames label
    ``value`` to ``name`` (the source disappears; nothing happens when it is absent), ``True``
    renders ``value`` as a template into ``name``. A name may appear only once.
    """

    __slots__ = ("formats", "_bound")

    def __init__(self, formats: Sequence[tuple[str, str, bool]]) -> None:
        self._bound = _Bound()
        funcs = {**FUNCS, **self._bound.funcs}
        seen: set[str] = set()
        compiled: list[tuple[str, str, Template | None]] = []
        for name, value, is_template in formats:
            if not is_valid_label_name(name):
                raise InvalidInput(f"invalid label name '{name}'")
            if name in seen:
                raise InvalidInput(f"multiple label name '{name}' not allowed in a single format operation")
            seen.add(name)
            compiled.append((name, value, Template(value, funcs, "label") if is_template else None))
        self.formats = compiled

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        bound = self._bound
        bound.line, bound.ts = line, ts
        data: dict[str, str] | None = None
        for name, value, tmpl in self.formats:
            if tmpl is None:
                found = lbs.get_with_category(value)
                if found is not None:
                    lbs.set(found[1], name, found[0])
                    lbs.delete(value)
                continue
            if data is None:  # one snapshot for all templates of this stage, as Loki does
                data = lbs.as_dict()
            try:
                text = tmpl.execute(data)
            except TemplateExecError as err:
                lbs.set_error(ERR_TEMPLATE_FORMAT, str(err))
                continue
            lbs.set(PARSED, name, text)
        return line


# ANSI escape sequences (the pattern Loki takes from acarl005/stripansi).
_ANSI = compile_regex(
    "[\u001b\u009b][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u0007)"
    "|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))".encode()
)


class Decolorize:
    """``| decolorize``: strip ANSI colour and cursor escape sequences from the line."""

    __slots__ = ()

    def process(self, ts: int, line: bytes, lbs: LabelsBuilder) -> bytes | None:
        if b"\x1b" not in line and b"\xc2\x9b" not in line:
            return line
        return bytes(_ANSI.sub(b"", line))
