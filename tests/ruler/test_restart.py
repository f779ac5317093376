"""``for`` state survives a ``lokipy serve`` restart (state persisted in the data dir).

With ``for: 4s`` and ``for_grace_period: 3500ms`` an alert pending for 1–2 s before the stop
has less than the grace period left, so Prometheus' rule applies: it fires the grace period
after the restart, i.e. ``activeAt = t1 + 3.5s − 4s``, half a second off the 1 s slot grid
that a fresh alert (``activeAt = t1``) or a shifted one (``activeAt + downtime``) stay on."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from lokipy.testing.server import ServerProcess
from tests.ruler.test_end_to_end import http_json, osquery_row, wait_until

RULES = """groups:
  - name: ssh
    interval: 1s
    rules:
      - alert: SSHLogin
        expr: sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m])) > 0
        for: 4s
"""


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")[:26] + "+00:00").timestamp()


def test_pending_alert_is_restored_after_restart(tmp_path: Path) -> None:
    rules = tmp_path / "rules" / "fake"
    rules.mkdir(parents=True)
    (rules / "ssh.yaml").write_text(RULES)
    config = {"ruler": {"storage": {"type": "local", "local": {"directory": str(tmp_path / "rules")}},
                        "evaluation_interval": "1s", "for_grace_period": "3500ms"}}  # fmt: skip
    server = ServerProcess(tmp_path / "data", config)
    with server:
        push = {"streams": [{"stream": {"job": "osquery_results"},
                             "values": [[str(time.time_ns()), osquery_row("alice", "7")]]}]}  # fmt: skip
        http_json(f"{server.url}/loki/api/v1/push", push)
        alerts = wait_until(
            lambda: http_json(f"{server.url}/prometheus/api/v1/alerts")["data"]["alerts"], 10, "pending"
        )
        first_active = _ts(alerts[0]["activeAt"])
        state_dir = tmp_path / "data" / "ruler-state" / "fake"

        def evaluated_again() -> bool:  # stop only once an evaluation after activeAt is on disk
            for f in state_dir.glob("*.json"):
                saved = json.loads(f.read_text())
                (entry,) = saved["rules"]["SSHLogin"]
                if saved["t"] - entry[1] >= 10**9:
                    return True
            return False

        wait_until(evaluated_again, 10, "a second evaluation")
    server2 = ServerProcess(tmp_path / "data", config, port=server.port)
    with server2:
        alerts = wait_until(
            lambda: http_json(f"{server2.url}/prometheus/api/v1/alerts")["data"]["alerts"], 10, "alert"
        )
        (alert,) = alerts
        assert alert["state"] == "pending"
        restored = _ts(alert["activeAt"])
        assert restored > first_active
        assert abs((restored - first_active) % 1.0 - 0.5) < 0.01, (first_active, restored)
