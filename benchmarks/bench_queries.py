"""Q1-Q6: each query through lokipy, and the same-work floor kernel, both checked by the oracle.

A query's baseline is its *floor*: the kernel of its class (``querytable.BenchQuery.floor``) run
over exactly the blocks of the streams the query selects, producing the same answer. The ratio
``floor p50 / query p50`` is then the throughput ratio over the same bytes, which is how
``docs/performance.md`` states the targets (Q6 is an absolute latency target instead).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks import kernels
from benchmarks.datasets import Block, Corpus
from benchmarks.oracle import (
    LogResult,
    Matrix,
    Oracle,
    QuerySpec,
    compare_logs,
    compare_matrix,
    select_streams,
    series_key,
    total_of,
)
from benchmarks.querytable import QUERIES, BenchQuery
from benchmarks.results import Measurement, Results
from benchmarks.timing import Task, Timing, measure, measure_many

MIN_QUERY_RUNS = 5


def _selected(corpus: Corpus, blocks: list[Block], spec: QuerySpec) -> list[Block]:
    sel = select_streams(corpus.streams, spec.matchers)
    return [b for b in blocks if b.sid in sel]


def _floor_fn(q: BenchQuery, corpus: Corpus, blks: list[Block]) -> Any:
    spec = q.spec
    if q.floor == "decompress+find" and spec.is_metric:
        assert spec.line_filter is not None
        needle = spec.line_filter.pattern
        return lambda: kernels.count_find(blks, needle)
    key_of = {
        sid: series_key(k, spec.sum_by if spec.is_metric else None) for sid, k in enumerate(corpus.streams)
    }
    if spec.is_metric:
        per_second = spec.range_ns / 1e9 if spec.func == "rate" else None
        return lambda: kernels.metric_counts(
            blks, spec.line_filter, key_of, spec.start, spec.end, spec.step, per_second
        )
    return lambda: kernels.log_query(
        blks, spec.line_filter, key_of, spec.limit, spec.direction, spec.start, spec.end
    )


def check_answer(spec: QuerySpec, got: Any, oracle: Oracle) -> str | None:
    want = oracle.answer(spec)
    if isinstance(got, int):  # a count-only floor: compare the total
        total = total_of(want)  # type: ignore[arg-type]
        return None if got == total else f"{got} lines, want {total}"
    if spec.is_metric:
        return compare_matrix(got, want)  # type: ignore[arg-type]
    return compare_logs(got, want)  # type: ignore[arg-type]


def _floor_measurement(q: BenchQuery, t: Timing, blks: list[Block], oracle: Oracle) -> Measurement:
    return Measurement(
        f"floor.{q.spec.id}",
        f"{q.floor} kernel, same blocks and answer as {q.spec.id}",
        t,
        nbytes=sum(len(b.text) + 1 for b in blks),
        nlines=sum(b.nlines for b in blks),
        check=f"answer == oracle({q.spec.id})",
        error=check_answer(q.spec, t.result, oracle),
    )


def measure_floors(
    corpus: Corpus,
    blocks: list[Block],
    oracle: Oracle,
    res: Results,
    runs: int = MIN_QUERY_RUNS,
    min_time: float = 0.2,
) -> None:
    """The floors alone (when lokipy's queries are not run; otherwise they are interleaved)."""
    for q in QUERIES:
        blks = _selected(corpus, blocks, q.spec)
        t = measure(_floor_fn(q, corpus, blks), max(runs, MIN_QUERY_RUNS), min_time=min_time)
        res.add(_floor_measurement(q, t, blks, oracle))


# --- lokipy's answers ------------------------------------------------------------------------


def _ns(ts: Any) -> int:
    """Loki matrix timestamps are float seconds; stream timestamps are ns strings."""
    if isinstance(ts, str):
        return int(ts) if "." not in ts else round(float(ts) * 1000) * 1_000_000
    if isinstance(ts, int) and ts > 10**15:
        return ts
    return round(float(ts) * 1000) * 1_000_000


def normalise(data: dict[str, Any], spec: QuerySpec) -> Matrix | LogResult:
    """Loki's ``data`` object (matrix or streams) in the oracle's shapes."""
    kind = data.get("resultType")
    if kind == "matrix":
        out: Matrix = {}
        for series in data["result"]:
            key = tuple(sorted(series["metric"].items()))
            points = out.setdefault(key, {})
            for ts, value in series["values"]:
                points[_ns(ts)] = float(value)
        return out
    if kind == "streams":
        entries: LogResult = []
        for stream in data["result"]:
            key = tuple(sorted(stream["stream"].items()))
            for value in stream["values"]:
                line = value[1]
                entries.append((int(value[0]), key, line.encode() if isinstance(line, str) else line))
        entries.sort(key=lambda e: e[0], reverse=spec.direction != "forward")
        return entries
    raise ValueError(f"unexpected resultType {kind!r} for {spec.id}")


def engine_available(store: Any) -> str | None:
    """None when lokipy can run LogQL; else why the query rows are skipped."""
    if hasattr(store, "query"):
        return None
    try:
        from lokipy.logql.engine import Engine  # noqa: F401
    except ImportError as exc:
        return f"the LogQL engine has not landed ({exc})"
    return None


def run_query(store: Any, spec: QuerySpec) -> dict[str, Any]:
    """Loki's ``data`` object for the query, as ``/loki/api/v1/query_range`` would return it.

    Through ``LogStore.query_range_data`` once ``LogStore.query`` exists; until then the engine
    is driven directly over the store (what that method will do).
    """
    from lokipy.model.querier import Direction

    direction = Direction(spec.direction)
    limit = spec.limit or 100
    if hasattr(store, "query"):
        return store.query_range_data(
            spec.logql, spec.start, spec.end, spec.step, limit=limit, direction=direction
        )
    from lokipy.logql.engine import Engine, QueryLimits
    from lokipy.logql.results import to_loki_data

    engine = Engine(store.store, QueryLimits(max_entries_limit_per_query=0, max_query_series=0))
    result = engine.query_range(
        store.tenant, spec.logql, spec.start, spec.end, spec.step, limit=limit, direction=direction
    )
    return to_loki_data(result)


def measure_queries(
    store: Any,
    corpus: Corpus,
    blocks: list[Block],
    oracle: Oracle,
    res: Results,
    runs: int = MIN_QUERY_RUNS,
    min_time: float = 0.2,
) -> None:
    """Each query and its floor, timed round-robin so that load bursts hit both alike."""
    for q in QUERIES:
        spec = q.spec
        blks = _selected(corpus, blocks, spec)
        floor = Task("floor", _floor_fn(q, corpus, blks))
        query = Task("query", lambda spec=spec: run_query(store, spec))
        try:
            timings = measure_many([floor, query], max(runs, MIN_QUERY_RUNS), min_time=min_time)
        except Exception as exc:  # a crash is a failed check, reported with the query
            res.add(
                Measurement(
                    spec.id, spec.logql, check="answer == oracle", error=f"{type(exc).__name__}: {exc}"
                )
            )
            continue
        res.add(_floor_measurement(q, timings["floor"], blks, oracle))
        t = timings["query"]
        try:
            error = check_answer(spec, normalise(t.result, spec), oracle)
        except Exception as exc:
            error = f"unreadable answer: {type(exc).__name__}: {exc}"
        res.add(
            Measurement(
                spec.id,
                spec.logql,
                t,
                nbytes=sum(len(b.text) + 1 for b in blks),
                nlines=sum(b.nlines for b in blks),
                check=f"answer == oracle({spec.id})",
                error=error,
            )
        )


def query_store(proto_bodies: list[bytes], tmp: Path | None) -> tuple[Any, Path]:
    """A flushed on-disk store holding the whole corpus (the state queries run against)."""
    from benchmarks.bench_ingest import PROTO_TYPE, bench_config
    from lokipy.logstore import LogStore

    d = Path(tempfile.mkdtemp(prefix="lokipy-bench-query-", dir=tmp))
    store = LogStore(d, bench_config())
    for body in proto_bodies:
        r = store.push_body(body, PROTO_TYPE)
        if r.errors:
            raise RuntimeError(f"query store: push rejected: {r.message[:300]}")
    store.flush()
    return store, d
