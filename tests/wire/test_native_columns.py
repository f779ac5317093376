"""The C column decoders against the Python decoders: on any body, the C decoder either returns
exactly what the Python decoder returns, or None (and the Python decoder takes the body).

Plain bodies, the shape every client sends, must be taken by the C decoder, or its speed is lost
without any test noticing.
"""

from __future__ import annotations

import json
import os
import shutil
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lokipy.model.entry import ColumnStats, JoinedLines, PushRequest, PushStream
from lokipy.model.errors import InvalidInput, InvalidLabels
from lokipy.model.labels import is_valid_label_name
from lokipy.wire import native, push_json
from lokipy.wire.push_json import decode_push_json
from lokipy.wire.push_proto import decode_push_proto, encode_push_proto_raw
from tests.wire.conftest import BUILT

COMPARES_DECODERS = True  # conftest: run once, not once per decoder

needs_c = pytest.mark.skipif(BUILT is None, reason="lokipy was installed without its C decoder")


def test_c_decoder_is_built_wherever_it_can_be() -> None:
    """The extension is optional so that an install without a compiler works; where a
    compiler and Python's headers exist (CI, this machine), it must have been built."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which(cc) is None or not os.path.exists(headers):
        pytest.skip(f"no C compiler ({cc}) or no Python.h: the pure-Python decoders serve alone")
    assert BUILT is not None, "a compiler is present but lokipy.wire._columns was not built"


@contextmanager
def _decoder(columns: object) -> Iterator[None]:
    saved = native.columns
    native.columns = columns  # type: ignore[assignment]
    try:
        yield
    finally:
        native.columns = saved


def _outcome(decode: Callable[[bytes], PushRequest], body: bytes, columns: object) -> object:
    with _decoder(columns):
        try:
            return decode(body)
        except (InvalidInput, InvalidLabels) as err:
            return (type(err).__name__, str(err))


def _check_agree(
    decode: Callable[[bytes], PushRequest], c_path: Callable[[bytes], object], body: bytes
) -> bool:
    """Same outcome with and without the C decoder; returns whether the C path took the body."""
    reference = _outcome(decode, body, None)
    got = _outcome(decode, body, BUILT)
    assert got == reference
    with _decoder(BUILT):
        taken = c_path(body) is not None
    if taken:
        assert isinstance(reference, PushRequest), "C decoded a body the Python decoder rejects"
        assert isinstance(got, PushRequest)
        for stream in got.streams:
            assert stream.stats == _stats(stream)
    return taken


def _stats(stream: PushStream) -> ColumnStats | None:
    """The column stats, the slow way."""
    ts = stream.timestamps
    if not ts:
        return None
    increasing = all(a < b for a, b in zip(ts, ts[1:], strict=False))
    return ColumnStats(min(ts), max(ts), increasing, max(map(len, stream.lines)))


def _check_proto(body: bytes) -> bool:
    return _check_agree(decode_push_proto, BUILT.proto_columns, body)  # type: ignore[union-attr]


def _check_json(body: bytes) -> bool:
    # C reads any label names; the Python side then builds Labels and leaves bad ones to Python.
    return _check_agree(decode_push_json, push_json._request_native, body)


# --- generated requests ---------------------------------------------------------------------

LABEL_NAME = st.one_of(
    st.sampled_from(["job", "host", "level", "a", "_x", "service_name"]), st.text(max_size=4)
)
LABEL_VALUE = st.text(max_size=8)
TS = st.one_of(
    st.integers(0, (1 << 63) - 1),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.integers(1_700_000_000_000_000_000, 1_700_000_100_000_000_000),
    st.just(0),
)
# Quotes, backslashes, controls, non-BMP characters; long enough for the 16-byte scan.
TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['"', "\\", "/", "\n\t\r\b\f", "\x00\x1f\x7f", "é", "😀", '{"user":"root"}']
)


@st.composite
def plain_streams(draw: st.DrawFn) -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        labels = draw(st.dictionaries(LABEL_NAME, LABEL_VALUE, max_size=3))
        entries = draw(st.lists(st.tuples(TS, TEXT), max_size=5))
        out.append((labels, entries))
    return out


def _json_body(streams: list[tuple[dict[str, str], list[tuple[int, str]]]], style: int) -> bytes:
    doc = {"streams": [{"stream": lb, "values": [[str(t), line] for t, line in es]} for lb, es in streams]}
    if style == 0:
        return orjson.dumps(doc)  # compact, raw UTF-8, only the required escapes
    if style == 1:  # every non-ASCII character escaped, surrogate pairs included; spaces
        return json.dumps(doc, ensure_ascii=True, indent=1).encode()
    # keys in the other order, "\/" escapes
    flipped = [{"values": s["values"], "stream": s["stream"]} for s in doc["streams"]]
    return json.dumps({"streams": flipped}, separators=(", ", " : ")).replace("/", "\\/").encode()


def _proto_body(streams: list[tuple[dict[str, str], list[tuple[int, str]]]]) -> bytes:
    req = PushRequest(
        [
            PushStream(
                "{" + ", ".join(f'{k}="{v}"' for k, v in lb.items()) + "}",
                [t for t, _ in es],
                [line.encode("utf-8", "surrogatepass") for _, line in es],
            )
            for lb, es in streams
        ]
    )
    return encode_push_proto_raw(req)


@needs_c
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plain_streams(), st.integers(0, 2))
def test_json_bodies_decode_the_same(streams, style) -> None:
    taken = _check_json(_json_body(streams, style))
    plain = all(is_valid_label_name(n) for lb, _ in streams for n in lb)
    plain = plain and all(t >= 0 for _, es in streams for t, _ in es)
    assert taken or not plain  # valid names, plain timestamps: nothing for Python to do


@needs_c
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plain_streams())
def test_proto_bodies_decode_the_same(streams) -> None:
    assert _check_proto(_proto_body(streams))  # no metadata: always C's


@needs_c
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(plain_streams(), st.data())
def test_damaged_bodies_decode_the_same_or_go_to_python(streams, data) -> None:
    """Flipped, dropped and inserted bytes: C must never accept what Python rejects, nor read
    a body differently."""
    for body, check in (
        (_json_body(streams, data.draw(st.integers(0, 2))), _check_json),
        (_proto_body(streams), _check_proto),
    ):
        damaged = bytearray(body)
        for _ in range(data.draw(st.integers(1, 3))):
            if not damaged:
                break
            pos = data.draw(st.integers(0, len(damaged) - 1))
            kind = data.draw(st.sampled_from(["flip", "drop", "insert"]))
            if kind == "flip":
                damaged[pos] ^= 1 << data.draw(st.integers(0, 7))
            elif kind == "drop":
                del damaged[pos]
            else:
                damaged.insert(pos, data.draw(st.sampled_from(b'"\\{}[],:0 \x80\xff\x08\x12')))
        check(bytes(damaged))


# --- what C must take, and what it must leave to Python ------------------------------------

PLAIN = [
    (
        {"job": "app", "host": "web-1"},
        [(1_700_000_000_123_456_789, 'GET / "200"'), (1_700_000_001_000_000_000, "")],
    )
]


@needs_c
def test_plain_bodies_are_taken_by_c() -> None:
    for style in range(3):
        assert _check_json(_json_body(PLAIN, style))
    assert _check_proto(_proto_body(PLAIN))
    with _decoder(BUILT):
        got = decode_push_json(_json_body(PLAIN, 0))
    assert isinstance(got.streams[0].lines, JoinedLines)
    assert got.streams[0].lines == [b'GET / "200"', b""]


def _stream(values: str) -> str:
    return '{"stream":{"job":"a"},"values":[' + values + "]}"


LEFT_TO_PYTHON = {
    "metadata": _stream('["1","x",{"trace":"t"}]'),
    "leading zero": _stream('["01","x"]'),
    "negative ts": _stream('["-1","x"]'),
    "ts past int64": _stream('["9223372036854775808","x"]'),
    "empty ts": _stream('["","x"]'),
    "number ts": _stream('[1,"x"]'),
    "lone surrogate": _stream('["1","\\ud800"]'),
    "lone low surrogate": _stream('["1","\\udc00x"]'),
    "raw control": _stream('["1","a\tb"]'),
    "null entry": _stream("null"),
    "one element": _stream('["1"]'),
    "number label": '{"stream":{"job":1},"values":[["1","x"]]}',
    "duplicate label": '{"stream":{"job":"a","job":"b"},"values":[["1","x"]]}',
    "no values": '{"stream":{"job":"a"}}',
    "extra key": '{"stream":{"job":"a"},"values":[],"other":1}',
    "null streams": None,
}


@needs_c
@pytest.mark.parametrize("case", sorted(LEFT_TO_PYTHON))
def test_unusual_json_is_left_to_python(case: str) -> None:
    stream = LEFT_TO_PYTHON[case]
    body = ('{"streams":null}' if stream is None else '{"streams":[' + stream + "]}").encode()
    assert BUILT.json_columns(body) is None  # type: ignore[union-attr]
    _check_json(body)


@needs_c
def test_bad_label_names_are_left_to_python() -> None:
    """C reads the map; building Labels fails, and Python names the first error in order."""
    body = b'{"streams":[{"stream":{"a":"b"},"values":[]},{"stream":{"a-b":"c"},"values":[["1","x"]]}]}'
    assert BUILT.json_columns(body) is not None  # type: ignore[union-attr]
    assert not _check_json(body)
    with pytest.raises(InvalidLabels, match="unexpected character inside braces"):
        decode_push_json(body)


@needs_c
@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf{}",
        b'{"streams":[]} x',
        b'{"streams":[{"stream":{"job":"\xff"},"values":[]}]}',
        b"[]",
        b"",
    ],
)
def test_odd_json_documents_are_left_to_python(body: bytes) -> None:
    assert BUILT.json_columns(body) is None  # type: ignore[union-attr]
    _check_json(body)


@needs_c
def test_proto_with_metadata_or_unknown_fields_is_left_to_python() -> None:
    with_md = encode_push_proto_raw(PushRequest([PushStream('{a="b"}', [1], [b"x"], [(("k", "v"),)])]))
    assert BUILT.proto_columns(with_md) is None  # type: ignore[union-attr]
    _check_proto(with_md)
    plain = encode_push_proto_raw(PushRequest([PushStream('{a="b"}', [1], [b"x"])]))
    unknown = plain + b"\x28\x01"  # field 5, varint: skipped by protobuf, not by C
    assert BUILT.proto_columns(unknown) is None  # type: ignore[union-attr]
    _check_proto(unknown)
