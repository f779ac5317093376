"""Loki's own verdicts on 1,019 queries (../shared/conformance/logql_syntax.jsonl).

Skips cleanly where ../shared is absent; CI has it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lokipy.logql import format_query, parse
from lokipy.logql.ast import NumberLiteral
from lokipy.model.errors import LogQLParseError
from tests.shared import require_shared

REQUIRED_AGREEMENT = 0.99


def _rows() -> list[dict[str, Any]]:
    path: Path = require_shared("conformance", "logql_syntax.jsonl")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _accepts(query: str) -> tuple[bool, str]:
    try:
        parse(query)
    except LogQLParseError as err:
        return False, str(err)
    return True, ""


def test_agreement_with_loki_verdicts() -> None:
    rows = _rows()
    disagreements = []
    for row in rows:
        got, detail = _accepts(row["query"])
        if got != row["valid"]:
            want = row["valid"]
            disagreements.append(f"{row['id']} want valid={want}: {row['query']!r} {detail}")
    agreement = 1 - len(disagreements) / len(rows)
    assert agreement >= REQUIRED_AGREEMENT, "\n".join(disagreements)


def test_loki_error_fragments_appear_in_our_errors() -> None:
    """Where Loki's test asserts an error message, ours contains it (exact regex-engine
    wording aside: RE2 and Go's regexp name errors differently)."""
    mismatches = []
    for row in _rows():
        if row["valid"] or not row.get("go_error"):
            continue
        ok, detail = _accepts(row["query"])
        if not ok and row["go_error"] not in detail:
            mismatches.append(f"{row['query']!r}\n  loki: {row['go_error']}\n  ours: {detail}")
    assert not mismatches, "\n".join(mismatches)


def _is_nan_literal(expr: object) -> bool:
    return isinstance(expr, NumberLiteral) and math.isnan(expr.value)


def test_printed_tree_parses_back_to_the_same_tree() -> None:
    """``parse(str(ast)) == ast`` and ``parse(format_query(q)) == parse(q)`` for every valid
    corpus query (a folded NaN literal has no LogQL spelling and is skipped)."""
    failures = []
    checked = 0
    for row in _rows():
        if not row["valid"]:
            continue
        tree = parse(row["query"])
        if _is_nan_literal(tree):
            continue
        checked += 1
        for text in (str(tree), format_query(row["query"])):
            try:
                again = parse(text)
            except LogQLParseError as err:
                failures.append(f"{row['query']!r} -> {text!r}: {err}")
                continue
            if again != tree:
                failures.append(f"{row['query']!r} -> {text!r} parses differently")
    assert checked > 900
    assert not failures, "\n".join(failures)


def test_format_query_is_the_one_line_form_for_short_queries() -> None:
    """Like Loki's Prettify: up to 100 characters the output is the tree's String()."""
    short = 0
    for row in _rows():
        if not row["valid"]:
            continue
        flat = str(parse(row["query"]))
        if len(flat) <= 100:
            short += 1
            assert format_query(row["query"]) == flat
        else:
            assert "\n" in format_query(row["query"])
    assert short > 500
