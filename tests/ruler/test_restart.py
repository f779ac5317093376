"""``for`` state survives a ``lokipy serve`` restart (state persisted in the data dir).

With ``for: 6s`` and ``for_grace_period: 5500ms`` an alert pending for 1–5 s before the stop
has less than the grace period left, so Prometheus' rule applies: the one-shot restore right
after the group's second evaluation since start-up sets ``activeAt = now + 5.5s − 6s``, with
``now`` the wall clock then, a moment after that evaluation's slot. So ``activeAt + 0.5s``
falls just after a slot of the alert's 1 s slot grid, whereas a fresh alert (``activeAt`` on
a slot) or a downtime-shifted one (``activeAt + downtime``) put it half a slot away.

Until the restore the API shows the first evaluation's fresh alert, as Prometheus does; the
restarted ruler writes alert state only from the restore on, so the test reads the alert
once the state file has been rewritten."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from lokipy.testing.server import ServerProcess
from tests.ruler.test_end_to_end import http_json, osquery_row, wait_until

RULES = """groups:
  - name: ssh
    interval: 1s
    rules:
      - alert: SSHLogin
        expr: sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m])) > 0
        for: 6s
"""
HOLD, GRACE = 6.0, 5.5
LATE = 0.4  # how long after its slot an evaluation may end on a busy machine (s)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")[:26] + "+00:00").timestamp()


def test_pending_alert_is_restored_after_restart(tmp_path: Path) -> None:
    rules = tmp_path / "rules" / "fake"
    rules.mkdir(parents=True)
    (rules / "ssh.yaml").write_text(RULES)
    config = {"ruler": {"storage": {"type": "local", "local": {"directory": str(tmp_path / "rules")}},
                        "evaluation_interval": "1s", "for_grace_period": "5500ms"}}  # fmt: skip
    server = ServerProcess(tmp_path / "data", config)
    state_dir = tmp_path / "data" / "ruler-state" / "fake"

    def saved_state() -> dict[str, Any] | None:
        files = list(state_dir.glob("*.json"))
        return json.loads(files[0].read_text()) if files else None

    with server:
        push = {"streams": [{"stream": {"job": "osquery_results"},
                             "values": [[str(time.time_ns()), osquery_row("alice", "7")]]}]}  # fmt: skip
        http_json(f"{server.url}/loki/api/v1/push", push)
        alerts = wait_until(
            lambda: http_json(f"{server.url}/prometheus/api/v1/alerts")["data"]["alerts"], 10, "pending"
        )
        first_active = _ts(alerts[0]["activeAt"])

        def evaluated_again() -> bool:  # stop only once an evaluation after activeAt is on disk
            saved = saved_state()
            return saved is not None and saved["t"] - saved["rules"]["SSHLogin"][0][1] >= 10**9

        wait_until(evaluated_again, 10, "a second evaluation")
    at_stop = saved_state()
    assert at_stop is not None
    (entry,) = at_stop["rules"]["SSHLogin"]
    assert abs(entry[1] / 1e9 - first_active) < 1e-5
    assert 1.0 <= (at_stop["t"] - entry[1]) / 1e9 < HOLD  # pending, less than the grace period left
    launched = time.time()
    server2 = ServerProcess(tmp_path / "data", config, port=server.port)
    with server2:
        wait_until(lambda: saved_state()["t"] > at_stop["t"], 15, "the restore")  # type: ignore[index]
        (alert,) = http_json(f"{server2.url}/prometheus/api/v1/alerts")["data"]["alerts"]
        seen = time.time()
    assert alert["state"] == "pending"
    restored = _ts(alert["activeAt"])
    restore_time = restored + HOLD - GRACE
    assert launched + 1.0 <= restore_time <= seen  # after two evaluations of the restarted server
    assert (restore_time - first_active) % 1.0 < LATE, (first_active, restored)
