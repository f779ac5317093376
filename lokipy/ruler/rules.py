"""Rule files: strict decoding, Loki's validation messages, YAML written back like Loki's.

File shape: Prometheus rule groups with LogQL ``expr`` (ruler.md §3). Decoding is strict
(unknown keys are an error, as yaml.v3's known-fields mode); validation follows Loki's
``ValidateGroups``/``validateRuleNode`` and reports every problem of a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lokipy.logql import parse
from lokipy.model.errors import InvalidInput, LokipyError
from lokipy.model.labels import is_valid_label_name
from lokipy.model.timeparse import parse_prometheus_duration
from lokipy.ruler.template import Template, TemplateError

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_GROUP_KEYS = ("name", "interval", "query_offset", "limit", "rules", "labels")
_RULE_KEYS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")
_UNITS = (("y", 365 * 86400_000), ("w", 7 * 86400_000), ("d", 86400_000), ("h", 3600_000),
          ("m", 60_000), ("s", 1000), ("ms", 1))  # fmt: skip


class RuleFileError(LokipyError):
    """A rule file or group that does not decode or validate; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class RuleDef:
    expr: str
    alert: str = ""
    record: str = ""
    for_ns: int = 0
    keep_firing_for_ns: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.alert or self.record


@dataclass(frozen=True, slots=True)
class GroupDef:
    name: str
    rules: tuple[RuleDef, ...] = ()
    interval_ns: int = 0  # 0: the ruler's evaluation_interval
    limit: int = 0
    query_offset_ns: int = 0  # accepted, not applied (as Loki)


def format_duration(ns: int) -> str:
    """Prometheus ``model.Duration.String``: ``1m``, ``1h30m``, ``90ms``; ``0s`` for zero."""
    ms = ns // 1_000_000
    if ms == 0:
        return "0s"
    out = []
    for unit, size in _UNITS:
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def _duration(value: Any, where: str) -> int:
    if value is None:
        return 0
    try:
        return parse_prometheus_duration(str(value))
    except InvalidInput:
        raise RuleFileError([f'{where}: not a valid duration string: "{value}"']) from None


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RuleFileError([f"{where}: cannot unmarshal {type(value).__name__} into map[string]string"])
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _unknown(raw: dict[str, Any], known: tuple[str, ...], typ: str) -> list[str]:
    return [f"field {k} not found in type {typ}" for k in raw if k not in known]


def decode_rule(raw: Any, strict: bool = True) -> RuleDef:
    if not isinstance(raw, dict):
        raise RuleFileError(["rule must be a mapping"])
    if strict and (errs := _unknown(raw, _RULE_KEYS, "rulefmt.RuleNode")):
        raise RuleFileError(errs)
    return RuleDef(
        expr="" if raw.get("expr") is None else str(raw["expr"]),
        alert=str(raw.get("alert") or ""),
        record=str(raw.get("record") or ""),
        for_ns=_duration(raw.get("for"), "for"),
        keep_firing_for_ns=_duration(raw.get("keep_firing_for"), "keep_firing_for"),
        labels=_str_map(raw.get("labels"), "labels"),
        annotations=_str_map(raw.get("annotations"), "annotations"),
    )


def decode_group(raw: Any, strict: bool = True) -> GroupDef:
    if not isinstance(raw, dict):
        raise RuleFileError(["rule group must be a mapping"])
    if strict and (errs := _unknown(raw, _GROUP_KEYS, "rulefmt.RuleGroup")):
        raise RuleFileError(errs)
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise RuleFileError(["rules: must be a list"])
    return GroupDef(
        name="" if raw.get("name") is None else str(raw["name"]),
        rules=tuple(decode_rule(r, strict) for r in rules),
        interval_ns=_duration(raw.get("interval"), "interval"),
        limit=int(raw.get("limit") or 0),
        query_offset_ns=_duration(raw.get("query_offset"), "query_offset"),
    )


def canonical_query(expr: str) -> str:
    """The expression as Loki's ruler shows and links it: the parsed LogQL's ``String()``."""
    try:
        return str(parse(expr))
    except InvalidInput:
        return expr


def validate_rule(rule: RuleDef, group: str) -> str | None:
    """Loki's ``validateRuleNode``: the first problem of one rule, or None."""
    if rule.record and rule.alert:
        return "only one of 'record' and 'alert' must be set"
    if not rule.record and not rule.alert:
        return "one of 'record' or 'alert' must be set"
    if not rule.expr:
        return "field 'expr' must be set in rule"
    try:
        parse(rule.expr)
    except InvalidInput as err:
        kind = "record" if rule.record else "alert"
        return f"could not parse expression for {kind} '{rule.name}' in group '{group}': {err}"
    if rule.record:
        if rule.annotations:
            return "invalid field 'annotations' in recording rule"
        if rule.for_ns:
            return "invalid field 'for' in recording rule"
        if not _METRIC_NAME.match(rule.record):
            return f"invalid recording rule name: {rule.record}"
    for k, v in rule.labels.items():
        if not is_valid_label_name(k) or k == "__name__":
            return f"invalid label name: {k}"
        if any("\ud800" <= c <= "\udfff" for c in v):  # bytes that were not UTF-8
            return f"invalid label value: {v}"
    for k in rule.annotations:
        if not is_valid_label_name(k):
            return f"invalid annotation name: {k}"
    if rule.alert:
        for what, mapping in (("label", rule.labels), ("annotation", rule.annotations)):
            for k, v in mapping.items():
                try:
                    Template(f"__alert_{rule.alert}", v)
                except TemplateError as err:
                    return f'{what} "{k}": {err}'
    return None


def validate_groups(groups: list[GroupDef]) -> list[str]:
    """Loki's ``ValidateGroups``: every problem of a file, in order."""
    errors: list[str] = []
    seen: set[str] = set()
    for i, g in enumerate(groups):
        if not g.name:
            errors.append(f"group {i}: Groupname must not be empty")
            continue
        if g.name in seen:
            errors.append(f'groupname: "{g.name}" is repeated in the same file')
        seen.add(g.name)
        for r in g.rules:
            if (problem := validate_rule(r, g.name)) is not None:
                errors.append(problem)
    return errors


def load_text(text: str) -> list[GroupDef]:
    """A whole rule file (``groups:`` only), decoded strictly and validated."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RuleFileError([f"yaml: {err}"]) from None
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise RuleFileError(["yaml: file must hold a mapping with 'groups'"])
    if errs := _unknown(raw, ("groups",), "rulefmt.RuleGroups"):
        raise RuleFileError(errs)
    raw_groups = raw.get("groups") or []
    if not isinstance(raw_groups, list):
        raise RuleFileError(["groups: must be a list"])
    groups = [decode_group(g) for g in raw_groups]
    if errors := validate_groups(groups):
        raise RuleFileError(errors)
    return groups


# --- YAML out (what the rules API returns and what API writes store) ------------------------


def group_to_dict(g: GroupDef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": g.name}
    if g.interval_ns:
        out["interval"] = format_duration(g.interval_ns)
    if g.limit:
        out["limit"] = g.limit
    rules = []
    for r in g.rules:
        d: dict[str, Any] = {"alert": r.alert} if r.alert else {"record": r.record}
        d["expr"] = r.expr
        if r.for_ns:
            d["for"] = format_duration(r.for_ns)
        if r.keep_firing_for_ns:
            d["keep_firing_for"] = format_duration(r.keep_firing_for_ns)
        if r.labels:
            d["labels"] = dict(r.labels)
        if r.annotations:
            d["annotations"] = dict(r.annotations)
        rules.append(d)
    out["rules"] = rules
    return out


class _Dumper(yaml.SafeDumper):
    """Sequences indented under their key, as Go's yaml.v3 writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, indent=2, sort_keys=False, allow_unicode=True, width=1 << 30)
