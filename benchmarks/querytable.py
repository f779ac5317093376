"""The query set Q1-Q6 of ``docs/performance.md``, each with the structure the oracle evaluates.

Range queries cover the whole hour with step 1m and range [1m]; log queries cover the hour too.
``klass`` names the target row a query is judged by, ``floor`` the same-run kernel it is compared
with (same blocks, same answer, checked against the same oracle).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.oracle import LineFilter, QuerySpec

ALL = (("job", "=~", ".+"),)
APP = (("job", "=", "app"),)
NGINX = (("job", "=", "nginx"),)
ERROR = LineFilter("|=", b"error")


@dataclass(frozen=True, slots=True)
class BenchQuery:
    spec: QuerySpec
    klass: str  # target row: Q1 .. Q6
    floor: str  # which kernel family is the baseline


def _q(klass: str, floor: str, **kw: object) -> BenchQuery:
    return BenchQuery(QuerySpec(**kw), klass, floor)  # type: ignore[arg-type]


QUERIES: tuple[BenchQuery, ...] = (
    _q("Q1", "decompress+find", id="Q1a",
       logql='sum(count_over_time({job=~".+"} |= "error" [1m]))',
       matchers=ALL, line_filter=ERROR, func="count_over_time", sum_by=()),
    _q("Q1", "decompress+find", id="Q1b", logql='{job="app"} |= "error"',
       matchers=APP, line_filter=ERROR, limit=5000, direction="forward"),
    _q("Q2", "bulk count", id="Q2a", logql='count_over_time({job="app"} |= "error" [1m])',
       matchers=APP, line_filter=ERROR, func="count_over_time"),
    _q("Q2", "bulk count", id="Q2b",
       logql='sum by (level) (count_over_time({job="app"} |= "error" [1m]))',
       matchers=APP, line_filter=ERROR, func="count_over_time", sum_by=("level",)),
    _q("Q2", "bulk count", id="Q2c", logql='sum(rate({job="nginx"} |= "HTTP/1.1\\" 5" [1m]))',
       matchers=NGINX, line_filter=LineFilter("|=", b'HTTP/1.1" 5'), func="rate", sum_by=()),
    _q("Q3", "decompress+bulk !=", id="Q3a",
       logql='sum(count_over_time({job="app"} != "error" [1m]))',
       matchers=APP, line_filter=LineFilter("!=", b"error"), func="count_over_time", sum_by=()),
    _q("Q3", "decompress+bulk !=", id="Q3b", logql='{job="app"} != "error"',
       matchers=APP, line_filter=LineFilter("!=", b"error"), limit=5000),
    _q("Q4", "decompress+RE2", id="Q4a",
       logql='sum(count_over_time({job=~".+"} |~ "error|timeout|refused" [1m]))',
       matchers=ALL, line_filter=LineFilter("|~", b"error|timeout|refused"),
       func="count_over_time", sum_by=()),
    _q("Q4", "decompress+RE2", id="Q4b",
       logql='sum(count_over_time({job=~".+"} |~ "(?i)error" [1m]))',
       matchers=ALL, line_filter=LineFilter("|~", b"(?i)error"), func="count_over_time",
       sum_by=()),
    _q("Q4", "decompress+RE2", id="Q4c",
       logql='{job="osquery"} |~ "\\"username\\":\\"(root|postgres)\\""',
       matchers=(("job", "=", "osquery"),),
       line_filter=LineFilter("|~", b'"username":"(root|postgres)"'), limit=5000),
    _q("Q5", "timestamp column", id="Q5a",
       logql='sum by (level) (count_over_time({job=~".+"}[1m]))',
       matchers=ALL, func="count_over_time", sum_by=("level",)),
    _q("Q5", "timestamp column", id="Q5b", logql='rate({job="nginx", level="error"}[1m])',
       matchers=(("job", "=", "nginx"), ("level", "=", "error")), func="rate"),
    _q("Q6", "decompress+find", id="Q6a", logql='{job="app"} |= "error"',
       matchers=APP, line_filter=ERROR, limit=100, direction="backward"),
    _q("Q6", "decompress (selector only)", id="Q6b", logql='{job="app", host="host-07"}',
       matchers=(("job", "=", "app"), ("host", "=", "host-07")), limit=1000,
       direction="backward"),
)  # fmt: skip


def by_id(qid: str) -> BenchQuery:
    for q in QUERIES:
        if q.spec.id == qid:
            return q
    raise KeyError(qid)
