"""Loki's per-tenant limits over real HTTP, each tenant with its own ``overrides``.

Unit tests of the distributor and engine already cover the messages; these prove the limits
are enforced end to end, per tenant, with nothing written past a refusal and the server kept
serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import orjson
import pytest

from lokipy.api.app import create_app
from lokipy.config import Config, Limits
from lokipy.logstore import LogStore
from lokipy.model.errors import QueryTimeout
from lokipy.testing.server import ThreadServer

BASE = Limits(discover_service_name=(), discover_log_levels=False)
KB = 1 / 1024  # in MB, the unit of ingestion_rate_mb
OVERRIDES = {
    "slow": replace(BASE, ingestion_rate_mb=1 * KB, ingestion_burst_size_mb=2 * KB),
    "few": replace(BASE, max_global_streams_per_user=2),
    "short": replace(BASE, max_line_size=100),
    "cut": replace(BASE, max_line_size=100, max_line_size_truncate=True),
    "narrow": replace(BASE, max_label_names_per_series=3),
    "small": replace(
        BASE, max_entries_limit_per_query=10, max_query_length=2 * 3600 * 10**9, max_query_series=3
    ),
    "hasty": replace(BASE, query_timeout=100_000_000, ingestion_rate_mb=0),  # 100 ms
}
NOW = time.time_ns()
HOUR = 3600 * 10**9


@pytest.fixture(scope="module")
def srv() -> Iterator[tuple[httpx.Client, LogStore]]:
    config = Config(data_dir=None, limits=BASE, overrides=OVERRIDES)
    store = LogStore(config=config)
    with (
        ThreadServer(create_app(store, config)) as server,
        httpx.Client(base_url=server.url, timeout=30) as c,
    ):
        yield c, store
    store.close()


def push(
    client: httpx.Client, tenant: str, streams: list[tuple[dict[str, str], list[str]]]
) -> httpx.Response:
    body = {
        "streams": [
            {"stream": labels, "values": [[str(NOW - 10**9 + i), line] for i, line in enumerate(lines)]}
            for labels, lines in streams
        ]
    }
    headers = {"Content-Type": "application/json", "X-Scope-OrgID": tenant}
    return client.post("/loki/api/v1/push", content=orjson.dumps(body), headers=headers)


def lines(client: httpx.Client, tenant: str, query: str) -> dict[str, list[str]]:
    resp = client.get(
        "/loki/api/v1/query_range",
        params={"query": query, "start": str(NOW - HOUR), "end": str(NOW + HOUR), "limit": 10},
        headers={"X-Scope-OrgID": tenant},
    )
    assert resp.status_code == 200, resp.text
    return {str(s["stream"]): [v[1] for v in s["values"]] for s in resp.json()["data"]["result"]}


def test_ingestion_rate_and_burst_per_tenant(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    first = push(client, "slow", [({"job": "rate"}, ["a" * 1500])])
    assert first.status_code == 204  # inside the 2 KiB burst
    second = push(client, "slow", [({"job": "rate"}, ["b" * 1500])])
    assert second.status_code == 429
    assert second.text == (
        "ingestion rate limit exceeded for user slow (limit: 1024 bytes/sec) while attempting to "
        "ingest '1' lines totaling '1500' bytes, reduce log volume or contact your Loki "
        "administrator to see if the limit can be increased\n"
    )
    assert list(lines(client, "slow", '{job="rate"}').values()) == [["a" * 1500]]  # nothing written
    # Another tenant has its own (default, 4 MB/s) bucket.
    assert push(client, "other", [({"job": "rate"}, ["c" * 1500] * 3)]).status_code == 204
    time.sleep(1.6)  # the bucket refills at 1 KiB/s
    assert push(client, "slow", [({"job": "rate"}, ["d" * 1500])]).status_code == 204


def test_max_streams_per_tenant_keeps_existing_streams(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    assert push(client, "few", [({"s": "1"}, ["one"]), ({"s": "2"}, ["two"])]).status_code == 204
    resp = push(client, "few", [({"s": "1"}, ["one again"]), ({"s": "3"}, ["three"])])
    assert resp.status_code == 429
    assert resp.text.startswith(
        'maximum active stream limit exceeded when trying to create stream {s="3"}, reduce the '
        "number of active streams"
    )
    assert "user: 'few'" in resp.text
    got = {k: sorted(v) for k, v in lines(client, "few", '{s=~".+"}').items()}
    assert got == {"{'s': '1'}": ["one", "one again"], "{'s': '2'}": ["two"]}
    assert push(client, "fewer-not", [({"s": str(n)}, ["x"]) for n in range(5)]).status_code == 204


def test_max_line_size_rejects_or_truncates(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    long = "L" * 150
    resp = push(client, "short", [({"job": "size"}, ["fits", long])])
    assert resp.status_code == 400
    assert (
        "max entry size '100' bytes exceeded for stream '{job=\"size\"}' while adding an entry with length '150' bytes"
        in resp.text
    )
    assert lines(client, "short", '{job="size"}') == {"{'job': 'size'}": ["fits"]}  # partial acceptance
    assert push(client, "cut", [({"job": "size"}, [long])]).status_code == 204
    assert lines(client, "cut", '{job="size"}') == {"{'job': 'size'}": ["L" * 100]}


def test_max_label_names_per_series(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    wide = {"a": "1", "b": "2", "c": "3", "d": "4"}
    resp = push(client, "narrow", [(wide, ["too wide"]), ({"a": "1"}, ["fine"])])
    assert resp.status_code == 400
    assert 'entry for stream \'{a="1", b="2", c="3", d="4"}\' has 4 label names; limit 3' in resp.text
    assert lines(client, "narrow", '{a="1"}') == {"{'a': '1'}": ["fine"]}


def test_max_entries_per_query_is_the_tenants(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    params = {"query": '{job="x"}', "limit": "11", "start": str(NOW - HOUR), "end": str(NOW)}
    resp = client.get("/loki/api/v1/query_range", params=params, headers={"X-Scope-OrgID": "small"})
    assert resp.status_code == 400
    assert resp.text == "max entries limit per query exceeded, limit > max_entries_limit_per_query (11 > 10)"
    assert client.get("/loki/api/v1/query_range", params=params).status_code == 200  # default 5000


def test_max_query_length_is_the_tenants(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    params = {
        "query": 'count_over_time({job="x"}[1m])',
        "start": str(NOW - 3 * HOUR),
        "end": str(NOW),
        "step": "60",
    }
    resp = client.get("/loki/api/v1/query_range", params=params, headers={"X-Scope-OrgID": "small"})
    assert resp.status_code == 400
    assert resp.text == "the query time range exceeds the limit (query length: 3h0m0s, limit: 2h0m0s)"
    vol = client.get(
        "/loki/api/v1/index/volume",
        params={**params, "query": '{job="x"}'},
        headers={"X-Scope-OrgID": "small"},
    )
    assert vol.status_code == 400 and "the query time range exceeds the limit" in vol.text
    assert client.get("/loki/api/v1/query_range", params=params).status_code == 200


def test_max_query_series_answers_a_partial_result_with_a_warning(srv: tuple[httpx.Client, LogStore]) -> None:
    client, _ = srv
    assert (
        push(client, "small", [({"job": "series", "n": str(n)}, ["x"]) for n in range(5)]).status_code == 204
    )
    params = {"query": 'sum by (n) (count_over_time({job="series"}[1h]))', "time": str(NOW)}
    resp = client.get("/loki/api/v1/query", params=params, headers={"X-Scope-OrgID": "small"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["data"]["result"]) == 3
    assert body["warnings"] == [
        "maximum number of series (3) reached for a single query; returning partial results"
    ]


def test_query_timeout_answers_504_and_the_server_keeps_serving(srv: tuple[httpx.Client, LogStore]) -> None:
    client, store = srv
    # Enough data that this metric query takes seconds (about 10 s here) without its limit.
    for batch in range(8):
        store.push({"job": "heavy"}, [(NOW - HOUR + batch * 10**9 + i * 1000, f"line {i} abcabcabc" * 4)
                                      for i in range(20_000)], tenant="hasty")  # fmt: skip
    query = 'sum by (x) (count_over_time({job="heavy"} |= "abc" | logfmt | label_format y="{{.x}}" [1s]))'
    params = {"query": query, "start": str(NOW - HOUR), "end": str(NOW), "step": "1"}
    answers: dict[str, httpx.Response] = {}

    def slow() -> None:
        answers["slow"] = client.get(
            "/loki/api/v1/query_range", params=params, headers={"X-Scope-OrgID": "hasty"}
        )

    thread = threading.Thread(target=slow)
    began = time.perf_counter()
    thread.start()
    time.sleep(0.02)
    ready = client.get("/loki/api/v1/labels", headers={"X-Scope-OrgID": "other"})
    assert ready.status_code == 200
    thread.join(30)
    assert time.perf_counter() - began < 5
    resp = answers["slow"]
    assert resp.status_code == 504
    assert resp.text == (
        "request timed out, decrease the duration of the request or add more label matchers "
        "(prefer exact match over regex match) to reduce the amount of data processed"
    )
    # The engine stops too (the worker is freed), not only the HTTP answer.
    began = time.perf_counter()
    with pytest.raises(QueryTimeout):
        store.query_range(query, NOW - HOUR, NOW, 10**9, tenant="hasty")
    assert time.perf_counter() - began < 2
