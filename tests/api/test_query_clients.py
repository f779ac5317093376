"""Real query clients against lokipy: captured request shapes replayed, and loki-reader-core itself.

The fixtures (``shared/fixtures/clients/query__*.json``) hold every request two client
libraries made. Replaying them checks that lokipy accepts exactly those parameter forms
(seconds vs nanoseconds, ``match`` vs ``match[]``, no ``end``) and answers in the shapes the
libraries read. Time parameters are shifted by (now - capture time) so the replay asks about
data pushed a moment ago, whatever the day the test runs.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.api import schemas
from tests.api.conftest import Server
from tests.shared import require_shared

SEC = 10**9
FIXTURES = ("query__loki_reader_core.json", "query__myunisoft_loki.json")
TIME_PARAMS = ("start", "end", "time")


@pytest.fixture(scope="module")
def clienttest(server: Server) -> int:
    """The stream the capture used: ``{job="clienttest", client=…}``, plus a level label."""
    t = time.time_ns() - 60 * SEC
    body = {"streams": [{"stream": {"job": "clienttest", "client": "recorder", "level": "info"},
                         "values": [[str(t + i * SEC), f"line {i}"] for i in range(5)]}]}  # fmt: skip
    resp = server.http.post(
        "/loki/api/v1/push", content=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 204, resp.text
    return t


def _shift(value: str, delta_s: int) -> str:
    if not value.isdigit():
        return value
    return str(int(value) + delta_s) if len(value) <= 10 else str(int(value) + delta_s * SEC)


def _requests() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for name in FIXTURES:
        path = Path(require_shared("fixtures", "clients", name))
        fixture = json.loads(path.read_text())
        captured = int(datetime.fromisoformat(fixture["captured_at"]).timestamp())
        for op_name, op in fixture["operations"].items():
            for req in op["requests"]:
                out.append(
                    (
                        f"{fixture['client']['package']}:{op_name}",
                        req["path"],
                        {"req": req, "captured": captured},
                    )
                )
    return out


def test_replay_captured_query_requests(server: Server, clienttest: int) -> None:
    replayed = 0
    for op, path, info in _requests():
        req = info["req"]
        delta = int(time.time()) - info["captured"]
        params = [
            (k, _shift(v, delta) if k in TIME_PARAMS else v) for k, vs in req["query"].items() for v in vs
        ]
        headers = {k: v for k, v in req["headers"] if k.lower() in ("user-agent", "accept", "x-scope-orgid")}
        resp = server.http.request(req["method"], path, params=params, headers=headers)
        assert resp.status_code == 200, (op, resp.status_code, resp.text)
        body = resp.json()
        if path.endswith("/query_range") or path.endswith("/query"):
            data = schemas.check_query_body(body)
            if data["resultType"] == "streams":
                assert data["result"], f"{op}: the pushed clienttest entries must be found"
        elif path.endswith("/series"):
            assert {"job": "clienttest", "client": "recorder", "level": "info"} in schemas.check_series(
                body
            ), op
        else:
            values = schemas.check_string_list(body)
            if path.endswith("/labels"):
                assert {"client", "job"} <= set(values), op
            elif path.endswith("/label/client/values") or path.endswith("/label/job/values"):
                assert values, op
        replayed += 1
    assert replayed >= 10


def test_replayed_metric_queries_have_values(server: Server, clienttest: int) -> None:
    resp = server.http.get(
        "/loki/api/v1/query", params={"query": 'sum(count_over_time({job="clienttest"}[1h]))', "limit": "100"}
    )
    data = schemas.check_query_body(resp.json())
    assert data["resultType"] == "vector" and data["result"][0]["value"][1] == "5"


# --- the loki-reader-core library (PyPI) parsing lokipy's answers ------------------------------


@pytest.fixture(scope="module")
def reader(server: Server):  # type: ignore[no-untyped-def]
    lrc = pytest.importorskip("loki_reader_core", reason="pip install loki-reader-core (test extra)")
    return lrc.LokiClient(base_url=server.url, timeout=10)


def test_loki_reader_core_metadata(reader, clienttest: int) -> None:  # type: ignore[no-untyped-def]
    assert {"client", "job", "level"} <= set(reader.get_labels())
    assert reader.get_label_values("client") == ["recorder"]
    assert reader.get_series(['{job="clienttest"}']) == [
        {"client": "recorder", "job": "clienttest", "level": "info"}
    ]


def test_loki_reader_core_query_range(reader, clienttest: int) -> None:  # type: ignore[no-untyped-def]
    now = time.time_ns()
    result = reader.query_range(
        '{job="clienttest"}', start=now - 3600 * SEC, end=now + 60 * SEC, limit=5000, direction="forward"
    )
    assert result.status == "success"
    assert result.result_type == "streams"
    [stream] = result.streams
    assert stream.labels == {"job": "clienttest", "client": "recorder", "level": "info"}
    assert [e.message for e in stream.entries] == [f"line {i}" for i in range(5)]
    assert [e.timestamp for e in stream.entries] == [clienttest + i * SEC for i in range(5)]
    assert result.stats is not None and result.stats.exec_time_seconds > 0


def test_loki_reader_core_app_query(reader, clienttest: int) -> None:  # type: ignore[no-untyped-def]
    # Discovers the app label through label values, the severity label through /series,
    # then runs {job="clienttest", level=~"info|warn|..."} backward.
    result = reader.query(app="clienttest", severity="info", since_hours=1)
    assert result.total_entries == 5
    assert [e.message for e in result.streams[0].entries] == [f"line {i}" for i in reversed(range(5))]


def test_loki_reader_core_metric_query(reader, clienttest: int) -> None:  # type: ignore[no-untyped-def]
    result = reader.query(logql='sum(count_over_time({job="clienttest"}[1h]))')
    assert result.result_type == "vector"
    assert len(result.metric_series) == 1
