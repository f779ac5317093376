"""``Store.select_pending``: every batch announced by time bounds that hold for what ``load()``
returns, in the same order and with the same entries as ``select_batches`` — over chunk
blocks, cut head blocks, the open head and overlapping (out-of-order) sources."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from lokipy.config import Config, IngesterConfig, Limits
from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.labels import Labels
from lokipy.model.querier import Direction
from lokipy.store.store import Store

S = 10**9
LABELS = '{app="p"}'


def _entries(batch) -> list[tuple[int, bytes]]:  # type: ignore[no-untyped-def]
    return list(zip(batch.timestamps, batch.lines(), strict=True))


@settings(max_examples=30, deadline=None)
@given(
    pushes=st.lists(st.lists(st.integers(0, 300), min_size=1, max_size=8), min_size=1, max_size=12),
    flush_after=st.integers(0, 12),
    start=st.integers(0, 100),
    length=st.integers(1, 400),
)
def test_pending_batches_equal_selected_batches(
    pushes: list[list[int]], flush_after: int, start: int, length: int
) -> None:
    cfg = Config(
        limits=Limits(discover_service_name=(), discover_log_levels=False),
        ingester=IngesterConfig(chunk_block_size=64, chunk_target_size=256),
    )
    store = Store(cfg, start_flusher=False)
    base = time.time_ns() - 1000 * S
    for k, secs in enumerate(pushes):
        # Out-of-order pushes (within the window) make blocks that overlap in time.
        req = PushRequest(
            [PushStream(LABELS, [base + s * S for s in secs], [f"l{k}-{s}".encode() for s in secs])]
        )
        store.push(req, "t")
        if k + 1 == flush_after:
            store.flush()
    labels = Labels.parse(LABELS)
    lo, hi = base + start * S, base + (start + length) * S
    for direction in (Direction.FORWARD, Direction.BACKWARD):
        batches = [_entries(b) for b in store.select_batches("t", labels, lo, hi, direction)]
        announced = []
        for p in store.select_pending("t", labels, lo, hi, direction):
            assert lo <= p.min_ts <= p.max_ts < hi
            got = p.load()
            assert all(p.min_ts <= t <= p.max_ts for t in got.timestamps)
            if len(got):
                announced.append(_entries(got))
        assert announced == batches
    store.close()
