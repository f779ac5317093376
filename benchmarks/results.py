"""What every benchmark step hands to the report: measurements and correctness checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.timing import Timing


@dataclass(slots=True)
class Measurement:
    """One timed operation over ``nbytes`` raw log bytes / ``nlines`` lines (when meaningful)."""

    key: str
    what: str
    timing: Timing | None = None
    nbytes: int | None = None
    nlines: int | None = None
    value: float | None = None  # for non-timed figures (bytes on disk, RSS)
    unit: str = ""
    check: str | None = None  # what was checked against the oracle
    error: str | None = None  # why the check failed (None: passed or nothing checked)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        return None if self.timing is None else self.timing.median

    @property
    def mb_s(self) -> float | None:
        s = self.seconds
        return None if not s or not self.nbytes else self.nbytes / s / 1e6

    @property
    def lines_s(self) -> float | None:
        s = self.seconds
        return None if not s or not self.nlines else self.nlines / s

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key": self.key, "what": self.what}
        if self.timing is not None:
            d.update(self.timing.as_dict())
        for name in ("nbytes", "nlines", "value", "unit", "check", "error"):
            v = getattr(self, name)
            if v not in (None, ""):
                d[name] = v
        if self.mb_s is not None:
            d["mb_s"] = self.mb_s
        if self.lines_s is not None:
            d["lines_s"] = self.lines_s
        d.update(self.extra)
        return d


@dataclass(slots=True)
class Results:
    """Everything one run measured, keyed by measurement key, in the order measured."""

    items: dict[str, Measurement] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, m: Measurement) -> Measurement:
        self.items[m.key] = m
        status = "" if m.check is None else ("  ok" if m.ok else f"  CHECK FAILED: {m.error}")
        rate = ""
        if m.mb_s is not None:
            rate += f"{m.mb_s:9.1f} MB/s"
        if m.lines_s is not None:
            rate += f" {m.lines_s / 1e6:7.3f} Mlines/s"
        if m.seconds is not None:
            rate += f"  p50 {m.seconds * 1000:9.2f} ms"
        if m.value is not None:
            rate += f" {m.value:,.0f} {m.unit}"
        print(f"  {m.key:<28}{rate}{status}", flush=True)
        return m

    def skip(self, key: str, why: str) -> None:
        self.skipped[key] = why
        print(f"  {key:<28}skipped: {why}", flush=True)

    def get(self, key: str) -> Measurement | None:
        return self.items.get(key)

    def failures(self) -> list[Measurement]:
        return [m for m in self.items.values() if not m.ok]
