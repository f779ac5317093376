"""Loki's own parser-stage and filter-matcher cases, run through the stages directly.

The corpus (``../shared/conformance/logql_semantics.jsonl``) wraps ``pkg/logql/log``'s
parser tables as ``{labels} | <parser>`` and ``Test_FilterMatcher`` as small log queries. This
test parses just the stage text (a tiny parser for these shapes only, not the LogQL grammar),
runs every entry through the stage and compares labels and lines with Loki's expectations.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lokipy.logql.log import (
    AndLabelFilter,
    BytesLabelFilter,
    DurationLabelFilter,
    JSONParser,
    LogfmtParser,
    NumericLabelFilter,
    PatternParser,
    Pipeline,
    RegexpParser,
    UnpackParser,
    line_filter_or,
    parse_bytes_literal,
    parse_duration_literal,
)
from lokipy.model.labels import unquote_go_string
from tests.shared import require_shared


def _cases(suite_prefix: str) -> list[dict[str, Any]]:
    path = require_shared("conformance", "logql_semantics.jsonl")
    out = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            case = json.loads(raw)
            if case["suite"].startswith(suite_prefix):
                out.append(case)
    return out


def _pipeline_text(query: str) -> str:
    """The text after the stream selector."""
    depth = 0
    for i, ch in enumerate(query):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return query[i + 1 :].strip()
    raise AssertionError(query)


def _string(text: str, pos: int) -> tuple[str, int]:
    return unquote_go_string(text, pos)


def _parser_stage(text: str) -> Any:
    assert text.startswith("|"), text
    body = text[1:].strip()
    if body == "json":
        return JSONParser()
    if body == "unpack":
        return UnpackParser()
    if body.startswith("logfmt"):
        flags = body.split()[1:]
        return LogfmtParser("--strict" in flags, "--keep-empty" in flags)
    for name, cls in (("regexp", RegexpParser), ("pattern", PatternParser)):
        if body.startswith(name):
            value, _ = _string(body, len(name) + 1)
            return cls(value)
    raise AssertionError(f"unexpected stage {text!r}")


_LINE_OP = re.compile(r"\s*(\|=|!=|\|~|!~|\|>|!>)\s*")
_LABEL_CMP = re.compile(r"\s*([A-Za-z_]\w*)\s*(==|!=|>=|<=|>|<|=)\s*(-?[0-9.]+[A-Za-z]*)\s*")


def _alternative(text: str, pos: int) -> tuple[tuple[str, bool], int]:
    if text.startswith("ip(", pos):
        value, end = _string(text, pos + 3)
        assert text[end] == ")"
        return (value, True), end + 1
    value, end = _string(text, pos)
    return (value, False), end


def _label_filter(text: str) -> Any:
    """``name op literal [and name op literal ...]`` with number/duration/bytes literals."""
    filters: list[Any] = []
    for part in re.split(r"\s+and\s+", text):
        m = _LABEL_CMP.fullmatch(part)
        assert m is not None, part
        name, op, lit = m.groups()
        if re.fullmatch(r"-?[0-9.]+", lit):
            filters.append(NumericLabelFilter(name, op, float(lit)))
        elif lit[-1] == "B":
            filters.append(BytesLabelFilter(name, op, parse_bytes_literal(lit)))
        else:
            filters.append(DurationLabelFilter(name, op, parse_duration_literal(lit)))
    out = filters[0]
    for f in filters[1:]:
        out = AndLabelFilter(out, f)
    return out


def _filter_pipeline(text: str) -> Pipeline:
    stages: list[Any] = []
    pos = 0
    while pos < len(text):
        m = _LINE_OP.match(text, pos)
        if m is None:
            rest = text[pos:].strip()
            assert rest.startswith("|"), rest
            stage_text, _, tail = rest[1:].partition("|")
            stage_text = stage_text.strip()
            if stage_text == "logfmt":
                stages.append(LogfmtParser())
            else:
                stages.append(_label_filter(stage_text))
            text, pos = ("|" + tail if tail else ""), 0
            continue
        op = m.group(1)
        alts = []
        alt, pos = _alternative(text, m.end())
        alts.append(alt)
        while True:
            m2 = re.compile(r"\s+or\s+").match(text, pos)
            if m2 is None:
                break
            alt, pos = _alternative(text, m2.end())
            alts.append(alt)
        stages.append(line_filter_or(op, alts))
    return Pipeline(stages)


def test_parser_stage_cases_match_loki() -> None:
    cases = _cases("parser_stage/")
    assert cases
    failures = []
    for case in cases:
        stage = _parser_stage(_pipeline_text(case["query"]))
        pipeline = Pipeline([stage])
        got = []
        for stream in case["input"]["streams"]:
            sp = pipeline.for_stream(stream["labels"].items())
            for entry in stream["entries"]:
                md = tuple(sorted(entry[2].items())) if len(entry) > 2 else ()
                res = sp.process(int(entry[0]), entry[1].encode(), md)
                assert res is not None
                got.append((dict(res[1]), res[0].decode()))
        want = [(s["labels"], e[1]) for s in case["expected"]["streams"] for e in s["entries"]]
        if got != want:
            failures.append((case["id"], got, want))
    passed = len(cases) - len(failures)
    print(f"parser_stage: {passed}/{len(cases)} cases pass")
    assert not failures, failures


def test_filter_matcher_cases_match_loki() -> None:
    cases = _cases("filter_matcher")
    assert cases
    failures = []
    for case in cases:
        pipeline = _filter_pipeline(_pipeline_text(case["query"]))
        got = []
        for stream in case["input"]["streams"]:
            sp = pipeline.for_stream(stream["labels"].items())
            for entry in stream["entries"]:
                if sp.process(int(entry[0]), entry[1].encode()) is not None:
                    got.append([entry[0], entry[1]])
        want = case["expected"]["entries"]
        if sorted(got) != sorted(want):
            failures.append((case["id"], got, want))
    passed = len(cases) - len(failures)
    print(f"filter_matcher: {passed}/{len(cases)} cases pass")
    assert not failures, failures
