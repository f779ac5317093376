"""``LokiHandler``: a ``logging.Handler`` that ships records to lokipy or Loki.

    handler = LokiHandler("http://127.0.0.1:3100", labels={"app": "shop"},
                          label_attrs={"levelname": "level"}, metadata_attrs=("trace_id",))
    logging.getLogger().addHandler(handler)
    log.info("paid", extra={"trace_id": "abc"})

``emit`` only formats the record and puts it on a bounded queue; a background thread batches
(``batch_size`` records or ``flush_interval`` seconds, whichever comes first), groups by label
set, and pushes protobuf+snappy (what promtail sends) or JSON. The application never waits on
the network: when the queue is full the record is dropped and counted (``handler.dropped``).
Retries 429/5xx/connection errors with backoff up to ``max_retries``; a 4xx batch is dropped,
as promtail drops it. ``flush()`` waits until everything queued so far was sent; ``close()``
flushes (for at most ``timeout`` seconds), then stops the thread. Only the standard library
and ``lokipy.wire`` are used.
"""

from __future__ import annotations

import base64
import http.client
import logging
import queue
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.labels import Labels, is_valid_label_name
from lokipy.wire import encode_push_json, encode_push_proto

PUSH_PATH = "/loki/api/v1/push"
_Item = tuple[int, str, Labels, tuple[tuple[str, str], ...]]


class _Flush:
    """A marker on the queue: set once everything queued before it was sent (or given up)."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


def _attr_map(attrs: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    if attrs is None:
        return {}
    if isinstance(attrs, Mapping):
        return dict(attrs)
    return {a: a for a in attrs}


class LokiHandler(logging.Handler):
    """Push log records to a Loki push endpoint in the background.

    ``url``: the server's base URL (``http://host:3100``) or the full push URL.
    ``labels``: static stream labels. ``label_attrs``: record attributes that become stream
    labels (a sequence of names, or ``{attribute: label_name}``); keep them low-cardinality.
    ``metadata_attrs``: record attributes sent as structured metadata (same forms).
    ``tenant``: sent as ``X-Scope-OrgID``. ``fmt``: "protobuf" (default) or "json".
    """

    def __init__(
        self,
        url: str,
        labels: Mapping[str, str] | None = None,
        *,
        label_attrs: Iterable[str] | Mapping[str, str] | None = None,
        metadata_attrs: Iterable[str] | Mapping[str, str] | None = None,
        tenant: str | None = None,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        fmt: str = "protobuf",
        max_queue: int = 100_000,
        timeout: float = 5.0,
        max_retries: int = 3,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        level: int = logging.NOTSET,
    ) -> None:
        super().__init__(level)
        if fmt not in ("protobuf", "json"):
            raise ValueError(f"fmt must be 'protobuf' or 'json', not {fmt!r}")
        parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._scheme = parsed.scheme
        self._netloc = parsed.netloc.rsplit("@", 1)[-1]
        path = parsed.path.rstrip("/")
        self._path = path if path.endswith("/push") else path + PUSH_PATH
        self.push_url = f"{self._scheme}://{self._netloc}{self._path}"
        self.static_labels = dict(labels or {})
        self.label_attrs = _attr_map(label_attrs)
        self.metadata_attrs = _attr_map(metadata_attrs)
        for name in [*self.static_labels, *self.label_attrs.values()]:
            if not is_valid_label_name(name):
                raise ValueError(f"invalid label name: {name!r}")
        self._base_labels = Labels.from_map(self.static_labels)
        self.batch_size = max(1, batch_size)
        self.flush_interval = flush_interval
        self.fmt = fmt
        self.timeout = timeout
        self.max_retries = max_retries
        self._headers = {
            "Content-Type": "application/json" if fmt == "json" else "application/x-protobuf",
            "User-Agent": "lokipy-handler",
            **dict(headers or {}),
        }
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        # Counters for tests and health checks; only the sender thread writes the first four.
        self.sent = 0  # entries the server accepted
        self.failed = 0  # entries given up on (4xx, or retries exhausted)
        self.requests = 0
        self.last_error: str | None = None
        self.dropped = 0  # entries dropped because the queue was full (written by emit)
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._conn: http.client.HTTPConnection | None = None
        self._last_warning = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lokipy-handler", daemon=True)
        self._thread.start()

    # --- the application's side (never waits on the network) -------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            labels = self._base_labels
            if self.label_attrs:
                extra = [
                    (lab, str(v))
                    for attr, lab in self.label_attrs.items()
                    if (v := getattr(record, attr, None)) is not None
                ]
                if extra:
                    labels = Labels.from_map({**self.static_labels, **dict(extra)})
            md: tuple[tuple[str, str], ...] = ()
            if self.metadata_attrs:
                md = tuple(
                    sorted(
                        (name, str(v))
                        for attr, name in self.metadata_attrs.items()
                        if (v := getattr(record, attr, None)) is not None
                    )
                )
            # record.created is a float of seconds: ns precision is lost, so order within a
            # stream is kept by the sender's stable sort on (ts, sequence).
            item: _Item = (int(record.created * 1e9), line, labels, md)
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._warn("queue full, dropping log records")
        except Exception:
            self.handleError(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record emitted so far was pushed (or given up). False on timeout."""
        if self._closed or not self._thread.is_alive():
            return True
        marker = _Flush()
        try:
            self._queue.put(
                marker, timeout=timeout if timeout is not None else self.timeout * (self.max_retries + 2)
            )
        except queue.Full:
            return False
        return marker.done.wait(timeout if timeout is not None else self.timeout * (self.max_retries + 2) + 1)

    def close(self) -> None:
        """Flush (waiting at most ``timeout`` seconds: logging.shutdown calls this at exit, and
        an unreachable server must not hold the process), then stop the sender thread."""
        if not self._closed:
            self.flush(timeout=self.timeout)
            self._closed = True
            try:
                self._queue.put(_STOP, timeout=1.0)
            except queue.Full:
                pass
            self._thread.join(self.timeout + 1)
            if self._conn is not None:
                self._conn.close()
        super().close()

    # --- the sender thread --------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[_Item] = []
        deadline = time.monotonic() + self.flush_interval
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            if isinstance(item, tuple):
                pending.append(item)
                if len(pending) < self.batch_size:
                    continue
            if pending:
                self._send(pending)
                pending = []
            deadline = time.monotonic() + self.flush_interval
            if isinstance(item, _Flush):
                item.done.set()
            elif item is _STOP:
                return

    def _send(self, items: list[_Item]) -> None:
        groups: dict[Labels, list[tuple[int, int, str, tuple[tuple[str, str], ...]]]] = {}
        for seq, (ts, line, labels, md) in enumerate(items):
            groups.setdefault(labels, []).append((ts, seq, line, md))
        streams = []
        for labels, entries in groups.items():
            entries.sort()
            stream = PushStream(labels)
            stream.timestamps = [e[0] for e in entries]
            stream.lines = [e[2].encode("utf-8", "surrogateescape") for e in entries]
            if any(e[3] for e in entries):
                stream.metadata = [e[3] for e in entries]
            streams.append(stream)
        req = PushRequest(streams)
        body = encode_push_json(req) if self.fmt == "json" else encode_push_proto(req)
        n = len(items)
        for attempt in range(self.max_retries + 1):
            status, text = self._post(body)
            if 200 <= status < 300:
                self.sent += n
                return
            self.last_error = f"HTTP {status}: {text.strip()}" if status else text
            if status and status != 429 and status < 500:
                break  # the server refused this batch; sending it again cannot help
            if attempt < self.max_retries:
                time.sleep(min(5.0, 0.1 * 2**attempt))
        self.failed += n
        self._warn(f"could not push {n} log entries to {self.push_url}: {self.last_error}")

    def _post(self, body: bytes) -> tuple[int, str]:
        """One POST on a kept-alive connection: (status, body text), or (0, error text)."""
        try:
            if self._conn is None:
                cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
                self._conn = cls(self._netloc, timeout=self.timeout)
            self._conn.request("POST", self._path, body=body, headers=self._headers)
            resp = self._conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            self.requests += 1
            if resp.getheader("connection", "").lower() == "close":
                self._conn.close()
                self._conn = None
            return resp.status, text
        except (OSError, http.client.HTTPException) as err:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            return 0, f"{type(err).__name__}: {err}"

    def _warn(self, msg: str) -> None:
        # Never through logging: this handler may be attached to the very logger we would use.
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            self._last_warning = now
            print(f"lokipy.handler: {msg}", file=sys.stderr)
