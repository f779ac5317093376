"""`lokipy serve` as a real process: ready, graceful shutdown flushes heads, restart serves them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from lokipy.testing.server import ServerProcess


def test_sigterm_flushes_heads_to_chunks_and_a_restart_serves_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    t = time.time_ns()
    with ServerProcess(data) as server:
        resp = httpx.get(server.url + "/ready")
        assert (resp.status_code, resp.text) == (200, "ready\n")
        body = {"streams": [{"stream": {"job": "graceful"}, "values": [[str(t), "kept across restarts"]]}]}
        assert httpx.post(server.url + "/loki/api/v1/push", json=body).status_code == 204
    # stopped with SIGTERM by the context manager: heads flushed, nothing left to replay
    assert list((data / "store" / "chunks").rglob("*")), "no chunk file was written at shutdown"
    assert [p for p in (data / "wal").iterdir()] == []
    with ServerProcess(data) as server:
        resp = httpx.get(
            server.url + "/loki/api/v1/query_range",
            params={"query": '{job="graceful"}', "start": str(t - 10**9), "end": str(t + 10**9)},
        )
        assert resp.json()["data"]["result"][0]["values"] == [[str(t), "kept across restarts"]]


def test_buildinfo_and_config_endpoints(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data", {"limits_config": {"max_line_size": 1234}}) as server:
        info = httpx.get(server.url + "/loki/api/v1/status/buildinfo").json()
        assert info["version"].startswith("3.")
        config = httpx.get(server.url + "/config").text
        assert "max_line_size: 1234" in config
