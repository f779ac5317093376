"""Alerting and recording rules: Prometheus' rule semantics, as Loki embeds them (ruler.md §4).

Pure state machines driven by the caller's evaluation time ``t`` (int ns) and a query
result, so tests run them with a fake clock. An alert is keyed by its final label set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from lokipy.ruler.rules import RuleDef
from lokipy.ruler.template import Template, TemplateQuery, alert_data

LabelPairs = tuple[tuple[str, str], ...]
QuerySample = tuple[Mapping[str, str], float]
OutSample = tuple[LabelPairs, float]  # labels incl. __name__, value (timestamp = t)

RESOLVED_RETENTION_NS = 15 * 60 * 10**9
STALE_NAN = 0x7FF0000000000002  # Prometheus' stale marker, as bits

INACTIVE, PENDING, FIRING = "inactive", "pending", "firing"
_STATE_ORDER = {INACTIVE: 0, PENDING: 1, FIRING: 2}


class RuleEvalError(Exception):
    """An evaluation failure; the text is the rule's ``lastError``."""


@dataclass(slots=True)
class Alert:
    labels: LabelPairs
    annotations: dict[str, str]
    state: str
    active_at: int
    value: float
    fired_at: int = 0
    resolved_at: int = 0
    last_sent_at: int = 0
    valid_until: int = 0
    keep_firing_since: int = 0

    def needs_sending(self, t: int, resend_delay: int) -> bool:
        if self.state == PENDING:
            return False
        if self.resolved_at > self.last_sent_at:  # resolved since the last send: at once
            return True
        return self.last_sent_at + resend_delay < t


class RuleStatus:
    """What the rules API shows about a rule: health, last error, timings (wall clock)."""

    __slots__ = ("health", "last_error", "last_evaluation_ns", "evaluation_seconds")

    def __init__(self) -> None:
        self.health = "unknown"
        self.last_error = ""
        self.last_evaluation_ns = 0
        self.evaluation_seconds = 0.0

    def set(self, error: str, started_ns: int, seconds: float) -> None:
        self.health = "err" if error else "ok"
        self.last_error = error
        self.last_evaluation_ns = started_ns
        self.evaluation_seconds = seconds


class AlertingRule:
    def __init__(
        self,
        rule: RuleDef,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        keep_firing_for: bool = True,
    ) -> None:
        self.rule = rule
        self.name = rule.alert
        self.hold_ns = rule.for_ns
        self.keep_firing_ns = rule.keep_firing_for_ns if keep_firing_for else 0
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.label_templates = {k: Template(f"__alert_{rule.alert}", v) for k, v in rule.labels.items()}
        self.annotation_templates = {
            k: Template(f"__alert_{rule.alert}", v) for k, v in rule.annotations.items()
        }
        self.active: dict[LabelPairs, Alert] = {}
        self.status = RuleStatus()

    def same_definition(self, other: AlertingRule) -> bool:
        return self.name == other.name and dict(self.rule.labels) == dict(other.rule.labels)

    def eval(
        self, t: int, samples: list[QuerySample], limit: int = 0, query: TemplateQuery | None = None
    ) -> list[OutSample]:
        """One evaluation at ``t``; returns the ``ALERTS``/``ALERTS_FOR_STATE`` samples.

        ``query`` backs the templates' ``query`` function (LogQL at ``t``, as in Loki)."""
        found: dict[LabelPairs, Alert] = {}
        for metric, value in samples:
            data = alert_data(dict(metric), self.external_labels, self.external_url, value)
            lbs = {k: v for k, v in metric.items() if k != "__name__"}
            for k, tmpl in self.label_templates.items():
                lbs[k] = tmpl.expand(data, query)
            lbs["alertname"] = self.name
            key = tuple(sorted((k, v) for k, v in lbs.items() if v != ""))
            if key in found:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            annotations = {k: tmpl.expand(data, query) for k, tmpl in self.annotation_templates.items()}
            found[key] = Alert(key, annotations, PENDING, t, value)
        for key, new in found.items():
            old = self.active.get(key)
            if old is not None and old.state != INACTIVE:
                old.value = new.value
                old.annotations = new.annotations
                continue
            self.active[key] = new
        out: list[OutSample] = []
        active_pending = 0
        for key, a in list(self.active.items()):
            if key not in found:
                keep = False
                if a.state == FIRING and self.keep_firing_ns > 0:
                    if not a.keep_firing_since:
                        a.keep_firing_since = t
                    keep = t - a.keep_firing_since < self.keep_firing_ns
                if a.state == PENDING or (a.resolved_at and t - a.resolved_at > RESOLVED_RETENTION_NS):
                    del self.active[key]
                if a.state != INACTIVE and not keep:
                    a.state = INACTIVE
                    a.resolved_at = t
                if not keep:
                    continue
            else:
                a.keep_firing_since = 0
            active_pending += 1
            if a.state == PENDING and t - a.active_at >= self.hold_ns:
                a.state = FIRING
                a.fired_at = t
            out.append(((("__name__", "ALERTS"), *_with(key, "alertstate", a.state)), 1.0))
            out.append(((("__name__", "ALERTS_FOR_STATE"), *key), float(a.active_at // 10**9)))
        if limit > 0 and active_pending > limit:
            self.active = {}
            raise RuleEvalError(f"exceeded limit of {limit} with {active_pending} alerts")
        return out

    def alerts_to_send(self, t: int, resend_delay: int, interval: int) -> list[Alert]:
        """Copies of the alerts due for (re)sending at ``t``; marks them sent."""
        due: list[Alert] = []
        for a in self.active.values():
            if a.needs_sending(t, resend_delay):
                a.last_sent_at = t
                a.valid_until = t + 4 * max(interval, resend_delay)
                due.append(replace(a, annotations=dict(a.annotations)))
        return due

    def state(self) -> str:
        best = INACTIVE
        for a in self.active.values():
            if _STATE_ORDER[a.state] > _STATE_ORDER[best]:
                best = a.state
        return best

    def visible_alerts(self) -> list[Alert]:
        """Pending and firing alerts (what the alerts API lists)."""
        return [a for a in self.active.values() if a.state != INACTIVE]

    def restore(
        self, saved: Mapping[LabelPairs, tuple[int, int]], t: int, grace_ns: int, tolerance_ns: int
    ) -> None:
        """Prometheus' ``RestoreForState`` at ``t`` (the wall clock after the group's second
        evaluation since start-up) from persisted (active_at, last_seen) per alert."""
        if self.hold_ns < grace_ns:
            return
        for key, a in self.active.items():
            if key not in saved:
                continue
            active_at, down_at = saved[key]
            if down_at < t - tolerance_ns:
                continue
            remaining = self.hold_ns - (down_at - active_at)
            if remaining <= 0:
                restored = active_at  # it was firing: it fires again at the next evaluation
            elif remaining < grace_ns:
                restored = t + grace_ns - self.hold_ns
            else:
                restored = active_at + (t - down_at)
            a.active_at = restored  # only activeAt: the state is left to the next evaluations


def _with(key: LabelPairs, name: str, value: str) -> LabelPairs:
    return tuple(sorted((*key, (name, value))))


class RecordingRule:
    def __init__(self, rule: RuleDef) -> None:
        self.rule = rule
        self.name = rule.record
        self.status = RuleStatus()

    def eval(self, samples: list[QuerySample], limit: int = 0) -> list[OutSample]:
        out: dict[LabelPairs, float] = {}
        extra = dict(self.rule.labels)
        for metric, value in samples:
            lbs = {k: v for k, v in metric.items() if k != "__name__"}
            lbs.update(extra)
            lbs["__name__"] = self.name
            key = tuple(sorted((k, v) for k, v in lbs.items() if v != ""))
            if key in out:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            out[key] = value
        if limit > 0 and len(out) > limit:
            raise RuleEvalError(f"exceeded limit of {limit} with {len(out)} series")
        return list(out.items())


def is_stale(value: float) -> bool:
    import struct

    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN
