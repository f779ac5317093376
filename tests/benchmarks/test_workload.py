"""The workload generator, push bodies, oracle semantics and chart writer, unit by unit."""

from __future__ import annotations

import struct
import zlib
from array import array

import cramjam
import orjson
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import chart
from benchmarks.datasets import (
    SPAN_NS,
    STEP_NS,
    T0_NS,
    Corpus,
    StreamKey,
    cut_blocks,
    generate,
    load_or_generate,
    stream_table,
)
from benchmarks.oracle import LineFilter, Oracle, QuerySpec, step_index
from benchmarks.pushbodies import build_bodies, encode_push_proto
from lokipy.wire import decode_push


def test_stream_table_is_the_196_streams() -> None:
    streams = stream_table()
    assert len(streams) == len(set(streams)) == 196
    assert sum(1 for s in streams if s.job == "osquery") == 28
    assert [s.canonical() for s in streams] == sorted(s.canonical() for s in streams)


def test_stream_count_scales_with_hosts() -> None:
    c = generate(200_000, seed=5, n_hosts=400)
    assert len(c.streams) == 2800
    assert max(c.sids) > 255  # ids beyond one byte survive
    assert {c.streams[s].host for s in c.sids} > {"host-07", "host-399"}


def test_generator_is_deterministic_and_shaped() -> None:
    a, b = generate(300_000, seed=7), generate(300_000, seed=7)
    assert a.fingerprint() == b.fingerprint()
    assert generate(300_000, seed=8).fingerprint() != a.fingerprint()
    assert a.raw_bytes >= 300_000
    ts = a.ts
    assert all(ts[i] < ts[i + 1] for i in range(len(ts) - 1))  # strictly increasing
    assert T0_NS <= ts[0] and ts[-1] < T0_NS + SPAN_NS
    assert all(b"\n" not in line for line in a.lines)
    jobs = [a.streams[s].job for s in a.sids]
    share = {j: jobs.count(j) / len(jobs) for j in ("nginx", "app", "osquery")}
    assert abs(share["nginx"] - 0.45) < 0.03 and abs(share["app"] - 0.40) < 0.03
    errors = sum(1 for line in a.lines if b"error" in line) / a.n_lines
    assert 0.025 < errors < 0.045


def test_cache_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = load_or_generate(200_000, 3, tmp_path)
    again = load_or_generate(200_000, 3, tmp_path)
    assert again.fingerprint() == first.fingerprint()
    assert again.lines == first.lines and again.ts == first.ts


def test_blocks_hold_every_line_once_in_order() -> None:
    c = generate(1_500_000, seed=1)
    blocks = cut_blocks(c, target=8192)
    per_stream: dict[int, list[bytes]] = {}
    sizes: dict[int, list[int]] = {}
    for b in blocks:
        sizes.setdefault(b.sid, []).append(len(b.text) + 1)
        lines = b.text.split(b"\n")
        assert len(lines) == b.nlines == len(b.offsets) - 1
        assert [b.text[b.offsets[i] : b.offsets[i + 1] - 1] for i in range(b.nlines)] == lines
        per_stream.setdefault(b.sid, []).extend(lines)
    for sid, lines in per_stream.items():
        assert lines == [ln for ln, s in zip(c.lines, c.sids, strict=True) if s == sid]
    assert sum(b.nlines for b in blocks) == c.n_lines
    # Every block but a stream's last was cut once it reached the target size.
    assert all(size >= 8192 for s in sizes.values() for size in s[:-1])
    assert any(len(s) > 1 for s in sizes.values())


def test_push_bodies_decode_to_the_corpus() -> None:
    c = generate(400_000, seed=2)
    bodies = build_bodies(c, batch_bytes=64 << 10)
    assert len(bodies.json) == len(bodies.proto) > 3
    seen_json, seen_proto = [], []
    for jb, pb in zip(bodies.json, bodies.proto, strict=True):
        for body, ctype, seen in ((jb, "application/json", seen_json),
                                  (pb, "application/x-protobuf", seen_proto)):  # fmt: skip
            for s in decode_push(body, ctype, None, legacy=False).streams:
                labels = str(s.labels)
                seen.extend((ts, labels, line) for ts, line in zip(s.timestamps, s.lines, strict=True))
    want = [(t, c.streams[s].canonical(), ln) for t, s, ln in zip(c.ts, c.sids, c.lines, strict=True)]
    assert sorted(seen_json) == sorted(seen_proto) == want
    assert orjson.loads(bodies.json[0])["streams"][0]["values"][0][0].isdigit()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(['{a="1"}', '{job="x", level="error"}']),
            st.lists(st.tuples(st.integers(0, 2**62), st.binary(max_size=300)), max_size=20),
        ),
        max_size=5,
    )
)
def test_hand_written_protobuf_encoder_matches_the_decoder(streams) -> None:  # type: ignore[no-untyped-def]
    body = bytes(cramjam.snappy.compress_raw(encode_push_proto(streams)))
    got = decode_push(body, "application/x-protobuf", None, legacy=False).streams
    assert len(got) == len(streams)
    for s, (labels, entries) in zip(got, streams, strict=True):
        assert s.labels == labels or str(s.labels) == labels
        assert list(s.timestamps) == [ts for ts, _ in entries]
        assert list(s.lines) == [line for _, line in entries]


def _tiny_corpus() -> Corpus:
    """Three lines in two streams, one of them exactly on a step boundary."""
    streams = (StreamKey("app", "host-00", "error"), StreamKey("app", "host-00", "info"))
    ts = array("q", [T0_NS + 5, T0_NS + STEP_NS, T0_NS + STEP_NS + 1])
    sids = array("H", [0, 1, 0])
    return Corpus([b"boom error", b"fine", b"an error again"], ts, sids, streams, 0, 0)


def test_oracle_windows_are_left_open_right_closed() -> None:
    assert step_index(T0_NS, T0_NS, STEP_NS) == 0
    assert step_index(T0_NS + 1, T0_NS, STEP_NS) == 1
    assert step_index(T0_NS + STEP_NS, T0_NS, STEP_NS) == 1
    o = Oracle(_tiny_corpus())
    spec = QuerySpec("t", "", (("job", "=", "app"),), LineFilter("|=", b"error"),
                     func="count_over_time", sum_by=())  # fmt: skip
    # ts = T0+5 falls in (T0, T0+1m] -> step 1; T0+1m+1 falls in step 2.
    assert o.metric(spec) == {(): {T0_NS + STEP_NS: 1, T0_NS + 2 * STEP_NS: 1}}
    by_level = QuerySpec("t2", "", (("job", "=", "app"),), None, func="rate", sum_by=("level",))
    assert o.metric(by_level) == {
        (("level", "error"),): {T0_NS + STEP_NS: 1 / 60, T0_NS + 2 * STEP_NS: 1 / 60},
        (("level", "info"),): {T0_NS + STEP_NS: 1 / 60},
    }
    logs = QuerySpec("t3", "", (("level", "=", "error"),), LineFilter("!=", b"again"), limit=5)
    assert [e[2] for e in o.logs(logs)] == [b"boom error"]


def test_png_writer_produces_a_valid_png(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.png"
    chart.draw([chart.Bar("Q1A", 1.4, 1.4, "0.70x / >=0.5x"), chart.Bar("S1", None, None, "-")],
               path, "TITLE")  # fmt: skip
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_len])
    assert len(raw) == height * (1 + 3 * width)
