"""Every read endpoint against a real server on loopback, each answer checked against Loki's shapes."""

from __future__ import annotations

import importlib.util
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest
import yaml

from tests.api import schemas
from tests.api.conftest import Server

PARSER = importlib.util.find_spec("lokipy.logql.parser") is not None
SEC = 10**9


@dataclass(frozen=True)
class Data:
    run: str
    t0: int  # every entry is at t0 + k seconds, k in 0..5

    def sel(self, extra: str = "") -> str:
        return f'{{run="{self.run}"{extra}}}'


def push(server: Server, streams: list[dict[str, object]], tenant: str | None = None) -> None:
    headers = {"Content-Type": "application/json"}
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    resp = server.http.post("/loki/api/v1/push", content=orjson.dumps({"streams": streams}), headers=headers)
    assert resp.status_code == 204, resp.text


@pytest.fixture(scope="module")
def data(server: Server) -> Data:
    run = uuid.uuid4().hex[:10]
    t0 = (time.time_ns() // SEC - 600) * SEC  # whole seconds, ten minutes ago
    push(server, [
        {"stream": {"run": run, "app": "api", "env": "prod"},
         "values": [[str(t0), "api 0"], [str(t0 + 2 * SEC), "api 2"],
                    [str(t0 + 4 * SEC), "api 4", {"trace_id": "abc"}]]},
        {"stream": {"run": run, "app": "web", "env": "prod"},
         "values": [[str(t0 + 1 * SEC), "web 1"], [str(t0 + 3 * SEC), "web 3"]]},
        {"stream": {"run": run, "app": "db", "env": "dev"}, "values": [[str(t0 + 5 * SEC), "db 5"]]},
    ])  # fmt: skip
    return Data(run, t0)


def rng(d: Data, **extra: object) -> dict[str, object]:
    return {"start": str(d.t0), "end": str(d.t0 + 10 * SEC), "limit": 100, **extra}


def lines(body: dict) -> list[str]:  # type: ignore[type-arg]
    """Lines in direction order across streams (streams themselves are sorted by labels)."""
    entries = [(int(v[0]), v[1]) for s in body["data"]["result"] for v in s["values"]]
    return [ln for _, ln in entries]


def text_error(resp, status: int = 400) -> str:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("text/plain")
    return str(resp.text)


# --- query_range -----------------------------------------------------------------------------


def test_query_range_streams_shape_and_content(server: Server, data: Data) -> None:
    resp = server.http.get("/loki/api/v1/query_range", params={"query": data.sel(), **rng(data)})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    body = resp.json()
    got = schemas.check_query_body(body)
    assert got["resultType"] == "streams"
    by_stream = {orjson.dumps(s["stream"], option=orjson.OPT_SORT_KEYS): s["values"] for s in got["result"]}
    assert len(by_stream) == 4  # api splits in two: one entry carries trace_id metadata
    api_md = {"run": data.run, "app": "api", "env": "prod", "trace_id": "abc"}
    assert by_stream[orjson.dumps(api_md, option=orjson.OPT_SORT_KEYS)] == [[str(data.t0 + 4 * SEC), "api 4"]]
    assert got["stats"]["summary"]["totalEntriesReturned"] == 6
    assert got["stats"]["summary"]["execTime"] > 0


def test_limit_applies_across_streams_in_direction_order(server: Server, data: Data) -> None:
    back = server.http.get(
        "/loki/api/v1/query_range", params={"query": data.sel(), **rng(data, limit=2)}
    ).json()
    assert sorted(lines(back)) == ["api 4", "db 5"]
    fwd = server.http.get(
        "/loki/api/v1/query_range", params={"query": data.sel(), **rng(data, limit=2, direction="FORWARD")}
    ).json()
    assert sorted(lines(fwd)) == ["api 0", "web 1"]
    schemas.check_query_body(back)
    schemas.check_query_body(fwd)


def test_start_inclusive_end_exclusive(server: Server, data: Data) -> None:
    params = {
        "query": data.sel(),
        "start": str(data.t0 + SEC),
        "end": str(data.t0 + 3 * SEC),
        "direction": "forward",
    }
    body = server.http.get("/loki/api/v1/query_range", params=params).json()
    assert sorted(lines(body)) == ["api 2", "web 1"]


def test_every_timestamp_form_means_the_same_instant(server: Server, data: Data) -> None:
    start_s = data.t0 // SEC + 1
    end_s = start_s + 2
    rfc = lambda s: datetime.fromtimestamp(s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    forms = [
        (str(start_s), str(end_s)),  # unix seconds (10 digits)
        (f"{start_s}.000", f"{end_s}.0"),  # fractional seconds
        (str(start_s * SEC), str(end_s * SEC)),  # unix nanoseconds
        (rfc(start_s), rfc(end_s)),  # RFC3339
        (rfc(start_s).replace("Z", ".000000000Z"), rfc(end_s).replace("Z", "+00:00")),
    ]
    answers = []
    for start, end in forms:
        resp = server.http.get(
            "/loki/api/v1/query_range", params={"query": data.sel(), "start": start, "end": end}
        )
        assert resp.status_code == 200, (start, end, resp.text)
        answers.append(sorted(lines(resp.json())))
    assert answers[0] == ["api 2", "web 1"]
    assert all(a == answers[0] for a in answers)


def test_form_post_equals_get(server: Server, data: Data) -> None:
    params = {"query": data.sel(), **rng(data)}
    got = server.http.get("/loki/api/v1/query_range", params=params).json()["data"]["result"]
    posted = server.http.post("/loki/api/v1/query_range", data={k: str(v) for k, v in params.items()})
    assert posted.status_code == 200
    assert posted.json()["data"]["result"] == got


def test_categorize_labels_encoding(server: Server, data: Data) -> None:
    resp = server.http.get(
        "/loki/api/v1/query_range",
        params={"query": data.sel(',app="api"'), **rng(data, direction="forward")},
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    body = resp.json()
    got = schemas.check_query_body(body, categorized=True)
    assert resp.text.index('"encodingFlags"') < resp.text.index('"result"')
    assert got["result"] == [
        {
            "stream": {"app": "api", "env": "prod", "run": data.run},
            "values": [
                [str(data.t0), "api 0", {}],
                [str(data.t0 + 2 * SEC), "api 2", {}],
                [str(data.t0 + 4 * SEC), "api 4", {"structuredMetadata": {"trace_id": "abc"}}],
            ],
        }
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be a positive value"),
        ({"limit": "ten"}, 'strconv.ParseInt: parsing "ten": invalid syntax'),
        (
            {"limit": "5001"},
            "max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)",
        ),
        ({"direction": "sideways"}, "invalid direction 'sideways'"),
        ({"start": "yesterday"}, "could not parse 'start' parameter"),
        ({"end": "soon"}, "could not parse 'end' parameter"),
        (
            {"start": "1700000100", "end": "1700000000"},
            "end timestamp must not be before or equal to start time",
        ),
        pytest.param(
            {"start": "1600000000", "end": "1700000000"},
            "the query time range exceeds the limit (query length: ",
        ),
        (
            {"step": "0"},
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        ({"step": "fast"}, 'cannot parse "fast" to a valid duration'),
        (
            {"start": "1700000000", "end": "1700086400", "step": "1"},
            "exceeded maximum resolution of 11,000 points",
        ),
        ({"interval": "-1"}, "interval must be >= 0"),
    ],
)
def test_parameter_errors_are_plain_text_400(server: Server, data: Data, params: dict, message: str) -> None:  # type: ignore[type-arg]
    resp = server.http.get("/loki/api/v1/query_range", params={"query": data.sel(), **params})
    assert message in text_error(resp)


def test_step_forms_accepted(server: Server, data: Data) -> None:
    for step in ("60000ms", "15", "0.5", "1m30s"):
        resp = server.http.get(
            "/loki/api/v1/query_range", params={"query": data.sel(), **rng(data, step=step)}
        )
        assert resp.status_code == 200, (step, resp.text)


def test_instant_endpoint_refuses_log_queries(server: Server, data: Data) -> None:
    resp = server.http.get("/loki/api/v1/query", params={"query": data.sel(), "time": str(data.t0 + 5 * SEC)})
    assert text_error(resp) == (
        "log queries are not supported as an instant query type, please change your query to a range query type"
    )


def test_grafana_health_check(server: Server) -> None:
    resp = server.http.get(
        "/loki/api/v1/query",
        params={"query": "vector(1)+vector(1)", "time": "4000000000", "direction": "backward"},
    )
    body = resp.json()
    got = schemas.check_query_body(body)
    assert got["resultType"] == "vector"
    assert got["result"] == [{"metric": {}, "value": [4000000000, "2"]}]


def test_metric_range_query_matrix(server: Server, data: Data) -> None:
    params = {"query": f"sum by (app) (count_over_time({data.sel()}[10s]))", "start": str(data.t0 + 5 * SEC),
              "end": str(data.t0 + 5 * SEC), "step": "60000ms"}  # fmt: skip
    got = schemas.check_query_body(server.http.get("/loki/api/v1/query_range", params=params).json())
    assert got["resultType"] == "matrix"
    assert {r["metric"]["app"]: r["values"][0][1] for r in got["result"]} == {
        "api": "3",
        "web": "2",
        "db": "1",
    }


def test_legacy_prom_query_shape(server: Server, data: Data) -> None:
    resp = server.http.get("/api/prom/query", params={"query": data.sel(',app="web"'), **rng(data)})
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["streams", "stats"]
    schemas.check_stats(body["stats"])
    [stream] = body["streams"]
    assert stream["labels"] == f'{{app="web", env="prod", run="{data.run}"}}'
    ts = datetime.fromtimestamp(data.t0 // SEC + 3, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert stream["entries"][0] == {"ts": ts, "line": "web 3"}


# --- labels, values, series -----------------------------------------------------------------


def test_labels_sorted_unique_with_and_without_selector(server: Server, data: Data) -> None:
    names = schemas.check_string_list(server.http.get("/loki/api/v1/labels", params=rng(data)).json())
    assert {"app", "env", "run"} <= set(names)
    assert "trace_id" not in names  # structured metadata is never a label name
    scoped = server.http.post("/loki/api/v1/label", data={"query": data.sel(',env="dev"'), **rng(data)})
    assert schemas.check_string_list(scoped.json()) == ["app", "env", "run"]
    legacy = server.http.get("/api/prom/label", params=rng(data)).json()
    assert list(legacy) == ["values"] and legacy["values"] == names


def test_label_values(server: Server, data: Data) -> None:
    values = server.http.get(
        "/loki/api/v1/label/app/values", params={"query": data.sel(), **rng(data)}
    ).json()
    assert schemas.check_string_list(values) == ["api", "db", "web"]
    env = server.http.get("/loki/api/v1/label/env/values", params={"query": data.sel(), **rng(data)}).json()
    assert schemas.check_string_list(env) == ["dev", "prod"]
    legacy = server.http.get("/api/prom/label/app/values", params={"query": data.sel(), **rng(data)}).json()
    assert legacy == {"values": ["api", "db", "web"]}
    none = server.http.get("/loki/api/v1/label/nosuch/values", params=rng(data)).json()
    assert schemas.check_string_list(none) == []


def test_series_match_and_match_brackets(server: Server, data: Data) -> None:
    want = [
        {"app": a, "env": e, "run": data.run} for a, e in (("api", "prod"), ("db", "dev"), ("web", "prod"))
    ]
    a = server.http.get("/loki/api/v1/series", params={"match[]": data.sel(), **rng(data)}).json()
    b = server.http.get("/loki/api/v1/series", params={"match": data.sel(), **rng(data)}).json()
    assert schemas.check_series(a) == want and schemas.check_series(b) == want
    two = server.http.post(
        "/loki/api/v1/series",
        data={"match[]": [data.sel(',app="api"'), data.sel(',app="db"'), data.sel(',app="db"')],
              "start": str(data.t0), "end": str(data.t0 + 10 * SEC)},
    ).json()  # fmt: skip
    assert schemas.check_series(two) == want[:2]
    legacy = server.http.get("/api/prom/series", params={"match": data.sel(',app="web"'), **rng(data)}).json()
    assert legacy["data"] == want[2:]
    empty = server.http.get(
        "/loki/api/v1/series", params={"match[]": '{run="no-such-run"}', **rng(data)}
    ).json()
    assert empty == {"status": "success", "data": []}


def test_series_refuses_empty_compatible_selectors(server: Server, data: Data) -> None:
    resp = server.http.get("/loki/api/v1/series", params={"match[]": '{app=~".*"}', **rng(data)})
    assert text_error(resp).startswith(
        "parse error : queries require at least one regexp or equality matcher that does not have an "
        'empty-compatible value. For instance, app=~".*" does not meet this requirement'
    )


def test_tenants_are_isolated(server: Server, data: Data) -> None:
    push(
        server,
        [{"stream": {"run": data.run, "app": "other"}, "values": [[str(data.t0), "t2"]]}],
        tenant="team-b",
    )
    mine = server.http.get("/loki/api/v1/label/app/values", params={"query": data.sel(), **rng(data)}).json()
    theirs = server.http.get(
        "/loki/api/v1/label/app/values",
        params={"query": data.sel(), **rng(data)},
        headers={"X-Scope-OrgID": "team-b"},
    ).json()
    assert mine["data"] == ["api", "db", "web"] and theirs["data"] == ["other"]
    bad = server.http.get("/loki/api/v1/labels", headers={"X-Scope-OrgID": "a/b"})
    assert "tenant ID 'a/b' is not valid" in text_error(bad)


# --- index stats and volume -------------------------------------------------------------------


def test_index_stats(server: Server, data: Data) -> None:
    body = server.http.get(
        "/loki/api/v1/index/stats", params={"query": data.sel(',env="prod"'), **rng(data)}
    ).json()
    schemas.check_index_stats(body)
    assert body["streams"] == 2 and body["entries"] == 5
    assert body["bytes"] == len("api 0api 2api 4web 1web 3")  # uncompressed line bytes
    assert body["chunks"] >= 1


def test_index_volume_by_matcher_labels(server: Server, data: Data) -> None:
    body = server.http.get(
        "/loki/api/v1/index/volume", params={"query": data.sel(',app=~".+"'), **rng(data)}
    ).json()
    got = schemas.check_query_body(body)
    assert got["resultType"] == "vector"
    values = {r["metric"]["app"]: int(r["value"][1]) for r in got["result"]}
    assert values == {"api": 15, "web": 10, "db": 4}
    assert [r["metric"]["app"] for r in got["result"]] == ["api", "web", "db"]  # largest first
    assert all(set(r["metric"]) == {"app", "run"} for r in got["result"])
    assert got["result"][0]["value"][0] == data.t0 // SEC + 10  # the timestamp is `end`


def test_index_volume_target_labels_aggregate_by_and_limit(server: Server, data: Data) -> None:
    by_env = server.http.get(
        "/loki/api/v1/index/volume", params={"query": data.sel(), "targetLabels": "env", **rng(data)}
    ).json()
    assert {r["metric"]["env"]: r["value"][1] for r in by_env["data"]["result"]} == {"prod": "25", "dev": "4"}
    names = server.http.get(
        "/loki/api/v1/index/volume",
        params={"query": data.sel(), "aggregateBy": "labels", "targetLabels": "app,env", **rng(data)},
    ).json()
    assert {next(iter(r["metric"])): r["value"][1] for r in names["data"]["result"]} == {
        "app": "29",
        "env": "29",
    }
    assert all(list(r["metric"].values()) == [""] for r in names["data"]["result"])
    # Without targetLabels, the label names of the query's matchers are the targets (as Loki).
    default = server.http.get(
        "/loki/api/v1/index/volume", params={"query": data.sel(), "aggregateBy": "labels", **rng(data)}
    ).json()
    assert [r["metric"] for r in default["data"]["result"]] == [{"run": ""}]
    top = server.http.get(
        "/loki/api/v1/index/volume", params={"query": data.sel(), "targetLabels": "app", **rng(data, limit=1)}
    ).json()
    assert [r["metric"] for r in top["data"]["result"]] == [{"app": "api"}]


def test_index_volume_refuses_ranges_over_max_query_length(server: Server, data: Data) -> None:
    params = {"query": data.sel(), "start": "1600000000", "end": "1700000000"}
    resp = server.http.get("/loki/api/v1/index/volume", params=params)
    assert text_error(resp) == (
        "the query time range exceeds the limit (query length: 27777h46m40s, limit: 721h0m0s)"
    )


def test_index_volume_range(server: Server, data: Data) -> None:
    params = {"query": data.sel(), "targetLabels": "env", "start": str(data.t0 + 2 * SEC),
              "end": str(data.t0 + 6 * SEC), "step": "2"}  # fmt: skip
    got = schemas.check_query_body(server.http.get("/loki/api/v1/index/volume_range", params=params).json())
    assert got["resultType"] == "matrix"
    series = {r["metric"]["env"]: r["values"] for r in got["result"]}
    assert set(series) == {"prod", "dev"}
    assert series["dev"][-1][0] == data.t0 // SEC + 6


# --- status, config, optional endpoints ---------------------------------------------------------


def test_buildinfo_ready_config(server: Server) -> None:
    info = server.http.get("/loki/api/v1/status/buildinfo").json()
    major, minor, patch = (int(x) for x in info["version"].split("."))
    assert major >= 3
    for key in ("revision", "branch", "buildUser", "buildDate", "goVersion"):
        assert isinstance(info[key], str)
    ready = server.http.get("/ready")
    assert ready.status_code == 200 and ready.text == "ready\n"
    config = yaml.safe_load(server.http.get("/config").text)
    assert isinstance(config, dict) and config


@pytest.mark.parametrize(
    "path",
    [
        "/loki/api/v1/detected_labels",
        "/loki/api/v1/detected_fields",
        "/loki/api/v1/detected_field/level/values",
        "/loki/api/v1/patterns",
        "/loki/api/v1/drilldown-limits",
        "/loki/api/v2alpha/tail",
    ],
)
def test_optional_probes_answer_404_so_grafana_falls_back(server: Server, path: str) -> None:
    resp = server.http.get(path, params={"query": '{app="api"}'})
    assert resp.status_code == 404


def test_format_query(server: Server) -> None:
    resp = server.http.get("/loki/api/v1/format_query", params={"query": '{app="api"}|="x"'})
    if not PARSER:
        assert resp.status_code == 404  # no parser in this build: "not supported", cleanly
        return
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "success" and isinstance(body["data"], str) and 'app="api"' in body["data"]
    bad = server.http.get("/loki/api/v1/format_query", params={"query": "{app="})
    assert bad.status_code == 400 and bad.json()["status"] == "invalid-query"


def test_plain_http_get_on_tail_is_400(server: Server) -> None:
    assert server.http.get("/loki/api/v1/tail", params={"query": '{app="api"}'}).status_code == 400


def test_query_timeout_is_loki_504_without_waiting_for_the_query(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    import httpx

    from lokipy.api.app import create_app
    from lokipy.config import Config
    from lokipy.logstore import LogStore
    from lokipy.testing.server import ThreadServer
    from tests.api.conftest import PLAIN_LIMITS

    config = replace(Config(data_dir=tmp_path), limits=replace(PLAIN_LIMITS, query_timeout=200_000_000))
    store = LogStore(config=config)

    def slow(*args: object, **kwargs: object) -> dict:  # type: ignore[type-arg]
        time.sleep(2)
        return {"resultType": "streams", "result": []}

    store.query_range_data = slow  # type: ignore[method-assign]
    try:
        with ThreadServer(create_app(store, config)) as srv:
            began = time.perf_counter()
            resp = httpx.get(srv.url + "/loki/api/v1/query_range", params={"query": '{a="b"}'}, timeout=10)
            took = time.perf_counter() - began
    finally:
        store.close()
    assert text_error(resp, 504) == (
        "request timed out, decrease the duration of the request or add more label matchers "
        "(prefer exact match over regex match) to reduce the amount of data processed"
    )
    assert took < 1.5


def test_series_cap_warning_is_top_level(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    import httpx

    from lokipy.api.app import create_app
    from lokipy.config import Config
    from lokipy.logstore import LogStore
    from lokipy.testing.server import ThreadServer
    from tests.api.conftest import PLAIN_LIMITS

    config = replace(Config(data_dir=tmp_path), limits=replace(PLAIN_LIMITS, max_query_series=2))
    store = LogStore(config=config)
    t = time.time_ns() - 10 * SEC
    try:
        for app in ("a", "b", "c"):
            store.push({"app": app}, [(t, "x")])
        with ThreadServer(create_app(store, config)) as srv:
            resp = httpx.get(
                srv.url + "/loki/api/v1/query",
                params={"query": 'count_over_time({app=~".+"}[1m])', "time": str(t + SEC)},
            )
    finally:
        store.close()
    body = resp.json()
    assert body["warnings"] == [
        "maximum number of series (2) reached for a single query; returning partial results"
    ]
    assert len(schemas.check_query_body(body)["result"]) == 2


def test_large_answers_are_gzipped_when_asked(server: Server) -> None:
    run = uuid.uuid4().hex[:10]
    t = time.time_ns() - 60 * SEC
    push(
        server,
        [{"stream": {"run": run}, "values": [[str(t + i), f"line {i} " + "x" * 40] for i in range(300)]}],
    )
    params = {"query": f'{{run="{run}"}}', "limit": 1000, "start": str(t), "end": str(t + SEC)}
    zipped = server.http.get("/loki/api/v1/query_range", params=params, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(zipped.content) / 5
    plain = server.http.get(
        "/loki/api/v1/query_range", params=params, headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert zipped.json()["data"]["result"] == plain.json()["data"]["result"]
