"""The column decoder must agree with the plain entry-by-entry decoder on every layout, and
must actually take its fast paths on the layouts real clients send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.errors import InvalidInput
from lokipy.wire import decode_push_proto, encode_push_proto_raw, proto_columns, push_proto
from lokipy.wire.push_proto import NS, parse_full, stream_by_entry

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
# Biased towards what makes Go's encoder omit fields: zero seconds, zero nanos, empty lines.
TS = st.one_of(
    INT64,
    st.integers(-3, 3).map(lambda k: k * NS),
    st.integers(0, NS - 1),
    st.just(0),
    st.integers(1_700_000_000, 1_700_000_100).map(lambda s: s * NS),
    st.integers(1_700_000_000 * NS, 1_700_000_003 * NS),  # realistic: mixes with whole seconds
)
LINE = st.one_of(st.just(b""), st.binary(max_size=12))
# Pairs sorted by name (stable), as the model keeps them; empty names/values make Go leave
# fields out, and repeated names test the stable order.
META = st.lists(st.tuples(st.sampled_from(["", "a", "b"]), st.sampled_from(["", "x", "y"])), max_size=3).map(
    lambda pairs: tuple(sorted(pairs, key=lambda p: p[0]))
)


@st.composite
def streams(draw) -> PushStream:
    n = draw(st.integers(0, 5))
    md = [draw(META) for _ in range(n)] if draw(st.booleans()) else []
    return PushStream(
        draw(st.sampled_from(['{a="b"}', "", '{c="d", e="f"}'])),
        [draw(TS) for _ in range(n)],
        [draw(LINE) for _ in range(n)],
        md if any(md) else None,
    )


@given(st.lists(streams(), max_size=5))
def test_column_decoder_matches_entry_by_entry(items: list[PushStream]) -> None:
    req = PushRequest(items)
    raw = encode_push_proto_raw(req)
    reference = PushRequest([stream_by_entry(s) for s in parse_full(raw).streams])
    assert reference == req
    assert decode_push_proto(raw) == req


def _no_entry_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_: object) -> PushStream:
        raise AssertionError("took the entry-by-entry path")

    monkeypatch.setattr(proto_columns, "stream_by_entry", boom)


def _no_per_stream_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> list[PushStream]:
        raise AssertionError("took the per-stream path")

    monkeypatch.setattr(proto_columns, "_per_stream", boom)


@pytest.mark.parametrize(
    "timestamps",
    [
        [1_700_000_000_123_456_789, 1_700_000_000_000_000_001],  # promtail: ns precision
        [1_700_000_001_000_000_000, 1_700_000_002_000_000_000],  # whole seconds: nanos omitted
        [1_700_000_001_000_000_000, 1_700_000_001_001_000_000],  # ms clock: some nanos omitted
        [0, 0],  # epoch: no Timestamp fields at all
        [5, 7],  # seconds omitted
    ],
)
def test_regular_requests_take_the_request_wide_column_path(monkeypatch, timestamps) -> None:
    req = PushRequest(
        [
            PushStream('{a="b"}', list(timestamps), [b"one", b"two"]),
            PushStream('{a="c"}', [timestamps[0]], [b"three"]),
            PushStream('{a="d"}'),
        ]
    )
    raw = encode_push_proto_raw(req)
    _no_entry_path(monkeypatch)
    _no_per_stream_path(monkeypatch)
    assert decode_push_proto(raw) == req


def test_all_empty_lines_still_take_the_column_path(monkeypatch) -> None:
    req = PushRequest([PushStream('{a="b"}', [1, 2], [b"", b""])])
    raw = encode_push_proto_raw(req)
    _no_entry_path(monkeypatch)
    _no_per_stream_path(monkeypatch)
    assert decode_push_proto(raw) == req


def test_one_irregular_stream_does_not_slow_the_others(monkeypatch) -> None:
    calls: list[object] = []
    real = proto_columns.stream_by_entry

    def spy(s: object) -> PushStream:
        calls.append(s)
        return real(s)

    monkeypatch.setattr(proto_columns, "stream_by_entry", spy)
    req = PushRequest(
        [
            PushStream('{a="b"}', [1, 2], [b"x", b"y"]),
            PushStream('{a="md"}', [3, 4], [b"x", b"y"], [(), (("k", "v"),)]),
            PushStream('{a="blank"}', [5, 6], [b"", b"y"]),
            PushStream('{a="c"}', [7], [b"z"]),
        ]
    )
    assert decode_push_proto(encode_push_proto_raw(req)) == req
    assert [push_proto.text(s.labels) for s in calls] == ['{a="blank"}']


@pytest.mark.parametrize("bad_stream", [0, 1])
def test_bad_nanos_are_found_on_the_column_path(bad_stream) -> None:
    raw_streams = [
        push_proto.PbStream(labels=b'{a="b"}'),
        push_proto.PbStream(labels=b'{a="c"}'),
    ]
    for i, s in enumerate(raw_streams):
        nanos = -1 if i == bad_stream else 5
        s.entries.add(timestamp=push_proto.PbTimestamp(seconds=1, nanos=nanos), line=b"x")
    raw = push_proto.PbPushRequest(streams=raw_streams).SerializeToString()
    with pytest.raises(InvalidInput, match=r"nanos not in range \[0, 1e9\)"):
        decode_push_proto(raw)
