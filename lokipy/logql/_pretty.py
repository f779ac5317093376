"""Loki's query formatter (``syntax.Prettify``), which ``format_query`` returns.

An expression whose one-line form (``str(node)``) fits in 100 characters stays on one line;
a longer one is split: pipeline stages one per line, function arguments and binary operands
on their own lines, each level indented by two spaces. Unlike Loki's formatter, the output
always parses back to the same tree (Loki drops ``without ()``, ``or`` alternatives of split
line filters and the parentheses of split nested binary operations).
"""

from __future__ import annotations

from lokipy.logql.ast import (
    BinaryOp,
    Grouping,
    LabelReplace,
    LineFilter,
    LogQuery,
    LogRange,
    Node,
    RangeAggregation,
    Stage,
    Unwrap,
    VectorAggregation,
    VectorMatching,
)
from lokipy.logql.units import format_go_float, format_prom_duration
from lokipy.model.labels import go_quote

MAX_CHARS_PER_LINE = 100


def _ind(level: int) -> str:
    return "  " * level


def prettify(node: Node, level: int = 0) -> str:
    """The formatted query text (see the module docstring)."""
    flat = str(node)
    if len(flat) <= MAX_CHARS_PER_LINE and not isinstance(node, LogRange):
        return _ind(level) + flat
    if isinstance(node, LogQuery):
        return _log_query(node, level)
    if isinstance(node, LogRange):
        return _log_range(node, level)
    if isinstance(node, RangeAggregation):
        text = f"{_ind(level)}{node.op}(\n"
        if node.param is not None:
            text += f"{_ind(level + 1)}{format_go_float(node.param)},\n"
        text += f"{prettify(node.range, level + 1)}\n{_ind(level)})"
        if node.grouping is not None:
            text += " " + _grouping(node.grouping)
        return text
    if isinstance(node, VectorAggregation):
        text = _ind(level) + node.op
        if not node.grouping.singleton:
            text += " " + _grouping(node.grouping)
        text += "(\n"
        if node.param is not None:
            text += f"{_ind(level + 1)}{node.param},\n"
        return text + f"{prettify(node.expr, level + 1)}\n{_ind(level)})"
    if isinstance(node, BinaryOp):
        op = node.op + (" bool" if node.return_bool else "")
        rhs = _operand(node.rhs, level + 1)
        if node.matching is not None:
            op += " " + _matching(node.matching)
            bare_group = node.matching.card != "one-to-one" and not node.matching.include
            if bare_group and rhs.lstrip().startswith("("):
                op += " ()"  # else the operand's "(" would read as group_left's label list
        return f"{_operand(node.lhs, level + 1)}\n{_ind(level)}{op}\n{rhs}"
    if isinstance(node, LabelReplace):
        args = [prettify(node.expr, level + 1)]
        args += [_ind(level + 1) + go_quote(s) for s in (node.dst, node.replacement, node.src)]
        args.append(_ind(level + 1) + go_quote(node.regex))
        return f"{_ind(level)}label_replace(\n" + ",\n".join(args) + f"\n{_ind(level)})"
    return _ind(level) + flat


def _operand(node: Node, level: int) -> str:
    """A binary operand; a split nested operation keeps its parentheses."""
    if isinstance(node, BinaryOp) and len(str(node)) > MAX_CHARS_PER_LINE:
        return f"{_ind(level)}(\n{prettify(node, level + 1)}\n{_ind(level)})"
    return prettify(node, level)


def _log_query(query: LogQuery, level: int) -> str:
    lines = [_ind(level) + str(query.selector)]
    for group in _stage_groups(query.pipeline):
        joined = " ".join(str(s) for s in group)
        if len(group) > 1 and len(joined) > MAX_CHARS_PER_LINE:
            lines.extend(_ind(level + 1) + str(s) for s in group)
        else:
            lines.append(_ind(level + 1) + joined)
    return "\n".join(lines)


def _stage_groups(stages: tuple[Stage, ...]) -> list[list[Stage]]:
    """Consecutive line filters form one group (one Loki stage), other stages stand alone."""
    groups: list[list[Stage]] = []
    for stage in stages:
        if isinstance(stage, LineFilter) and groups and isinstance(groups[-1][-1], LineFilter):
            groups[-1].append(stage)
        else:
            groups.append([stage])
    return groups


def _log_range(node: LogRange, level: int) -> str:
    text = prettify(node.query, level)
    if node.unwrap is not None:
        text += "\n" + _unwrap(node.unwrap, level + 1)
    text += f" [{format_prom_duration(node.range_ns)}]"
    if node.offset_ns:
        text += f" offset {format_prom_duration(node.offset_ns)}"
    return text


def _unwrap(unwrap: Unwrap, level: int) -> str:
    head = str(Unwrap(unwrap.label, unwrap.conversion))
    lines = [_ind(level) + head]
    lines.extend(f"{_ind(level)}| {f}" for f in unwrap.post_filters)
    return "\n".join(lines)


def _grouping(grouping: Grouping) -> str:
    return f"{'without' if grouping.without else 'by'} ({', '.join(grouping.labels)})"


def _matching(matching: VectorMatching) -> str:
    text = f"{'on' if matching.on else 'ignoring'} ({', '.join(matching.labels)})"
    if matching.card != "one-to-one":
        text += " group_left" if matching.card == "many-to-one" else " group_right"
        if matching.include:
            text += f" ({', '.join(matching.include)})"
    return text
