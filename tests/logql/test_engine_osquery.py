"""The motivating example: osquery ``last`` results, SSH logins found with LogQL.

osquery's ``last`` table reports ``type`` 7 (USER_PROCESS, a login) and 8 (DEAD_PROCESS, a
logout). The expected counts below are worked out by hand from the pushed lines.
"""

from __future__ import annotations

import json

from lokipy.logql.engine import Engine
from lokipy.logql.results import Matrix, Vector, to_loki_data
from tests.logql.memquerier import MemoryQuerier

S = 10**9
T0 = 1767225600 * S  # 2026-01-01T00:00:00Z

QUERY = 'sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m]))'


def osquery_last(host: str, user: str, typ: str, at: int, action: str = "added") -> str:
    return json.dumps(
        {
            "name": "pack_incident-response_last",
            "hostIdentifier": host,
            "calendarTime": "Thu Jan  1 00:00:00 2026 UTC",
            "unixTime": at // S,
            "epoch": 0,
            "counter": 1,
            "numerics": False,
            "columns": {
                "host": "203.0.113.9",
                "pid": "4242",
                "time": str(at // S),
                "tty": "pts/0",
                "type": typ,
                "username": user,
            },
            "action": action,
        }
    )


def push_logins(querier: MemoryQuerier) -> None:
    lines = [
        (T0 + 10 * S, osquery_last("web-1", "alice", "7", T0 + 10 * S)),
        (T0 + 70 * S, osquery_last("web-1", "alice", "8", T0 + 70 * S)),  # logout
        (T0 + 95 * S, osquery_last("web-2", "bob", "7", T0 + 95 * S)),
        (T0 + 200 * S, osquery_last("web-2", "alice", "7", T0 + 200 * S)),
        (T0 + 290 * S, osquery_last("web-1", "root", "8", T0 + 290 * S)),  # logout only
        (T0 + 400 * S, osquery_last("web-1", "carol", "7", T0 + 400 * S)),
    ]
    querier.push({"job": "osquery_results"}, lines)
    querier.push({"job": "other"}, [(T0 + 20 * S, osquery_last("db", "mallory", "7", T0))])


def test_osquery_ssh_logins_instant() -> None:
    q = MemoryQuerier()
    push_logins(q)
    res = Engine(q).query_instant("fake", QUERY, T0 + 300 * S)
    assert isinstance(res.value, Vector)
    # window (0s, 300s]: alice logged in at 10s and 200s, bob at 95s; logouts are type 8.
    got = {s.labels.get("columns_username"): s.value for s in res.value.samples}
    assert got == {"alice": 2.0, "bob": 1.0}
    data = to_loki_data(res)
    assert data["result"] == [
        {"metric": {"columns_username": "alice"}, "value": [1767225900, "2"]},
        {"metric": {"columns_username": "bob"}, "value": [1767225900, "1"]},
    ]


def test_osquery_ssh_logins_range() -> None:
    q = MemoryQuerier()
    push_logins(q)
    res = Engine(q).query_range("fake", QUERY, T0 + 300 * S, T0 + 600 * S, 150 * S)
    assert isinstance(res.value, Matrix)
    got = {
        s.labels.get("columns_username"): list(zip(s.timestamps, s.values, strict=True))
        for s in res.value.series
    }
    # steps 300s, 450s, 600s with windows (0,300], (150,450], (300,600]
    assert got == {
        "alice": [(T0 + 300 * S, 2.0), (T0 + 450 * S, 1.0)],
        "bob": [(T0 + 300 * S, 1.0)],
        "carol": [(T0 + 450 * S, 1.0), (T0 + 600 * S, 1.0)],
    }
