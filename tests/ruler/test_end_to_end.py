"""The SSH-login alert end to end with the real programs: push osquery ``last`` rows over HTTP
to ``lokipy serve`` → the ruler (1 s groups) → Alertmanager 0.25 → a webhook; the recording rule
remote-written to Prometheus 2.42 and queryable there; both resolved/stale when the rows
leave the window."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lokipy.testing.server import ServerProcess
from tests.ruler.programs import (
    ALERTMANAGER,
    PROMETHEUS,
    Webhook,
    require_binary,
    start_alertmanager,
    start_prometheus,
)

WINDOW = "10s"  # short so the resolution is seen within the test
RULES = f"""groups:
  - name: osquery-ssh-alerts
    interval: 1s
    rules:
      - alert: SSHLogin
        expr: sum by (columns_username) (count_over_time({{job="osquery_results"}} | json | columns_type="7" [{WINDOW}])) > 0
        for: 2s
        labels:
          severity: warning
        annotations:
          summary: "SSH login by {{{{ $labels.columns_username }}}}"
          description: "{{{{ $value }}}} SSH login(s) by {{{{ $labels.columns_username }}}} in the last {WINDOW}"
  - name: osquery-ssh-records
    interval: 1s
    rules:
      - record: osquery:ssh_logins:count{WINDOW}
        expr: sum by (columns_username) (count_over_time({{job="osquery_results"}} | json | columns_type="7" [{WINDOW}]))
        labels:
          source: osquery
"""


def osquery_row(user: str, kind: str, name: str = "pack_incident-response_last") -> str:
    return json.dumps({
        "name": name, "hostIdentifier": "web-1", "calendarTime": "Sat Nov 28 07:00:00 2026 UTC",
        "unixTime": int(time.time()), "epoch": 0, "counter": 1, "numerics": False,
        "columns": {"username": user, "host": "10.0.0.9", "type": kind, "tty": "pts/0", "pid": "4242",
                    "time": str(int(time.time()))},
        "action": "added",
    })  # fmt: skip


def http_json(url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=h, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def wait_until(fn: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    require_binary(PROMETHEUS)
    require_binary(ALERTMANAGER)
    hook = Webhook()
    prom, prom_url = start_prometheus(tmp_path)
    am, am_url = start_alertmanager(tmp_path, hook.url)
    rules = tmp_path / "rules" / "fake"
    rules.mkdir(parents=True)
    (rules / "osquery-ssh.yaml").write_text(RULES)
    config = {
        "ruler": {
            "storage": {"type": "local", "local": {"directory": str(tmp_path / "rules")}},
            "rule_path": str(tmp_path / "scratch"),
            "alertmanager_url": am_url,
            "evaluation_interval": "1s",
            "poll_interval": "1s",
            "resend_delay": "1s",
            "external_url": "http://127.0.0.1:3000",
            "external_labels": {"origin": "lokipy-acceptance"},
            "remote_write": {"enabled": True, "clients": {"prom": {
                "url": f"{prom_url}/api/v1/write", "queue_config": {"batch_send_deadline": "500ms"}}}},
        }
    }  # fmt: skip
    server = ServerProcess(tmp_path / "data", config)
    try:
        server.start()
        yield {"loki": server.url, "prom": prom_url, "am": am_url, "hook": hook, "server": server}
    finally:
        server.stop()
        am.stop()
        prom.stop()
        hook.stop()


def prom_query(prom: str, q: str) -> list[dict[str, Any]]:
    out = http_json(f"{prom}/api/v1/query?query={urllib.parse.quote(q)}")
    return out["data"]["result"]  # type: ignore[no-any-return]


def test_ssh_login_alert_and_recording_rule_end_to_end(stack: dict[str, Any]) -> None:
    loki, prom, hook = stack["loki"], stack["prom"], stack["hook"]
    rules = http_json(f"{loki}/prometheus/api/v1/rules")
    assert [g["name"] for g in rules["data"]["groups"]] == ["osquery-ssh-alerts", "osquery-ssh-records"]

    now = time.time_ns()
    lines = [osquery_row("alice", "7"), osquery_row("alice", "7"), osquery_row("bob", "8"),
             osquery_row("reboot", "2"), "not json at all"]  # fmt: skip
    push = {"streams": [{"stream": {"job": "osquery_results", "host": "web-1"},
                         "values": [[str(now + i), line] for i, line in enumerate(lines)]}]}  # fmt: skip
    http_json(f"{loki}/loki/api/v1/push", push)

    pending = wait_until(
        lambda: http_json(f"{loki}/prometheus/api/v1/alerts")["data"]["alerts"], 10, "the alert in the API"
    )
    assert pending[0]["labels"] == {
        "alertname": "SSHLogin",
        "columns_username": "alice",
        "severity": "warning",
    }
    assert pending[0]["value"] == "2e+00"

    firing = hook.wait_for(lambda b: b["status"] == "firing", 20)
    (alert,) = firing["alerts"]
    assert alert["labels"] == {"alertname": "SSHLogin", "columns_username": "alice", "severity": "warning",
                               "origin": "lokipy-acceptance"}  # fmt: skip
    assert alert["annotations"] == {"summary": "SSH login by alice",
                                    "description": f"2 SSH login(s) by alice in the last {WINDOW}"}  # fmt: skip
    assert alert["generatorURL"].startswith("http://127.0.0.1:3000/explore?left=")
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"  # Alertmanager reports a firing alert so

    series = wait_until(
        lambda: prom_query(prom, f"osquery:ssh_logins:count{WINDOW}"), 15, "the recorded series"
    )
    assert series[0]["metric"] == {"__name__": f"osquery:ssh_logins:count{WINDOW}", "source": "osquery",
                                   "columns_username": "alice"}  # fmt: skip
    assert series[0]["value"][1] == "2"
    alerts_series = wait_until(lambda: prom_query(prom, 'ALERTS{alertstate="firing"}'), 10, "ALERTS")
    assert alerts_series[0]["metric"]["alertname"] == "SSHLogin"

    # The rows leave the window: the alert resolves and the recorded series goes stale.
    resolved = hook.wait_for(lambda b: b["status"] == "resolved", 25)
    assert resolved["alerts"][0]["labels"]["columns_username"] == "alice"
    assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    wait_until(lambda: not prom_query(prom, f"osquery:ssh_logins:count{WINDOW}"), 10, "the stale marker")
    assert http_json(f"{loki}/prometheus/api/v1/alerts")["data"]["alerts"] == []
    assert "Traceback" not in stack["server"].log_text()
