"""LokiHandler against lokipy's own server (both body formats), and against a scripted stub
for retries, refusals, auth and back-pressure."""

from __future__ import annotations

import base64
import http.server
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from lokipy.config import Config
from lokipy.handler import LokiHandler
from lokipy.testing import LokipyServer
from lokipy.testing.server import free_port
from lokipy.wire import decode_push

PLAIN = Config().with_limits(discover_service_name=(), discover_log_levels=False)


@pytest.fixture(scope="module")
def server() -> Iterator[LokipyServer]:
    with LokipyServer(PLAIN) as srv:
        yield srv


def logger_with(handler: logging.Handler, name: str) -> logging.Logger:
    log = logging.getLogger(f"lokipy.test.handler.{name}")
    log.handlers.clear()
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    return log


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_records_arrive_with_labels_metadata_and_order(server: LokipyServer, fmt: str) -> None:
    handler = LokiHandler(
        server.url, {"app": "shop", "format": fmt},
        label_attrs={"levelname": "level"}, metadata_attrs=("order_id", "user"),
        tenant=f"handler-{fmt}", fmt=fmt, flush_interval=0.05,
    )  # fmt: skip
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    log = logger_with(handler, fmt)
    for i in range(20):
        log.info("paid order %d", i, extra={"order_id": str(i)})
    log.error("refund failed", extra={"user": "ünï"})
    handler.close()
    assert handler.sent == 21 and handler.failed == 0 and handler.dropped == 0
    client = server.client(f"handler-{fmt}")
    info = client.query('{app="shop", level="INFO"}')
    assert [s.labels for s in info.streams] == [{"app": "shop", "format": fmt, "level": "INFO"}]
    assert info.lines == [f"lokipy.test.handler.{fmt} paid order {i}" for i in range(20)]
    assert [e.metadata["order_id"] for e in info.entries] == [str(i) for i in range(20)]
    (err,) = client.query('{app="shop", level="ERROR"}').entries
    assert err.line.endswith("refund failed") and dict(err.metadata) == {"user": "ünï"}
    now = time.time_ns()
    assert all(now - 60 * 10**9 < e.ts <= now for e in info.entries)


def test_flush_delivers_without_closing_and_batches_by_size(server: LokipyServer) -> None:
    handler = LokiHandler(server.url + "/loki/api/v1/push", {"app": "batch"}, tenant="batching",
                          batch_size=10, flush_interval=60)  # fmt: skip
    log = logger_with(handler, "batch")
    for i in range(35):
        log.warning("w%d", i)
    deadline = time.monotonic() + 10
    while handler.requests < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handler.requests == 3  # three full batches went out; five records wait
    assert handler.flush(timeout=10)
    assert handler.requests == 4 and handler.sent == 35
    assert len(server.client("batching").lines('{app="batch"}')) == 35
    handler.close()


def test_unreachable_server_never_blocks_the_application() -> None:
    handler = LokiHandler(
        f"http://127.0.0.1:{free_port()}", {"app": "x"}, timeout=0.5, max_retries=1, flush_interval=0.01
    )
    log = logger_with(handler, "down")
    start = time.perf_counter()
    for i in range(2000):
        log.info("record %d", i)
    assert time.perf_counter() - start < 1.0
    handler.flush(timeout=10)
    assert handler.failed == 2000 and handler.sent == 0
    assert handler.last_error is not None and "ConnectionRefusedError" in handler.last_error
    start = time.perf_counter()
    handler.close()
    assert time.perf_counter() - start < 5


def test_full_queue_drops_and_counts_instead_of_waiting() -> None:
    silent = socket.socket()  # accepts connections (backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        port = silent.getsockname()[1]
        handler = LokiHandler(
            f"127.0.0.1:{port}", {"app": "x"}, timeout=1, max_retries=0, max_queue=10, batch_size=5
        )
        log = logger_with(handler, "full")
        start = time.perf_counter()
        for i in range(500):
            log.info("record %d", i)
        assert time.perf_counter() - start < 1.0
        assert handler.dropped >= 400
        start = time.perf_counter()
        handler.close()  # bounded: it does not wait for every stuck batch to time out
        assert time.perf_counter() - start < 5
        deadline = time.monotonic() + 30  # the sender thread finishes those in the background
        while handler.failed + handler.dropped < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handler.sent == 0 and handler.failed + handler.dropped == 500
    finally:
        silent.close()


class Stub(http.server.BaseHTTPRequestHandler):
    statuses: list[int] = []
    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Stub.seen.append((dict(self.headers), body))
        status = Stub.statuses.pop(0) if Stub.statuses else 204
        self.send_response(status)
        text = b"" if status == 204 else b"stub says no\n"
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    Stub.statuses, Stub.seen = [], []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_retries_429_and_5xx_then_succeeds(stub: str) -> None:
    Stub.statuses = [500, 429]
    handler = LokiHandler(
        stub, {"app": "r"}, auth=("user", "secret"), headers={"X-Extra": "1"}, max_retries=3
    )
    log = logger_with(handler, "retry")
    log.info("hello")
    handler.close()
    assert handler.sent == 1 and handler.failed == 0 and len(Stub.seen) == 3
    headers, body = Stub.seen[-1]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
    assert headers["X-Extra"] == "1" and headers["Content-Type"] == "application/x-protobuf"
    assert "X-Scope-OrgID" not in headers
    req = decode_push(body, headers["Content-Type"], None, legacy=False)  # protobuf + snappy
    assert req.streams[0].lines == [b"hello"] and str(req.streams[0].labels) == '{app="r"}'


def test_a_4xx_batch_is_dropped_without_retrying(stub: str) -> None:
    Stub.statuses = [400]
    handler = LokiHandler(stub, {"app": "r"}, max_retries=3)
    log = logger_with(handler, "refused")
    log.info("bad")
    handler.close()
    assert handler.failed == 1 and handler.sent == 0 and len(Stub.seen) == 1
    assert handler.last_error == "HTTP 400: stub says no"


def test_bad_arguments_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="invalid label name"):
        LokiHandler("http://127.0.0.1:1", {"bad-name": "x"})
    with pytest.raises(ValueError, match="fmt must be"):
        LokiHandler("http://127.0.0.1:1", fmt="xml")
    with pytest.raises(ValueError, match="not an http"):
        LokiHandler("ftp://127.0.0.1:1")
    h = LokiHandler("https://logs.example.test/loki/api/v1/push")
    assert h.push_url == "https://logs.example.test/loki/api/v1/push"
    h.close()
