"""How the CLI prints entries (logcli's ``default``, ``raw`` and ``jsonl`` modes) and progress."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TextIO

import orjson

from lokipy.cli.client import Entry
from lokipy.model.labels import format_labels

OUTPUT_MODES = ("default", "raw", "jsonl")


def timezone(name: str) -> tzinfo | None:
    """``UTC`` or ``Local`` (logcli's ``--timezone``); None means the local zone."""
    if name.lower() == "utc":
        return UTC
    if name.lower() == "local":
        return None
    raise ValueError(f"unknown timezone {name!r}: use Local or UTC")


def rfc3339(ts: int, tz: tzinfo | None, nano: bool = False) -> str:
    """Go's RFC3339 (``Z`` for a zero offset); RFC3339Nano with ``nano``."""
    dt = datetime.fromtimestamp(ts // 10**9, tz=UTC)
    if tz is not UTC:
        dt = dt.astimezone(tz)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if nano and ts % 10**9:
        text += "." + f"{ts % 10**9:09d}".rstrip("0")
    offset = int((dt.utcoffset() or timedelta(0)).total_seconds()) // 60
    if offset == 0:
        return text + "Z"
    sign = "+" if offset > 0 else "-"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def common_labels(entries: Sequence[Entry]) -> dict[str, str]:
    """Labels every entry shares; logcli prints them once and leaves them off each line."""
    if not entries:
        return {}
    common = dict(entries[0].labels)
    for e in entries[1:]:
        present = dict(e.labels)
        common = {k: v for k, v in common.items() if present.get(k) == v}
        if not common:
            break
    return common


class EntryPrinter:
    def __init__(
        self,
        mode: str,
        out: TextIO,
        *,
        tz: tzinfo | None = UTC,
        no_labels: bool = False,
        hide: Iterable[str] = (),
    ) -> None:
        if mode not in OUTPUT_MODES:
            raise ValueError(f"unknown output mode {mode!r}: use one of {', '.join(OUTPUT_MODES)}")
        self.mode = mode
        self.out = out
        self.tz = tz
        self.no_labels = no_labels
        self.hide = set(hide)
        self.width = 0

    def print(self, entry: Entry) -> None:
        if self.mode == "raw":
            self.out.write(entry.line + "\n")
            return
        if self.mode == "jsonl":
            record: dict[str, Any] = {
                "labels": dict(entry.labels),
                "line": entry.line,
                "timestamp": rfc3339(entry.ts, self.tz, nano=True),
            }
            if entry.extra:
                record.update(entry.extra)
            self.out.write(orjson.dumps(record).decode() + "\n")
            return
        ts = rfc3339(entry.ts, self.tz)
        if self.no_labels:
            self.out.write(f"{ts} {entry.line}\n")
            return
        labels = format_labels((k, v) for k, v in entry.labels if k not in self.hide)
        self.width = max(self.width, len(labels))
        self.out.write(f"{ts} {labels.ljust(self.width)} {entry.line}\n")


class Progress:
    """A one-line spinner on stderr while a request runs (only on a terminal, or forced).

    Shows after ``delay`` seconds so quick queries print nothing; cleared when done.
    """

    FRAMES = "|/-\\"

    def __init__(self, enabled: bool, err: TextIO = sys.stderr, delay: float = 0.5) -> None:
        self.enabled = enabled
        self.err = err
        self.delay = delay
        self.entries = 0
        self.began = time.monotonic()
        self.shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="lokipy-progress", daemon=True)
            self._thread.start()
        return self

    def update(self, entries: int) -> None:
        self.entries = entries

    def _run(self) -> None:
        i = 0
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            took = time.monotonic() - self.began
            what = f", {self.entries} entries so far" if self.entries else ""
            self.err.write(f"\r{self.FRAMES[i % 4]} querying… {took:.1f}s{what}")
            self.err.flush()
            self.shown = True
            i += 1
            self._stop.wait(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.shown:
            took = time.monotonic() - self.began
            what = f", {self.entries} entries" if self.entries else ""
            self.err.write(f"\r\x1b[2Kdone in {took:.1f}s{what}\n")
            self.err.flush()
