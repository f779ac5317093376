"""The sink: decode every push, count exactly what arrived, store no line.

Built for log-shipper benchmarks (promtail, Alloy, Vector, Fluent Bit): the target must be
faster than the shipper, and must tell you *what* arrived, per tenant and per stream:

* ``lines``/``bytes`` (line bytes; structured metadata bytes counted apart),
* ``first_ts``/``last_ts``: smallest and largest entry timestamp (unix ns),
* ``duplicates``: an entry whose (timestamp, line, metadata) already arrived on the stream —
  what an at-least-once shipper produces when it retries a batch that was in fact accepted,
* ``out_of_order``: an entry older than the newest one the stream had already received,
* ``rejected``: requests (and their bytes) that could not be decoded, answered 400/413 as Loki
  would answer them.

Counting works on whole columns (``sum(map(len, ...))``, ``itertools.accumulate(..., max)``,
set algebra on hashes), never on a Python loop per entry. Duplicate detection keeps one 64-bit
hash per entry in two generations of ``dedup_window`` entries each, so memory stays bounded: a
duplicate is found when its first copy is among the last ``dedup_window``–``2*dedup_window``
entries of the sink (retries are recent), and the window size is reported in the stats.
"""

from __future__ import annotations

import operator
import threading
import time
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from typing import Any

from lokipy.model.entry import PushRequest
from lokipy.model.errors import InvalidLabels
from lokipy.model.labels import Labels
from lokipy.wire import decode_push

DEFAULT_DEDUP_WINDOW = 1_000_000
# Per-stream caches (label text -> Labels, validation verdicts): big enough for every active
# stream of a large tenant, so a push over 20 000 streams does not clear them every time.
_LABEL_CACHE_SIZE = 1 << 17


@dataclass(slots=True)
class StreamCounts:
    lines: int = 0
    bytes: int = 0
    metadata_bytes: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    duplicates: int = 0
    out_of_order: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "bytes": self.bytes,
            "metadata_bytes": self.metadata_bytes,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
        }


@dataclass(slots=True)
class TenantCounts:
    requests: int = 0
    request_bytes: int = 0  # bodies as received (compressed)
    rejected_requests: int = 0
    rejected_bytes: int = 0
    first_arrival_ns: int | None = None  # wall clock of the first accepted push
    last_arrival_ns: int | None = None
    streams: dict[str, StreamCounts] = field(default_factory=dict)

    def totals(self) -> StreamCounts:
        out = StreamCounts()
        for s in self.streams.values():
            _add(out, s)
        return out

    def as_dict(self, with_streams: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "requests": self.requests,
            "request_bytes": self.request_bytes,
            "rejected_requests": self.rejected_requests,
            "rejected_bytes": self.rejected_bytes,
            "first_arrival_ns": self.first_arrival_ns,
            "last_arrival_ns": self.last_arrival_ns,
            "stream_count": len(self.streams),
            **self.totals().as_dict(),
        }
        if with_streams:
            d["streams"] = {k: v.as_dict() for k, v in sorted(self.streams.items())}
        return d


def _add(into: StreamCounts, s: StreamCounts) -> None:
    into.lines += s.lines
    into.bytes += s.bytes
    into.metadata_bytes += s.metadata_bytes
    into.duplicates += s.duplicates
    into.out_of_order += s.out_of_order
    if s.first_ts is not None:
        into.first_ts = s.first_ts if into.first_ts is None else min(into.first_ts, s.first_ts)
    if s.last_ts is not None:
        into.last_ts = s.last_ts if into.last_ts is None else max(into.last_ts, s.last_ts)


class Sink:
    """Thread-safe push counter. ``push_body`` is what the HTTP layer calls for every push."""

    def __init__(
        self, *, dedup_window: int = DEFAULT_DEDUP_WINDOW, max_decompressed_bytes: int | None = None
    ) -> None:
        self.dedup_window = dedup_window
        self.max_decompressed_bytes = max_decompressed_bytes
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._labels: dict[str, str] = {}
        self._reset_locked()

    def _reset_locked(self) -> None:
        self.started_ns = time.time_ns()
        self.tenants: dict[str, TenantCounts] = {}
        self._total_lines = 0
        self._seen_new: set[int] = set()
        self._seen_old: set[int] = set()

    # --- counting ----------------------------------------------------------------------------

    def push_body(
        self,
        body: bytes,
        content_type: str | None,
        content_encoding: str | None = None,
        *,
        tenant: str = "fake",
        legacy: bool = False,
    ) -> int:
        """Decode and count one push body; returns the entries counted. Raises what Loki would
        answer with (``InvalidInput`` → 400, ``RequestTooLarge`` → 413), after counting the
        request as rejected."""
        try:
            kwargs = (
                {}
                if self.max_decompressed_bytes is None
                else {"max_decompressed_bytes": self.max_decompressed_bytes}
            )
            req = decode_push(body, content_type, content_encoding, legacy=legacy, **kwargs)
            keys = [self._stream_key(s.labels) for s in req.streams]
        except Exception:
            self.reject(len(body), tenant=tenant)
            raise
        return self._count(req, keys, tenant, len(body))

    def push_request(self, req: PushRequest, *, tenant: str = "fake") -> int:
        """Count an already decoded request (embedders, tests)."""
        keys = [self._stream_key(s.labels) for s in req.streams]
        return self._count(req, keys, tenant, 0)

    def reject(self, nbytes: int, *, tenant: str = "fake") -> None:
        with self._lock:
            t = self._tenant(tenant)
            t.rejected_requests += 1
            t.rejected_bytes += nbytes

    def _stream_key(self, raw: str | Labels) -> str:
        """Canonical label text; label strings are parsed once and cached, as shippers resend
        the same strings in every batch. Unparseable labels reject the request, as in Loki."""
        if isinstance(raw, Labels):
            return str(raw)
        key = self._labels.get(raw)
        if key is None:
            try:
                key = str(Labels.parse(raw))
            except InvalidLabels as err:
                raise InvalidLabels(f"error parsing labels '{raw}' with error: {err}") from err
            if len(self._labels) >= _LABEL_CACHE_SIZE:
                self._labels.clear()
            self._labels[raw] = key
        return key

    def _count(self, req: PushRequest, keys: list[str], tenant: str, body_bytes: int) -> int:
        now = time.time_ns()
        total = 0
        with self._lock:
            t = self._tenant(tenant)
            t.requests += 1
            t.request_bytes += body_bytes
            if t.first_arrival_ns is None:
                t.first_arrival_ns = now
            t.last_arrival_ns = now
            for s, key in zip(req.streams, keys, strict=True):
                n = len(s.timestamps)
                counts = t.streams.get(key)
                if counts is None:
                    counts = t.streams[key] = StreamCounts()
                if n == 0:
                    continue
                self._count_stream(counts, hash((tenant, key)), s.timestamps, s.lines, s.metadata)
                total += n
            self._total_lines += total
            if total:
                self._arrived.notify_all()
        return total

    def _count_stream(self, c: StreamCounts, sid: int, ts: list[int], lines: list[bytes], md: Any) -> None:
        n = len(ts)
        c.lines += n
        c.bytes += sum(map(len, lines))
        if md is not None:
            c.metadata_bytes += sum(len(k) + len(v) for m in md for k, v in m)
        lo, hi = min(ts), max(ts)
        # Out of order: older than the newest entry received before it (ties are in order).
        prev_max = c.last_ts
        if prev_max is None or ts[0] < prev_max or any(map(operator.gt, ts, ts[1:])):
            running = list(accumulate(ts, max, initial=prev_max if prev_max is not None else ts[0]))
            c.out_of_order += sum(map(operator.lt, ts, running))
        c.first_ts = lo if c.first_ts is None else min(c.first_ts, lo)
        c.last_ts = hi if prev_max is None else max(prev_max, hi)
        c.duplicates += self._duplicates(sid, ts, lines, md)

    def _duplicates(self, sid: int, ts: list[int], lines: list[bytes], md: Any) -> int:
        # Same tuple shape with or without metadata, so an entry without any hashes alike
        # whether or not its batch carried metadata for other entries.
        hashes = list(map(hash, zip(repeat(sid), ts, lines, repeat(()) if md is None else md, strict=False)))
        fresh = set(hashes)
        fresh -= self._seen_new
        fresh -= self._seen_old
        dups = len(hashes) - len(fresh)
        if len(self._seen_new) + len(fresh) > self.dedup_window:
            self._seen_old = self._seen_new  # the older generation is forgotten
            self._seen_new = set()
        self._seen_new |= fresh
        return dups

    def _tenant(self, tenant: str) -> TenantCounts:
        t = self.tenants.get(tenant)
        if t is None:
            t = self.tenants[tenant] = TenantCounts()
        return t

    # --- reading -----------------------------------------------------------------------------

    def total_lines(self, tenant: str | None = None) -> int:
        with self._lock:
            if tenant is None:
                return self._total_lines
            t = self.tenants.get(tenant)
            return t.totals().lines if t else 0

    def stats(self, *, with_streams: bool = True, tenant: str | None = None) -> dict[str, Any]:
        """Everything counted, JSON-ready (what ``GET /sink/stats`` answers)."""
        with self._lock:
            tenants = {
                name: t.as_dict(with_streams)
                for name, t in sorted(self.tenants.items())
                if tenant is None or name == tenant
            }
            started = self.started_ns
        totals: dict[str, Any] = {
            k: 0
            for k in (
                "requests", "request_bytes", "rejected_requests", "rejected_bytes", "lines",
                "bytes", "metadata_bytes", "duplicates", "out_of_order", "stream_count",
            )
        }  # fmt: skip
        firsts, lasts = [], []
        for t in tenants.values():
            for k in totals:
                totals[k] += t[k]
            if t["first_arrival_ns"] is not None:
                firsts.append(t["first_arrival_ns"])
                lasts.append(t["last_arrival_ns"])
        totals["first_arrival_ns"] = min(firsts) if firsts else None
        totals["last_arrival_ns"] = max(lasts) if lasts else None
        return {
            "started_ns": started,
            "dedup_window": self.dedup_window,
            "totals": totals,
            "tenants": tenants,
        }

    def reset(self) -> dict[str, Any]:
        """Forget everything; returns the stats as they were just before."""
        before = self.stats()
        with self._lock:
            self._reset_locked()
        return before

    def wait_for(self, lines: int, timeout: float, *, tenant: str | None = None) -> bool:
        """Block until at least ``lines`` entries arrived (in ``tenant``, or in all)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                got = (
                    self._total_lines
                    if tenant is None
                    else (self.tenants[tenant].totals().lines if tenant in self.tenants else 0)
                )
                if got >= lines:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
