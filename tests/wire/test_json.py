"""JSON push bodies: Loki's v1 rules (labels, values, metadata, errors) and the v0 shape."""

from __future__ import annotations

import orjson
import pytest

from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.errors import InvalidInput, InvalidLabels
from lokipy.model.labels import Labels
from lokipy.wire import decode_push_json, decode_push_json_legacy, encode_push_json
from lokipy.wire.push_json import (
    MALFORMED_ARRAY,
    MALFORMED_OBJECT,
    MALFORMED_STRING,
    MALFORMED_VALUE,
    OVERFLOW_INTEGER,
    STREAM_ERROR_PREFIX,
)


def v1(*streams: dict) -> bytes:
    return orjson.dumps({"streams": list(streams)})


def one(stream: dict) -> PushStream:
    (s,) = decode_push_json(v1(stream)).streams
    return s


def test_doc_example_decodes() -> None:
    s = one(
        {
            "stream": {"job": "osquery", "host": "web-01"},
            "values": [
                ["1700000100000000000", "first line"],
                ["1700000100000000001", "second line", {"trace_id": "0af7", "source": "osquery"}],
            ],
        }
    )
    assert s.labels == Labels.from_map({"host": "web-01", "job": "osquery"})
    assert s.timestamps == [1700000100000000000, 1700000100000000001]
    assert s.lines == [b"first line", b"second line"]
    assert s.metadata == [(), (("source", "osquery"), ("trace_id", "0af7"))]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (
            {"a.b": "c"},
            "couldn't parse labels: 1:3: parse error: unexpected character inside braces: '.'",
        ),
        (
            {"job": "x", "bad-label": "api"},
            "couldn't parse labels: 1:5: parse error: unexpected character inside braces: '-'",
        ),
        (
            {"app": "x", "1st": "y"},
            "couldn't parse labels: 1:2: parse error: unexpected character inside braces: '1'",
        ),
        (
            {"zz": "x", "a b": "y"},
            "couldn't parse labels: 1:3: parse error: unexpected character inside braces: ' '",
        ),
        (
            {"ok": "v\u00e9", "p\u00e9": "y"},
            "couldn't parse labels: 1:13: parse error: unexpected character inside braces: '\u00e9'",
        ),
        (
            {"": "x"},
            "couldn't parse labels: 1:2: parse error: "
            'unexpected "=" in label set, expected identifier or "}"',
        ),
    ],
)
def test_invalid_label_names_fail_the_whole_request(stream, message) -> None:
    body = v1({"stream": {"good": "1"}, "values": [["1", "x"]]}, {"stream": stream, "values": []})
    with pytest.raises(InvalidLabels) as err:
        decode_push_json(body)
    assert str(err.value) == message


def test_missing_stream_map_fails_like_an_empty_label_text() -> None:
    with pytest.raises(InvalidLabels, match="couldn't parse labels"):
        decode_push_json(v1({"values": [["1", "x"]]}))


def test_label_values_scalars_become_their_json_text_and_empties_drop() -> None:
    s = one({"stream": {"port": 8080, "on": True, "n": None, "empty": "", "s": "x"}, "values": []})
    assert s.labels == Labels([("n", "null"), ("on", "true"), ("port", "8080"), ("s", "x")])


def test_number_timestamp_gives_lokis_misleading_message() -> None:
    with pytest.raises(InvalidInput) as err:
        decode_push_json(v1({"stream": {"a": "b"}, "values": [[1700000000000000000, "x"]]}))
    assert str(err.value) == STREAM_ERROR_PREFIX + MALFORMED_STRING
    assert "Value is string, but can't find closing '\"' symbol" in str(err.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (["abc", "x"], MALFORMED_VALUE),
        (["", "x"], MALFORMED_VALUE),
        (["+5", "x"], MALFORMED_VALUE),
        (["1_000", "x"], MALFORMED_VALUE),
        (["\u0661", "x"], MALFORMED_VALUE),  # a non-ASCII digit
        (["99999999999999999999", "x"], OVERFLOW_INTEGER),
        (["9223372036854775808", "x"], OVERFLOW_INTEGER),
        (["1", 5], MALFORMED_STRING),
        (["1", None], MALFORMED_STRING),
        (["1", "x", "meta"], MALFORMED_OBJECT),
        (["1", "x", {"k": 1}], MALFORMED_STRING),
        (["1", "x", {"k": {"nested": "v"}}], MALFORMED_STRING),
        ("1 x", MALFORMED_ARRAY),
        ({"ts": "1"}, MALFORMED_ARRAY),
    ],
)
def test_malformed_entries(entry, message) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_push_json(v1({"stream": {"a": "b"}, "values": [["1", "ok"], entry]}))
    assert str(err.value) == STREAM_ERROR_PREFIX + message


def test_timestamp_edge_values() -> None:
    s = one(
        {
            "stream": {"a": "b"},
            "values": [
                ["-5", "neg"],
                ["9223372036854775807", "max"],
                ["-9223372036854775808", "min"],
                ["007", "zeros"],
                ["-", "bare minus is zero in jsonparser"],
            ],
        }
    )
    assert s.timestamps == [-5, (1 << 63) - 1, -(1 << 63), 7, 0]


def test_nulls_are_skipped_and_short_or_long_entries_follow_loki() -> None:
    s = one(
        {
            "stream": {"a": "b"},
            "values": [None, ["1", "x", {}, "ignored", 5], [], ["2"], None],
        }
    )
    assert s.timestamps == [1, 0, 2]
    assert s.lines == [b"x", b"", b""]
    assert s.metadata is None


@pytest.mark.parametrize("values", [None, []])
def test_streams_without_entries_are_kept_for_the_distributor(values) -> None:
    req = decode_push_json(v1({"stream": {"a": "b"}, "values": values}, {"stream": {"c": "d"}}))
    assert [len(s) for s in req.streams] == [0, 0]
    assert req.entry_count() == 0


def test_values_must_be_an_array() -> None:
    with pytest.raises(InvalidInput, match="Value is array"):
        decode_push_json(v1({"stream": {"a": "b"}, "values": {"0": ["1", "x"]}}))


@pytest.mark.parametrize("stream", [None, "text", 5, ["a"]])
def test_stream_entries_must_be_objects(stream) -> None:
    with pytest.raises(InvalidInput, match="Value looks like object"):
        decode_push_json(v1(stream))


def test_stream_map_must_be_an_object() -> None:
    with pytest.raises(InvalidInput, match="Value looks like object"):
        decode_push_json(v1({"stream": '{a="b"}', "values": []}))


@pytest.mark.parametrize(
    "body", [b"", b"[]", b"5", b'"x"', b"{", b'{"streams": 5}', b'{"streams": {}}', b"nul"]
)
def test_malformed_documents(body) -> None:
    with pytest.raises(InvalidInput):
        decode_push_json(body)


def test_missing_or_null_streams_is_an_empty_request() -> None:
    assert decode_push_json(b"{}") == PushRequest([])
    assert decode_push_json(b'{"streams": null}') == PushRequest([])


def test_deeply_nested_json_is_invalid_input_not_a_crash() -> None:
    for depth in (2000, 200_000):
        body = b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",' + b"[" * depth
        body += b"]" * depth + b"]]}]}"
        with pytest.raises(InvalidInput):
            decode_push_json(body)


def test_metadata_is_sorted_by_name_and_empty_objects_vanish() -> None:
    s = one(
        {
            "stream": {"a": "b"},
            "values": [["1", "x", {"z": "1", "a": "2", "m": ""}], ["2", "y", {}], ["3", "z"]],
        }
    )
    assert s.metadata == [(("a", "2"), ("m", ""), ("z", "1")), (), ()]


def test_escapes_and_unicode_become_utf8_bytes() -> None:
    body = b'{"streams":[{"stream":{"a":"b"},"values":[["1",'
    body += b'"q\\"b\\\\n\\n\\u00e9\\ud83d\\ude80\\t"]]}]}'
    assert one_from(body).lines == [b'q"b\\n\n\xc3\xa9\xf0\x9f\x9a\x80\t']


def one_from(body: bytes) -> PushStream:
    (s,) = decode_push_json(body).streams
    return s


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udc80", b"\\ud83dx"])
def test_lone_surrogate_escapes_are_rejected_like_loki(escape) -> None:
    body = b'{"streams":[{"stream":{"a":"b"},"values":[["1","' + escape + b'"]]}]}'
    with pytest.raises(InvalidInput):
        decode_push_json(body)


def test_raw_invalid_utf8_is_kept_byte_exact() -> None:
    """Go's parser never validates UTF-8, so neither do we: the bytes go through as sent."""
    line = b"bad \xff\xfe bytes \xc3 and valid \xc3\xa9"
    body = b'{"streams":[{"stream":{"app":"x\xffy"},"values":[["5","' + line + b'",{"k":"\xfe"}]]}]}'
    s = one_from(body)
    assert s.lines == [line]
    assert s.labels == Labels([("app", "x\udcffy")])
    assert str(s.labels) == '{app="x\\xffy"}'
    assert s.metadata == [(("k", "\udcfe"),)]


def test_raw_invalid_utf8_with_a_lone_surrogate_escape_is_still_rejected() -> None:
    body = b'{"streams":[{"stream":{"a":"\xff"},"values":[["1","\\ud800"]]}]}'
    with pytest.raises(InvalidInput):
        decode_push_json(body)


def test_pino_style_one_stream_per_line_is_decoded_as_sent() -> None:
    body = v1(*({"stream": {"a": "b"}, "values": [[str(i), f"l{i}"]]} for i in range(3)))
    req = decode_push_json(body)
    assert [s.timestamps for s in req.streams] == [[0], [1], [2]]


# --- legacy v0 -----------------------------------------------------------------------------


def test_legacy_doc_example() -> None:
    body = (
        b'{"streams":[{"labels":"{job=\\"varlogs\\"}","entries":'
        b'[{"ts":"2024-05-01T10:00:00.123456789Z","line":"hello"}]}]}'
    )
    (s,) = decode_push_json_legacy(body).streams
    assert s.labels == '{job="varlogs"}'
    assert s.timestamps == [1714557600123456789]
    assert s.lines == [b"hello"]
    assert s.metadata is None


def test_legacy_offsets_metadata_and_empty_streams() -> None:
    body = orjson.dumps(
        {
            "streams": [
                {
                    "labels": '{a="b"}',
                    "entries": [
                        {"ts": "2026-11-28T05:19:37.737953+00:00", "line": "x"},
                        {
                            "ts": "2026-11-28T07:19:37+02:00",
                            "line": "y",
                            "structuredMetadata": {"z": "1", "a": "2"},
                        },
                    ],
                },
                {"labels": '{c="d"}', "entries": None},
                None,
            ]
        }
    )
    a, b, c = decode_push_json_legacy(body).streams
    assert a.timestamps == [1795843177737953000, 1795843177000000000]
    assert a.metadata == [(), (("a", "2"), ("z", "1"))]
    assert (len(b), b.labels) == (0, '{c="d"}')
    assert (len(c), c.labels) == (0, "")


@pytest.mark.parametrize(
    "entry",
    [
        {"line": "no ts"},
        {"ts": None, "line": "x"},
        {"ts": "yesterday", "line": "x"},
        {"ts": 1700000000, "line": "x"},
        {"ts": "2024-05-01T10:00:00Z", "line": 5},
        {"ts": "2024-05-01T10:00:00Z", "line": "x", "structuredMetadata": {"k": 1}},
        {"ts": "2300-01-01T00:00:00Z", "line": "beyond int64 ns"},
        "not an object",
    ],
)
def test_legacy_malformed_entries(entry) -> None:
    body = orjson.dumps({"streams": [{"labels": '{a="b"}', "entries": [entry]}]})
    with pytest.raises(InvalidInput):
        decode_push_json_legacy(body)


@pytest.mark.parametrize("stream", [{"labels": 5, "entries": []}, {"labels": "{}", "entries": {}}, "x"])
def test_legacy_malformed_streams(stream) -> None:
    with pytest.raises(InvalidInput):
        decode_push_json_legacy(orjson.dumps({"streams": [stream]}))


# --- encoding ------------------------------------------------------------------------------


def test_encode_parses_label_text_and_replaces_invalid_utf8() -> None:
    req = PushRequest([PushStream('{b="2", a="1"}', [1], [b"ok \xff"], [(("k", "v\udcff"),)])])
    doc = orjson.loads(encode_push_json(req))
    assert doc == {
        "streams": [{"stream": {"a": "1", "b": "2"}, "values": [["1", "ok \ufffd", {"k": "v\ufffd"}]]}]
    }


def test_encode_rejects_unparseable_label_text() -> None:
    with pytest.raises(InvalidLabels):
        encode_push_json(PushRequest([PushStream("{not labels", [1], [b"x"])]))


def test_label_cache_keeps_equal_but_differently_typed_values_apart() -> None:
    for value, text in [(1, "1"), (True, "true"), (1.0, "1.0"), ("1", "1"), (True, "true")]:
        s = one({"stream": {"a": value}, "values": []})
        assert s.labels == Labels([("a", text)])


@pytest.mark.parametrize("where", ["label", "metadata_key", "metadata_value"])
def test_lenient_path_rejects_escaped_lone_surrogates_anywhere(where) -> None:
    label = b'"\\ud800"' if where == "label" else b'"ok"'
    key = b'"\\ud800"' if where == "metadata_key" else b'"k"'
    value = b'"\\udbff"' if where == "metadata_value" else b'"v"'
    body = (
        b'{"streams":[{"stream":{"a":' + label + b'},"values":[["1","\xff",{' + key + b":" + value + b"}]]}]}"
    )
    with pytest.raises(InvalidInput, match="invalid escape"):
        decode_push_json(body)


def test_many_streams_decode_as_each_stream_alone() -> None:
    # Well-formed requests take a request-wide path (all entries converted as one column);
    # it must cut the columns back into exactly what each stream decodes to on its own.
    streams = [
        {"stream": {"job": "a"}, "values": [["1", "x"], ["2", "y", {"k": "v"}]]},
        {"stream": {"job": "b"}, "values": []},
        {"stream": {"job": "c"}, "values": [["3", "z"]]},
        {"stream": {"job": "d", "host": "h"}, "values": [["4", ""], ["5", "w", {}]]},
    ]
    whole = decode_push_json(orjson.dumps({"streams": streams}))
    alone = [decode_push_json(orjson.dumps({"streams": [s]})).streams[0] for s in streams]
    assert whole.streams == alone
    assert [s.metadata for s in whole.streams] == [[(), (("k", "v"),)], None, None, None]


def test_the_first_bad_stream_names_the_error_even_when_a_later_one_is_bad_too() -> None:
    bad_values_first = {
        "streams": [
            {"stream": {"job": "a"}, "values": [["not a number", "x"]]},
            {"stream": {"0bad": "b"}, "values": [["1", "y"]]},
        ]
    }
    with pytest.raises(InvalidInput) as err:
        decode_push_json(orjson.dumps(bad_values_first))
    assert not isinstance(err.value, InvalidLabels)
    assert MALFORMED_VALUE in str(err.value)
