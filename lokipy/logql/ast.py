"""The LogQL syntax tree: frozen, typed values, independent of the parser that builds them.

Node names and fields are a stable interface (the evaluator reads them); changes are additive.
``str(node)`` prints canonical LogQL in the style of Loki's ``String()`` methods (binary
operations fully parenthesised, ``by (a,b)``, ``[5m]``, ``offset 1h0m0s``), and
``parse(str(node)) == node`` holds for every tree the parser can produce.

Conventions:

* durations are int nanoseconds (``range_ns``, ``offset_ns``, duration filter values);
* strings hold the *unquoted* value; the printer quotes them like Go's ``strconv.Quote``;
* a log query is always a :class:`LogQuery` (possibly with an empty pipeline);
* Loki rewrites a negated ``or`` chain (``!= "a" or "b"``) into separate filters
  (``!= "a" != "b"``); the parser does the same, so ``LineFilter.ors`` is only ever non-empty
  for the positive operators ``|=``, ``|~``, ``|>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

from lokipy.logql.units import (
    format_bytes,
    format_float_f,
    format_go_duration,
    format_go_float,
    format_prom_duration,
)
from lokipy.model.labels import go_quote
from lokipy.model.matchers import LabelMatcher, MatchType

__all__ = [
    "Node", "Expr", "LogExpr", "SampleExpr", "Stage", "LabelFilterExpr",
    "StreamSelector", "LogQuery",
    "LineFilter", "LineFilterOr",
    "LabelExtraction", "JSONParser", "LogfmtParser", "RegexpParser", "PatternParser",
    "UnpackParser",
    "LabelFilter", "StringLabelFilter", "NumericLabelFilter", "DurationLabelFilter",
    "BytesLabelFilter", "IPLabelFilter", "BinaryLabelFilter",
    "LineFormat", "LabelFormatOp", "LabelFormat", "Drop", "Keep", "Decolorize",
    "Unwrap", "LogRange", "Grouping", "RangeAggregation", "VectorAggregation",
    "VectorMatching", "BinaryOp", "NumberLiteral", "VectorExpr", "LabelReplace",
    "LabelMatcher", "MatchType", "walk",
    "RANGE_OPS", "UNWRAP_RANGE_OPS", "VECTOR_OPS", "PARAM_VECTOR_OPS",
    "ARITHMETIC_OPS", "COMPARISON_OPS", "SET_OPS", "BINARY_OPS",
]  # fmt: skip

# --- operator vocabularies ----------------------------------------------------------------

#: Range aggregations over a log range (``op(<log range>)``).
RANGE_OPS = frozenset({
    "count_over_time", "rate", "rate_counter", "bytes_over_time", "bytes_rate",
    "avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "stdvar_over_time",
    "stddev_over_time", "quantile_over_time", "first_over_time", "last_over_time",
    "absent_over_time",
})  # fmt: skip
#: Range aggregations that need ``| unwrap`` (``rate``/``absent_over_time`` take it optionally).
UNWRAP_RANGE_OPS = frozenset({
    "avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "stdvar_over_time",
    "stddev_over_time", "quantile_over_time", "first_over_time", "last_over_time",
    "rate_counter",
})  # fmt: skip
VECTOR_OPS = frozenset({
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk",
    "approx_topk", "sort", "sort_desc",
})  # fmt: skip
#: Vector aggregations whose first argument is an integer ``k``.
PARAM_VECTOR_OPS = frozenset({"topk", "bottomk", "approx_topk"})
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^"})
COMPARISON_OPS = frozenset({"==", "!=", ">", ">=", "<", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
BINARY_OPS = ARITHMETIC_OPS | COMPARISON_OPS | SET_OPS


# --- bases --------------------------------------------------------------------------------


class Node:
    """Any syntax-tree value."""

    __slots__ = ()


class Expr(Node):
    """A whole query: a :class:`LogExpr` (returns log lines) or a :class:`SampleExpr`."""

    __slots__ = ()


class LogExpr(Expr):
    """A query returning log lines (only :class:`LogQuery`)."""

    __slots__ = ()


class SampleExpr(Expr):
    """A metric query returning samples (vector, matrix or scalar)."""

    __slots__ = ()


class Stage(Node):
    """One step of a log pipeline (``|= "x"``, ``| json``, ``| level="error"``, ...)."""

    __slots__ = ()


class LabelFilterExpr(Node):
    """A node of a label-filter tree (the part after ``|`` in ``| a > 5 or b="x"``)."""

    __slots__ = ()


def _q(value: str) -> str:
    return go_quote(value)


# --- log queries --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamSelector(Node):
    """``{name="value", name=~"regex", ...}``: which streams a query reads.

    Matchers keep the order they were written in. The parser guarantees at least one matcher
    that does not match the empty string (Loki's rule against selecting every stream).
    """

    matchers: tuple[LabelMatcher, ...]

    def __str__(self) -> str:
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"


@dataclass(frozen=True, slots=True)
class LogQuery(LogExpr):
    """A stream selector followed by zero or more pipeline stages, applied in order."""

    selector: StreamSelector
    pipeline: tuple[Stage, ...] = ()

    @property
    def matchers(self) -> tuple[LabelMatcher, ...]:
        return self.selector.matchers

    def __str__(self) -> str:
        if not self.pipeline:
            return str(self.selector)
        return f"{self.selector} " + " ".join(str(s) for s in self.pipeline)


# --- line filters -------------------------------------------------------------------------

#: line-filter operator -> (kind, negated). ``ip=True`` overrides the kind with ``"ip"``.
LINE_FILTER_OPS = {
    "|=": ("contains", False),
    "!=": ("contains", True),
    "|~": ("regex", False),
    "!~": ("regex", True),
    "|>": ("pattern", False),
    "!>": ("pattern", True),
}


@dataclass(frozen=True, slots=True)
class LineFilterOr(Node):
    """One further alternative of an ``or`` chain: ``or "b"`` / ``or ip("10.0.0.0/8")``."""

    value: str
    ip: bool = False

    def __str__(self) -> str:
        return f"ip({_q(self.value)})" if self.ip else _q(self.value)


@dataclass(frozen=True, slots=True)
class LineFilter(Stage):
    """``|= "x"``, ``!= "x"``, ``|~ "re"``, ``!~ "re"``, ``|> "<_> pat"``, ``!> "pat"``.

    ``op`` is the operator text. ``ip=True`` means the value was written ``ip("...")`` (an IP,
    range or CIDR matched against IPs found in the line). ``ors`` holds the alternatives of
    ``|= "a" or "b" or ip("c")``, all with the same operator: the line matches when *any*
    alternative matches. Regexes are unanchored searches; patterns must match the whole line.
    Invalid regexes/patterns are reported when the pipeline is built, not here (as in Loki).
    """

    op: str
    value: str
    ip: bool = False
    ors: tuple[LineFilterOr, ...] = ()

    @property
    def kind(self) -> str:
        """``contains``, ``regex``, ``pattern`` or ``ip``."""
        return "ip" if self.ip else LINE_FILTER_OPS[self.op][0]

    @property
    def negated(self) -> bool:
        return LINE_FILTER_OPS[self.op][1]

    def alternatives(self) -> tuple[LineFilterOr, ...]:
        """The first term and every ``or`` term, as (value, ip) pairs."""
        return (LineFilterOr(self.value, self.ip), *self.ors)

    def __str__(self) -> str:
        first = f"ip({_q(self.value)})" if self.ip else _q(self.value)
        text = f"{self.op} {first}"
        for alt in self.ors:
            text += f" or {alt}"
        return text


# --- parsers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelExtraction(Node):
    """``name="expression"`` in ``| json`` / ``| logfmt``; a bare ``name`` has expression=name.

    For json the expression is a JSON path (``a.b[0]``, ``["key"]``), for logfmt a key.
    """

    name: str
    expression: str

    def __str__(self) -> str:
        return f"{self.name}={_q(self.expression)}"


@dataclass(frozen=True, slots=True)
class JSONParser(Stage):
    """``| json`` (all fields, flattened with ``_``) or ``| json a="path", b`` (only those)."""

    params: tuple[LabelExtraction, ...] = ()

    def __str__(self) -> str:
        if not self.params:
            return "| json"
        return "| json " + ",".join(str(p) for p in self.params)


@dataclass(frozen=True, slots=True)
class LogfmtParser(Stage):
    """``| logfmt [--strict] [--keep-empty] [a="key", b, ...]``.

    ``strict``: stop at the first malformed pair and set ``__error__``; ``keep_empty``: keep
    keys without a value. With ``params`` only those keys are extracted.
    """

    params: tuple[LabelExtraction, ...] = ()
    strict: bool = False
    keep_empty: bool = False

    def __str__(self) -> str:
        parts = ["| logfmt"]
        if self.strict:
            parts.append("--strict")
        if self.keep_empty:
            parts.append("--keep-empty")
        if self.params:
            parts.append(",".join(str(p) for p in self.params))
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class RegexpParser(Stage):
    """``| regexp "(?P<name>re)"``: named captures become labels (validated at parse time)."""

    pattern: str

    def __str__(self) -> str:
        return f"| regexp {_q(self.pattern)}"


@dataclass(frozen=True, slots=True)
class PatternParser(Stage):
    """``| pattern "<ip> - <_> <status>"``: named captures become labels (validated)."""

    pattern: str

    def __str__(self) -> str:
        return f"| pattern {_q(self.pattern)}"


@dataclass(frozen=True, slots=True)
class UnpackParser(Stage):
    """``| unpack``: JSON object fields become labels and ``_entry`` replaces the line."""

    def __str__(self) -> str:
        return "| unpack"


# --- label filters ------------------------------------------------------------------------

#: comparison operators of numeric/duration/bytes filters; ``=`` is stored as ``==``.
FILTER_COMPARISONS = ("==", "!=", ">", ">=", "<", "<=")


@dataclass(frozen=True, slots=True)
class LabelFilter(Stage):
    """``| <label filter expression>``: keep lines whose labels pass ``filter``."""

    filter: LabelFilterExpr

    def __str__(self) -> str:
        return f"| {self.filter}"


@dataclass(frozen=True, slots=True)
class StringLabelFilter(LabelFilterExpr):
    """``name="v"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"`` (regexes anchored).

    A missing label compares as ``""`` (so ``__error__=""`` keeps lines without errors).
    """

    matcher: LabelMatcher

    @property
    def name(self) -> str:
        return self.matcher.name

    def __str__(self) -> str:
        return str(self.matcher)


@dataclass(frozen=True, slots=True)
class NumericLabelFilter(LabelFilterExpr):
    """``name > 5``, ``name == 1.5`` ...: the label value parsed as a float is compared."""

    name: str
    op: str
    value: float

    def __str__(self) -> str:
        # -0 would lex as a (zero) duration in Loki's lexer, so negative zero prints as 0
        return f"{self.name}{self.op}{format_float_f(self.value + 0.0)}"


@dataclass(frozen=True, slots=True)
class DurationLabelFilter(LabelFilterExpr):
    """``name >= 250ms``: the label value parsed as a Go duration is compared (ns)."""

    name: str
    op: str
    value_ns: int

    def __str__(self) -> str:
        return f"{self.name}{self.op}{format_go_duration(self.value_ns)}"


@dataclass(frozen=True, slots=True)
class BytesLabelFilter(LabelFilterExpr):
    """``name > 10KB``: the label value parsed as a byte size is compared (bytes)."""

    name: str
    op: str
    value: int

    def __str__(self) -> str:
        return f"{self.name}{self.op}{format_bytes(self.value)}"


@dataclass(frozen=True, slots=True)
class IPLabelFilter(LabelFilterExpr):
    """``name = ip("10.0.0.0/8")`` / ``name != ip(...)``: op is ``=`` or ``!=``.

    The pattern (IP, range ``a-b`` or CIDR) is validated when the pipeline is built.
    """

    name: str
    op: str
    pattern: str

    def __str__(self) -> str:
        return f"{self.name}{self.op}ip({_q(self.pattern)})"


@dataclass(frozen=True, slots=True)
class BinaryLabelFilter(LabelFilterExpr):
    """``left and right`` (also written ``,`` or a space) / ``left or right``.

    ``or`` short-circuits: when the left side matches, the right is not evaluated.
    """

    op: str  # "and" | "or"
    left: LabelFilterExpr
    right: LabelFilterExpr

    def __str__(self) -> str:
        sep = " , " if self.op == "and" else " or "
        return f"( {self.left}{sep}{self.right} )"


# --- formatting / label stages ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineFormat(Stage):
    """``| line_format "{{.a}} ..."``: replace the line by a Go text/template rendering."""

    template: str

    def __str__(self) -> str:
        return f"| line_format {_q(self.template)}"


@dataclass(frozen=True, slots=True)
class LabelFormatOp(Node):
    """One ``dst=src`` (``rename=True``: copy label ``src`` and drop it) or ``dst="tmpl"``."""

    dst: str
    value: str
    rename: bool

    def __str__(self) -> str:
        return f"{self.dst}={self.value}" if self.rename else f"{self.dst}={_q(self.value)}"


@dataclass(frozen=True, slots=True)
class LabelFormat(Stage):
    """``| label_format a=b, c="{{.x}}"``: rename labels or set them from templates."""

    ops: tuple[LabelFormatOp, ...]

    def __str__(self) -> str:
        return "| label_format " + ",".join(str(o) for o in self.ops)


def _items(items: tuple[str | LabelMatcher, ...]) -> str:
    return ",".join(str(i) for i in items)


@dataclass(frozen=True, slots=True)
class Drop(Stage):
    """``| drop a, b="x", c=~"re"``: a bare name drops that label; a matcher drops the label
    only when its value matches."""

    items: tuple[str | LabelMatcher, ...]

    def __str__(self) -> str:
        return "| drop " + _items(self.items)


@dataclass(frozen=True, slots=True)
class Keep(Stage):
    """``| keep a, b="x"``: keep only the named labels (a matcher keeps it when it matches)."""

    items: tuple[str | LabelMatcher, ...]

    def __str__(self) -> str:
        return "| keep " + _items(self.items)


@dataclass(frozen=True, slots=True)
class Decolorize(Stage):
    """``| decolorize``: strip ANSI colour escape sequences from the line."""

    def __str__(self) -> str:
        return "| decolorize"


# --- metric queries -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unwrap(Node):
    """``| unwrap label`` or ``| unwrap bytes(label)`` (conversion ``bytes``, ``duration``,
    ``duration_seconds``; ``""`` = parse as float), then label filters applied after it."""

    label: str
    conversion: str = ""
    post_filters: tuple[LabelFilterExpr, ...] = ()

    def __str__(self) -> str:
        text = f"| unwrap {self.conversion}({self.label})" if self.conversion else (f"| unwrap {self.label}")
        for f in self.post_filters:
            text += f" | {f}"
        return text


@dataclass(frozen=True, slots=True)
class LogRange(Node):
    """``<log query> [| unwrap ...] [range] [offset d]``: the input of a range aggregation.

    The window at evaluation time ``t`` is ``(t - offset - range, t - offset]``.
    """

    query: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None

    def __str__(self) -> str:
        text = str(self.query)
        if self.unwrap is not None:
            text += f" {self.unwrap}"
        text += f"[{format_prom_duration(self.range_ns)}]"
        if self.offset_ns:
            text += f" offset {format_go_duration(self.offset_ns)}"
        return text


@dataclass(frozen=True, slots=True)
class Grouping(Node):
    """``by (a, b)`` or ``without (a, b)``; ``Grouping(())`` (= ``by ()``) groups everything
    into one series."""

    labels: tuple[str, ...] = ()
    without: bool = False

    @property
    def singleton(self) -> bool:
        return not self.labels and not self.without

    def __str__(self) -> str:
        return f"{'without' if self.without else 'by'} ({','.join(self.labels)})"


@dataclass(frozen=True, slots=True)
class RangeAggregation(SampleExpr):
    """``op([param,] <log range>) [by|without (...)]`` with op in :data:`RANGE_OPS`.

    ``param`` is the quantile of ``quantile_over_time`` (the only op taking one). ``grouping``
    is None when absent; only the unwrap-based ops other than ``sum_over_time`` and
    ``rate_counter`` accept one.
    """

    op: str
    range: LogRange
    param: float | None = None
    grouping: Grouping | None = None

    def __str__(self) -> str:
        param = "" if self.param is None else format_float_f(self.param) + ","
        text = f"{self.op}({param}{self.range})"
        if self.grouping is not None:
            text += f" {self.grouping}"
        return text


@dataclass(frozen=True, slots=True)
class VectorAggregation(SampleExpr):
    """``op [by|without (...)] ([k,] <metric expr>)`` with op in :data:`VECTOR_OPS`.

    ``param`` is the integer k of ``topk``/``bottomk``/``approx_topk`` (> 0), else None.
    ``grouping`` is always present; ``Grouping(())`` means no grouping (one output series).
    """

    op: str
    expr: SampleExpr
    grouping: Grouping = field(default_factory=Grouping)
    param: int | None = None

    def __str__(self) -> str:
        group = "" if self.grouping.singleton else f" {self.grouping}"
        param = "" if self.param is None else f"{self.param},"
        return f"{self.op}{group}({param}{self.expr})"


@dataclass(frozen=True, slots=True)
class VectorMatching(Node):
    """``on (labels)`` / ``ignoring (labels)`` and ``group_left|group_right (include)``.

    ``card`` is ``one-to-one``, ``many-to-one`` (group_left) or ``one-to-many``
    (group_right). The parser stores None instead of the no-op ``ignoring ()``.
    """

    on: bool = False
    labels: tuple[str, ...] = ()
    card: str = "one-to-one"
    include: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{'on' if self.on else 'ignoring'} ({','.join(self.labels)})"
        if self.card != "one-to-one":
            text += " group_left" if self.card == "many-to-one" else " group_right"
            if self.include:
                text += f" ({','.join(self.include)})"
        return text


@dataclass(frozen=True, slots=True)
class BinaryOp(SampleExpr):
    """``lhs op [bool] [on/ignoring ...] rhs`` with op in :data:`BINARY_OPS`.

    ``return_bool``: comparisons return 0/1 instead of filtering. Two number literals are
    folded by the parser (``1 + 1`` is ``NumberLiteral(2)``), as Loki does.
    """

    op: str
    lhs: SampleExpr
    rhs: SampleExpr
    return_bool: bool = False
    matching: VectorMatching | None = None

    def __str__(self) -> str:
        op = self.op + (" bool" if self.return_bool else "")
        rhs = str(self.rhs)
        if self.matching is not None:
            op += f" {self.matching}"
            if self.matching.card != "one-to-one" and not self.matching.include and rhs[0] == "(":
                op += " ()"  # else the operand's "(" would read as group_left's label list
        return f"({self.lhs} {op} {rhs})"


@dataclass(frozen=True, slots=True)
class NumberLiteral(SampleExpr):
    """A scalar number (``2``, ``-1.5``, ``0x1p3``); a leading sign belongs to the literal."""

    value: float

    def __str__(self) -> str:
        return format_go_float(self.value + 0.0)  # -0.0 + 0.0 is 0.0: `-0` lexes as a duration


@dataclass(frozen=True, slots=True)
class VectorExpr(SampleExpr):
    """``vector(n)``: one series without labels whose value is n at every step."""

    value: float

    def __str__(self) -> str:
        fixed = f"{self.value:.6f}"
        text = fixed if float(fixed) == self.value else format_go_float(self.value)
        return f"vector({text})"


@dataclass(frozen=True, slots=True)
class LabelReplace(SampleExpr):
    """``label_replace(expr, "dst", "replacement", "src", "regex")`` (regex anchored, RE2)."""

    expr: SampleExpr
    dst: str
    replacement: str
    src: str
    regex: str

    def __str__(self) -> str:
        args = ",".join(_q(s) for s in (self.dst, self.replacement, self.src, self.regex))
        return f"label_replace({self.expr},{args})"


# --- traversal ----------------------------------------------------------------------------


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children, in field order."""
    yield node
    for f in fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, Node):
                yield from walk(item)
