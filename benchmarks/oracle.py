"""Exact expected answers, computed line by line from the generated corpus.

The oracle is deliberately naive (a per-line Python loop over the corpus, not over blocks), so it
shares no code with the kernels or the store it checks. Semantics follow Loki:

- a range query is evaluated at ``start, start + step, ..., end``; ``count_over_time(...[1m])`` at
  ``t`` counts entries with ``t - 1m < ts <= t``; ``rate`` is that count divided by 60;
- a step with no sample produces no point, and a series with no point is absent;
- a log query returns the ``limit`` entries of ``[start, end)`` nearest the start (forward) or
  the end (backward);
- line filters: ``|=``/``!=`` are byte substring tests, ``|~``/``!~`` unanchored RE2 searches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import re2

from benchmarks.datasets import SPAN_NS, STEP_NS, T0_NS, Corpus, StreamKey

SeriesKey = tuple[tuple[str, str], ...]
Matrix = dict[SeriesKey, dict[int, float]]
LogResult = list[tuple[int, SeriesKey, bytes]]  # (ts, stream labels, line) in result order


@dataclass(frozen=True, slots=True)
class LineFilter:
    op: str  # "|=", "!=", "|~", "!~"
    pattern: bytes

    @property
    def negated(self) -> bool:
        return self.op[0] == "!"

    @property
    def is_regex(self) -> bool:
        return self.op[1] == "~"


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """One benchmark query: its LogQL text plus the structure the oracle evaluates."""

    id: str
    logql: str
    matchers: tuple[tuple[str, str, str], ...]  # (name, op, value)
    line_filter: LineFilter | None = None
    func: str | None = None  # "count_over_time" | "rate" for metric queries
    sum_by: tuple[str, ...] | None = None  # None: no aggregation; (): sum without grouping
    limit: int = 0
    direction: str = "backward"
    start: int = T0_NS
    end: int = T0_NS + SPAN_NS
    step: int = STEP_NS
    range_ns: int = STEP_NS

    @property
    def is_metric(self) -> bool:
        return self.func is not None


def _matches(key: StreamKey, matchers: Sequence[tuple[str, str, str]]) -> bool:
    labels = key.labels()
    for name, op, value in matchers:
        have = labels.get(name, "")
        if op == "=":
            ok = have == value
        elif op == "!=":
            ok = have != value
        else:  # Prometheus/Loki label regexes are fully anchored
            ok = re2.fullmatch(value, have) is not None
            ok = ok if op == "=~" else not ok
        if not ok:
            return False
    return True


def select_streams(streams: Sequence[StreamKey], matchers: Sequence[tuple[str, str, str]]) -> set:
    return {sid for sid, key in enumerate(streams) if _matches(key, matchers)}


def line_predicate(flt: LineFilter | None):
    """A per-line bool function for the filter (None: every line passes)."""
    if flt is None:
        return None
    if flt.is_regex:
        search = re2.compile(flt.pattern).search
        if flt.negated:
            return lambda line: search(line) is None
        return lambda line: search(line) is not None
    needle = flt.pattern
    if flt.negated:
        return lambda line: needle not in line
    return lambda line: needle in line


def series_key(key: StreamKey, sum_by: tuple[str, ...] | None) -> SeriesKey:
    labels = key.labels()
    if sum_by is None:
        return tuple(sorted(labels.items()))
    return tuple(sorted((n, labels[n]) for n in sum_by if labels.get(n)))


def step_index(ts: int, start: int, step: int) -> int:
    """The first evaluation step whose window ``(t - range, t]`` holds ``ts`` (range == step)."""
    return -((start - ts) // step)


class Oracle:
    """Expected answers for one corpus; cheap per-query results are memoised."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._cache: dict[object, object] = {}

    def matching_lines(self, spec: QuerySpec) -> list[int]:
        """Indices (time order) of lines the query's selector and line filter keep."""
        key = ("lines", spec.matchers, spec.line_filter, spec.start, spec.end)
        got = self._cache.get(key)
        if got is None:
            c = self.corpus
            sel = select_streams(c.streams, spec.matchers)
            pred = line_predicate(spec.line_filter)
            lines, ts, sids = c.lines, c.ts, c.sids
            lo, hi = spec.start, spec.end
            idx = [i for i in range(c.n_lines) if sids[i] in sel and lo <= ts[i] < hi]
            if pred is not None:
                idx = [i for i in idx if pred(lines[i])]
            got = self._cache[key] = idx
        return got  # type: ignore[return-value]

    def metric(self, spec: QuerySpec) -> Matrix:
        if spec.range_ns != spec.step:
            raise ValueError("the oracle handles range == step only (every bench query does)")
        c = self.corpus
        out: Matrix = {}
        keys = {sid: series_key(k, spec.sum_by) for sid, k in enumerate(c.streams)}
        nsteps = (spec.end - spec.start) // spec.step
        # Metric queries read (start - range, end]: the window of step 0 reaches back one range.
        widened = QuerySpec(
            spec.id, spec.logql, spec.matchers, spec.line_filter,
            start=spec.start - spec.range_ns + 1, end=spec.end + 1,
        )  # fmt: skip
        for i in self.matching_lines(widened):
            k = step_index(c.ts[i], spec.start, spec.step)
            if 0 <= k <= nsteps:
                t = spec.start + k * spec.step
                series = out.setdefault(keys[c.sids[i]], {})
                series[t] = series.get(t, 0) + 1
        if spec.func == "rate":
            seconds = spec.range_ns / 1e9
            out = {k: {t: v / seconds for t, v in s.items()} for k, s in out.items()}
        return out

    def logs(self, spec: QuerySpec) -> LogResult:
        c = self.corpus
        idx = self.matching_lines(spec)
        chosen = idx[: spec.limit] if spec.direction == "forward" else idx[::-1][: spec.limit]
        keys = {sid: series_key(k, None) for sid, k in enumerate(c.streams)}
        return [(c.ts[i], keys[c.sids[i]], c.lines[i]) for i in chosen]

    def answer(self, spec: QuerySpec) -> Matrix | LogResult:
        key = ("answer", spec.id)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self.metric(spec) if spec.is_metric else self.logs(spec)
        return got  # type: ignore[return-value]

    # Whole-corpus facts the baseline kernels are checked against.

    def count_lines(self, flt: LineFilter | None, matchers=(("job", "=~", ".+"),)) -> int:
        spec = QuerySpec("count", "", tuple(matchers), flt)
        return len(self.matching_lines(spec))

    def boundary_entries(self) -> int:
        """Entries exactly on a step boundary (where open/closed windows would disagree)."""
        return sum(1 for t in self.corpus.ts if (t - T0_NS) % STEP_NS == 0)


def compare_matrix(got: Matrix, want: Matrix, rel: float = 1e-9) -> str | None:
    """None when equal (values within ``rel``), else a short description of the first difference."""
    if set(got) != set(want):
        missing, extra = set(want) - set(got), set(got) - set(want)
        return f"series differ: missing {sorted(missing)[:3]}, unexpected {sorted(extra)[:3]}"
    for key, series in want.items():
        other = got[key]
        if set(other) != set(series):
            diff = sorted(set(other) ^ set(series))[:3]
            return f"{key}: step timestamps differ at {diff}"
        for t, v in series.items():
            if not math.isclose(other[t], v, rel_tol=rel, abs_tol=1e-12):
                return f"{key} at {t}: got {other[t]}, want {v}"
    return None


def compare_logs(got: LogResult, want: LogResult) -> str | None:
    if len(got) != len(want):
        return f"got {len(got)} entries, want {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g != w:
            return f"entry {i}: got {g[:2]} {g[2][:60]!r}, want {w[:2]} {w[2][:60]!r}"
    return None


def total_of(matrix: Matrix) -> float:
    return sum(sum(s.values()) for s in matrix.values())
