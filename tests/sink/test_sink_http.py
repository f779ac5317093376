"""Sink mode over HTTP: every push format answers 204, nothing is stored, counts are exact."""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from lokipy.api.app import create_app
from lokipy.api.sink import install_sink
from lokipy.handler import LokiHandler
from lokipy.logstore import LogStore
from lokipy.model.entry import PushRequest, PushStream
from lokipy.sink import Sink, wait_for_lines
from lokipy.testing.server import ThreadServer
from lokipy.wire import encode_push_json, encode_push_proto


class SinkServer:
    def __init__(self, url: str, sink: Sink, store: LogStore) -> None:
        self.url, self.sink, self.store = url, sink, store
        self.http = httpx.Client(base_url=url, timeout=30)


@pytest.fixture(scope="module")
def server() -> Iterator[SinkServer]:
    store = LogStore()
    sink = Sink()
    with ThreadServer(install_sink(create_app(store), sink)) as srv:
        s = SinkServer(srv.url, sink, store)
        yield s
        s.http.close()
    store.close()


@pytest.fixture(autouse=True)
def _reset(server: SinkServer) -> None:
    server.http.post("/sink/reset")


def req(n: int, labels: str = '{app="a"}', start: int | None = None) -> PushRequest:
    start = time.time_ns() if start is None else start
    return PushRequest(
        [PushStream(labels, [start + i for i in range(n)], [f"line {i}".encode() for i in range(n)])]
    )


def test_every_format_answers_204_and_is_counted(server: SinkServer) -> None:
    r = req(3)
    js = encode_push_json(r)
    bodies = [
        (encode_push_proto(r), {"Content-Type": "application/x-protobuf"}),
        (js, {"Content-Type": "application/json"}),
        (gzip.compress(js), {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    ]
    for body, headers in bodies:
        resp = server.http.post("/loki/api/v1/push", content=body, headers=headers)
        assert resp.status_code == 204 and resp.content == b""
    legacy = (
        b'{"streams":[{"labels":"{app=\\"old\\"}","entries":[{"ts":"2024-01-01T00:00:00Z","line":"v0"}]}]}'
    )
    assert (
        server.http.post(
            "/api/prom/push", content=legacy, headers={"Content-Type": "application/json"}
        ).status_code
        == 204
    )
    stats = server.http.get("/sink/stats").json()
    t = stats["tenants"]["fake"]
    assert t["requests"] == 4 and t["lines"] == 10 and t["duplicates"] == 6
    assert set(t["streams"]) == {'{app="a"}', '{app="old"}'}
    assert t["streams"]['{app="old"}']["first_ts"] == 1704067200 * 10**9
    assert stats["totals"]["lines"] == 10


def test_nothing_is_stored(server: SinkServer) -> None:
    server.http.post("/loki/api/v1/push", content=encode_push_proto(req(5, '{app="gone"}')))
    assert server.sink.total_lines() == 5
    assert server.store.select('{app="gone"}') == []
    resp = server.http.get("/loki/api/v1/query_range", params={"query": '{app="gone"}'})
    assert resp.status_code == 200 and resp.json()["data"]["result"] == []


def test_tenants_are_counted_apart_and_filterable(server: SinkServer) -> None:
    for tenant, n in (("team-a", 2), ("team-b", 3)):
        server.http.post(
            "/loki/api/v1/push", content=encode_push_proto(req(n)), headers={"X-Scope-OrgID": tenant}
        )
    stats = server.http.get("/sink/stats", params={"streams": "false", "tenant": "team-b"}).json()
    assert list(stats["tenants"]) == ["team-b"]
    assert stats["tenants"]["team-b"]["lines"] == 3 and "streams" not in stats["tenants"]["team-b"]
    assert server.http.get("/sink/stats").json()["totals"]["lines"] == 5


def test_bad_pushes_get_lokis_errors_and_are_counted(server: SinkServer) -> None:
    resp = server.http.post("/loki/api/v1/push", content=b"{", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.text.startswith("malformed JSON push body")
    resp = server.http.post("/loki/api/v1/push", content=b"x", headers={"Content-Encoding": "zstd"})
    assert resp.status_code == 400 and resp.text == 'Content-Encoding "zstd" not supported\n'
    t = server.http.get("/sink/stats").json()["tenants"]["fake"]
    assert t["rejected_requests"] == 2 and t["requests"] == 0


def test_reset_returns_the_old_counts_and_metrics_show_them(server: SinkServer) -> None:
    server.http.post("/loki/api/v1/push", content=encode_push_proto(req(4)), headers={"X-Scope-OrgID": "m"})
    metrics = server.http.get("/sink/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'lokipy_sink_lines_total{tenant="m"} 4' in metrics.text
    main_metrics = server.http.get("/metrics")  # the server's metrics, with the sink's appended
    assert main_metrics.status_code == 200 and 'lokipy_sink_lines_total{tenant="m"} 4' in main_metrics.text
    before = server.http.post("/sink/reset").json()
    assert before["totals"]["lines"] == 4
    assert server.http.get("/sink/stats").json()["totals"]["lines"] == 0
    assert 'tenant="m"' not in server.http.get("/sink/metrics").text


def test_wait_for_lines_reports_the_arrival_rate(server: SinkServer) -> None:
    handler = LokiHandler(server.url, {"app": "shipper"}, batch_size=100, flush_interval=0.01)
    log = logging.getLogger("lokipy.test.sink.shipper")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        for i in range(1000):
            log.info("event %d", i)
        report = wait_for_lines(server.url, 1000, timeout=30)
    finally:
        log.removeHandler(handler)
        handler.close()
    assert report.reached and report.lines == 1000 and report.requests >= 2
    assert report.duplicates == 0 and report.out_of_order == 0
    assert report.lines_per_s is not None and report.lines_per_s > 0
    assert "reached 1,000 lines: 1,000 lines" in report.summary()
    short = wait_for_lines(server.url, 2000, timeout=0.3)
    assert not short.reached and "TIMED OUT" in short.summary()


def test_python_loki_clients_push_to_the_sink(server: SinkServer) -> None:
    logging_loki = pytest.importorskip("logging_loki")
    handler = logging_loki.LokiHandler(url=server.url + "/loki/api/v1/push", tags={"app": "pll"}, version="1")
    log = logging.getLogger("lokipy.test.sink.pll")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("from python-logging-loki")
    finally:
        log.removeHandler(handler)
    t = server.sink.stats()["tenants"]["fake"]
    assert t["lines"] == 1 and t["rejected_requests"] == 0


def test_invalid_utf8_in_labels_is_counted_and_reported(server: SinkServer) -> None:
    r = PushRequest([PushStream('{app="caf\udce9"}', [time.time_ns()], [b"x"])])
    resp = server.http.post("/loki/api/v1/push", content=encode_push_proto(r))
    assert resp.status_code == 204
    stats = server.http.get("/sink/stats")
    assert stats.status_code == 200
    # The key is the canonical label text, which quotes invalid UTF-8 as Go does (\xNN).
    assert list(stats.json()["tenants"]["fake"]["streams"]) == ['{app="caf\\xe9"}']
    assert stats.json()["totals"]["lines"] == 1
