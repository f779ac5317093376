"""Tenants over real HTTP with ``auth_enabled: true``: tenant A never sees tenant B through any
endpoint, and a request without ``X-Scope-OrgID`` is refused like Loki (401 ``no org id``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from lokipy.api.app import create_app
from lokipy.config import Config, Limits, ServerConfig
from lokipy.logstore import LogStore
from lokipy.testing.server import ThreadServer

NOW = time.time_ns()
HOUR = 3600 * 10**9
RANGE = {"start": str(NOW - HOUR), "end": str(NOW + 60 * 10**9)}
# Each tenant has one stream of its own and one with the very same labels as the other's.
DATA = {
    "alpha": [
        ({"job": "shared", "env": "prod"}, "alpha shared"),
        ({"job": "alpha-only", "secret_a": "1"}, "alpha own"),
    ],
    "beta": [
        ({"job": "shared", "env": "prod"}, "beta shared"),
        ({"job": "beta-only", "secret_b": "2"}, "beta own"),
    ],
}


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str, tenant: str | None, **params: str) -> httpx.Response:
        headers = {"X-Scope-OrgID": tenant} if tenant else {}
        return self.http.get(path, params={**RANGE, **params}, headers=headers)

    def push(
        self, tenant: str | None, labels: dict[str, str], line: str, ts: int = NOW - 10**9
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        body = orjson.dumps({"streams": [{"stream": labels, "values": [[str(ts), line]]}]})
        return self.http.post("/loki/api/v1/push", content=body, headers=headers)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    limits = Limits(discover_service_name=(), discover_log_levels=False)
    config = replace(Config(data_dir=None, limits=limits), server=ServerConfig(auth_enabled=True))
    store = LogStore(config=config)
    with ThreadServer(create_app(store, config)) as srv:
        c = Client(srv.url)
        for tenant, streams in DATA.items():
            for labels, line in streams:
                assert c.push(tenant, labels, line).status_code == 204
        yield c
        c.http.close()
    store.close()


def everything(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    return resp.text


def assert_only_alpha(text: str) -> None:
    for leak in ("beta", "secret_b"):
        assert leak not in text, f"tenant beta leaked: {text[:300]}"


def test_log_and_metric_queries_see_only_their_tenant(client: Client) -> None:
    text = everything(client.get("/loki/api/v1/query_range", "alpha", query='{job=~".+"}', limit="100"))
    assert "alpha shared" in text and "alpha own" in text
    assert_only_alpha(text)
    count = client.get(
        "/loki/api/v1/query", "alpha", query='sum(count_over_time({job="shared"}[2h]))', time=str(NOW)
    )
    assert everything(count) and count.json()["data"]["result"][0]["value"][1] == "1"
    legacy = everything(client.get("/api/prom/query", "alpha", query='{job=~".+"}', limit="100"))
    assert "alpha own" in legacy
    assert_only_alpha(legacy)
    matrix = everything(
        client.get(
            "/loki/api/v1/query_range",
            "alpha",
            query='sum by (job) (count_over_time({job=~".+"}[1m]))',
            step="60",
        )
    )
    assert_only_alpha(matrix)


@pytest.mark.parametrize("path", ["/loki/api/v1/labels", "/loki/api/v1/label", "/api/prom/label"])
def test_label_names(client: Client, path: str) -> None:
    text = everything(client.get(path, "alpha"))
    assert "secret_a" in text
    assert_only_alpha(text)


@pytest.mark.parametrize("path", ["/loki/api/v1/label/job/values", "/api/prom/label/job/values"])
def test_label_values(client: Client, path: str) -> None:
    text = everything(client.get(path, "alpha"))
    assert "alpha-only" in text and "shared" in text
    assert_only_alpha(text)
    assert everything(client.get(path.replace("job", "secret_b"), "alpha")).count("2") == 0


@pytest.mark.parametrize("path", ["/loki/api/v1/series", "/api/prom/series"])
def test_series(client: Client, path: str) -> None:
    text = everything(client.get(path, "alpha", **{"match[]": '{job=~".+"}'}))
    assert "alpha-only" in text
    assert_only_alpha(text)


def test_index_stats_and_volume(client: Client) -> None:
    stats = client.get("/loki/api/v1/index/stats", "alpha", query='{job=~".+"}').json()
    assert stats["streams"] == 2 and stats["entries"] == 2
    assert stats["bytes"] == len("alpha shared") + len("alpha own")
    volume = everything(
        client.get("/loki/api/v1/index/volume", "alpha", query='{job=~".+"}', targetLabels="job")
    )
    assert "alpha-only" in volume
    assert_only_alpha(volume)
    vrange = everything(
        client.get("/loki/api/v1/index/volume_range", "alpha", query='{job=~".+"}', step="60")
    )
    assert_only_alpha(vrange)


def test_a_tenant_without_data_sees_nothing(client: Client) -> None:
    assert client.get("/loki/api/v1/query_range", "gamma", query='{job=~".+"}').json()["data"]["result"] == []
    assert client.get("/loki/api/v1/labels", "gamma").json()["data"] == []
    assert client.get("/loki/api/v1/series", "gamma", **{"match[]": '{job=~".+"}'}).json()["data"] == []
    assert client.get("/loki/api/v1/index/stats", "gamma", query='{job=~".+"}').json()["entries"] == 0


def test_tail_sees_only_its_tenant_live_and_backfilled(client: Client) -> None:
    url = (
        client.url.replace("http://", "ws://")
        + "/loki/api/v1/tail?"
        + urlencode({"query": '{job="shared"}', "start": str(NOW - HOUR)})
    )
    got: list[str] = []
    with connect(url, open_timeout=10, additional_headers={"X-Scope-OrgID": "alpha"}) as ws:
        stop = threading.Event()

        def pushes() -> None:
            while not stop.is_set():
                client.push("beta", {"job": "shared", "env": "prod"}, "beta live", time.time_ns())
                client.push("alpha", {"job": "shared", "env": "prod"}, "alpha live", time.time_ns())
                time.sleep(0.05)

        thread = threading.Thread(target=pushes)
        thread.start()
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline and "alpha live" not in got:
                msg = orjson.loads(ws.recv(timeout=5))
                got.extend(v[1] for s in msg.get("streams", []) for v in s["values"])
        finally:
            stop.set()
            thread.join()
    assert "alpha shared" in got and "alpha live" in got
    assert not [line for line in got if "beta" in line]


def test_format_query_holds_no_tenant_data(client: Client) -> None:
    # Loki registers format_query outside its auth middleware (like buildinfo): no org id needed.
    resp = client.http.get("/loki/api/v1/format_query", params={"query": '{job="shared"}|="x"'})
    assert resp.status_code == 200 and resp.json()["data"] == '{job="shared"} |= "x"'


READ_PATHS = [
    "/loki/api/v1/query", "/loki/api/v1/query_range", "/loki/api/v1/labels", "/loki/api/v1/label",
    "/loki/api/v1/label/job/values", "/loki/api/v1/series", "/loki/api/v1/index/stats",
    "/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range", "/api/prom/query",
    "/api/prom/label", "/api/prom/label/job/values", "/api/prom/series", "/loki/api/v1/tail",
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", p) for p in READ_PATHS] + [("POST", p) for p in READ_PATHS if not p.endswith("/tail")],
)
def test_no_org_id_is_401_on_every_read_endpoint(client: Client, path: str, method: str) -> None:
    params = {"query": '{job="shared"}', "match[]": '{job="shared"}'}
    if method == "GET":
        resp = client.http.get(path, params=params)
    else:
        resp = client.http.post(path, data=params)
    assert resp.status_code == 401, resp.text
    assert resp.text.strip() == "no org id"


@pytest.mark.parametrize("path", ["/loki/api/v1/push", "/api/prom/push"])
def test_no_org_id_is_401_on_push_and_nothing_is_written(client: Client, path: str) -> None:
    body = orjson.dumps({"streams": [{"stream": {"job": "anon"}, "values": [[str(NOW), "who am i"]]}]})
    resp = client.http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 401
    assert resp.text.strip() == "no org id"
    for tenant in ("alpha", "beta", "fake"):
        assert (
            client.get("/loki/api/v1/query_range", tenant, query='{job="anon"}').json()["data"]["result"]
            == []
        )


@pytest.mark.parametrize("path", ["/loki/api/v1/tail", "/api/prom/tail"])
def test_no_org_id_is_401_before_the_tail_upgrade(client: Client, path: str) -> None:
    url = client.url.replace("http://", "ws://") + path + "?" + urlencode({"query": '{job="shared"}'})
    with pytest.raises(InvalidStatus) as err:
        with connect(url, open_timeout=10):
            pass
    assert err.value.response.status_code == 401
    assert err.value.response.body.decode().strip() == "no org id"


@pytest.mark.parametrize("header", ["", "a|b", "../etc", "x" * 151, "tenant with space"])
def test_bad_or_multiple_org_ids_are_refused(client: Client, header: str) -> None:
    resp = client.http.get("/loki/api/v1/labels", headers={"X-Scope-OrgID": header} if header else {})
    assert resp.status_code in (400, 401), resp.text
    assert resp.text.strip()
