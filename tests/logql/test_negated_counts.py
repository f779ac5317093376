"""Counting through filters that only drop lines (``!=``, ``!~``, ``!>``): the engine counts
``all - dropped`` per window instead of listing the kept lines. Every shape must equal a naive
per-line count, whichever path (single stream, several streams, metadata batches) it takes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lokipy.logql.engine import Engine
from lokipy.logql.log.filters import dropped, line_filter, line_filter_or
from lokipy.logql.results import Matrix
from lokipy.model.entry import EntryBatch
from tests.logql.memquerier import MemoryQuerier

S = 10**9
WORDS = ["error", "warn", "errors", "info", "err", "ok", "timeout"]


def _naive(lines: list[tuple[int, str]], keep, t: int, rng: int) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for ts, line in lines if t - rng < ts <= t and keep(line))


FILTERS = [
    ('!= "error"', lambda line: "error" not in line),
    ('!= "error" != "warn"', lambda line: "error" not in line and "warn" not in line),
    ('!= "error" or "ok"', lambda line: "error" not in line and "ok" not in line),
    ('!~ "err(or)?s?$"', lambda line: re.search("err(or)?s?$", line) is None),
    ('!~ "(?i)TIME"', lambda line: "time" not in line.lower()),
    ('!= ""', lambda line: False),
    ('|= "o" != "error"', lambda line: "o" in line and "error" not in line),  # mixed: kept list
]


@settings(max_examples=40, deadline=None)
@given(
    streams=st.lists(
        st.lists(
            st.tuples(st.integers(0, 120), st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)),
            max_size=25,
        ),
        min_size=1,
        max_size=4,
    ),
    step=st.integers(1, 20),
    batch_size=st.integers(1, 6),
    with_metadata=st.booleans(),
)
def test_negated_filter_counts_equal_a_naive_count(
    streams: list[list[tuple[int, list[str]]]], step: int, batch_size: int, with_metadata: bool
) -> None:
    q = MemoryQuerier(batch_size=batch_size)
    lines_of: list[list[tuple[int, str]]] = []
    for n, entries in enumerate(streams):
        rows = [(sec * S + n, " ".join(words)) for sec, words in entries]
        pushed: list = []  # type: ignore[type-arg]
        unique = set()  # the store drops exact duplicates (ts, line, metadata)
        for i, (ts, line) in enumerate(rows):
            # Metadata on some entries sends those batches down the per-line path.
            md = with_metadata and i % 3 == 0
            pushed.append((ts, line, {"m": "1"}) if md else (ts, line))
            unique.add((ts, line, md))
        q.push({"app": "x", "n": str(n)}, pushed)
        lines_of.append([(ts, line) for ts, line, _ in unique])
    everything = [e for rows in lines_of for e in rows]
    engine = Engine(q)
    for text, keep in FILTERS:
        for query, per_stream in (
            (f'sum(count_over_time({{app="x"}} {text} [30s]))', False),
            (f'count_over_time({{app="x"}} {text} [30s])', True),
            (f'sum(rate({{app="x"}} {text} [30s]))', False),
        ):
            res = engine.query_range("fake", query, 0, 150 * S, step * S)
            assert isinstance(res.value, Matrix)
            scale = 1 / 30 if "rate" in query else 1.0
            if per_stream:
                got_total: dict[int, float] = {}
                for s in res.value.series:
                    for t, v in zip(s.timestamps, s.values, strict=True):
                        got_total[t] = got_total.get(t, 0.0) + v
                        assert v > 0  # empty steps are absent, never zero
                got = got_total
            else:
                got = {t: v for s in res.value.series for t, v in zip(s.timestamps, s.values, strict=True)}
            want = {}
            for t in range(0, 150 * S + 1, step * S):
                c = _naive(everything, keep, t, 30 * S)
                if c:
                    want[t] = c * scale
            assert got.keys() == want.keys(), (query, got, want)
            assert all(abs(got[t] - want[t]) < 1e-9 for t in want), query


def test_post_filter_lines_count_only_kept_lines() -> None:
    q = MemoryQuerier(batch_size=2)
    q.push({"app": "x"}, [(i * S, "error" if i % 4 == 0 else "fine") for i in range(1, 21)])
    res = Engine(q).query_instant("fake", 'count_over_time({app="x"} != "error" [1m])', 30 * S)
    assert res.stats.total_lines_processed == 20
    assert res.stats.total_post_filter_lines == 15
    assert [s.value for s in res.value.samples] == [15.0]  # type: ignore[union-attr]


def _batch(lines: list[bytes]) -> EntryBatch:
    return EntryBatch.from_entries([(i, line, ()) for i, line in enumerate(lines)])


@pytest.mark.parametrize(
    ("flt", "want"),
    [
        (line_filter("!=", "ab"), [0, 2]),
        (line_filter("|=", "ab"), None),  # keeps matches: no drop list
        (line_filter_or("!=", [("ab", False), ("zz", False)]), [0, 2, 3]),
        (line_filter("!~", "^c"), [1]),
    ],
)
def test_dropped_lists_exactly_the_lines_a_negated_filter_removes(flt, want) -> None:  # type: ignore[no-untyped-def]
    b = _batch([b"xaby", b"cd", b"ab", b"zz"])
    got = dropped(flt, b)
    assert got == want
    if want is not None:
        assert sorted(set(range(len(b))) - set(got)) == list(flt.select(b))
