"""Pushes over real HTTP on loopback, read back byte-exact through query_range."""

from __future__ import annotations

import gzip
import json
import logging
import time
import uuid
import zlib
from pathlib import Path

import orjson
import pytest

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.labels import Labels
from lokipy.wire import encode_push_proto
from tests.api.conftest import Server
from tests.shared import require_shared


def uniq() -> str:
    return uuid.uuid4().hex[:12]


def json_body(labels: dict[str, str], values: list[list[object]]) -> bytes:
    return orjson.dumps({"streams": [{"stream": labels, "values": values}]})


def test_json_push_is_204_and_reads_back_exactly(server: Server) -> None:
    run = uniq()
    t = time.time_ns()
    lines = ["plain", 'quotes " and \\ backslash', "multi\nline", "unicode héllo ✓ 🚀", ""]
    values = [[str(t + i), line] for i, line in enumerate(lines)]
    resp = server.http.post(
        "/loki/api/v1/push",
        content=json_body({"job": "j", "run": run}, values),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 204 and resp.content == b""
    result = server.streams(f'{{run="{run}"}}')
    assert result == [
        {"stream": {"job": "j", "run": run}, "values": [[str(t + i), ln] for i, ln in enumerate(lines)]}
    ]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_json_push(server: Server, encoding: str) -> None:
    run = uniq()
    t = time.time_ns()
    body = json_body({"run": run}, [[str(t), "compressed"]])
    if encoding == "gzip":
        body = gzip.compress(body)
    else:
        c = zlib.compressobj(wbits=-15)  # raw DEFLATE, as Loki expects
        body = c.compress(body) + c.flush()
    resp = server.http.post(
        "/loki/api/v1/push",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert resp.status_code == 204, resp.text
    assert server.streams(f'{{run="{run}"}}')[0]["values"] == [[str(t), "compressed"]]


def test_protobuf_snappy_push_with_structured_metadata_and_categorize_labels(server: Server) -> None:
    run = uniq()
    t = time.time_ns()
    req = PushRequest(
        [
            PushStream(
                f'{{run="{run}", app="api"}}', [t, t + 1], [b"first", b"second"], [(("trace_id", "abc"),), ()]
            )
        ]
    )
    resp = server.http.post(
        "/loki/api/v1/push",
        content=encode_push_proto(req),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert resp.status_code == 204, resp.text
    merged = server.streams(f'{{run="{run}"}}')
    assert {json.dumps(s["stream"], sort_keys=True): s["values"] for s in merged} == {
        json.dumps({"app": "api", "run": run}, sort_keys=True): [[str(t + 1), "second"]],
        json.dumps({"app": "api", "run": run, "trace_id": "abc"}, sort_keys=True): [[str(t), "first"]],
    }
    resp = server.http.get(
        "/loki/api/v1/query_range",
        params={
            "query": f'{{run="{run}"}}',
            "start": str(t - 10**9),
            "end": str(t + 10**9),
            "direction": "forward",
        },
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    data = resp.json()["data"]
    assert list(data)[:3] == ["resultType", "encodingFlags", "result"]
    assert data["result"] == [
        {
            "stream": {"app": "api", "run": run},
            "values": [
                [str(t), "first", {"structuredMetadata": {"trace_id": "abc"}}],
                [str(t + 1), "second", {}],
            ],
        }
    ]


def test_legacy_push_endpoint_takes_the_v0_json_shape(server: Server) -> None:
    run = uniq()
    body = {
        "streams": [
            {
                "labels": f'{{run="{run}"}}',
                "entries": [{"ts": "2024-05-01T10:00:00.123456789Z", "line": "old api"}],
            }
        ]
    }
    resp = server.http.post("/api/prom/push", json=body)
    assert resp.status_code == 204, resp.text
    at = 1714557600123456789
    assert server.streams(f'{{run="{run}"}}', at - 10**9, at + 10**9)[0]["values"] == [[str(at), "old api"]]


def test_partial_acceptance_writes_good_entries_and_answers_400(server: Server) -> None:
    run = uniq()
    t = time.time_ns()
    values = [[str(t), "good"], [str(t + 3600 * 10**9), "from the future"]]
    resp = server.http.post(
        "/loki/api/v1/push",
        content=json_body({"run": run}, values),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert "has timestamp too new" in resp.text and resp.text.endswith("\n")
    assert server.streams(f'{{run="{run}"}}')[0]["values"] == [[str(t), "good"]]


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, ""),
        (
            b'{"streams":[{"stream":{"a.b":"x"},"values":[["1","x"]]}]}',
            {"Content-Type": "application/json"},
            400,
            "couldn't parse labels",
        ),
        (
            b'{"streams":[{"stream":{"a":"x"},"values":[[1,"x"]]}]}',
            {"Content-Type": "application/json"},
            400,
            "",
        ),
        (b'{"streams":[]}', {"Content-Type": "application/json"}, 422, "at least one valid stream"),
        (b"\x00\x01garbage", {"Content-Type": "application/x-protobuf"}, 400, ""),
        (
            b"{}",
            {"Content-Type": "application/json", "Content-Encoding": "br"},
            400,
            'Content-Encoding "br" not supported',
        ),
    ],
    ids=[
        "malformed-json",
        "bad-label-name",
        "numeric-ts",
        "zero-streams",
        "garbage-proto",
        "unknown-encoding",
    ],
)
def test_bad_pushes_get_a_clear_4xx(
    server: Server, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    resp = server.http.post("/loki/api/v1/push", content=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert fragment in resp.text
    assert resp.text.strip() != ""


def test_request_body_over_the_limit_is_413(tmp_path: Path) -> None:
    from dataclasses import replace

    from lokipy.api.app import create_app
    from lokipy.config import Config, ServerConfig
    from lokipy.logstore import LogStore
    from lokipy.testing.server import ThreadServer

    config = replace(Config(data_dir=tmp_path), server=ServerConfig(max_recv_msg_size=1000))
    with LogStore(config=config) as store, ThreadServer(create_app(store, config)) as srv:
        import httpx

        resp = httpx.post(
            srv.url + "/loki/api/v1/push", content=b"x" * 5000, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 413
        assert "request body too large" in resp.text


def test_tenants_are_separated_by_x_scope_orgid(server: Server) -> None:
    run = uniq()
    t = time.time_ns()
    for tenant in ("team-a", "team-b"):
        resp = server.http.post(
            "/loki/api/v1/push",
            content=json_body({"run": run}, [[str(t), tenant]]),
            headers={"Content-Type": "application/json", "X-Scope-OrgID": tenant},
        )
        assert resp.status_code == 204
    for tenant in ("team-a", "team-b"):
        resp = server.http.get(
            "/loki/api/v1/query_range",
            params={"query": f'{{run="{run}"}}', "start": str(t - 10**9), "end": str(t + 10**9)},
            headers={"X-Scope-OrgID": tenant},
        )
        assert [v[1] for s in resp.json()["data"]["result"] for v in s["values"]] == [tenant]
    assert server.streams(f'{{run="{run}"}}') == []  # the default tenant "fake" sees neither


def test_python_logging_loki_client(server: Server) -> None:
    import logging_loki

    run = uniq()
    handler = logging_loki.LokiHandler(url=server.url + "/loki/api/v1/push", tags={"run": run}, version="1")
    logger = logging.getLogger(f"plokitest-{run}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning("hello from python-logging-loki ✓")
    logger.error("second line")
    result = server.streams(f'{{run="{run}"}}')
    assert [(s["stream"]["severity"], v[1]) for s in result for v in s["values"]] == [
        ("error", "second line"),
        ("warning", "hello from python-logging-loki ✓"),
    ] or sorted(v[1] for s in result for v in s["values"]) == [
        "hello from python-logging-loki ✓",
        "second line",
    ]
    assert {s["stream"]["logger"] for s in result} == {f"plokitest-{run}"}


def test_loki_logger_handler_client_with_gzip_and_metadata(server: Server) -> None:
    from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

    run = uniq()
    handler = LokiLoggerHandler(
        url=server.url + "/loki/api/v1/push",
        labels={"run": run},
        timeout=1,
        enable_structured_loki_metadata=True,
        loki_metadata={"env": "test"},
    )
    logger = logging.getLogger(f"llhtest-{run}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning("from loki-logger-handler")
    handler.flush()
    deadline = time.monotonic() + 10
    result: list[dict] = []  # type: ignore[type-arg]
    while time.monotonic() < deadline and not result:
        result = server.streams(f'{{run="{run}"}}')
        time.sleep(0.1)
    assert len(result) == 1
    assert result[0]["stream"]["env"] == "test"  # structured metadata merged into the stream
    assert json.loads(result[0]["values"][0][1])["message"] == "from loki-logger-handler"


# --- captured bodies from real clients -------------------------------------------------------


def _fixture_cases() -> list[str]:
    from tests.shared import shared_dir

    base = shared_dir()
    if base is None:
        return ["(shared absent)"]
    names = [p.name for p in sorted((base / "fixtures").glob("*.expected.json"))]
    index = json.loads((base / "fixtures" / "clients" / "INDEX.json").read_text())
    names += [f["fixture"] for f in index["fixtures"] if f["kind"] == "push"]
    return names


def unclash(stream: dict[str, str], metadata: dict[str, str]) -> dict[str, str]:
    """Loki reports metadata whose name is also a stream label as ``<name>_extracted``."""
    return {
        (k[: -len("_extracted")] if k.endswith("_extracted") and k[: -len("_extracted")] in stream else k): v
        for k, v in metadata.items()
    }


@pytest.mark.parametrize("name", _fixture_cases())
def test_replayed_fixture_bodies_read_back_as_their_sidecars_say(fresh_server: Server, name: str) -> None:
    base = require_shared("fixtures")
    if name.endswith(".expected.json"):
        side = json.loads((base / name).read_text())
        body = (base / side["fixture"]).read_bytes()
        resp = fresh_server.http.post(
            side["request"]["path"], content=body, headers=side["request"]["headers"]
        )
        assert resp.status_code == 204, resp.text
        expected = {
            Labels.parse(s["labels"]).as_dict().__repr__(): [
                [e["ts"], e["line"], e["structured_metadata"]] for e in s["entries"]
            ]
            for s in side["streams"]
        }
    else:
        side = json.loads((base / "clients" / f"{name}.json").read_text())
        for req in side["requests"]:
            body = (base / "clients" / req["body_file"]).read_bytes()
            headers = {k: v for k, v in req["headers"] if k.lower() in ("content-type", "content-encoding")}
            resp = fresh_server.http.post(req["path"], content=body, headers=headers)
            assert resp.status_code == 204, resp.text
        expected = {}
        for s in side["expected_streams"]:
            expected[repr(Labels.from_map(s["labels"]).as_dict())] = [
                [e["ts"], e["line"], e.get("structured_metadata") or {}] for e in s["entries"]
            ]
    got: dict[str, list[list[object]]] = {}
    stamps = [int(e[0]) for entries in expected.values() for e in entries]
    window = {"start": str(min(stamps)), "end": str(max(stamps) + 1)}
    series = fresh_server.http.get("/loki/api/v1/series", params=window).json()["data"]
    for labels in series:
        selector = str(Labels.from_map(labels))
        resp = fresh_server.http.get(
            "/loki/api/v1/query_range",
            params={
                "query": selector,
                **window,
                "limit": 5000,
                "direction": "forward",
            },
            headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
        )
        assert resp.status_code == 200, resp.text
        for s in resp.json()["data"]["result"]:
            got.setdefault(repr(Labels.from_map(s["stream"]).as_dict()), []).extend(
                [v[0], v[1], unclash(s["stream"], v[2].get("structuredMetadata", {}))] for v in s["values"]
            )
    for key in got:
        got[key].sort(key=lambda e: (int(e[0]),))  # type: ignore[arg-type]
    for key in expected:
        expected[key].sort(key=lambda e: (int(e[0]),))  # type: ignore[arg-type]
    assert got == expected


def test_form_post_query_as_curl_sends_it(server: Server) -> None:
    run = uniq()
    t = time.time_ns()
    server.http.post(
        "/loki/api/v1/push",
        content=json_body({"run": run}, [[str(t), "via form"]]),
        headers={"Content-Type": "application/json"},
    )
    resp = server.http.post(
        "/loki/api/v1/query_range",
        content=f"query=%7Brun%3D%22{run}%22%7D&start={t - 10**9}&end={t + 10**9}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["result"][0]["values"] == [[str(t), "via form"]]
