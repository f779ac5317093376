"""The story end to end over HTTP: osquery `last` results pushed as promtail would, then the
SSH logins found with the issue's LogQL through /query and /query_range."""

from __future__ import annotations

import time

from lokipy.model.entry import PushRequest, PushStream
from lokipy.wire import encode_push_proto
from tests.api.conftest import Server
from tests.logql.test_engine_osquery import QUERY, osquery_last

S = 10**9


def test_ssh_logins_are_found_over_http(server: Server) -> None:
    t0 = (time.time_ns() // (60 * S) - 30) * 60 * S  # a minute boundary half an hour ago
    logins = [
        (t0 + 10 * S, osquery_last("web-1", "alice", "7", t0 + 10 * S)),
        (t0 + 70 * S, osquery_last("web-1", "alice", "8", t0 + 70 * S)),  # a logout
        (t0 + 95 * S, osquery_last("web-2", "bob", "7", t0 + 95 * S)),
        (t0 + 200 * S, osquery_last("web-2", "alice", "7", t0 + 200 * S)),
        (t0 + 400 * S, osquery_last("web-1", "carol", "7", t0 + 400 * S)),
    ]
    req = PushRequest(
        [
            PushStream(
                '{job="osquery_results", host="web"}',
                [ts for ts, _ in logins],
                [line.encode() for _, line in logins],
            )
        ]
    )
    resp = server.http.post(
        "/loki/api/v1/push",
        content=encode_push_proto(req),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert resp.status_code == 204, resp.text

    instant = server.http.get("/loki/api/v1/query", params={"query": QUERY, "time": str(t0 + 300 * S)}).json()
    assert instant["data"]["resultType"] == "vector"
    got = {s["metric"]["columns_username"]: s["value"] for s in instant["data"]["result"]}
    # window (t0+0s, t0+300s]: alice logged in twice (web-1 and web-2), bob once
    assert got == {"alice": [(t0 + 300 * S) // S, "2"], "bob": [(t0 + 300 * S) // S, "1"]}

    ranged = server.http.get(
        "/loki/api/v1/query_range",
        params={"query": QUERY, "start": str(t0 + 60 * S), "end": str(t0 + 420 * S), "step": "120"},
    ).json()
    assert ranged["data"]["resultType"] == "matrix"
    series = {s["metric"]["columns_username"]: s["values"] for s in ranged["data"]["result"]}
    base = t0 // S
    assert series == {
        "alice": [[base + 60, "1"], [base + 180, "1"], [base + 300, "2"], [base + 420, "1"]],
        "bob": [[base + 180, "1"], [base + 300, "1"]],
        "carol": [[base + 420, "1"]],
    }
