"""The ruler's HTTP API: YAML rule configuration (both prefixes) and the Prometheus-shaped JSON
state Grafana reads, against a real LogStore with the ruler evaluated by hand."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from httpx import Client as HTTP

from lokipy.api.app import create_app
from lokipy.config import Config
from lokipy.logstore import LogStore
from lokipy.ruler.config import RulerConfig
from lokipy.ruler.manager import Ruler
from lokipy.testing.server import ThreadServer

GROUP = """name: ssh
interval: 1s
rules:
  - alert: SSHLogin
    expr: sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m])) > 0
    for: 3s
    labels:
      severity: warning
    annotations:
      summary: SSH login by {{ $labels.columns_username }}
  - record: osquery:ssh_logins:count5m
    expr: sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m]))
"""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[HTTP, Ruler, LogStore]]:
    cfg = replace(
        Config(data_dir=tmp_path / "data"), ruler=RulerConfig(storage_directory=str(tmp_path / "rules"))
    )
    store = LogStore(config=cfg)
    app = create_app(store, cfg)  # builds the ruler (not started) and mounts its API
    ruler = app.state.lokipy.extra["ruler"]
    assert isinstance(ruler, Ruler) and ruler.thread_count() == 0
    with ThreadServer(app) as server, HTTP(base_url=server.url) as client:
        yield client, ruler, store
    store.close()


@pytest.mark.parametrize("prefix", ["/loki/api/v1/rules", "/api/prom/rules"])
def test_yaml_api_round_trip(env: tuple[HTTP, Ruler, LogStore], prefix: str) -> None:
    client, ruler, _ = env
    r = client.get(prefix)
    assert (r.status_code, r.text) == (404, "no rule groups found\n")
    r = client.post(f"{prefix}/osquery-ssh.yaml", content=GROUP, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 202 and r.json() == {
        "status": "success",
        "data": None,
        "errorType": "",
        "error": "",
    }
    assert [g.name for g in ruler.tenant_groups("fake")] == ["ssh"]  # applied at once
    listed = yaml.safe_load(client.get(prefix).text)
    assert list(listed) == ["osquery-ssh.yaml"]
    (group,) = listed["osquery-ssh.yaml"]
    assert list(group) == ["name", "interval", "rules"] and group["rules"][0]["for"] == "3s"
    assert list(group["rules"][0]) == ["alert", "expr", "for", "labels", "annotations"]
    assert yaml.safe_load(client.get(f"{prefix}/osquery-ssh.yaml/ssh").text) == group
    assert client.get(f"{prefix}/osquery-ssh.yaml/nope").status_code == 404
    assert list(yaml.safe_load(client.get(f"{prefix}/osquery-ssh.yaml").text)) == ["osquery-ssh.yaml"]
    assert (
        yaml.safe_load(client.get(f"{prefix}?labels=severity:warning").text)["osquery-ssh.yaml"][0]["rules"][
            0
        ]["alert"]
        == "SSHLogin"
    )
    # other tenants see nothing
    assert client.get(prefix, headers={"X-Scope-OrgID": "other"}).status_code == 404
    r = client.delete(f"{prefix}/osquery-ssh.yaml/ssh")
    assert r.status_code == 202
    assert client.delete(f"{prefix}/osquery-ssh.yaml").status_code == 404
    assert ruler.tenant_groups("fake") == []


def test_yaml_api_errors(env: tuple[HTTP, Ruler, LogStore]) -> None:
    client, _, _ = env
    r = client.post("/loki/api/v1/rules/ns", content="name: g\nrules:\n  - expr: vector(1)\n")
    assert (r.status_code, r.text) == (400, "one of 'record' or 'alert' must be set\n")
    r = client.post("/loki/api/v1/rules/ns", content="- not a group")
    assert (r.status_code, r.text) == (400, "unable to decoded rule group\n")
    r = client.post("/loki/api/v1/rules/..", content=GROUP)
    assert r.status_code in (400, 404)
    r = client.post("/loki/api/v1/rules/.x", content=GROUP)
    assert (r.status_code, r.text) == (400, "path traversal not allowed\n")


def test_prometheus_rules_and_alerts_json(env: tuple[HTTP, Ruler, LogStore]) -> None:
    client, ruler, store = env
    before = client.get("/prometheus/api/v1/rules").json()
    assert before == {"status": "success", "data": {"groups": []}, "errorType": "", "error": ""}
    client.post("/loki/api/v1/rules/osquery-ssh.yaml", content=GROUP)
    (group,) = ruler.tenant_groups("fake")
    rules = client.get("/prometheus/api/v1/rules").json()["data"]["groups"][0]["rules"]
    assert rules[0]["health"] == "unknown" and rules[0]["lastEvaluation"] == "0001-01-01T00:00:00Z"
    t = time.time_ns()
    row = {
        "name": "last",
        "hostIdentifier": "web-1",
        "columns": {"username": "alice", "type": "7"},
        "action": "added",
    }
    store.push({"job": "osquery_results"}, [(t - 10**9, json.dumps(row)), (t - 10**9 + 1, json.dumps(row))])
    group.evaluate(t)
    body = client.get("/prometheus/api/v1/rules").json()
    (g,) = body["data"]["groups"]
    assert (g["name"], g["file"], g["interval"], g["limit"]) == ("ssh", "osquery-ssh.yaml", 1.0, 0)
    alert_rule, record_rule = g["rules"]
    assert list(alert_rule) == ["state", "name", "query", "duration", "labels", "annotations", "alerts",
                                "health", "lastError", "lastEvaluation", "evaluationTime", "type"]  # fmt: skip
    assert (alert_rule["state"], alert_rule["duration"], alert_rule["health"], alert_rule["type"]) == (
        "pending", 3.0, "ok", "alerting")  # fmt: skip
    assert alert_rule["query"] == (
        '(sum by (columns_username)(count_over_time({job="osquery_results"} | json | columns_type="7"[5m])) > 0)'
    )
    assert alert_rule["annotations"] == {"summary": "SSH login by {{ $labels.columns_username }}"}
    (alert,) = alert_rule["alerts"]
    assert alert["labels"] == {"alertname": "SSHLogin", "columns_username": "alice", "severity": "warning"}
    assert alert["annotations"] == {"summary": "SSH login by alice"}
    assert alert["value"] == "2e+00" and alert["state"] == "pending"
    assert alert["activeAt"].endswith("Z")
    assert (
        record_rule["type"] == "recording" and record_rule["labels"] == {} and record_rule["lastError"] == ""
    )
    alerts = client.get("/prometheus/api/v1/alerts").json()
    assert alerts["data"]["alerts"] == [alert] and alerts["errorType"] == ""
    only_rec = client.get("/prometheus/api/v1/rules?type=record").json()["data"]["groups"][0]["rules"]
    assert [r["type"] for r in only_rec] == ["recording"]
    assert client.get("/prometheus/api/v1/rules?rule_name=nope").json()["data"]["groups"] == []
    bad = client.get("/prometheus/api/v1/rules?type=x")
    assert bad.status_code == 400 and bad.json() == {"status": "error", "data": None, "errorType": "bad_data",
                                                     "error": 'not supported value "x"'}  # fmt: skip


def test_no_ruler_without_a_ruler_block() -> None:
    store = LogStore(config=Config())
    app = create_app(store)
    assert "ruler" not in app.state.lokipy.extra
    assert not any(getattr(r, "path", "") == "/prometheus/api/v1/rules" for r in app.routes)
    store.close()


def test_api_absent_when_disabled(tmp_path: Path) -> None:
    cfg = replace(Config(), ruler=RulerConfig(storage_directory=str(tmp_path), enable_api=False))
    store = LogStore(config=cfg)
    app = create_app(store, cfg)
    assert isinstance(app.state.lokipy.extra["ruler"], Ruler)
    with ThreadServer(app) as server, HTTP(base_url=server.url) as client:
        assert client.get("/prometheus/api/v1/rules").status_code == 404
    store.close()


def test_ruler_metrics_appear_on_metrics(env: tuple[HTTP, Ruler, LogStore]) -> None:
    client, ruler, _ = env
    assert client.post("/loki/api/v1/rules/ns", content=GROUP).status_code == 202
    ruler.sync()
    text = client.get("/metrics").text
    assert "# TYPE loki_prometheus_rule_evaluations_total counter" in text
    assert 'loki_prometheus_rule_evaluations_total{rule_group="ns;ssh",user="fake"}' in text
