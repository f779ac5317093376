"""Group evaluation through the Ruler without timers (a fake clock): slots, recording output,
stale markers, ALERTS series, notifications, errors, reloads and the for-state restore."""

from __future__ import annotations

import json
import math
import urllib.parse
from pathlib import Path
from typing import Any

from lokipy.ruler.alerting import QuerySample, is_stale
from lokipy.ruler.config import RulerConfig
from lokipy.ruler.manager import Group, Ruler

S = 10**9
T0 = 1_800_000_000 * S
RULES = """groups:
  - name: ssh
    interval: 10s
    rules:
      - alert: SSHLogin
        expr: ALERT_EXPR
        for: FOR
        labels: {severity: warning}
        annotations: {summary: "{{ $value }} by {{ $labels.user }}"}
      - record: logins:count
        expr: RECORD_EXPR
        labels: {source: osquery}
"""


class FakeQuery:
    def __init__(self) -> None:
        self.results: dict[str, list[QuerySample]] = {}
        self.calls: list[tuple[str, int, str]] = []

    def __call__(self, expr: str, t: int, tenant: str) -> list[QuerySample]:
        self.calls.append((expr, t, tenant))
        if expr == "boom":
            raise ValueError("parse error at line 1")
        return self.results.get(expr, [])


def make(tmp: Path, for_: str = "0s", **cfg: Any) -> tuple[Ruler, FakeQuery, Group]:
    rules = tmp / "rules" / "fake"
    rules.mkdir(parents=True, exist_ok=True)
    text = RULES.replace("ALERT_EXPR", 'count_over_time({a="1"}[1m])').replace("FOR", for_)
    (rules / "ssh.yaml").write_text(text.replace("RECORD_EXPR", 'count_over_time({a="2"}[1m])'))
    q = FakeQuery()
    config = RulerConfig(storage_directory=str(tmp / "rules"), external_labels={"origin": "x"}, **cfg)
    ruler = Ruler(config, q, tmp / "data")
    ruler.sync()
    (group,) = ruler.groups.values()
    return ruler, q, group


ALERT = 'count_over_time({a="1"}[1m])'
RECORD = 'count_over_time({a="2"}[1m])'


def test_slots_are_aligned_per_group(tmp_path: Path) -> None:
    _, _, g = make(tmp_path)
    slots = [g.next_slot(T0 + k * 3 * S) for k in range(10)]
    offsets = {s % g.interval for s in slots}
    assert len(offsets) == 1
    assert all(0 < s - (T0 + k * 3 * S) <= g.interval for k, s in enumerate(slots))


def test_recording_rule_output_and_stale_markers(tmp_path: Path) -> None:
    _, q, g = make(tmp_path)
    q.results[RECORD] = [({"user": "alice"}, 2.0), ({"user": "bob"}, 1.0)]
    out, notify = g.evaluate(T0)
    assert notify == []
    assert sorted((dict(lbs)["user"], ts, v) for lbs, ts, v in out) == [
        ("alice", T0 // 10**6, 2.0),
        ("bob", T0 // 10**6, 1.0),
    ]
    assert all(
        dict(lbs)["__name__"] == "logins:count" and dict(lbs)["source"] == "osquery" for lbs, _, _ in out
    )
    assert q.calls == [(ALERT, T0, "fake"), (RECORD, T0, "fake")]  # file order, instant query at t
    q.results[RECORD] = [({"user": "alice"}, 3.0)]
    out, _ = g.evaluate(T0 + 10 * S)
    by_user = {dict(lbs)["user"]: v for lbs, _, v in out}
    assert by_user["alice"] == 3.0 and is_stale(by_user["bob"])
    out, _ = g.evaluate(T0 + 20 * S)  # bob is marked stale once only
    assert [(dict(lbs)["user"], ts, v) for lbs, ts, v in out] == [("alice", (T0 + 20 * S) // 10**6, 3.0)]


def test_alerts_series_and_notifications(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path, resend_delay=60 * S)
    g.restore_in = 0  # restored (or a group that is not): ALERTS series are written
    q.results[ALERT] = [({"user": "alice"}, 2.0)]
    out, notify = g.evaluate(T0)
    names = sorted(dict(lbs)["__name__"] for lbs, _, _ in out)
    assert names == ["ALERTS", "ALERTS_FOR_STATE"]
    (payload,) = notify
    assert payload["labels"] == {
        "alertname": "SSHLogin",
        "severity": "warning",
        "user": "alice",
        "origin": "x",
    }
    assert payload["annotations"] == {"summary": "2 by alice"}
    left = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(payload["generatorURL"]).query)["left"][0])
    assert left == {"queries": [{"expr": ALERT, "queryType": "range"}]}
    assert payload["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert payload["endsAt"] == "2027-01-15T08:04:00.000Z"  # t + 4 × max(10s, 1m)
    assert g.evaluate(T0 + 10 * S)[1] == []  # not yet due again
    q.results[ALERT] = []
    out, notify = g.evaluate(T0 + 20 * S)
    assert notify[0]["endsAt"] == "2027-01-15T08:00:20.000Z"  # resolved at t
    assert {dict(lbs)["__name__"] for lbs, _, v in out if is_stale(v)} == {"ALERTS", "ALERTS_FOR_STATE"}
    rule = g.rules[0]
    assert rule.status.health == "ok" and rule.status.last_error == ""


def test_no_alerts_series_before_the_restore(tmp_path: Path) -> None:
    _, q, g = make(tmp_path)
    q.results[ALERT] = [({"user": "alice"}, 2.0)]
    q.results[RECORD] = [({"user": "alice"}, 2.0)]
    names = [{dict(lbs)["__name__"] for lbs, _, _ in g.evaluate(T0 + k * 10 * S)[0]} for k in range(3)]
    assert names == [{"logins:count"}, {"logins:count"}, {"logins:count", "ALERTS", "ALERTS_FOR_STATE"}]


def test_query_error_sets_health_and_changes_nothing(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path)
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    g.evaluate(T0)
    g.rules[0].rule = g.rules[0].rule.__class__(**{**_fields(g.rules[0].rule), "expr": "boom"})
    out, notify = g.evaluate(T0 + 10 * S)
    assert g.rules[0].status.health == "err"
    assert g.rules[0].status.last_error == "rule evaluation failed: parse error at line 1"
    assert g.rules[0].active and notify == []


def _fields(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


def test_reload_keeps_alert_state_and_bad_files_keep_old_rules(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path, for_="1m")
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    g.evaluate(T0)
    path = tmp_path / "rules" / "fake" / "ssh.yaml"
    path.write_text(path.read_text().replace("{{ $value }} by", "{{ $value }} login(s) by"))
    ruler.sync()
    (g2,) = ruler.groups.values()
    assert g2 is not g and g2.rules[0].active  # same rule name + labels: state carried over
    (alert,) = g2.rules[0].active.values()
    assert alert.active_at == T0
    path.write_text("groups: [{name: ssh, bogus: 1}]")
    ruler.sync()
    assert list(ruler.groups.values()) == [g2]  # the broken file's previous groups keep running
    assert "field bogus not found" in ruler.errors[("fake", "ssh.yaml")]
    path.unlink()
    ruler.sync()
    assert ruler.groups == {}


def _restart(ruler: Ruler, q: FakeQuery, tmp: Path, now: list[int]) -> Group:
    """A new Ruler over the same data dir (what a restarted ``lokipy serve`` builds)."""
    again = Ruler(ruler.config, q, tmp / "data", clock=lambda: now[0])
    again.sync()
    (group,) = again.groups.values()
    return group


def test_for_state_restored_after_the_second_evaluation(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path, for_="30m", for_grace_period=600 * S)
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    g.evaluate(T0)
    g.evaluate(T0 + 100 * S)
    (state_file,) = (tmp_path / "data" / "ruler-state" / "fake").glob("*.json")
    saved = state_file.read_text()
    now = [0]
    g2 = _restart(ruler, q, tmp_path, now)  # restarted 200 s after the last evaluation
    t = T0 + 300 * S
    g2.evaluate(t)
    (alert,) = g2.rules[0].active.values()
    assert alert.active_at == t  # the first evaluation after start-up is not restored yet
    assert state_file.read_text() == saved  # nor does it overwrite the state to restore
    now[0] = t + 10 * S + 3 * S // 1000  # Prometheus restores at the wall clock after the 2nd one
    g2.evaluate(t + 10 * S)
    assert alert.active_at == T0 + (now[0] - (T0 + 100 * S))  # shifted by the downtime
    assert json.loads(state_file.read_text())["t"] == t + 10 * S
    now[0] += 10 * S
    g2.evaluate(t + 20 * S)  # once only
    assert alert.active_at == T0 + (t + 10 * S + 3 * S // 1000 - (T0 + 100 * S))
    assert math.isclose(alert.value, 1.0)


def test_restore_waits_for_data_missing_at_the_first_evaluation(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path, for_="30m", for_grace_period=600 * S)
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    g.evaluate(T0)
    g.evaluate(T0 + 100 * S)
    now = [T0 + 320 * S]
    g2 = _restart(ruler, q, tmp_path, now)
    q.results[ALERT] = []  # e.g. the data the rule needs is not there yet
    g2.evaluate(T0 + 300 * S)
    assert g2.rules[0].active == {}
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    g2.evaluate(T0 + 310 * S)
    (alert,) = g2.rules[0].active.values()
    assert alert.active_at == T0 + (now[0] - (T0 + 100 * S))


def test_restore_reads_whole_seconds_as_from_alerts_for_state(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path, for_="1m", for_grace_period=10 * S)
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    t0 = T0 + 700_000_000  # slots 0.7 s past a whole second
    g.evaluate(t0)
    g.evaluate(t0 + 100 * S)  # firing when stopped
    g2 = _restart(ruler, q, tmp_path, [t0 + 310 * S])
    g2.evaluate(t0 + 300 * S)
    g2.evaluate(t0 + 310 * S)
    (alert,) = g2.rules[0].active.values()
    assert alert.active_at == T0  # ALERTS_FOR_STATE keeps activeAt in whole seconds
    g2.evaluate(t0 + 320 * S)
    assert alert.state == "firing"


def test_groups_added_later_are_not_restored(tmp_path: Path) -> None:
    ruler, q, g = make(tmp_path, for_="30m", for_grace_period=600 * S)
    q.results[ALERT] = [({"user": "alice"}, 1.0)]
    g.evaluate(T0)
    g.evaluate(T0 + 100 * S)
    path = tmp_path / "rules" / "fake" / "ssh.yaml"
    text = path.read_text()
    path.unlink()
    (tmp_path / "rules" / "fake" / "other.yaml").write_text(text.replace("name: ssh", "name: other"))
    ruler.sync()
    path.write_text(text)  # the group comes back while the tenant's rules run: Loki does not restore
    ruler.sync()
    g2 = ruler.groups[("fake", "ssh.yaml", "ssh")]
    assert g2 is not g
    g2.evaluate(T0 + 300 * S)
    g2.evaluate(T0 + 310 * S)
    (alert,) = g2.rules[0].active.values()
    assert alert.active_at == T0 + 300 * S


def test_operator_metrics(tmp_path: Path) -> None:
    from lokipy.ruler.metrics import exposition_lines

    ruler, q, g = make(tmp_path)
    g.evaluate(T0)
    g.rules[1].rule = g.rules[1].rule.__class__(**{**_fields(g.rules[1].rule), "expr": "boom"})
    g.evaluate(T0 + 10 * S)
    text = "\n".join(exposition_lines(ruler))
    assert 'loki_prometheus_rule_evaluations_total{rule_group="ssh.yaml;ssh",user="fake"} 4' in text
    assert 'loki_prometheus_rule_evaluation_failures_total{rule_group="ssh.yaml;ssh",user="fake"} 1' in text
    assert "loki_prometheus_notifications_sent_total 0" in text
    assert "# TYPE loki_prometheus_rule_group_last_evaluation_timestamp_seconds gauge" in text


def test_template_query_runs_logql_at_the_slot_time(tmp_path: Path) -> None:
    import pytest

    from lokipy.ruler.template import TemplateError

    _, q, g = make(tmp_path)
    q.results[RECORD] = [({"user": "alice"}, 2.0)]
    assert g._template_query(T0)(RECORD) == [{"Labels": {"user": "alice"}, "Value": 2.0}]
    assert q.calls[-1] == (RECORD, T0, "fake")
    with pytest.raises(TemplateError, match="error executing query: rule evaluation failed: parse error"):
        g._template_query(T0)("boom")
