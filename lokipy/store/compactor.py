"""Compaction and retention: merge a stream's small chunks, delete chunks past retention.

Crash-safe by ordering, like the flush: new chunk objects first, then one new index segment
holding the tenant's whole surviving index, then the old segments are deleted, then the
chunk objects nothing points at any more. A crash between steps leaves either the old or both
index states; loading both is harmless (duplicate references collapse, and overlapping chunks
are merged with duplicates removed at query time), and the next run finishes the job.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lokipy.chunk import ChunkReader, ChunkWriter, encode_block
from lokipy.model.entry import EntryBatch
from lokipy.model.errors import CorruptData, NotFound
from lokipy.model.labels import Labels
from lokipy.model.stream import stream_id
from lokipy.store.batches import merge_batches
from lokipy.store.index import ChunkRef

if TYPE_CHECKING:
    from lokipy.store.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CompactionResult:
    chunks_deleted: int = 0  # past retention
    chunks_merged: int = 0  # small chunks folded into bigger ones
    chunks_written: int = 0
    streams_removed: int = 0
    orphans_deleted: int = 0  # chunk files no index entry names
    errors: list[str] = field(default_factory=list)


def compact(store: Store, now: int | None = None) -> CompactionResult:
    """One compaction pass over every tenant."""
    now = time.time_ns() if now is None else now
    result = CompactionResult()
    for tenant in store.tenants():
        with store._index_lock:
            _compact_tenant(store, tenant, now, result)
            _sweep_orphans(store, tenant, result)
    return result


def _sweep_orphans(store: Store, tenant: str, result: CompactionResult) -> None:
    """Delete chunk files nothing points at (their entries are in another chunk or the WAL)."""
    for key in store.unreferenced_chunks(tenant):
        log.info("deleting unreferenced chunk file %s", key)
        store.objects.delete(key)
        result.orphans_deleted += 1


def _compact_tenant(store: Store, tenant: str, now: int, result: CompactionResult) -> None:
    cfg = store.config
    old_segments = list(store.objects.list(f"index/{tenant}/"))
    snapshot = store.chunk_refs(tenant)
    retention = cfg.limits_for(tenant).retention_period if cfg.compactor.retention_enabled else 0
    cutoff = now - retention if retention > 0 else None
    survivors: dict[Labels, list[ChunkRef]] = {}
    removed: dict[Labels, list[ChunkRef]] = {}
    added: dict[Labels, list[ChunkRef]] = {}
    for labels, refs in snapshot.items():
        keep = []
        for ref in refs:
            if cutoff is not None and ref.max_ts < cutoff:
                removed.setdefault(labels, []).append(ref)
                result.chunks_deleted += 1
            else:
                keep.append(ref)
        merged = _merge_small(store, tenant, labels, keep, result)
        if merged is not None:
            old, new = merged
            removed.setdefault(labels, []).extend(old)
            added.setdefault(labels, []).append(new)
            keep = sorted([r for r in keep if r not in old] + [new], key=lambda r: r.min_ts)
        survivors[labels] = keep
    if not removed:
        return
    rows = [(labels, ref) for labels, refs in survivors.items() for ref in refs]
    store.write_index_segment(tenant, rows)
    result.streams_removed += store.replace_chunk_refs(tenant, removed, added)
    for key in old_segments:
        store.objects.delete(key)
    # A merge can reproduce one of its inputs byte for byte (a chunk that already held every
    # entry of the others: a retried push or a replayed WAL flushed again), and chunks are
    # named by content: that key is the merged chunk now and its file must stay.
    written = {ref.key for refs in added.values() for ref in refs}
    for refs in removed.values():
        for ref in refs:
            if ref.key in written:
                continue
            store.objects.delete(ref.key)
            store.forget_chunk(ref.key)


def _merge_small(
    store: Store, tenant: str, labels: Labels, refs: list[ChunkRef], result: CompactionResult
) -> tuple[list[ChunkRef], ChunkRef] | None:
    """Fold the stream's run of small chunks into one chunk, if there are at least two."""
    cfg = store.config
    small = [r for r in refs if r.size < cfg.compactor.min_chunk_size]
    group: list[ChunkRef] = []
    total = 0
    for ref in small:
        if total + ref.size > cfg.ingester.chunk_target_size:
            break
        group.append(ref)
        total += ref.size
    if len(group) < 2:
        return None
    batches: list[EntryBatch] = []
    try:
        for ref in group:
            reader = ChunkReader(store.objects.get(ref.key), path=ref.key)
            batches.extend(reader.block(i) for i in range(len(reader.metas)))
    except (CorruptData, NotFound) as err:
        result.errors.append(f"cannot compact {labels}: {err}")
        log.warning("compaction of %s skipped: %s", labels, err)
        return None
    merged = merge_batches(batches)
    writer = ChunkWriter(str(labels).encode("utf-8", "surrogateescape"))
    block_size = cfg.ingester.chunk_block_size
    start = 0
    raw = 0
    n = len(merged)
    for i in range(n + 1):
        if i == n or raw >= block_size:
            if i > start:
                lines = [merged.line(j) for j in range(start, i)]
                md = list(merged.metadata[start:i]) if merged.metadata is not None else None
                writer.add_block(
                    encode_block(merged.timestamps[start:i], lines, md, level=cfg.ingester.zstd_level)
                )
            start, raw = i, 0
        if i < n:
            raw += merged.offsets[i + 1] - merged.offsets[i]
    data = writer.finish()
    key = f"chunks/{tenant}/{stream_id(labels):016x}/{hashlib.sha256(data).hexdigest()[:32]}"
    store.objects.put(key, data, create_only=True)
    new = ChunkRef(key, merged.timestamps[0], merged.timestamps[-1], n, len(merged.data), len(data))
    result.chunks_merged += len(group)
    result.chunks_written += 1
    return group, new
