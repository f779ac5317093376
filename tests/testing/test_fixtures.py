"""The fixtures, used as a test suite would use them: push, query, wait, assert."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from lokipy.testing import HTTPClient, LokiQueryError, PushRejected, StoreClient

NS = 10**9


@pytest.fixture(params=["lokipy_store", "lokipy_server", "lokipy_server_fn"])
def loki(request: pytest.FixtureRequest) -> StoreClient | HTTPClient:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_push_then_query_round_trips_lines_labels_and_metadata(loki: StoreClient | HTTPClient) -> None:
    now = time.time_ns()
    sent = loki.push(
        {"app": "shop", "env": "test"}, [(now, "first"), (now + 1, "second", {"trace_id": "abc"})]
    )
    assert sent == 2
    result = loki.query('{app="shop"}')
    assert result.result_type == "streams"
    assert result.lines == ["first", "second"]
    second = result.entries[1]
    assert second.ts == now + 1
    assert second.labels["app"] == "shop" and second.labels["env"] == "test"
    assert second.metadata["trace_id"] == "abc"
    assert "trace_id" not in second.labels  # categorized: metadata is not a stream label
    assert loki.query('{app="shop"}', direction="backward").lines == ["second", "first"]
    assert loki.query('{app="shop"}', limit=1).lines == ["first"]
    assert loki.query('{app="nothing"}').count == 0


def test_bare_lines_get_increasing_timestamps(loki: StoreClient | HTTPClient) -> None:
    loki.push('{app="a"}', ["one", "two", "three"])
    loki.push('{app="a"}', ["four"])
    entries = loki.query('{app="a"}').entries
    assert [e.line for e in entries] == ["one", "two", "three", "four"]
    assert all(a.ts < b.ts for a, b in zip(entries, entries[1:], strict=False))


def test_time_window_bounds_the_query(loki: StoreClient | HTTPClient) -> None:
    now = time.time_ns()
    loki.push({"app": "w"}, [(now - 120 * NS, "old"), (now - 10 * NS, "new")])
    assert loki.query('{app="w"}', start=now - 60 * NS, end=now).lines == ["new"]
    assert loki.lines('{app="w"}') == ["old", "new"]


def test_rejected_push_raises_with_lokis_message(loki: StoreClient | HTTPClient) -> None:
    ancient = 1_000_000_000 * NS  # 2001: older than reject_old_samples_max_age (7 days)
    with pytest.raises(PushRejected, match="timestamp too old"):
        loki.push({"app": "x"}, [(ancient, "too old")])
    with pytest.raises(PushRejected):
        loki.push("not a selector", ["x"])


def test_bad_query_raises(loki: StoreClient | HTTPClient) -> None:
    with pytest.raises(LokiQueryError):
        loki.query("{app=")


def test_assert_logged_counts_and_filters(loki: StoreClient | HTTPClient) -> None:
    loki.push({"app": "svc"}, ["GET /a 200", "GET /b 500", "POST /a 200"])
    loki.push({"app": "svc"}, [(time.time_ns(), "slow query", {"trace_id": "t1"})])
    found = loki.assert_logged('{app="svc"}', "GET", count=2)
    assert [e.line for e in found] == ["GET /a 200", "GET /b 500"]
    loki.assert_logged('{app="svc"}', ["POST", "200"], count=1)
    loki.assert_logged('{app="svc"}', regex=r"\s5\d\d$", count=1)
    loki.assert_logged('{app="svc"}', metadata={"trace_id": "t1"}, count=1)
    loki.assert_logged('{app="svc"}')
    loki.assert_not_logged('{app="svc"}', "DELETE")
    with pytest.raises(AssertionError, match="expected no entry"):
        loki.assert_not_logged('{app="svc"}', "GET /b")


def test_assert_logged_failure_shows_what_was_stored(loki: StoreClient | HTTPClient) -> None:
    loki.push({"app": "shop"}, ["order paid id=1", "order shipped id=1"])
    loki.push({"app": "mail"}, ["sent receipt"])
    with pytest.raises(AssertionError) as info:
        loki.assert_logged('{app="shop"}', "refunded")
    text = str(info.value)
    assert "expected at least 1 entry matching {app=\"shop\"} containing 'refunded', found 0" in text
    assert f"tenant {loki.tenant!r} holds 2 stream(s)" in text
    assert '{app="shop", service_name="shop"}: 2 entries' in text
    assert "order paid id=1" in text and "order shipped id=1" in text and "sent receipt" in text
    with pytest.raises(AssertionError, match=r"exactly 1 entry .* found 2\n  .*order paid"):
        loki.assert_logged('{app="shop"}', "order", count=1)


def test_wait_for_sees_entries_pushed_later(loki: StoreClient | HTTPClient) -> None:
    def later() -> None:
        time.sleep(0.2)
        loki.push({"app": "late"}, ["a", "b", "c"])

    threading.Thread(target=later).start()
    result = loki.wait_for('{app="late"}', count=3, timeout=10)
    assert result.lines == ["a", "b", "c"]
    assert loki.wait_for('{app="late"}', until=lambda r: "b" in r.lines).count == 3


def test_wait_for_times_out_with_the_store_contents(loki: StoreClient | HTTPClient) -> None:
    loki.push({"app": "there"}, ["present"])
    start = time.monotonic()
    with pytest.raises(
        AssertionError, match=r"(?s)timed out after 0.2s waiting for 2 result\(s\) from .*got 1.*present"
    ):
        loki.wait_for('{app="there"}', count=2, timeout=0.2)
    assert time.monotonic() - start < 5


def test_assert_logged_with_timeout_waits(loki: StoreClient | HTTPClient) -> None:
    threading.Timer(0.2, lambda: loki.push({"app": "t"}, ["done"])).start()
    loki.assert_logged('{app="t"}', "done", timeout=10)


def test_streams_lists_label_sets(loki: StoreClient | HTTPClient) -> None:
    loki.push({"app": "a", "pod": "1"}, ["x"])
    loki.push({"app": "b"}, ["y"])
    assert sorted(s["app"] for s in loki.streams()) == ["a", "b"]


def test_handler_from_the_fixture_is_flushed_before_assertions(loki: StoreClient | HTTPClient) -> None:
    log = logging.getLogger(f"lokipy.test.{loki.tenant}.{id(loki)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = loki.handler(
        {"app": "checkout"}, label_attrs={"levelname": "level"}, metadata_attrs=("order_id",)
    )
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        log.info("order %s paid", 42, extra={"order_id": "42"})
        log.error("card declined")
        (paid,) = loki.assert_logged('{app="checkout", level="INFO"}', "paid", count=1)
        assert paid.line == "INFO order 42 paid" and paid.metadata["order_id"] == "42"
        loki.assert_logged('{app="checkout", level="ERROR"}', "declined", count=1)
    finally:
        log.removeHandler(handler)


def test_store_fixture_url_serves_the_same_store(lokipy_store: StoreClient) -> None:
    lokipy_store.push({"app": "both"}, ["in process"])
    over_http = HTTPClient(lokipy_store.url, lokipy_store.tenant)
    assert over_http.lines('{app="both"}') == ["in process"]
    over_http.push({"app": "both"}, ["over http"])
    assert lokipy_store.lines('{app="both"}') == ["in process", "over http"]


def test_server_tenant_is_the_tests_own(lokipy_server: HTTPClient, request: pytest.FixtureRequest) -> None:
    assert lokipy_server.tenant.endswith(
        "-" + request.node.name.replace("[", "_").replace("]", "").strip("_")
    )
    assert lokipy_server.headers == {"X-Scope-OrgID": lokipy_server.tenant}
    lokipy_server.push({"app": "mine"}, ["x"])
    other = HTTPClient(lokipy_server.url, "someone-else")
    assert other.query('{app="mine"}').count == 0
    assert lokipy_server.push_url == lokipy_server.url + "/loki/api/v1/push"


def test_server_fn_uses_the_default_tenant(lokipy_server_fn: HTTPClient) -> None:
    import urllib.request

    from lokipy.model.entry import PushRequest, PushStream
    from lokipy.wire import encode_push_json

    assert lokipy_server_fn.tenant == "fake"
    body = encode_push_json(PushRequest([PushStream('{app="no-tenant"}', [time.time_ns()], [b"hi"])]))
    req = urllib.request.Request(
        lokipy_server_fn.push_url, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as resp:  # no X-Scope-OrgID at all
        assert resp.status == 204
    lokipy_server_fn.assert_logged('{app="no-tenant"}', "hi", count=1)


def test_shared_server_is_multi_tenant_like_loki_with_auth(lokipy_server: HTTPClient) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(lokipy_server.url + "/loki/api/v1/labels")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 401 and info.value.read() == b"no org id"


def test_full_logql_through_the_fixture(loki: StoreClient | HTTPClient) -> None:
    """The fixtures pass LogQL through untouched: pipelines, parsers and metric queries work
    as the store's engine does them, over HTTP and in process alike."""
    now = time.time_ns()
    lines = ['{"status":200,"path":"/a"}', '{"status":500,"path":"/b"}', '{"status":502,"path":"/a"}']
    loki.push({"job": "api"}, [(now - (3 - i) * NS, line) for i, line in enumerate(lines)])
    assert loki.lines('{job="api"} |= "/a"') == [lines[0], lines[2]]
    errors = loki.query('{job="api"} | json | status >= 500')
    assert [e.parsed["path"] for e in errors.entries] == ["/b", "/a"]
    loki.assert_logged('{job="api"} | json | path="/a"', count=2)
    total = loki.query_instant('sum(count_over_time({job="api"}[1m]))')
    assert total.result_type == "vector" and total.value() == 3
    by_path = loki.query_instant('sum by (path) (count_over_time({job="api"} | json [1m]))')
    assert {s.metric["path"]: s.last for s in by_path.series} == {"/a": 2, "/b": 1}
    matrix = loki.query('count_over_time({job="api"}[1m])', start=now - 60 * NS, end=now, step=10 * NS)
    assert matrix.result_type == "matrix" and matrix.count == 1 and matrix.series[0].last == 3
    # Default window: the last point is now, so a [1m] range sees what was just pushed.
    assert loki.query('sum(count_over_time({job="api"}[1m]))').series[0].last == 3
    done = loki.wait_for(
        'sum(count_over_time({job="api"}[1m]))', instant=True, until=lambda r: r.value() >= 3
    )
    assert done.result_type == "vector"
