"""Talk to a sink over HTTP: read its stats, wait until N lines arrived, report the rate.

``lokipy sink-wait --addr 127.0.0.1:3100 --lines 1000000 --timeout 300`` is this module.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


def base_url(addr: str) -> str:
    """``host:port`` or a URL → ``http://host:port`` (no trailing slash)."""
    addr = addr.strip().rstrip("/")
    return addr if "://" in addr else f"http://{addr}"


def fetch_stats(
    addr: str, *, tenant: str | None = None, streams: bool = False, timeout: float = 5.0
) -> dict[str, Any]:
    query = {"streams": "true" if streams else "false"}
    if tenant is not None:
        query["tenant"] = tenant
    url = f"{base_url(addr)}/sink/stats?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def reset(addr: str, *, timeout: float = 5.0) -> dict[str, Any]:
    req = urllib.request.Request(f"{base_url(addr)}/sink/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class SinkReport:
    """What arrived, and how fast. Rates are over the arrival span (first to last push)."""

    reached: bool
    target: int
    lines: int
    bytes: int
    requests: int
    duplicates: int
    out_of_order: int
    rejected_requests: int
    first_arrival_ns: int | None
    last_arrival_ns: int | None
    waited_s: float

    @classmethod
    def from_stats(
        cls, stats: dict[str, Any], target: int, waited_s: float, tenant: str | None = None
    ) -> SinkReport:
        t = stats["totals"] if tenant is None else stats["tenants"].get(tenant, {})
        lines = int(t.get("lines", 0))
        return cls(
            reached=lines >= target,
            target=target,
            lines=lines,
            bytes=int(t.get("bytes", 0)),
            requests=int(t.get("requests", 0)),
            duplicates=int(t.get("duplicates", 0)),
            out_of_order=int(t.get("out_of_order", 0)),
            rejected_requests=int(t.get("rejected_requests", 0)),
            first_arrival_ns=t.get("first_arrival_ns"),
            last_arrival_ns=t.get("last_arrival_ns"),
            waited_s=waited_s,
        )

    @property
    def span_s(self) -> float:
        if self.first_arrival_ns is None or self.last_arrival_ns is None:
            return 0.0
        return (self.last_arrival_ns - self.first_arrival_ns) / 1e9

    @property
    def lines_per_s(self) -> float | None:
        return self.lines / self.span_s if self.span_s > 0 else None

    @property
    def bytes_per_s(self) -> float | None:
        return self.bytes / self.span_s if self.span_s > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reached": self.reached,
            "target": self.target,
            "lines": self.lines,
            "bytes": self.bytes,
            "requests": self.requests,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "rejected_requests": self.rejected_requests,
            "span_s": self.span_s,
            "lines_per_s": self.lines_per_s,
            "bytes_per_s": self.bytes_per_s,
            "waited_s": self.waited_s,
        }

    def summary(self) -> str:
        state = "reached" if self.reached else "TIMED OUT before"
        rate = "n/a (fewer than two pushes)"
        if self.lines_per_s is not None and self.bytes_per_s is not None:
            rate = f"{self.lines_per_s:,.0f} lines/s, {self.bytes_per_s / 1e6:,.2f} MB/s"
        return (
            f"{state} {self.target:,} lines: {self.lines:,} lines, {self.bytes:,} bytes in "
            f"{self.requests:,} requests over {self.span_s:.3f}s ({rate}); "
            f"duplicates {self.duplicates:,}, out of order {self.out_of_order:,}, "
            f"rejected requests {self.rejected_requests:,}"
        )


def wait_for_lines(
    addr: str,
    lines: int,
    timeout: float,
    *,
    tenant: str | None = None,
    poll_interval: float = 0.1,
) -> SinkReport:
    """Poll ``/sink/stats`` until ``lines`` entries arrived or ``timeout`` seconds passed.

    Connection errors while polling are retried until the deadline (the sink may still be
    starting); the report says whether the target was reached.
    """
    start = time.monotonic()
    deadline = start + timeout
    stats: dict[str, Any] = {"totals": {}, "tenants": {}}
    while True:
        try:
            stats = fetch_stats(addr, tenant=tenant, timeout=max(0.5, min(5.0, deadline - time.monotonic())))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        report = SinkReport.from_stats(stats, lines, time.monotonic() - start, tenant)
        if report.reached or time.monotonic() >= deadline:
            return report
        time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))
