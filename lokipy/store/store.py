"""The store: validated pushes → WAL → heads → chunks on disk, and reads back by matchers.

It knows the model and the chunk format, never LogQL text or HTTP. Flushing is ordered so a
crash at any point loses nothing and leaves no dangling reference: chunk object first, then
the index segment that points at it, then the WAL marker that lets older segments go.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lokipy.chunk import ChunkReader, ChunkWriter, decode_block, decode_block_columns
from lokipy.config import Config
from lokipy.model.entry import EntryBatch, PushRequest
from lokipy.model.errors import CorruptData, NotFound, StorageUnavailable
from lokipy.model.labels import Labels
from lokipy.model.matchers import LabelMatcher
from lokipy.model.querier import Direction, PendingBatch
from lokipy.model.stream import stream_id
from lokipy.store.batches import Source, clusters, merge_batches, same, slice_range, without_text
from lokipy.store.compactor import CompactionResult, compact
from lokipy.store.distributor import Distributor, ValidStream, summarise_errors
from lokipy.store.head import AppendResult, ClosedChunk, FlushReason, StreamHead
from lokipy.store.index import ChunkRef, StreamInfo, TenantIndex, decode_segment, encode_segment
from lokipy.store.objstore import LocalObjectStore, MemoryObjectStore, ObjectStore
from lokipy.store.wal import (
    WAL,
    EntriesRecord,
    FlushedRecord,
    Position,
    RecordType,
    encode_entries,
    encode_flushed,
)

log = logging.getLogger(__name__)

_CHUNK_CACHE_BYTES = 256 << 20
_FLUSH_BATCH_BYTES = 16 << 20  # encoded chunk bytes held before a batch is written and synced:
# ~10 full chunks or ~25 000 tiny ones; bounds the extra memory of a flush (peak RSS)
_NO_POS: Position = (0, 0)
_EMPTY_BATCH = EntryBatch([], b"", [0])


@dataclass(slots=True)
class PushResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    rate_limited: bool = False  # some error is a 429-class limit (streams per tenant)

    @property
    def message(self) -> str:
        return summarise_errors(self.errors)


@dataclass(slots=True)
class StoreStats:
    """Counters for /metrics and the sink: what came in and what went to disk."""

    lines_received: int = 0
    bytes_received: int = 0
    duplicates: int = 0
    rejected: int = 0
    chunks_flushed: int = 0
    chunk_bytes_flushed: int = 0
    flush_reasons: dict[str, int] = field(default_factory=dict)
    corrupt_files: int = 0  # found at start-up (quarantined or skipped)
    corrupt_blocks: int = 0  # met at query time (skipped)
    compactions: int = 0


class Store:
    """A multi-tenant log store on a data directory (or in memory when ``data_dir`` is None)."""

    def __init__(self, config: Config, *, start_flusher: bool = True) -> None:
        self.config = config
        self._distributors: dict[str, Distributor] = {}
        self.stats = StoreStats()
        self._lock = threading.RLock()
        # Held from writing an index segment until its refs are registered, and by the
        # compactor for a whole tenant pass, so compaction never drops a fresh segment.
        self._index_lock = threading.Lock()
        self._inflight_chunks: set[str] = set()  # chunk objects written, not yet in the index
        self._flush_lock = threading.Lock()  # taken before _lock, never while holding it
        self._tenants: dict[str, TenantIndex] = {}
        self._chunk_cache: OrderedDict[str, tuple[ChunkReader, int]] = OrderedDict()
        self._chunk_cache_bytes = 0
        self._index_seq = 0
        self._closed = False
        self._writer_id = f"{time.time_ns():x}"
        self.objects: ObjectStore
        self.wal: WAL | None = None
        if config.data_dir is None:
            self.objects = MemoryObjectStore()
        else:
            root = Path(config.data_dir)
            root.mkdir(parents=True, exist_ok=True)
            self.objects = LocalObjectStore(root / "store")
            self._load_index()
            if config.wal.enabled:
                self.wal = WAL(root / "wal", config.wal.segment_size, config.wal.fsync)
                self._replay_wal()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if start_flusher:
            self._flusher = threading.Thread(target=self._flush_loop, name="lokipy-flush", daemon=True)
            self._flusher.start()

    # --- push -------------------------------------------------------------------------------

    def push(self, req: PushRequest, tenant: str, now: int | None = None) -> PushResult:
        """Validate, log to the WAL, append to heads. Raises for whole-request rejections."""
        now = time.time_ns() if now is None else now
        validated = self.distributor(tenant).validate(req, tenant, now)
        result = PushResult(rejected=validated.rejected_entries, errors=list(validated.errors))
        if validated.streams:
            self._append(tenant, validated.streams, now, result)
        self.stats.rejected += result.rejected
        return result

    def distributor(self, tenant: str) -> Distributor:
        """The tenant's validator, with its own limits (``overrides``) and rate limiter."""
        found = self._distributors.get(tenant)
        if found is None:
            found = self._distributors.setdefault(tenant, Distributor(self.config.limits_for(tenant)))
        return found

    def _append(self, tenant: str, streams: list[ValidStream], now: int, result: PushResult) -> None:
        with self._lock:
            if self._closed:
                raise StorageUnavailable("the store is shutting down")
            index = self._tenant(tenant)
            streams = self._admit_streams(tenant, index, streams, result)
            if not streams:
                return
            pos = _NO_POS
            if self.wal is not None:
                pos = self.wal.append(RecordType.ENTRIES, encode_entries(tenant, streams))
            window = self.config.ingester.max_chunk_age // 2
            counted = AppendResult()
            for s in streams:
                result.accepted += self._append_stream(index, tenant, s, pos, now, window, counted)
            self._count(result, counted, sum(s.byte_size() for s in streams))

    def _count(self, result: PushResult, counted: AppendResult, nbytes: int) -> None:
        """Fold one push's (or replay's) duplicates and rejections into the result and stats."""
        result.duplicates += counted.duplicates
        if counted.errors:
            result.errors.extend(counted.errors)
            result.rejected += len(counted.errors)
        self.stats.lines_received += result.accepted
        self.stats.bytes_received += nbytes
        self.stats.duplicates += counted.duplicates

    def _admit_streams(
        self, tenant: str, index: TenantIndex, streams: list[ValidStream], result: PushResult
    ) -> list[ValidStream]:
        """Loki's active-stream limit: a new stream past ``max_global_streams_per_user`` is refused."""
        limit = self.config.limits_for(tenant).max_global_streams_per_user
        if limit <= 0:
            return streams
        active = index.active_heads
        admitted = []
        for s in streams:
            info = index.streams.get(s.labels)
            if info is None or info.head is None:
                if active >= limit:
                    result.errors.append(
                        "maximum active stream limit exceeded when trying to create stream "
                        f"{s.labels}, reduce the number of active streams (reduce labels or reduce "
                        "label values), or contact your Loki administrator to see if the limit can "
                        f"be increased, user: '{tenant}'"
                    )
                    result.rejected += len(s.timestamps)
                    result.rate_limited = True
                    continue
                active += 1
            admitted.append(s)
        return admitted

    def _append_stream(
        self,
        index: TenantIndex,
        tenant: str,
        s: ValidStream,
        pos: Position,
        now: int,
        window: int | None,
        counted: AppendResult,
    ) -> int:
        """Append one stream's entries to its head; returns how many were kept."""
        info = index.stream(s.labels)
        head = info.head
        if head is None:
            ing = self.config.ingester
            head = info.head = StreamHead(tenant, s.labels, ing.chunk_block_size, ing.zstd_level)
            index.active_heads += 1
        accepted = head.append(
            s.timestamps, s.text, s.lengths, s.metadata, pos, now, window, counted, increasing=s.increasing
        )
        if head.blocks and head.should_close(self.config.ingester.chunk_target_size):
            # The chunk holds this stream's entries up to and including the record at ``pos``,
            # so it is closed just past that record, not at the WAL's end: during replay the
            # WAL's end lies beyond records still to be replayed into the next head, and a
            # FLUSHED marker covering them would make the next replay drop them (data loss
            # after two crashes in a row).
            self._close_head(info, FlushReason.FULL, closed_at=(pos[0], pos[1] + 1))
        return accepted

    def _close_head(
        self,
        info: StreamInfo,
        reason: FlushReason,
        closed_at: Position | None = None,
    ) -> None:
        """Move everything the head holds into a pending chunk (lock held)."""
        head = info.head
        if head is None:
            return
        if closed_at is not None:
            pos = closed_at
        else:
            pos = self.wal.position() if self.wal is not None else _NO_POS
        chunk = head.close(pos, reason)
        if chunk is not None:
            info.pending.append(chunk)

    # --- flushing ---------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        period = self.config.ingester.flush_check_period / 1e9
        last_compaction = time.monotonic()
        while not self._stop.wait(period):
            try:
                self.flush(reason=None)
                if time.monotonic() - last_compaction > self.config.compactor.compaction_interval / 1e9:
                    last_compaction = time.monotonic()
                    self.compact()
                    self.stats.compactions += 1
            except StorageUnavailable as err:
                log.warning("flush failed, will retry: %s", err)
            except Exception:  # noqa: BLE001 - the flusher must survive any bug and retry
                log.exception("unexpected error in the flush loop")

    def flush(self, reason: FlushReason | None = FlushReason.FORCED) -> int:
        """Close heads that are due (or all of them, with a reason) and write pending chunks.

        Returns the number of chunks written. One flush at a time: the flusher thread checks
        every ``flush_check_period`` (1 s), and without the lock it would write again every
        chunk a slower flush (a forced one, or shutdown) is still writing.
        """
        with self._flush_lock:
            return self._flush(reason)

    def _flush(self, reason: FlushReason | None) -> int:
        ing = self.config.ingester
        now = time.time_ns()
        with self._lock:
            wal_pressure = self.wal is not None and self.wal.size_bytes() > self.config.wal.max_bytes
            oldest_pin = self._oldest_pin() if wal_pressure else None
            for index in self._tenants.values():
                for info in index.streams.values():
                    head = info.head
                    if head is None:
                        continue
                    if head.is_empty():
                        if now - head.last_append_ns > ing.chunk_idle_period:
                            index.drop_head(info)  # idle and flushed: forget it (Loki does too)
                        continue
                    due = reason
                    if due is None and now - head.last_append_ns > ing.chunk_idle_period:
                        due = FlushReason.IDLE
                    elif due is None and now - head.first_append_ns > ing.max_chunk_age:
                        due = FlushReason.MAX_AGE
                    elif due is None and oldest_pin is not None and head.pin == oldest_pin:
                        due = FlushReason.WAL_SIZE
                    if due is not None:
                        self._close_head(info, due)
                        if due is FlushReason.IDLE:
                            index.drop_head(info)
            pending = [
                c for index in self._tenants.values() for info in index.streams.values() for c in info.pending
            ]
        return self._write_chunks(pending)

    def _oldest_pin(self) -> Position | None:
        pins = [
            p
            for index in self._tenants.values()
            for info in index.streams.values()
            for p in ([info.head.pin] if info.head is not None and info.head.pin else [])
            + [c.pin for c in info.pending]
        ]
        return min(pins) if pins else None

    def _write_chunks(self, chunks: list[ClosedChunk]) -> int:
        """Write the chunk objects in batches made durable together, then index them.

        Every chunk of this flush is durable before the index segment that names it is written,
        and that segment before the WAL's FLUSHED records (``_register_flushed``): a crash at any
        point leaves at worst unindexed chunk files (swept by the compactor) and WAL records
        that replay entries already in a chunk (deduplicated on read).
        """
        if not chunks:
            return 0
        rows: list[tuple[Labels, ChunkRef]] = []
        batch: list[tuple[str, bytes]] = []
        batch_bytes = 0
        for chunk in chunks:
            writer = ChunkWriter(str(chunk.labels).encode("utf-8", "surrogateescape"))
            for block in chunk.blocks:
                writer.add_block(block.data)
            data = writer.finish()
            digest = hashlib.sha256(data).hexdigest()[:32]
            key = f"chunks/{chunk.tenant}/{stream_id(chunk.labels):016x}/{digest}"
            ref = ChunkRef(
                key,
                chunk.min_ts,
                chunk.max_ts,
                sum(b.count for b in chunk.blocks),
                sum(b.raw_bytes for b in chunk.blocks),
                len(data),
            )
            rows.append((chunk.labels, ref))
            batch.append((key, data))
            batch_bytes += len(data)
            if batch_bytes >= _FLUSH_BATCH_BYTES:  # bounds the memory of encoded chunks
                self._put_chunks(batch)
                batch, batch_bytes = [], 0
        self._put_chunks(batch)
        by_tenant: dict[str, list[tuple[Labels, ChunkRef]]] = {}
        for chunk, row in zip(chunks, rows, strict=True):
            by_tenant.setdefault(chunk.tenant, []).append(row)
        with self._index_lock:
            for tenant, tenant_rows in by_tenant.items():
                self.write_index_segment(tenant, tenant_rows)
            self._register_flushed(chunks, rows)
        return len(chunks)

    def _put_chunks(self, batch: list[tuple[str, bytes]]) -> None:
        if not batch:
            return
        with self._lock:
            # Not indexed yet: the compactor's orphan sweep must skip them.
            self._inflight_chunks.update(key for key, _ in batch)
        self.objects.put_many(batch, create_only=True)

    def write_index_segment(self, tenant: str, rows: list[tuple[Labels, ChunkRef]]) -> None:
        self._index_seq += 1
        key = f"index/{tenant}/{self._writer_id}-{self._index_seq:08d}"
        self.objects.put(key, encode_segment(rows))

    def _register_flushed(self, chunks: list[ClosedChunk], rows: list[tuple[Labels, ChunkRef]]) -> None:
        with self._lock:
            for chunk, (labels, ref) in zip(chunks, rows, strict=True):
                index = self._tenant(chunk.tenant)
                index.add_chunk(labels, ref)
                info = index.streams[labels]
                info.pending = [c for c in info.pending if c is not chunk]
                self._inflight_chunks.discard(ref.key)
                self.stats.chunks_flushed += 1
                self.stats.chunk_bytes_flushed += ref.size
                self.stats.flush_reasons[chunk.reason] = self.stats.flush_reasons.get(chunk.reason, 0) + 1
                if self.wal is not None:
                    self.wal.append(RecordType.FLUSHED, encode_flushed(chunk.tenant, labels, chunk.closed_at))
            self._truncate_wal()

    def _truncate_wal(self) -> None:
        if self.wal is None:
            return
        pin = self._oldest_pin()
        self.wal.delete_before(pin[0] if pin is not None else self.wal.segment)

    # --- start-up ---------------------------------------------------------------------------

    def _load_index(self) -> None:
        for key in self.objects.list("index/"):
            tenant = key.split("/")[1]
            try:
                rows = decode_segment(self.objects.get(key), key)
            except CorruptData as err:
                self._quarantine(key, err)
                continue
            index = self._tenant(tenant)
            for labels, ref in rows:
                index.add_chunk(labels, ref)
        self._check_chunk_files()

    def _check_chunk_files(self) -> None:
        """One stat per chunk at start-up: a chunk file whose size is not the one its index
        segment recorded was truncated (or overwritten) and is quarantined; a missing one is
        reported. Either way its reference is dropped and the rest is served. Damage that keeps
        the size (bit flips) is caught by the block checksums when a query reads the chunk.
        """
        for index in self._tenants.values():
            for labels, info in list(index.streams.items()):
                bad = {ref.key for ref in info.chunks if not self._chunk_file_ok(ref)}
                if not bad:
                    continue
                info.chunks = [r for r in info.chunks if r.key not in bad]
                info.keys -= bad
                if not info.chunks:
                    index.remove_stream(labels)  # no head or pending chunk exists yet

    def _chunk_file_ok(self, ref: ChunkRef) -> bool:
        try:
            size = self.objects.size(ref.key)
        except (NotFound, OSError):
            try:
                self.objects.size(f"quarantine/{ref.key}")
                return False  # quarantined at an earlier start-up, reported then
            except (NotFound, OSError):
                pass
            log.error("chunk %s listed by the index is missing; its entries cannot be served", ref.key)
            self.stats.corrupt_files += 1
            return False
        if size != ref.size:
            msg = f"chunk file is {size} bytes, its index segment recorded {ref.size}"
            self._quarantine(ref.key, CorruptData(msg, path=ref.key))
            return False
        return True

    def _report_corrupt(self, key: str, err: Exception) -> None:
        """A corrupt chunk or block met at query time: skipped, logged, counted; the rest is served."""
        log.error("skipping corrupt data in %s: %s", key, err)
        self.stats.corrupt_blocks += 1

    def _quarantine(self, key: str, err: Exception) -> None:
        log.error("corrupt file %s: %s; moved to quarantine/", key, err)
        self.stats.corrupt_files += 1
        try:
            self.objects.put(f"quarantine/{key}", self.objects.get(key))
            self.objects.delete(key)
        except (NotFound, StorageUnavailable):
            log.exception("could not quarantine %s", key)

    def _replay_wal(self) -> None:
        """Rebuild heads from the WAL; entries already in flushed chunks are dropped."""
        assert self.wal is not None
        buffered: dict[tuple[str, Labels], list[tuple[Position, ValidStream]]] = {}
        count = 0
        for pos, record in self.wal.replay():
            if isinstance(record, EntriesRecord):
                for s in record.streams:
                    buffered.setdefault((record.tenant, s.labels), []).append((pos, s))
                    count += len(s.timestamps)
            elif isinstance(record, FlushedRecord):
                key = (record.tenant, record.labels)
                if key in buffered:
                    buffered[key] = [(p, s) for p, s in buffered[key] if p >= record.closed_at]
        now = time.time_ns()
        result = PushResult()
        counted = AppendResult()
        nbytes = 0
        for (tenant, _labels), items in buffered.items():
            index = self._tenant(tenant)
            for pos, s in items:
                result.accepted += self._append_stream(index, tenant, s, pos, now, None, counted)
                nbytes += s.byte_size()
        self._count(result, counted, nbytes)
        self.stats.corrupt_files += self.wal.corrupt_records
        if count:
            log.info("WAL replay: %d entries read, %d kept in heads", count, result.accepted)

    def _tenant(self, tenant: str) -> TenantIndex:
        index = self._tenants.get(tenant)
        if index is None:
            index = self._tenants[tenant] = TenantIndex()
        return index

    # --- compaction support -----------------------------------------------------------------

    def compact(self, now: int | None = None) -> CompactionResult:
        """Merge small chunks and apply retention now (the compactor thread does it periodically)."""
        return compact(self, now)

    def chunk_refs(self, tenant: str) -> dict[Labels, list[ChunkRef]]:
        with self._lock:
            index = self._tenants.get(tenant)
            if index is None:
                return {}
            return {ls: list(info.chunks) for ls, info in index.streams.items() if info.chunks}

    def replace_chunk_refs(
        self, tenant: str, removed: dict[Labels, list[ChunkRef]], added: dict[Labels, list[ChunkRef]]
    ) -> int:
        """Swap chunk references in memory; returns how many streams became empty and went away."""
        gone = 0
        with self._lock:
            index = self._tenant(tenant)
            for labels, refs in removed.items():
                info = index.streams.get(labels)
                if info is None:
                    continue
                keys = {r.key for r in refs}
                info.chunks = [r for r in info.chunks if r.key not in keys]
                info.keys -= keys
            for labels, refs in added.items():
                for ref in refs:
                    index.add_chunk(labels, ref)
            for labels in removed:
                info = index.streams.get(labels)
                if info is not None and not info.chunks and not info.pending and info.head is None:
                    index.remove_stream(labels)
                    gone += 1
        return gone

    def unreferenced_chunks(self, tenant: str) -> list[str]:
        """Chunk objects of the tenant that no index entry names and no flush is writing:
        left behind by a crash between a chunk write and its index segment, or mid-compaction."""
        with self._lock:
            index = self._tenants.get(tenant)
            known = set(self._inflight_chunks)
            if index is not None:
                for info in index.streams.values():
                    known |= info.keys
        return [key for key in self.objects.list(f"chunks/{tenant}/") if key not in known]

    def forget_chunk(self, key: str) -> None:
        with self._lock:
            cached = self._chunk_cache.pop(key, None)
            if cached is not None:
                self._chunk_cache_bytes -= cached[1]

    # --- reading ----------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        return sorted(self._tenants)

    def select_streams(
        self, tenant: str, matchers: Sequence[LabelMatcher], start: int, end: int
    ) -> list[Labels]:
        with self._lock:
            index = self._tenants.get(tenant)
            if index is None:
                return []
            return [info.labels for info in index.match(matchers) if info.overlaps(start, end)]

    def select_batches(
        self,
        tenant: str,
        labels: Labels,
        start: int,
        end: int,
        direction: Direction = Direction.FORWARD,
    ) -> Iterator[EntryBatch]:
        return self._select(tenant, labels, start, end, direction, columns_only=False)

    def select_timestamps(
        self,
        tenant: str,
        labels: Labels,
        start: int,
        end: int,
        direction: Direction = Direction.FORWARD,
    ) -> Iterator[EntryBatch]:
        """Like :meth:`select_batches` without line bytes (``data`` empty, offsets zero).

        Selector-only metrics need timestamps and metadata only; chunk text stays compressed.
        """
        return self._select(tenant, labels, start, end, direction, columns_only=True)

    def select_pending(
        self,
        tenant: str,
        labels: Labels,
        start: int,
        end: int,
        direction: Direction = Direction.FORWARD,
    ) -> Iterator[PendingBatch]:
        """The batches of :meth:`select_batches`, each announced by its time bounds (from the
        block metadata) before anything is decompressed: ``load()`` reads it."""
        return self._pending(tenant, labels, start, end, direction, columns_only=False)

    def _pending(
        self, tenant: str, labels: Labels, start: int, end: int, direction: Direction, columns_only: bool
    ) -> Iterator[PendingBatch]:
        groups = clusters(self._sources(tenant, labels, start, end))
        if direction is Direction.BACKWARD:
            groups.reverse()
        for cluster in groups:
            lo = max(start, cluster[0][0])  # sources come sorted by min_ts
            hi = min(end - 1, max(s[1] for s in cluster))
            yield PendingBatch(lo, hi, partial(self._load, cluster, labels, start, end, columns_only))

    def _load(
        self, cluster: list[Source], labels: Labels, start: int, end: int, columns_only: bool
    ) -> EntryBatch:
        """One cluster's entries in ``[start, end)``; corrupt data is reported and reads as empty."""
        try:
            if len(cluster) == 1:
                batch = cluster[0][3]() if columns_only else cluster[0][2]()
            else:  # overlapping sources: duplicates are found by line, so read lines
                batch = merge_batches([s[2]() for s in cluster])
                if columns_only:
                    batch = without_text(batch)
        except CorruptData as err:
            self._report_corrupt(err.path or f"stream {labels}", err)
            return _EMPTY_BATCH
        return slice_range(batch, start, end)

    def _select(
        self, tenant: str, labels: Labels, start: int, end: int, direction: Direction, columns_only: bool
    ) -> Iterator[EntryBatch]:
        for pending in self._pending(tenant, labels, start, end, direction, columns_only):
            batch = pending.load()
            if len(batch):
                yield batch

    def _sources(self, tenant: str, labels: Labels, start: int, end: int) -> list[Source]:
        """Every block that may hold entries in ``[start, end)``, oldest first.

        A source is ``(min_ts, max_ts, load full batch, load timestamps+metadata only)``.
        """
        with self._lock:
            index = self._tenants.get(tenant)
            info = index.streams.get(labels) if index is not None else None
            if info is None:
                return []
            refs = [r for r in info.chunks if r.min_ts < end and r.max_ts >= start]
            blocks = [b for c in info.pending for b in c.blocks]
            head_batch = None
            if info.head is not None:
                cut, head_batch = info.head.snapshot()
                blocks.extend(cut)
        sources: list[Source] = []
        for ref in refs:
            try:
                reader = self._reader(ref.key)
            except NotFound:
                continue  # deleted by compaction after this query listed it: merged elsewhere
            except CorruptData as err:
                self._report_corrupt(ref.key, err)
                continue
            for i, meta in enumerate(reader.metas):
                if meta.min_ts < end and meta.max_ts >= start:
                    sources.append(
                        (meta.min_ts, meta.max_ts, partial(reader.block, i), partial(reader.columns, i))
                    )
        for b in blocks:
            if b.min_ts < end and b.max_ts >= start:
                sources.append(
                    (b.min_ts, b.max_ts, partial(decode_block, b.data), partial(decode_block_columns, b.data))
                )
        if head_batch is not None:
            ts = head_batch.timestamps
            if ts[0] < end and ts[-1] >= start:
                stripped = without_text(head_batch)
                sources.append((ts[0], ts[-1], partial(same, head_batch), partial(same, stripped)))
        sources.sort(key=lambda s: (s[0], s[1]))
        return sources

    def _reader(self, key: str) -> ChunkReader:
        with self._lock:
            cached = self._chunk_cache.get(key)
            if cached is not None:
                self._chunk_cache.move_to_end(key)
                return cached[0]
        data = self.objects.get(key)
        reader = ChunkReader(data, path=key)
        with self._lock:
            self._chunk_cache[key] = (reader, len(data))
            self._chunk_cache_bytes += len(data)
            while self._chunk_cache_bytes > _CHUNK_CACHE_BYTES and len(self._chunk_cache) > 1:
                _, (_, size) = self._chunk_cache.popitem(last=False)
                self._chunk_cache_bytes -= size
        return reader

    def label_names(
        self, tenant: str, start: int, end: int, matchers: Sequence[LabelMatcher] = ()
    ) -> list[str]:
        names: set[str] = set()
        for labels in self._streams_in_range(tenant, start, end, matchers):
            names.update(labels.names())
        return sorted(names)

    def label_values(
        self, tenant: str, name: str, start: int, end: int, matchers: Sequence[LabelMatcher] = ()
    ) -> list[str]:
        values = {labels.get(name) for labels in self._streams_in_range(tenant, start, end, matchers)}
        values.discard("")
        return sorted(values)

    def series(
        self, tenant: str, matcher_sets: Sequence[Sequence[LabelMatcher]], start: int, end: int
    ) -> list[Labels]:
        found: dict[Labels, None] = {}
        for matchers in matcher_sets or [()]:
            for labels in self._streams_in_range(tenant, start, end, matchers):
                found[labels] = None
        return sorted(found, key=str)

    def _streams_in_range(
        self, tenant: str, start: int, end: int, matchers: Sequence[LabelMatcher]
    ) -> list[Labels]:
        with self._lock:
            index = self._tenants.get(tenant)
            if index is None:
                return []
            infos = index.match(matchers) if matchers else list(index.streams.values())
            return [i.labels for i in infos if i.overlaps(start, end)]

    def index_stats(
        self, tenant: str, matchers: Sequence[LabelMatcher], start: int, end: int
    ) -> dict[str, int]:
        """Loki's ``/index/stats``: streams, chunks, uncompressed bytes, entries (approximate)."""
        out = {"streams": 0, "chunks": 0, "bytes": 0, "entries": 0}
        with self._lock:
            index = self._tenants.get(tenant)
            if index is None:
                return out
            for info in index.match(matchers):
                if not info.overlaps(start, end):
                    continue
                out["streams"] += 1
                for ref in info.chunks:
                    if ref.min_ts < end and ref.max_ts >= start:
                        out["chunks"] += 1
                        out["bytes"] += ref.raw_bytes
                        out["entries"] += ref.entries
                heads = [b for c in info.pending for b in c.blocks]
                if info.head is not None:
                    heads += info.head.blocks
                    out["bytes"] += info.head.head_bytes
                    out["entries"] += len(info.head.ts)
                for b in heads:
                    out["bytes"] += b.raw_bytes
                    out["entries"] += b.count
                if heads or (info.head is not None and info.head.ts):
                    out["chunks"] += 1
        return out

    # --- housekeeping -----------------------------------------------------------------------

    def memory_streams(self) -> int:
        with self._lock:
            return sum(index.active_heads for index in self._tenants.values())

    def disk_usage(self) -> int:
        """Bytes of chunks, index segments and WAL on disk (0 in memory mode)."""
        total = 0
        for prefix in ("chunks/", "index/"):
            total += sum(self.objects.size(k) for k in self.objects.list(prefix))
        if self.wal is not None:
            total += self.wal.size_bytes()
        return total

    def close(self) -> None:
        """Stop the flusher, flush every head (reason ``shutdown``) and close the WAL."""
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        if self.config.data_dir is not None:
            self.flush(reason=FlushReason.SHUTDOWN)
        with self._lock:
            self._closed = True
            if self.wal is not None:
                self.wal.close()
                if self._oldest_pin() is None:  # everything is in chunks: nothing to replay
                    self.wal.delete_before(self.wal.segment + 1, include_open=True)
