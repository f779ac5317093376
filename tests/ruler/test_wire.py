"""What goes on the wire: the Alertmanager v2 body and the remote-write 1.0 request."""

from __future__ import annotations

import json
import math
import struct
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from lokipy.ruler.alerting import STALE_NAN, Alert, is_stale
from lokipy.ruler.config import RemoteWriteClient
from lokipy.ruler.notifier import (
    MAX_BATCH,
    Notifier,
    alert_payload,
    generator_url,
    rfc3339_millis,
    rfc3339_nano,
)
from lokipy.ruler.remote_write import (
    STALE_MARKER,
    RemoteWriter,
    decode_write_request,
    encode_write_request,
    snappy_block,
    unsnappy_block,
)
from tests.ruler.recorder import Recorder
from tests.shared import require_shared

MS = 10**6


def test_alert_payload_matches_the_loki_shaped_fixture() -> None:
    fx = json.loads(require_shared("fixtures", "ruler", "alertmanager_v2_post_loki_shaped.json").read_text())
    (want,) = fx["request"]["body_json"]
    starts = 1795845029848 * MS  # 2026-11-28T05:50:29.848Z
    a = Alert(
        labels=(("alertname", "SSHLogin"), ("severity", "warning"), ("username", "alice")),
        annotations=want["annotations"], state="firing", active_at=starts, value=2.0, fired_at=starts,
        valid_until=starts + 241 * 10**9,
    )  # fmt: skip
    expr = ('sum by (username)(count_over_time({job="osquery_results"} | json | name="pack_incident-response_last"'
            ' | columns_type="7" | label_format username="{{.columns_username}}"[1m])) > 0')  # fmt: skip
    got = alert_payload(
        a,
        {"origin": "lokipy-acceptance", "severity": "ignored"},
        generator_url("http://127.0.0.1:3100", expr),
    )
    # The fixture was hand-made with Python's json; Go's json.Marshal (Loki) escapes > as \u003e.
    want = {**want, "generatorURL": want["generatorURL"].replace("%3E", "%5Cu003e")}
    assert got == want
    assert list(got) == ["labels", "annotations", "startsAt", "endsAt", "generatorURL"]
    resolved = Alert(a.labels, {}, "inactive", starts, 2.0, fired_at=starts, resolved_at=starts + 5 * 10**9)
    assert alert_payload(resolved, {}, "")["endsAt"] == "2026-11-28T05:50:34.848Z"


def test_time_formats() -> None:
    assert rfc3339_millis(1795845029 * 10**9) == "2026-11-28T05:50:29.000Z"
    assert rfc3339_nano(1795845032122144131) == "2026-11-28T05:50:32.122144131Z"
    assert rfc3339_nano(1795845032100000000) == "2026-11-28T05:50:32.1Z"
    assert rfc3339_nano(0) == "0001-01-01T00:00:00Z"
    assert generator_url("", '{a="<&>"}', "uid1") == (
        "/explore?left=%7B%22queries%22%3A%5B%7B%22expr%22%3A%22%7Ba%3D%5C%22%5Cu003c%5Cu0026%5Cu003e%5C%22%7D"
        "%22%2C%22queryType%22%3A%22range%22%2C%22datasource%22%3A%7B%22type%22%3A%22loki%22%2C%22uid%22%3A%22uid1%22%7D%7D%5D%7D"
    )


def test_notifier_batches_of_256_with_tenant_header_to_every_alertmanager() -> None:
    a, b = Recorder(), Recorder()
    n = Notifier(
        (a.url + "/prefix", b.url.replace("http://", "http://u:p@")), capacity=1000, basic_auth=("x", "y")
    )
    try:
        n.send("team-a", [{"labels": {"alertname": f"A{i}"}} for i in range(600)])
        for rec in (a, b):
            reqs = rec.wait(3)
            assert [len(json.loads(body)) for _, _, body in reqs] == [MAX_BATCH, MAX_BATCH, 88]
        path, headers, _ = a.requests[0]
        assert path == "/prefix/api/v2/alerts"
        assert headers["x-scope-orgid"] == "team-a" and headers["content-type"] == "application/json"
        assert b.requests[0][1]["authorization"] == "Basic dTpw"  # u:p from the URL wins
        assert a.requests[0][1]["authorization"] == "Basic eDp5"  # x:y from alertmanager_client
    finally:
        n.stop()
        a.stop()
        b.stop()


def test_notifier_queue_drops_oldest() -> None:
    n = Notifier(("http://127.0.0.1:9/",), capacity=3)
    n.stop()  # no sender: the queue only fills
    n.stopping = False
    n.send("t", [{"i": i} for i in range(5)])
    assert [p["i"] for _, p in n.queue] == [2, 3, 4] and n.dropped == 2


def test_remote_write_fixture_decodes_and_reencodes_byte_for_byte() -> None:
    fx = require_shared("fixtures", "ruler", "remote_write_example.bin")
    meta = json.loads(fx.with_suffix(".json").read_text())
    raw = unsnappy_block(fx.read_bytes())
    assert raw.hex() == meta["uncompressed_hex"]
    ((labels, samples),) = decode_write_request(raw)
    assert dict(labels) == meta["decoded"]["timeseries"][0]["labels"]
    assert samples == [(1795845029858, 2.0)]
    assert encode_write_request([(labels, samples[0][0], samples[0][1])]) == raw
    assert unsnappy_block(snappy_block(raw)) == raw


labels_st = st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.text(max_size=10), max_size=4
)


@given(st.lists(st.tuples(labels_st, st.integers(-(2**62), 2**62), st.floats()), max_size=8))
def test_remote_write_round_trip(samples: list[tuple[dict[str, str], int, float]]) -> None:
    enc = [(tuple(lb.items()), ts, v) for lb, ts, v in samples]
    dec = decode_write_request(unsnappy_block(snappy_block(encode_write_request(enc))))
    assert len(dec) == len(enc)
    for (lbs, got), (want_lbs, ts, v) in zip(dec, enc, strict=True):
        assert lbs == tuple(sorted(want_lbs))  # sorted by name, one TimeSeries per sample
        assert got[0][0] == ts
        assert struct.pack("<d", got[0][1]) == struct.pack("<d", v)  # bit-exact, NaN payloads too


def test_stale_marker_bits() -> None:
    assert struct.unpack("<Q", struct.pack("<d", STALE_MARKER))[0] == STALE_NAN == 0x7FF0000000000002
    assert is_stale(STALE_MARKER) and not is_stale(math.nan)


def _writer(url: str, spool: Path | None = None, **kw: object) -> RemoteWriter:
    client = RemoteWriteClient(url=url, batch_send_deadline=50 * MS, min_backoff=10 * MS, max_backoff=40 * MS,
                               headers={"X-Scope-OrgID": "spoofed", "X-Extra": "1"}, **kw)  # type: ignore[arg-type]  # fmt: skip
    return RemoteWriter(client, "tenant-1", spool=spool)


def test_remote_writer_retries_5xx_with_backoff_then_sends() -> None:
    rec = Recorder([503, 500, 204])
    w = _writer(rec.url + "/api/v1/write")
    try:
        w.append([((("__name__", "x"),), 1000, 1.0)])
        reqs = rec.wait(3)
        bodies = {body for _, _, body in reqs}
        assert len(bodies) == 1  # the same batch, retried
        h = reqs[0][1]
        assert (h["content-encoding"], h["content-type"], h["x-prometheus-remote-write-version"]) == (
            "snappy", "application/x-protobuf", "0.1.0")  # fmt: skip
        assert h["x-scope-orgid"] == "tenant-1" and h["x-extra"] == "1"
        assert "retry-attempt" not in h and reqs[2][1]["retry-attempt"] == "2"
        deadline = time.monotonic() + 5
        while w.sent_samples != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.sent_samples == 1
    finally:
        w.stop()
        rec.stop()


def test_remote_writer_drops_a_batch_on_4xx_and_batches_by_size() -> None:
    rec = Recorder([400, 204, 204])
    w = _writer(rec.url, max_samples_per_send=2)
    try:
        w.append([((("__name__", "x"),), 1000 + i, float(i)) for i in range(5)])
        reqs = rec.wait(3)
        sizes = [len(decode_write_request(unsnappy_block(b))) for _, _, b in reqs]
        assert sizes == [2, 2, 1]
        time.sleep(0.2)
        assert len(rec.requests) == 3 and w.failed_samples == 2
    finally:
        w.stop()
        rec.stop()


def test_unsent_samples_are_spooled_at_stop_and_sent_first_at_the_next_start(tmp_path: Path) -> None:
    spool = tmp_path / "wal" / "fake" / "prom.spool"
    w = _writer("http://127.0.0.1:9/api/v1/write", spool=spool)  # nothing listens on port 9
    samples = [((("__name__", "x"), ("u", "a")), 1000, 1.5), ((("__name__", "x"),), 2000, STALE_MARKER)]
    w.append(samples)
    time.sleep(0.3)  # a few failed attempts
    w.stop()
    assert spool.exists() and w.sent_samples == 0
    rec = Recorder()
    w2 = _writer(rec.url, spool=spool)
    try:
        (req,) = rec.wait(1)
        got = decode_write_request(unsnappy_block(req[2]))
        assert [(lbs, pts[0][0]) for lbs, pts in got] == [(lbs, ts) for lbs, ts, _ in samples]
        assert got[0][1][0][1] == 1.5 and is_stale(got[1][1][0][1])
        assert not spool.exists()
    finally:
        w2.stop()
        rec.stop()
