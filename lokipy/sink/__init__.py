"""Sink mode: accept every Loki push format at full speed, count what arrived, store nothing."""

from __future__ import annotations

from lokipy.sink.client import SinkReport, fetch_stats, reset, wait_for_lines
from lokipy.sink.counter import DEFAULT_DEDUP_WINDOW, Sink, StreamCounts, TenantCounts
from lokipy.sink.metrics import render_metrics

__all__ = [
    "DEFAULT_DEDUP_WINDOW",
    "Sink",
    "SinkReport",
    "StreamCounts",
    "TenantCounts",
    "fetch_stats",
    "render_metrics",
    "reset",
    "wait_for_lines",
]
