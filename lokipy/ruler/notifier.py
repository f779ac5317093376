"""Alerts to Alertmanager's v2 API (ruler.md §7): JSON array POSTs of at most 256 alerts.

One bounded queue (``notification_queue_capacity``; the oldest alerts are dropped when it is
full) feeds a sender thread; every batch goes to every configured Alertmanager. A failed POST
is not retried: the alert goes out again at its next resend, as in Prometheus.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lokipy.ruler.alerting import Alert

log = logging.getLogger("lokipy.ruler")
MAX_BATCH = 256


def rfc3339_millis(ns: int) -> str:
    """Go's ``2006-01-02T15:04:05.000Z07:00`` in UTC (what strfmt.DateTime marshals)."""
    dt = datetime.fromtimestamp(ns // 10**9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9 // 10**6:03d}Z"


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (trailing zeros trimmed); zero time for 0."""
    if ns == 0:
        return "0001-01-01T00:00:00Z"
    dt = datetime.fromtimestamp(ns // 10**9, tz=UTC)
    frac = f"{ns % 10**9:09d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def _go_json(value: Any) -> str:
    """``encoding/json`` output: compact, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def generator_url(external_url: str, expr: str, datasource_uid: str = "") -> str:
    """Loki's Grafana explore link for the rule's query."""
    query: dict[str, Any] = {"expr": expr, "queryType": "range"}
    if datasource_uid:
        query["datasource"] = {"type": "loki", "uid": datasource_uid}
    left = urllib.parse.quote_plus(_go_json({"queries": [query]}), safe="")
    return f"{external_url.rstrip('/')}/explore?left={left}"


def alert_payload(alert: Alert, external_labels: Mapping[str, str], url: str) -> dict[str, Any]:
    """One element of the v2 POST body, as Loki's notifier builds it."""
    labels = dict(alert.labels)
    for k, v in external_labels.items():
        labels.setdefault(k, v)
    ends = alert.resolved_at if alert.resolved_at else alert.valid_until
    return {
        "labels": labels,
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339_millis(alert.fired_at),
        "endsAt": rfc3339_millis(ends),
        "generatorURL": url,
    }


class Notifier:
    def __init__(
        self,
        urls: tuple[str, ...],
        capacity: int = 10000,
        timeout_ns: int = 10 * 10**9,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.targets = [_target(u, basic_auth) for u in urls]
        self.timeout = timeout_ns / 1e9
        self.queue: deque[tuple[str, dict[str, Any]]] = deque(maxlen=max(capacity, 1))
        self.cond = threading.Condition()
        self.stopping = False
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self.thread = threading.Thread(target=self._run, name="ruler-notifier", daemon=True)
        self.thread.start()

    def send(self, tenant: str, payloads: list[dict[str, Any]]) -> None:
        if not self.targets or not payloads:
            return
        with self.cond:
            overflow = len(self.queue) + len(payloads) - (self.queue.maxlen or 0)
            if overflow > 0:
                self.dropped += overflow
                log.warning("alert notification queue full, dropping %d oldest alerts", overflow)
            self.queue.extend((tenant, p) for p in payloads)
            self.cond.notify()

    def _batch(self) -> tuple[str, list[dict[str, Any]]] | None:
        with self.cond:
            self.cond.wait_for(lambda: self.queue or self.stopping)
            if not self.queue:
                return None
            tenant = self.queue[0][0]
            batch: list[dict[str, Any]] = []
            while self.queue and len(batch) < MAX_BATCH and self.queue[0][0] == tenant:
                batch.append(self.queue.popleft()[1])
            return tenant, batch

    def _run(self) -> None:
        while True:
            item = self._batch()
            if item is None:
                return
            tenant, batch = item
            body = json.dumps(batch).encode()
            for url, headers in self.targets:
                self._post(url, headers, tenant, body, len(batch))

    def _post(self, url: str, headers: dict[str, str], tenant: str, body: bytes, n: int) -> None:
        h = {"Content-Type": "application/json", "User-Agent": "Prometheus/2.42.0 lokipy-ruler",
             "X-Scope-OrgID": tenant, **headers}  # fmt: skip
        req = urllib.request.Request(url, data=body, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
            self.sent += n
        except urllib.error.HTTPError as err:
            self.errors += n
            log.warning("error sending %d alerts to %s: HTTP %d %s", n, url, err.code, err.read()[:300])
        except OSError as err:
            self.errors += n
            log.warning("error sending %d alerts to %s: %s", n, url, err)

    def stop(self, timeout: float = 5.0) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.thread.join(timeout)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _target(url: str, basic_auth: tuple[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """``<url>/api/v2/alerts``; user:pass in the URL (else ``alertmanager_client``) = basic auth."""
    parts = urllib.parse.urlsplit(url)
    headers: dict[str, str] = {"Authorization": _basic(*basic_auth)} if basic_auth else {}
    netloc = parts.netloc
    if parts.username is not None:
        headers["Authorization"] = _basic(
            urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
        )
        netloc = netloc.rsplit("@", 1)[1]
    path = parts.path.rstrip("/") + "/api/v2/alerts"
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, "", "")), headers
