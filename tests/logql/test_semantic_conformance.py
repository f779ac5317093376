"""Loki's own LogQL semantics corpus (``../shared/conformance/logql_semantics.jsonl``).

Each case is pushed into a fresh in-memory querier (isolation per case, so the plain ``query``
is run), evaluated through :class:`Engine`, and compared as the corpus README specifies:
numbers within 1e-9 (absolute or relative), NaN equal only to NaN, label sets exact (empty
values significant), vectors as sets unless ``ordered``, matrix gaps significant.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from lokipy.logql.engine import Engine
from lokipy.logql.results import Matrix, QueryResult, Scalar, Streams, Vector
from lokipy.model.errors import LokipyError
from lokipy.model.querier import Direction
from tests.logql.memquerier import MemoryQuerier
from tests.shared import require_shared

PASS_RATE = 0.95


def load_cases(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _num(text: str) -> float:
    return float(text.replace("+Inf", "inf").replace("-Inf", "-inf"))


def same_number(got: float, want: str) -> bool:
    expected = _num(want)
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return got == expected
    diff = abs(got - expected)
    return diff <= 1e-9 or diff <= 1e-9 * max(abs(got), abs(expected))


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "case_id"))


def run_case(case: dict[str, Any]) -> QueryResult:
    querier = MemoryQuerier()
    for stream in case["input"]["streams"]:
        entries = []
        for e in stream["entries"]:
            md = e[2] if len(e) > 2 else None
            entries.append((int(e[0]), e[1], md) if md else (int(e[0]), e[1]))
        querier.push(stream["labels"], entries)
    engine = Engine(querier)
    t = case["time"]
    if t["type"] == "instant":
        return engine.query_instant("fake", case["query"], int(t["time"]))
    start, end = int(t["start"]), int(t["end"])
    if "step_seconds" in t:
        step = round(float(t["step_seconds"]) * 1e9)
        return engine.query_range("fake", case["query"], start, end, step)
    direction = Direction(t.get("direction", "backward").lower())
    return engine.query_range(
        "fake", case["query"], start, end, 0, limit=int(t.get("limit", 100)), direction=direction
    )


def check_case(case: dict[str, Any]) -> str | None:
    """None when the case passes, else a short reason."""
    want = case["expected"]
    kind = want["kind"]
    try:
        result = run_case(case)
    except (LokipyError, ValueError) as err:
        if kind == "error":
            return None
        return f"raised {type(err).__name__}: {str(err)[:200]}"
    if kind == "error":
        return "expected an error, got a result"
    value = result.value
    if kind == "empty":
        if isinstance(value, Vector | Matrix) and len(value) == 0:
            return None
        return f"expected empty, got {_describe(value)}"
    if kind == "scalar":
        if isinstance(value, Scalar) and same_number(value.value, want["value"]):
            return None
        return f"expected scalar {want['value']}, got {_describe(value)}"
    if kind == "vector":
        return _check_vector(value, want)
    if kind == "matrix":
        return _check_matrix(value, want)
    if kind == "streams":
        return _check_streams(value, want)
    return f"unknown expected kind {kind}"


def _describe(value: Any) -> str:
    if isinstance(value, Vector):
        return "vector " + ", ".join(f"{s.labels}={s.value}" for s in value.samples)[:300]
    if isinstance(value, Matrix):
        return (
            "matrix "
            + "; ".join(f"{s.labels}:{list(zip(s.timestamps, s.values, strict=True))}" for s in value.series)[
                :400
            ]
        )
    if isinstance(value, Scalar):
        return f"scalar {value.value}"
    return type(value).__name__


def _check_vector(value: Any, want: dict[str, Any]) -> str | None:
    if not isinstance(value, Vector):
        return f"expected a vector, got {_describe(value)}"
    got = [(_key(dict(s.labels.pairs)), s.value) for s in value.samples]
    exp = [(_key(s["labels"]), s["value"]) for s in want["series"]]
    if len(got) != len(exp):
        return f"expected {len(exp)} samples, got {_describe(value)}"
    if want.get("ordered"):
        for (gl, gv), (el, ev) in zip(got, exp, strict=True):
            if gl != el or not same_number(gv, ev):
                return f"order/value mismatch: got {_describe(value)}"
        return None
    by_labels = dict(got)
    if len(by_labels) != len(got):
        return f"duplicate label sets: {_describe(value)}"
    for el, ev in exp:
        if el not in by_labels:
            return f"missing series {el}; got {_describe(value)}"
        if not same_number(by_labels[el], ev):
            return f"{el}: expected {ev}, got {by_labels[el]}"
    return None


def _check_matrix(value: Any, want: dict[str, Any]) -> str | None:
    if not isinstance(value, Matrix):
        return f"expected a matrix, got {_describe(value)}"
    got = {_key(dict(s.labels.pairs)): list(zip(s.timestamps, s.values, strict=True)) for s in value.series}
    exp = {_key(s["labels"]): s["points"] for s in want["series"]}
    if set(got) != set(exp):
        return f"series differ: expected {sorted(exp)}, got {_describe(value)}"
    for labels, points in exp.items():
        mine = got[labels]
        if [t for t, _ in mine] != [int(t) for t, _ in points]:
            return f"{labels}: timestamps differ: got {_describe(value)}; expected {points}"
        for (_, gv), (_, ev) in zip(mine, points, strict=True):
            if not same_number(gv, ev):
                return f"{labels}: values differ: got {_describe(value)}; expected {points}"
    return None


def _check_streams(value: Any, want: dict[str, Any]) -> str | None:
    if not isinstance(value, Streams):
        return f"expected streams, got {_describe(value)}"
    if not want.get("labels_checked"):
        got = Counter((ts, line) for s in value.streams for ts, line in s.entries)
        flat = want.get("entries")
        if flat is None:
            flat = [e for s in want["streams"] for e in s["entries"]]
        exp = Counter((int(e[0]), e[1]) for e in flat)
        if got != exp:
            return f"entries differ: got {sorted(got)[:5]} expected {sorted(exp)[:5]}"
        return None
    got_streams = {_key(dict(s.labels.pairs)): Counter(s.entries) for s in value.streams}
    exp_streams: dict[Any, Counter[tuple[int, str]]] = {}
    for s in want["streams"]:
        exp_streams.setdefault(_key(s["labels"]), Counter()).update(
            (int(ts), line) for ts, line in s["entries"]
        )
    if got_streams != exp_streams:
        return f"streams differ: got {got_streams} expected {exp_streams}"[:500]
    return None


def evaluate_corpus(cases: list[dict[str, Any]]) -> list[tuple[str, str]]:
    failures = []
    for case in cases:
        reason = check_case(case)
        if reason is not None:
            failures.append((case["id"], f"{case['query']} -> {reason}"))
    return failures


def test_semantic_corpus_pass_rate() -> None:
    cases = load_cases(require_shared("conformance", "logql_semantics.jsonl"))
    failures = evaluate_corpus(cases)
    rate = 1 - len(failures) / len(cases)
    listing = "\n".join(f"{cid}: {why}" for cid, why in failures)
    assert rate >= PASS_RATE, f"{len(cases) - len(failures)}/{len(cases)} passed:\n{listing}"
