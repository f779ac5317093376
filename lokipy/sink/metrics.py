"""The sink's counters in Prometheus text format (``lokipy_sink_*``).

Served at ``GET /sink/metrics``; :func:`render_metrics` is also what a ``/metrics`` route
appends in sink mode.
"""

from __future__ import annotations

from lokipy.model.labels import go_quote
from lokipy.sink.counter import Sink

_COUNTERS = (
    ("requests", "requests_total", "Push requests accepted."),
    ("request_bytes", "request_bytes_total", "Push body bytes accepted, as received (compressed)."),
    ("rejected_requests", "rejected_requests_total", "Push requests that could not be decoded."),
    ("rejected_bytes", "rejected_bytes_total", "Body bytes of rejected push requests."),
    ("lines", "lines_total", "Log entries received."),
    ("bytes", "bytes_total", "Log line bytes received."),
    ("metadata_bytes", "metadata_bytes_total", "Structured metadata bytes received."),
    ("duplicates", "duplicates_total", "Entries whose timestamp, line and metadata already arrived."),
    ("out_of_order", "out_of_order_total", "Entries older than the newest entry of their stream."),
)


def render_metrics(sink: Sink) -> str:
    tenants = sink.stats(with_streams=False)["tenants"]
    out: list[str] = []
    for key, name, help_text in _COUNTERS:
        out.append(f"# HELP lokipy_sink_{name} {help_text}")
        out.append(f"# TYPE lokipy_sink_{name} counter")
        for tenant, t in tenants.items():
            out.append(f"lokipy_sink_{name}{{tenant={go_quote(tenant)}}} {t[key]}")
    out.append("# HELP lokipy_sink_streams Streams that received at least one push.")
    out.append("# TYPE lokipy_sink_streams gauge")
    for tenant, t in tenants.items():
        out.append(f"lokipy_sink_streams{{tenant={go_quote(tenant)}}} {t['stream_count']}")
    return "\n".join(out) + "\n"
