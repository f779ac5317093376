"""The embedded API: push, select with limit and direction, labels, series, threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from lokipy.config import Config, Limits
from lokipy.logstore import LogStore
from lokipy.model.errors import InvalidInput

PLAIN = Config(limits=Limits(discover_service_name=(), discover_log_levels=False))


def test_in_memory_push_and_select_with_limit_and_direction() -> None:
    t = time.time_ns()
    with LogStore(config=PLAIN) as store:
        store.push({"app": "a"}, [(t + i * 2, f"a{i}") for i in range(5)])  # t+0, 2, 4, 6, 8
        store.push({"app": "b"}, [(t + i * 2 + 1, f"b{i}") for i in range(3)])  # t+1, 3, 5
        newest = store.select('{app=~"a|b"}', t, t + 100, limit=3)
        assert [(str(s.labels), [e.line for e in s.entries]) for s in newest] == [
            ('{app="a"}', [b"a4", b"a3"]),
            ('{app="b"}', [b"b2"]),
        ]
        oldest = store.select('{app=~"a|b"}', t, t + 100, limit=3, direction="FORWARD")
        assert [[e.ts - t for e in s.entries] for s in oldest] == [[0, 2], [1]]


def test_start_is_inclusive_and_end_exclusive() -> None:
    t = time.time_ns()
    with LogStore(config=PLAIN) as store:
        store.push({"app": "a"}, [(t, "first"), (t + 10, "second")])
        assert [e.line for s in store.select('{app="a"}', t, t + 10) for e in s.entries] == [b"first"]


def test_metadata_labels_values_and_series() -> None:
    t = time.time_ns()
    with LogStore(config=PLAIN) as store:
        store.push({"app": "a", "env": "prod"}, [(t, "x", {"trace_id": "1"})])
        store.push({"app": "b"}, [(t, "y")])
        entry = store.select('{app="a"}')[0].entries[0]
        assert entry.metadata == (("trace_id", "1"),)
        assert store.labels() == ["app", "env"]
        assert store.label_values("app") == ["a", "b"]
        assert store.label_values("app", query='{env="prod"}') == ["a"]
        assert store.series('{app=~".+"}') == [{"app": "a", "env": "prod"}, {"app": "b"}]


def test_bad_selector_and_limit_are_input_errors() -> None:
    with LogStore(config=PLAIN) as store:
        with pytest.raises(InvalidInput):
            store.select("app=a")
        with pytest.raises(InvalidInput, match="limit must be a positive value"):
            store.select('{app="a"}', limit=0)


def test_on_a_path_data_survives_reopening(tmp_path: Path) -> None:
    t = time.time_ns()
    with LogStore(tmp_path / "data", config=PLAIN) as store:
        store.push({"app": "a"}, [(t, b"\xff\xfe raw bytes\nand a newline")])
    with LogStore(tmp_path / "data", config=PLAIN) as store:
        assert store.select('{app="a"}')[0].entries[0].line == b"\xff\xfe raw bytes\nand a newline"


def test_concurrent_pushes_from_threads_all_land() -> None:
    t = time.time_ns()
    with LogStore(config=PLAIN) as store:

        def work(n: int) -> None:
            for i in range(200):
                store.push({"w": str(n)}, [(t + i, f"{n}-{i}")])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        got = store.select('{w=~".+"}', t, t + 1000, limit=5000)
        assert sum(len(s.entries) for s in got) == 800


def test_loki3_defaults_add_service_name_and_detected_level() -> None:
    t = time.time_ns()
    with LogStore() as store:
        store.push({"job": "api"}, [(t, "level=error msg=boom")])
        stream = store.select('{job="api"}')[0]
        assert stream.labels.as_dict() == {"job": "api", "service_name": "api"}
        assert stream.entries[0].metadata == (("detected_level", "error"),)


@pytest.mark.parametrize("decoder", ["c", "python"])
def test_pushed_bodies_keep_order_duplicate_and_time_checks(decoder: str, monkeypatch) -> None:
    """The C decoder hands validation and the head its column stats (bounds, strictly
    increasing); wrong or ignored stats would let a duplicate or a too-new entry through."""
    import orjson

    from lokipy.model.entry import PushRequest, PushStream
    from lokipy.wire import native
    from lokipy.wire.decode import encode_push_proto

    if decoder == "c" and native.columns is None:
        pytest.skip("lokipy was installed without its C decoder")
    if decoder == "python":
        monkeypatch.setattr(native, "columns", None)
    t = time.time_ns()
    far = t + 3600 * 10**9  # past Loki's 10 minute creation grace period
    streams = {
        "a": [(t + 5, "late"), (t + 1, "early"), (t + 1, "early")],  # out of order, a duplicate
        "z": [(t + 2, "now"), (far, "future")],
    }
    json_body = orjson.dumps(
        {
            "streams": [
                {"stream": {"app": k}, "values": [[str(ts), ln] for ts, ln in v]} for k, v in streams.items()
            ]
        }
    )
    proto_body = encode_push_proto(
        PushRequest(
            [
                PushStream(f'{{app="{k}"}}', [ts for ts, _ in v], [ln.encode() for _, ln in v])
                for k, v in streams.items()
            ]
        )
    )
    for body, content_type in ((json_body, "application/json"), (proto_body, "application/x-protobuf")):
        with LogStore(config=PLAIN) as store:
            result = store.push_body(body, content_type)
            assert (result.accepted, result.duplicates) == (3, 1)
            assert "timestamp too new" in result.message
            kept = {
                str(s.labels): [e.line for e in s.entries]
                for s in store.select('{app=~".+"}', t, far + 1, direction="FORWARD")
            }
            assert kept == {'{app="a"}': [b"early", b"late"], '{app="z"}': [b"now"]}
