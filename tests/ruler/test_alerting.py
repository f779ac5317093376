"""The alert state machine with a fake clock (times are plain ns values): Prometheus' rules."""

from __future__ import annotations

import math

import pytest

from lokipy.ruler.alerting import (
    FIRING,
    INACTIVE,
    PENDING,
    RESOLVED_RETENTION_NS,
    AlertingRule,
    RecordingRule,
    RuleEvalError,
)
from lokipy.ruler.rules import RuleDef
from lokipy.ruler.template import TemplateError

S = 10**9
T0 = 1_800_000_000 * S
ALICE = [({"username": "alice"}, 2.0)]


def rule(for_s: int = 0, keep_s: int = 0, **kw: object) -> AlertingRule:
    d = RuleDef(expr="vector(1)", alert="SSHLogin", for_ns=for_s * S, keep_firing_for_ns=keep_s * S,
                labels=kw.get("labels", {"severity": "warning"}), annotations=kw.get("annotations", {}))  # type: ignore[arg-type]  # fmt: skip
    return AlertingRule(d)


def only(r: AlertingRule) -> object:
    (a,) = r.active.values()
    return a


def test_pending_then_firing_after_for() -> None:
    r = rule(for_s=3)
    r.eval(T0, ALICE)
    a = only(r)
    assert (a.state, a.active_at, a.value) == (PENDING, T0, 2.0)  # type: ignore[attr-defined]
    assert dict(a.labels) == {"alertname": "SSHLogin", "severity": "warning", "username": "alice"}  # type: ignore[attr-defined]
    r.eval(T0 + 2 * S, [({"username": "alice"}, 3.0)])
    assert only(r).state == PENDING and only(r).value == 3.0  # type: ignore[attr-defined]
    r.eval(T0 + 3 * S, ALICE)
    assert (only(r).state, only(r).fired_at, only(r).active_at) == (FIRING, T0 + 3 * S, T0)  # type: ignore[attr-defined]
    assert r.state() == FIRING


def test_for_zero_fires_in_the_first_evaluation() -> None:
    r = rule()
    out = r.eval(T0, ALICE)
    assert only(r).state == FIRING  # type: ignore[attr-defined]
    alerts = {dict(lbs)["__name__"]: (dict(lbs), v) for lbs, v in out}
    assert alerts["ALERTS"][0]["alertstate"] == "firing" and alerts["ALERTS"][1] == 1.0
    assert alerts["ALERTS_FOR_STATE"][1] == T0 / S


def test_pending_alert_disappears_silently() -> None:
    r = rule(for_s=10)
    r.eval(T0, ALICE)
    r.eval(T0 + S, [])
    assert r.active == {}
    assert r.alerts_to_send(T0 + S, S, S) == []


def test_firing_alert_resolves_and_is_resent_for_15_minutes() -> None:
    r = rule()
    r.eval(T0, ALICE)
    assert len(r.alerts_to_send(T0, 60 * S, 60 * S)) == 1
    r.eval(T0 + 60 * S, [])
    a = only(r)
    assert (a.state, a.resolved_at) == (INACTIVE, T0 + 60 * S)  # type: ignore[attr-defined]
    (sent,) = r.alerts_to_send(T0 + 60 * S, 60 * S, 60 * S)  # resolution goes out at once
    assert sent.resolved_at == T0 + 60 * S
    assert r.visible_alerts() == []
    t = T0 + 60 * S + RESOLVED_RETENTION_NS
    r.eval(t, [])
    assert len(r.active) == 1  # exactly 15 min: still kept
    r.eval(t + S, [])
    assert r.active == {}


def test_resend_only_when_last_send_plus_delay_is_strictly_before_t() -> None:
    r = rule()
    sends = []
    for i in range(5):  # evaluation_interval = resend_delay = 1m
        t = T0 + i * 60 * S
        r.eval(t, ALICE)
        sends += [(i, a.valid_until - t) for a in r.alerts_to_send(t, 60 * S, 60 * S)]
    assert sends == [(0, 240 * S), (2, 240 * S), (4, 240 * S)]  # every 2 minutes, endsAt t+4m


def test_resolved_alert_that_comes_back_is_a_new_pending_alert() -> None:
    r = rule(for_s=5)
    r.eval(T0, ALICE)
    r.eval(T0 + 5 * S, ALICE)
    r.eval(T0 + 6 * S, [])
    r.eval(T0 + 7 * S, ALICE)
    assert (only(r).state, only(r).active_at) == (PENDING, T0 + 7 * S)  # type: ignore[attr-defined]


def test_nan_fires_and_empty_result_resolves() -> None:
    r = rule()
    r.eval(T0, [({}, math.nan)])
    assert only(r).state == FIRING and math.isnan(only(r).value)  # type: ignore[attr-defined]
    r.eval(T0 + S, [])
    assert only(r).state == INACTIVE  # type: ignore[attr-defined]


def test_keep_firing_for() -> None:
    r = rule(keep_s=3)
    r.eval(T0, ALICE)
    for dt in (1, 2, 3):
        r.eval(T0 + dt * S, [])
        assert only(r).state == (FIRING if dt < 4 else INACTIVE)  # type: ignore[attr-defined]
    r.eval(T0 + 4 * S, [])
    assert only(r).state == INACTIVE  # type: ignore[attr-defined]
    # coming back resets the timer
    r2 = rule(keep_s=3)
    r2.eval(T0, ALICE)
    r2.eval(T0 + S, [])
    r2.eval(T0 + 2 * S, ALICE)
    r2.eval(T0 + 4 * S, [])
    assert only(r2).state == FIRING  # type: ignore[attr-defined]


def test_templates_see_query_labels_and_value() -> None:
    r = rule(labels={"who": "{{ $labels.username }}"},
             annotations={"summary": "{{ $value }} login(s) by {{ $labels.username }}"})  # fmt: skip
    r.eval(T0, ALICE)
    a = only(r)
    assert dict(a.labels)["who"] == "alice"  # type: ignore[attr-defined]
    assert a.annotations == {"summary": "2 login(s) by alice"}  # type: ignore[attr-defined]


def test_duplicate_labelset_and_limit_errors() -> None:
    r = rule(labels={"username": "x"})
    with pytest.raises(RuleEvalError, match="same labelset after applying alert labels"):
        r.eval(T0, [({"username": "a"}, 1.0), ({"username": "b"}, 1.0)])
    r = rule()
    with pytest.raises(RuleEvalError, match="exceeded limit of 1 with 2 alerts"):
        r.eval(T0, [({"username": "a"}, 1.0), ({"username": "b"}, 1.0)], limit=1)
    assert r.active == {}


def test_restore_three_cases() -> None:
    hour, grace = 3600 * S, 600 * S
    key = (("alertname", "SSHLogin"), ("severity", "warning"), ("username", "alice"))
    t = T0 + 1000 * S
    # was firing before the restart: keeps activeAt, fires at the next evaluation
    r = rule(for_s=900)
    r.eval(t, ALICE)
    r.restore({key: (T0 - 2000 * S, T0)}, t, grace, hour)
    assert only(r).active_at == T0 - 2000 * S  # type: ignore[attr-defined]
    r.eval(t + S, ALICE)
    assert only(r).state == FIRING  # type: ignore[attr-defined]
    # little pending time left: fires for_grace_period after the restart
    r = rule(for_s=900)
    r.eval(t, ALICE)
    r.restore({key: (T0 - 800 * S, T0)}, t, grace, hour)
    assert only(r).active_at == t + grace - 900 * S  # type: ignore[attr-defined]
    # much pending time left: shifted by the downtime
    r = rule(for_s=900)
    r.eval(t, ALICE)
    r.restore({key: (T0 - 100 * S, T0)}, t, grace, hour)
    assert only(r).active_at == T0 - 100 * S + 1000 * S  # type: ignore[attr-defined]
    # outside for_outage_tolerance, or `for` below the grace period: not restored
    r = rule(for_s=900)
    r.eval(t, ALICE)
    r.restore({key: (T0 - 100 * S, T0)}, t, grace, 500 * S)
    assert only(r).active_at == t  # type: ignore[attr-defined]
    r = rule(for_s=60)
    r.eval(t, ALICE)
    r.restore({key: (T0 - 100 * S, T0)}, t, grace, hour)
    assert only(r).active_at == t  # type: ignore[attr-defined]


def test_restore_moves_only_active_at() -> None:
    hour, grace = 3600 * S, 600 * S
    key = (("alertname", "SSHLogin"), ("severity", "warning"), ("username", "alice"))
    t = T0 + 1000 * S
    r = rule(for_s=900)
    r.eval(t - 1000 * S, ALICE)
    r.eval(t, ALICE)  # firing already (a `for` of one interval or less can be, at the restore)
    r.restore({key: (T0 - 800 * S, T0)}, t, grace, hour)
    assert only(r).active_at == t + grace - 900 * S  # type: ignore[attr-defined]
    assert only(r).state == FIRING  # type: ignore[attr-defined]  # Prometheus leaves the state
    r.eval(t + S, ALICE)
    assert only(r).state == FIRING  # type: ignore[attr-defined]


def test_recording_rule_naming_and_errors() -> None:
    d = RuleDef(expr="x", record="osquery:ssh_logins:count1m", labels={"source": "osquery"})
    out = RecordingRule(d).eval([({"__name__": "old", "username": "alice", "source": "x"}, 2.0)])
    assert out == [
        ((("__name__", "osquery:ssh_logins:count1m"), ("source", "osquery"), ("username", "alice")), 2.0)
    ]
    with pytest.raises(RuleEvalError, match="same labelset after applying rule labels"):
        RecordingRule(d).eval([({"source": "a"}, 1.0), ({"source": "b"}, 1.0)])
    with pytest.raises(RuleEvalError, match="exceeded limit of 1 with 2 series"):
        RecordingRule(d).eval([({"u": "a"}, 1.0), ({"u": "b"}, 1.0)], limit=1)


def test_query_template_function() -> None:
    def query(expr: str) -> list[dict[str, object]]:
        if expr == "boom":
            raise TemplateError("error executing query: rule evaluation failed: parse error")
        return [{"Labels": {"user": "bob"}, "Value": 3.0}, {"Labels": {"user": "eve"}, "Value": 0.5}]

    r = rule(annotations={
        "all": '{{ range query "sum by (user) (x)" }}{{ .Labels.user }}={{ .Value }} {{ end }}',
        "first": '{{ with query "x" }}{{ . | first | value }} by {{ . | first | label "user" }}{{ end }}',
        "bad": '{{ query "boom" }}',
    })  # fmt: skip
    r.eval(T0, ALICE, query=query)
    ann = only(r).annotations  # type: ignore[attr-defined]
    assert ann["all"] == "bob=3 eve=0.5 "
    assert ann["first"] == "3 by bob"
    assert ann["bad"].startswith("<error expanding template: ") and "error executing query" in ann["bad"]
