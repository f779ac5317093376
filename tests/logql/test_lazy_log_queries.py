"""Limited log queries over many streams read a block only when its time range can still
contribute: each source announces a block by its time bounds (a watermark the merge discards)
before reading it. The answers must be exactly those of the eager path and of a brute-force
merge (ties by stream label, direction, limit, interval), and blocks older than the limit-th
result must never be decompressed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

from lokipy.config import Config, IngesterConfig, Limits
from lokipy.logql.engine import Engine
from lokipy.logql.results import Streams
from lokipy.model.entry import EntryBatch, PushRequest, PushStream
from lokipy.model.labels import Labels
from lokipy.model.querier import Direction, PendingBatch
from lokipy.store.store import Store
from tests.logql.memquerier import MemoryQuerier

S = 10**9


class PendingQuerier(MemoryQuerier):
    """The memory querier with ``select_pending``; counts the batches actually loaded."""

    def __init__(self, batch_size: int = 3) -> None:
        super().__init__(batch_size)
        self.loads = 0

    def select_pending(
        self, tenant, labels, start, end, direction=Direction.FORWARD
    ) -> Iterator[PendingBatch]:  # type: ignore[no-untyped-def]
        for batch in self.select_batches(tenant, labels, start, end, direction):
            ts = batch.timestamps
            yield PendingBatch(ts[0], ts[-1], partial(self._load, batch))

    def _load(self, batch: EntryBatch) -> EntryBatch:
        self.loads += 1
        return batch


class EagerQuerier:
    """Only ``select_streams``/``select_batches`` of another querier: the unoptimised path
    (a batch is read before anything is known about it)."""

    def __init__(self, inner: object) -> None:
        self.select_streams = inner.select_streams  # type: ignore[attr-defined]
        self.select_batches = inner.select_batches  # type: ignore[attr-defined]


def flat(res: Streams) -> list[tuple[str, int, str]]:
    return [(str(s.labels), t, line) for s in res.streams for t, line in s.entries]


QUERIES = [
    '{app="p"}',
    '{app="p"} |= "err"',
    '{app="p"} != "err"',
    '{app="p"} |~ "err$"',
    '{app="p"} |= "err" | label_format kind="x"',
]


@settings(max_examples=40, deadline=None)
@given(
    streams=st.lists(
        st.lists(
            st.tuples(st.integers(0, 40), st.sampled_from(["ok", "err", "ok err", "errx"])), max_size=15
        ),
        min_size=1,
        max_size=6,
    ),
    limit=st.integers(1, 12),
    forward=st.booleans(),
    interval=st.integers(0, 3),
    start=st.integers(0, 10),
    end=st.integers(10, 41),
    batch_size=st.integers(1, 4),
)
def test_watermarked_merge_equals_eager_merge_and_brute_force(
    streams: list[list[tuple[int, str]]],
    limit: int,
    forward: bool,
    interval: int,
    start: int,
    end: int,
    batch_size: int,
) -> None:
    lazy = PendingQuerier(batch_size)
    for n, rows in enumerate(streams):
        # Equal timestamps across streams and within one stream exercise the tie order.
        lazy.push(
            {"app": "p", "n": str(n)},
            [(t * S, f"{line} {n}-{t}-{i % 2}") for i, (t, line) in enumerate(rows)],
        )
    eager = EagerQuerier(lazy)
    direction = Direction.FORWARD if forward else Direction.BACKWARD
    for query in QUERIES:
        args = ("fake", query, start * S, end * S, 0)
        kw = {"limit": limit, "direction": direction, "interval": interval * S}
        got = Engine(lazy).query_range(*args, **kw)  # type: ignore[arg-type]
        want = Engine(eager).query_range(*args, **kw)  # type: ignore[arg-type]
        assert flat(got.value) == flat(want.value), query  # type: ignore[arg-type]
        assert got.value.streams == want.value.streams  # type: ignore[union-attr]
    # Against a brute-force merge (label-string order breaks ties between streams, push
    # order within one).
    everything = []
    for n, rows in enumerate(streams):
        key = f'{{app="p", n="{n}"}}'
        seen = set()
        for i, (t, line) in enumerate(rows):
            text = f"{line} {n}-{t}-{i % 2}"
            if start <= t < end and (t, text) not in seen:
                seen.add((t, text))
                everything.append((t, key, i, text))
    everything.sort(key=lambda e: (e[0] if forward else -e[0], e[1], e[2] if forward else -e[2]))
    for query, keep in (
        ('{app="p"}', lambda text: True),
        ('{app="p"} |= "err"', lambda text: "err" in text),
        ('{app="p"} != "err"', lambda text: "err" not in text),
    ):
        picked, last = [], None
        for t, key, _, text in everything:
            if not keep(text):
                continue
            if interval and last is not None and (t < last + interval if forward else t > last - interval):
                continue
            picked.append((key, t * S, text))
            last = t
            if len(picked) == limit:
                break
        res = Engine(lazy).query_range(
            "fake", query, start * S, end * S, 0, limit=limit, direction=direction, interval=interval * S
        )
        assert sorted(flat(res.value)) == sorted(picked), query  # type: ignore[arg-type]


def test_streams_without_recent_matches_do_not_read_older_batches() -> None:
    q = PendingQuerier(batch_size=5)
    q.push({"app": "p", "n": "hot"}, [(t * S, f"err {t}") for t in range(100, 200)])
    for n in range(5):
        # Old matches, then a long run without any: their newest batches hold no match.
        q.push({"app": "p", "n": f"cold{n}"}, [(t * S, "err" if t < 20 else "ok") for t in range(0, 200, 2)])
    res = Engine(q).query_range("fake", '{app="p"} |= "err"', 0, 1000 * S, 0, limit=10)
    assert [t for _, t, _ in flat(res.value)] == [t * S for t in range(199, 189, -1)]
    # hot: its newest batches up to t=190 (2 of 5 lines each, 10 results); cold: one batch
    # each (the newest, t>=190, to learn it has no match), none of their older batches.
    assert q.loads == 2 + 5
    assert res.stats.total_lines_processed == 2 * 5 + 5 * 5


# --- the real store: blocks announced from chunk metadata, counted by the scan stats ----------


def _store() -> Store:
    cfg = Config(
        limits=Limits(discover_service_name=(), discover_log_levels=False),
        ingester=IngesterConfig(chunk_block_size=300, chunk_target_size=2000),
    )
    return Store(cfg, start_flusher=False)


def _push(store: Store, labels: str, rows: list[tuple[int, str]]) -> None:
    for i in range(0, len(rows), 10):  # small pushes: the head cuts a block every ~300 bytes
        part = rows[i : i + 10]
        req = PushRequest([PushStream(labels, [t for t, _ in part], [line.encode() for _, line in part])])
        res = store.push(req, "t")
        assert not res.errors, res.errors


def test_store_reads_only_blocks_reaching_the_limit_th_result() -> None:
    store = _store()
    base = time.time_ns() - 3600 * S
    hot = '{app="p", n="hot"}'
    _push(store, hot, [(base + t * S, f"error line {t:04d}") for t in range(0, 600)])
    colds = [f'{{app="p", n="cold{n}"}}' for n in range(4)]
    for labels in colds:
        _push(
            store,
            labels,
            [(base + t * S + 1, ("error" if t < 50 else "fine") + f" {t:04d}") for t in range(600)],
        )
    store.flush()
    engine = Engine(store)
    lazy_res = engine.query_range("t", '{app="p"} |= "error"', base, base + 3600 * S, 0, limit=30)
    eager_res = Engine(EagerQuerier(store)).query_range(
        "t", '{app="p"} |= "error"', base, base + 3600 * S, 0, limit=30
    )
    assert flat(lazy_res.value) == flat(eager_res.value)  # type: ignore[arg-type]
    entries = flat(lazy_res.value)  # type: ignore[arg-type]
    assert len(entries) == 30 and {k for k, _, _ in entries} == {hot}
    edge = min(t for _, t, _ in entries)
    # Exactly the blocks whose newest entry is at or after the 30th result must be read.
    want_lines = want_bytes = 0
    blocks = 0
    for labels in [hot, *colds]:
        for p in store.select_pending("t", Labels.parse(labels), base, base + 3600 * S, Direction.BACKWARD):
            blocks += 1
            if p.max_ts >= edge:
                b = p.load()
                want_lines += len(b)
                want_bytes += b.offsets[len(b)] - b.offsets[0]
    assert blocks > 5 * 4  # many blocks per stream, so most must stay compressed
    assert lazy_res.stats.total_lines_processed == want_lines
    assert lazy_res.stats.total_bytes_processed == want_bytes
    # Without block bounds a source must read a block to learn it has nothing (one block
    # more per cold stream); the old merge read each cold stream down to its matches at t < 50.
    assert eager_res.stats.total_lines_processed > want_lines
    assert want_lines < (5 * 600) // 5  # of the 3000 lines stored
    # Forward: only the blocks reaching the limit-th result from the start.
    fwd = engine.query_range(
        "t", '{app="p"} |= "error"', base, base + 3600 * S, 0, limit=30, direction=Direction.FORWARD
    )
    fwd_eager = Engine(EagerQuerier(store)).query_range(
        "t", '{app="p"} |= "error"', base, base + 3600 * S, 0, limit=30, direction=Direction.FORWARD
    )
    assert flat(fwd.value) == flat(fwd_eager.value)  # type: ignore[arg-type]
    assert fwd.stats.total_lines_processed <= fwd_eager.stats.total_lines_processed
