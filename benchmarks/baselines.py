"""Same-run limits: what this machine does with the same data and no store in the way.

Every target in ``docs/performance.md`` is a ratio to one of these, measured in the same run so
that machine speed and load cancel out: zstd decompression, decompress + ``bytes.find``, the
bulk count kernel, RE2 over blocks, the timestamp-column kernel, SQLite ``executemany`` and
``LIKE`` over the same rows, and ``zstd -3`` of the raw text. Each kernel's answer is checked
against the oracle: a floor that computes the wrong thing is no floor.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import zstandard

from benchmarks import kernels
from benchmarks.datasets import Block, Corpus
from benchmarks.oracle import (
    LineFilter,
    Matrix,
    Oracle,
    QuerySpec,
    SeriesKey,
    compare_matrix,
    series_key,
)
from benchmarks.querytable import by_id
from benchmarks.results import Measurement, Results
from benchmarks.timing import Task, Timing, measure, measure_many

_NEQ_ALL = QuerySpec(
    "neq-all",
    'sum(count_over_time({job=~".+"} != "error" [1m]))',
    (("job", "=~", ".+"),),
    LineFilter("!=", b"error"),
    func="count_over_time",
    sum_by=(),
)


def _keys(corpus: Corpus, sum_by: tuple[str, ...] | None) -> dict[int, SeriesKey]:
    return {sid: series_key(k, sum_by) for sid, k in enumerate(corpus.streams)}


def _count_task(name: str, spec: QuerySpec, corpus: Corpus, blocks: list[Block]) -> tuple[Task, QuerySpec]:
    key_of = _keys(corpus, spec.sum_by)
    per_second = spec.range_ns / 1e9 if spec.func == "rate" else None

    def run() -> Matrix:
        return kernels.metric_counts(
            blocks, spec.line_filter, key_of, spec.start, spec.end, spec.step, per_second
        )

    return Task(name, run), spec


def measure_baselines(
    corpus: Corpus,
    blocks: list[Block],
    oracle: Oracle,
    res: Results,
    runs: int = 3,
    min_time: float = 0.5,
    tmp: Path | None = None,
    with_insert: bool = True,
) -> None:
    """The scan kernels (interleaved), SQLite and zstd -3. ``with_insert=False`` leaves the
    SQLite insert to the ingest benchmark, which interleaves it with lokipy's own ingest."""
    raw, nl = corpus.raw_bytes, corpus.n_lines
    n_error = oracle.count_lines(LineFilter("|=", b"error"))
    counts = [
        _count_task("limit.count_kernel", by_id("Q1a").spec, corpus, blocks),
        _count_task("limit.neq_kernel", _NEQ_ALL, corpus, blocks),
        _count_task("limit.re2_kernel", by_id("Q4a").spec, corpus, blocks),
        _count_task("limit.ts_kernel", by_id("Q5a").spec, corpus, blocks),
    ]
    tasks = [
        Task("limit.zstd_decompress", lambda: kernels.decompress_all(blocks)),
        Task("limit.decompress_find", lambda: kernels.count_find(blocks, b"error")),
        *(task for task, _ in counts),
    ]
    timings = measure_many(tasks, runs, min_time=min_time)
    res.add(
        Measurement(
            "limit.zstd_decompress",
            "zstd decompress of every 256 KiB block",
            timings["limit.zstd_decompress"],
            nbytes=raw,
            nlines=nl,
        )
    )
    t = timings["limit.decompress_find"]
    res.add(
        Measurement(
            "limit.decompress_find",
            "zstd decompress + bytes.find 'error' over whole blocks, count lines",
            t,
            nbytes=raw,
            nlines=nl,
            check="lines containing 'error' == oracle",
            error=None if t.result == n_error else f"{t.result} != {n_error}",
        )
    )
    whats = {
        "limit.count_kernel": "decompress + find + bisect ts/offset columns -> per-step counts",
        "limit.neq_kernel": "decompress + bulk != 'error' -> per-step counts",
        "limit.re2_kernel": "decompress + RE2 search over whole blocks -> per-step counts",
        "limit.ts_kernel": "timestamp column: zstd int64 -> array -> bisect step bounds",
    }
    for task, spec in counts:
        t = timings[task.name]
        res.add(
            Measurement(
                task.name,
                f"{whats[task.name]}: {spec.logql}",
                t,
                nbytes=None if task.name == "limit.ts_kernel" else raw,
                nlines=nl,
                check="matrix == oracle",
                error=compare_matrix(t.result, oracle.metric(spec)),
            )
        )
    with tempfile.TemporaryDirectory(prefix="lokipy-bench-sqlite-", dir=tmp) as d:
        insert = SqliteInsert(corpus, Path(d))
        if with_insert:
            res.add(insert.measurement(measure_many([insert.task()], runs)[insert.task().name]))
        _sqlite_like(insert.database(), corpus, oracle, res, runs)
    _zstd3(corpus, blocks, res)


class SqliteInsert:
    """What a Python user would otherwise pick: one table, rows inserted in one transaction."""

    def __init__(self, corpus: Corpus, tmp: Path, name: str = "limit.sqlite_executemany") -> None:
        self.name = name
        self.corpus = corpus
        self.tmp = tmp
        self.rows: list[tuple[int, int, str]] = []
        self.made: list[Path] = []
        self.count = 0

    def setup(self) -> sqlite3.Connection:
        # Rows are built per run (untimed) and dropped after it: millions of live tuples would
        # slow every cyclic-GC pass of the lokipy runs interleaved with this one.
        cols = zip(self.corpus.ts, self.corpus.sids, self.corpus.lines, strict=True)
        self.rows = [(t, s, ln.decode()) for t, s, ln in cols]
        for old in self.made:  # keep only the newest database on disk
            old.unlink(missing_ok=True)
        path = self.tmp / f"{self.name}-{len(self.made)}.db"  # one insert per name in a folder
        self.made.append(path)
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE logs(ts INTEGER NOT NULL, stream INTEGER NOT NULL, line TEXT NOT NULL)")
        con.commit()
        return con

    def insert(self, con: sqlite3.Connection) -> int:
        with con:
            con.executemany("INSERT INTO logs VALUES (?,?,?)", self.rows)
        return len(self.rows)

    def teardown(self, con: sqlite3.Connection) -> None:
        self.count = con.execute("SELECT count(*) FROM logs").fetchone()[0]
        con.close()
        self.rows = []

    def task(self) -> Task:
        return Task(self.name, self.insert, self.setup, self.teardown)

    def database(self) -> Path:
        """The newest filled database (filled now, untimed, if the insert was not measured)."""
        if not self.made:
            con = self.setup()
            self.insert(con)
            self.teardown(con)
        return self.made[-1]

    def measurement(self, t: Timing) -> Measurement:
        n = self.corpus.n_lines
        return Measurement(
            self.name,
            "SQLite executemany of (ts, stream, line) rows, one transaction, file on disk",
            t,
            nbytes=self.corpus.raw_bytes,
            nlines=n,
            check="rows stored == lines",
            error=None if self.count == n else f"{self.count} rows, want {n}",
            extra={"db_bytes": self.made[-1].stat().st_size},
        )


def _sqlite_like(db: Path, corpus: Corpus, oracle: Oracle, res: Results, runs: int) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA cache_size=-1000000")
    query = "SELECT count(*) FROM logs WHERE line LIKE '%error%'"
    con.execute(query).fetchone()  # warm the page cache
    t = measure(lambda: con.execute(query).fetchone()[0], runs)
    want = oracle.count_lines(LineFilter("|~", b"(?i)error"))  # LIKE is ASCII case-insensitive
    res.add(
        Measurement(
            "limit.sqlite_like",
            "SQLite SELECT count(*) WHERE line LIKE '%error%', warm cache",
            t,
            nbytes=corpus.raw_bytes,
            nlines=corpus.n_lines,
            check="count == oracle (?i)error",
            error=None if t.result == want else f"{t.result} != {want}",
        )
    )
    con.close()


def _zstd3(corpus: Corpus, blocks: list[Block], res: Results) -> None:
    """``zstd -3`` of the raw text in time order: the S1 storage floor."""
    text = b"\n".join(corpus.lines) + b"\n"
    comp = zstandard.ZstdCompressor(level=3)
    t = measure(lambda: len(comp.compress(text)), 1)
    blocks_bytes = sum(len(b.z3) + len(b.zts) for b in blocks)
    res.add(
        Measurement(
            "limit.zstd3_raw",
            "zstd -3 of the raw text (time order, one frame)",
            t,
            nbytes=len(text),
            value=t.result,
            unit="bytes",
            extra={
                "ratio_raw_over_zstd3": len(text) / t.result,
                "blocks_zstd3_text_and_ts_bytes": blocks_bytes,
            },
        )
    )
