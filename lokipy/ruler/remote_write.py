"""Prometheus remote write 1.0: ``WriteRequest`` protobuf, snappy block, a batching sender.

The message classes come from a descriptor written in code with ``lokipy.wire.push_proto``'s
``build_classes`` (its private pool; package names never reach the wire). The sender keeps one bounded queue per (tenant, client), sends
batches of ``max_samples_per_send`` or after ``batch_send_deadline``, retries network
errors, 5xx (and 429 when configured) with exponential backoff, and drops a batch on any
other 4xx, as Prometheus' queue manager does. Loki puts samples through an on-disk WAL
first; lokipy keeps them in memory and, on a clean stop, spools what is still unsent to a
file that the next start sends first (a crash loses the queue).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import struct
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import cramjam
from google.protobuf import descriptor_pb2

from lokipy.ruler.alerting import STALE_NAN, LabelPairs
from lokipy.ruler.config import RemoteWriteClient
from lokipy.wire.push_proto import build_classes, field

log = logging.getLogger("lokipy.ruler")

_F = descriptor_pb2.FieldDescriptorProto


SCHEMA: dict[str, list[_F]] = {
    "Label": [field("name", 1, _F.TYPE_STRING), field("value", 2, _F.TYPE_STRING)],
    "Sample": [field("value", 1, _F.TYPE_DOUBLE), field("timestamp", 2, _F.TYPE_INT64)],
    "TimeSeries": [
        field("labels", 1, _F.TYPE_MESSAGE, repeated=True, msg="Label"),
        field("samples", 2, _F.TYPE_MESSAGE, repeated=True, msg="Sample"),
    ],
    "WriteRequest": [field("timeseries", 1, _F.TYPE_MESSAGE, repeated=True, msg="TimeSeries")],
}
_CLASSES = build_classes(SCHEMA, "lokipy/prometheus_remote.proto")
PbWriteRequest = _CLASSES["WriteRequest"]

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "Prometheus/2.42.0 lokipy-ruler",
}
STALE_MARKER = struct.unpack("<d", struct.pack("<Q", STALE_NAN))[0]

# One sample: labels (with __name__), timestamp in ms, value.
RWSample = tuple[LabelPairs, int, float]


def encode_write_request(samples: Iterable[RWSample]) -> bytes:
    """Protobuf bytes (no snappy): one TimeSeries per sample, labels sorted by name."""
    req = PbWriteRequest()
    for labels, ts_ms, value in samples:
        series = req.timeseries.add()
        for name, val in sorted(labels):
            series.labels.add(name=name, value=val)
        series.samples.add(value=value, timestamp=ts_ms)
    return bytes(req.SerializeToString())


def decode_write_request(data: bytes) -> list[tuple[LabelPairs, list[tuple[int, float]]]]:
    req = PbWriteRequest.FromString(data)
    return [
        (tuple((lb.name, lb.value) for lb in ts.labels), [(s.timestamp, s.value) for s in ts.samples])
        for ts in req.timeseries
    ]


def snappy_block(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def unsnappy_block(data: bytes) -> bytes:
    return bytes(cramjam.snappy.decompress_raw(data))


class RemoteWriter:
    """A background sender for one (tenant, client) pair."""

    def __init__(
        self,
        client: RemoteWriteClient,
        tenant: str,
        add_org_id_header: bool = True,
        spool: Path | None = None,
    ) -> None:
        self.client = client
        self.spool = spool
        self.tenant = tenant
        self.headers = dict(HEADERS)
        for k, v in client.headers.items():
            if k.lower() != "x-scope-orgid":  # Loki always strips a configured org id
                self.headers[k] = v
        if add_org_id_header:
            self.headers["X-Scope-OrgID"] = tenant
        if client.basic_auth is not None:
            token = base64.b64encode(f"{client.basic_auth[0]}:{client.basic_auth[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.queue: deque[RWSample] = deque(maxlen=max(client.capacity, 1))
        self.cond = threading.Condition()
        self.stopping = False
        self.sent_samples = 0
        self.failed_samples = 0
        self.dropped_samples = 0
        self.unsent: list[RWSample] = []  # given up on at stop: spooled
        if spool is not None and spool.exists():
            self.queue.extend(read_spool(spool))
            spool.unlink()
        self.thread = threading.Thread(target=self._run, name=f"ruler-rw-{tenant}", daemon=True)
        self.thread.start()

    def append(self, samples: list[RWSample]) -> None:
        with self.cond:
            overflow = len(self.queue) + len(samples) - (self.queue.maxlen or 0)
            if overflow > 0:
                self.dropped_samples += overflow
            self.queue.extend(samples)
            self.cond.notify()

    def _next_batch(self) -> list[RWSample] | None:
        """Wait for a full batch, or for ``batch_send_deadline`` after the first queued sample."""
        wait_s = self.client.batch_send_deadline / 1e9
        first_seen: float | None = None
        with self.cond:
            while not self.stopping and len(self.queue) < self.client.max_samples_per_send:
                if not self.queue:
                    first_seen = None
                    self.cond.wait()
                    continue
                now = time.monotonic()
                first_seen = now if first_seen is None else first_seen
                left = first_seen + wait_s - now
                if left <= 0:
                    break
                self.cond.wait(left)
            n = min(len(self.queue), self.client.max_samples_per_send)
            return [self.queue.popleft() for _ in range(n)] if n else None

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                if self.stopping:
                    return
                continue
            if not self._send_with_retry(batch):
                with self.cond:  # stopping while the server is unreachable: keep the rest
                    self.unsent.extend(self.queue)
                    self.queue.clear()
                return

    def _send_with_retry(self, batch: list[RWSample]) -> bool:
        """Send until success or a final error (True); False: stopping while still failing."""
        body = snappy_block(encode_write_request(batch))
        backoff = self.client.min_backoff / 1e9
        attempt = 0
        while True:
            retry, error = self.send_once(body, attempt)
            if not retry:
                if error:
                    self.failed_samples += len(batch)
                    log.warning(
                        "remote write to %s dropped %d samples: %s", self.client.url, len(batch), error
                    )
                else:
                    self.sent_samples += len(batch)
                return True
            if self.stopping and attempt >= 1:
                self.unsent.extend(batch)
                return False
            log.info("remote write to %s failed, retrying in %.3fs: %s", self.client.url, backoff, error)
            with self.cond:
                self.cond.wait_for(lambda: self.stopping, timeout=backoff)
            backoff = min(backoff * 2, self.client.max_backoff / 1e9)
            attempt += 1

    def send_once(self, body: bytes, attempt: int) -> tuple[bool, str]:
        """POST once: (retryable, error text); ("", False) on success."""
        headers = dict(self.headers)
        if attempt:
            headers["Retry-Attempt"] = str(attempt)
        req = urllib.request.Request(self.client.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.client.remote_timeout / 1e9) as resp:
                resp.read()
            return False, ""
        except urllib.error.HTTPError as err:
            text = err.read()[:512].decode("utf-8", "replace").strip()
            retry = err.code >= 500 or (err.code == 429 and self.client.retry_on_http_429)
            return retry, f"server returned HTTP status {err.code}: {text}"
        except (OSError, urllib.error.URLError) as err:
            return True, str(err)

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what can be sent; spool the rest (if a spool file is configured)."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.thread.join(timeout)
        with self.cond:
            left = [*self.unsent, *self.queue]
        if self.spool is not None and left:
            write_spool(self.spool, left)
        else:
            self.failed_samples += len(left)


def write_spool(path: Path, samples: list[RWSample]) -> None:
    """One JSON line per sample; values as IEEE bits so stale-marker NaNs survive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for labels, ts, value in samples:
            bits = struct.unpack("<Q", struct.pack("<d", value))[0]
            f.write(json.dumps([labels, ts, bits]) + "\n")
    os.replace(tmp, path)


def read_spool(path: Path) -> list[RWSample]:
    out: list[RWSample] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        labels, ts, bits = json.loads(line)
        out.append(
            (tuple((k, v) for k, v in labels), int(ts), struct.unpack("<d", struct.pack("<Q", bits))[0])
        )
    return out
