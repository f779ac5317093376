"""Parser stages, with cases taken from Loki's ``pkg/logql/log/parser_test.go`` behaviour."""

# ruff: noqa: E501  (tables of Loki test cases read best one case per line)

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.logql.log import (
    JSONExpressionParser,
    JSONParser,
    LabelsBuilder,
    LogfmtExpressionParser,
    LogfmtParser,
    ParserError,
    PatternParser,
    RegexpParser,
    UnpackParser,
)
from lokipy.logql.log.pattern import PatternError, PatternMatcher
from lokipy.model.errors import InvalidInput


def run(
    stage: Any, line: bytes, base: dict[str, str] | None = None, md: dict[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    b = LabelsBuilder((base or {}).items())
    b.add_metadata(sorted((md or {}).items()))
    out = stage.process(0, line, b)
    assert out is not None  # parsers never drop lines
    return out, dict(b.labels())


@pytest.mark.parametrize(
    ("line", "base", "want"),
    [
        (b'{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}}', {},
         {"app": "foo", "namespace": "prod", "pod_uuid": "foo", "pod_deployment_ref": "foobar"}),
        (b'{"app":"bar","pod":{"uuid":"bar"}}', {"app": "foo", "pod_uuid": "foo"},
         {"app": "foo", "app_extracted": "bar", "pod_uuid": "foo", "pod_uuid_extracted": "bar"}),
        (b'{"counter":1, "price": {"net_":5.56909}, "big": 1.0e10, "neg": -0.50}', {},
         {"counter": "1", "price_net_": "5.56909", "big": "1.0e10", "neg": "-0.50"}),
        (b'{"t":true,"f":false,"n":null,"arr":[1,2],"s":""}', {}, {"t": "true", "f": "false", "s": ""}),
        (b'{"cou-nter":1, "1st": "a", "a.b": {"9c": 2}, " sp ": 3}', {},
         {"cou_nter": "1", "_1st": "a", "a_b_9c": "2", "sp": "3"}),
        (b'{"foo":{"cou-nter":1}}"', {}, {"foo_cou_nter": "1"}),  # trailing bytes ignored
        (b'{"a":"x\\u00e9\\n\\"y"}', {}, {"a": 'x\u00e9\n"y'}),
        ('{"a":"b\ufffdr"}'.encode(), {}, {"a": "b r"}),
        (b'{"a":"b\xffr"}', {}, {"a": "b r"}),  # invalid UTF-8: slow path, byte -> space
        (b'{"a":"first","a":"second"}', {}, {"a": "first"}),
        (b'{"a":"x\\ud800y"}', {}, {"a": "x y"}),  # a lone surrogate escape
        (b'{"a": 01}', {}, {"a": "01"}),  # jsonparser does not validate numbers
        (b'  {"a":{}}  ', {}, {}),
    ],
)  # fmt: skip
def test_json(line: bytes, base: dict[str, str], want: dict[str, str]) -> None:
    assert run(JSONParser(), line, base) == (line, {**base, **want})


@pytest.mark.parametrize(
    ("line", "details"),
    [
        (b"{n}", "Value looks like object, but can't find closing '}' symbol"),
        (b"not json", "Value looks like object, but can't find closing '}' symbol"),
        (b"", "Value looks like object, but can't find closing '}' symbol"),
        (b'{"a":"b', "Value is string, but can't find closing '\"' symbol"),
        (b'{"a":tru}', "Unknown value type"),
        (b'{"a" 1}', "Malformed JSON error"),
        (b'{"a":{"b":}}', "Unknown value type"),
    ],
)
def test_json_errors(line: bytes, details: str) -> None:
    _, labels = run(JSONParser(), line, {"x": "y"})
    assert labels == {"x": "y", "__error__": "JSONParserErr", "__error_details__": details}


def test_json_error_keeps_fields_parsed_before_it() -> None:
    _, labels = run(JSONParser(), b'{"a":"1","b":tru}')
    assert labels["a"] == "1" and labels["__error__"] == "JSONParserErr"
    _, labels = run(JSONParser(), b'{"a":1')
    assert labels == {
        "a": "1",
        "__error__": "JSONParserErr",
        "__error_details__": "Value is array, but can't find closing ']' symbol",
    }


def test_json_clash_with_structured_metadata() -> None:
    line = b'{"app":"foo","pod":"pod_parsed"}'
    _, labels = run(JSONParser(), line, {"source": "t"}, {"pod": "pod_sm"})
    assert labels == {"source": "t", "app": "foo", "pod": "pod_sm", "pod_extracted": "pod_parsed"}
    # three-way: stream keeps the name, parsed wins the _extracted slot, metadata is lost
    _, labels = run(JSONParser(), line, {"pod": "s"}, {"pod": "m"})
    assert labels == {"app": "foo", "pod": "s", "pod_extracted": "pod_parsed"}


JSON_LINE = (
    '{"app":"foo","field with space":"value","field with ÜFT8👌":"value","null_field":null,'
    '"bool_field":false,"namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar",'
    ' "params": [1,2,3,"string_value"]}}}'
).encode()


@pytest.mark.parametrize(
    ("exprs", "base", "want"),
    [
        ([("app", "app")], {}, {"app": "foo"}),
        ([("test", '["field with space"]')], {}, {"test": "value"}),
        ([("utf8", '["field with ÜFT8👌"]')], {}, {"utf8": "value"}),
        ([("uuid", "pod.uuid")], {}, {"uuid": "foo"}),
        ([("uuid", 'pod["uuid"]')], {}, {"uuid": "foo"}),
        ([("uuid", '["pod"]["uuid"]')], {}, {"uuid": "foo"}),
        ([("uuid", '["pod"].uuid')], {}, {"uuid": "foo"}),
        ([("param", "pod.deployment.params[0]")], {}, {"param": "1"}),
        ([("param", "pod.deployment.params[3]")], {}, {"param": "string_value"}),
        ([("param", 'pod.deployment.params[""]')], {}, {"param": ""}),
        ([("undefined", 'pod[""]')], {}, {"undefined": ""}),
        ([("params", "pod.deployment.params")], {}, {"params": '[1,2,3,"string_value"]'}),
        ([("d", "pod.deployment")], {}, {"d": '{"ref":"foobar", "params": [1,2,3,"string_value"]}'}),
        ([("nf", "null_field")], {}, {"nf": ""}),
        ([("bool", "bool_field")], {}, {"bool": "false"}),
        ([("uuid", "pod.uuid")], {"uuid": "bar"}, {"uuid": "bar", "uuid_extracted": "foo"}),
        ([("request_size", "request.size.invalid")], {"uuid": "bar"}, {"uuid": "bar", "request_size": ""}),
    ],
)  # fmt: skip
def test_json_expressions(exprs: list[tuple[str, str]], base: dict[str, str], want: dict[str, str]) -> None:
    assert run(JSONExpressionParser(exprs), JSON_LINE, base)[1] == want


def test_json_expression_special_lines() -> None:
    p = JSONExpressionParser([("uuid", "pod.uuid")])
    assert run(p, b"{}")[1] == {"uuid": ""}
    assert run(p, b"invalid json", {"foo": "bar"})[1] == {
        "foo": "bar",
        "__error__": "JSONParserErr",
    }
    assert run(p, b"", {"foo": "bar"})[1] == {"foo": "bar"}
    app = JSONExpressionParser([("app", "app")])
    line = b'{"app":"{\\"name\\":\\"great \\\\\\"loki\\\\\\"\\"}"}'
    assert run(app, line)[1] == {"app": '{"name":"great \\"loki\\""}'}
    assert run(app, b'{"app":{"name":"great \\"loki\\""}}')[1] == {"app": '{"name":"great \\"loki\\""}'}
    assert run(app, b'{"app":"foo","app":"duplicate"}')[1] == {"app": "foo"}
    assert run(app, JSON_LINE, md={"app": "app_sm"})[1] == {"app": "app_sm", "app_extracted": "foo"}


@pytest.mark.parametrize(
    ("expr", "error"),
    [
        ("field with space", "unexpected FIELD"),
        ('"pod"]', "unexpected STRING, expecting LSB or FIELD"),
        ('["pod"', "unexpected $end, expecting RSB"),
        ('["pod""uuid"]', "unexpected STRING, expecting RSB"),
        ("pod..uuid", "unexpected DOT, expecting FIELD"),
    ],
)
def test_json_expression_syntax_errors(expr: str, error: str) -> None:
    with pytest.raises(ParserError) as err:
        JSONExpressionParser([("app", expr)])
    assert str(err.value) == f"cannot parse expression [{expr}]: syntax error: {error}"


@pytest.mark.parametrize(
    ("line", "strict", "keep_empty", "want"),
    [
        (b"foobar====wqe=sdad1r", False, False, {}),
        (b"foobar====wqe=sdad1r", True, False,
         {"__error__": "LogfmtParserErr", "__error_details__": "logfmt syntax error at pos 8 : unexpected '='"}),
        (b"buzz bar=foo", True, False, {"bar": "foo"}),
        (b"buzz bar=foo", False, True, {"buzz": "", "bar": "foo"}),
        (b'foobar="foo bar"', True, False, {"foobar": "foo bar"}),
        (b'foobar="foo\nbar\tbaz"', False, False, {"foobar": "foo\nbar\tbaz"}),
        (b'foobar="foo ba\\\\r baz"', False, False, {"foobar": "foo ba\\r baz"}),
        (b'foobar="foo bar" latency=10ms', False, False, {"foobar": "foo bar", "latency": "10ms"}),
        (b'foobar="foo bar" foobar=10ms', True, False, {"foobar": "foo bar"}),
        (b'foo="foo bar" foo.bar=10ms test-dash=foo', False, False,
         {"foo_extracted": "foo bar", "foo_bar": "10ms", "test_dash": "foo"}),
        (b'foo="foo bar" =notkey bar=10ms', False, False, {"foo_extracted": "foo bar", "bar": "10ms"}),
        (b'foo="foo bar" =notkey bar=10ms', True, False,
         {"foo_extracted": "foo bar", "__error__": "LogfmtParserErr",
          "__error_details__": "logfmt syntax error at pos 15 : unexpected '='"}),
        ('foo="foo bar" b\ufffdr=10ms'.encode(), False, False, {"foo_extracted": "foo bar"}),
        (b'foo="foo bar" bu"zz=10ms', True, False,
         {"foo_extracted": "foo bar", "__error__": "LogfmtParserErr",
          "__error_details__": "logfmt syntax error at pos 17 : unexpected '\"'"}),
        (b'bar=bu=zz foo="foo bar"', False, False, {"foo_extracted": "foo bar"}),
        ('foo=b\ufffdr bar=buzz'.encode(), False, False, {"foo_extracted": "b r", "bar": "buzz"}),
        (b'9x=1 a.b=2 empty= msg="hi there"', False, True,
         {"_9x": "1", "a_b": "2", "empty": "", "msg": "hi there"}),
        (b'a="unterminated', True, False,
         {"__error__": "LogfmtParserErr", "__error_details__": "logfmt syntax error at pos 16 : unterminated quoted value"}),
        (b'a="bad \\q escape" b=1', False, False, {"b": "1"}),
    ],
)  # fmt: skip
def test_logfmt(line: bytes, strict: bool, keep_empty: bool, want: dict[str, str]) -> None:
    assert run(LogfmtParser(strict, keep_empty), line, {"foo": "bar"})[1] == {"foo": "bar", **want}


def test_logfmt_expressions() -> None:
    p = LogfmtExpressionParser([("level", "level"), ("code", "status")])
    line = b"level=info status=200 msg=hi"
    assert run(p, line)[1] == {"level": "info", "code": "200"}
    assert run(p, b"msg=hi")[1] == {"level": "", "code": ""}
    assert run(p, line, {"level": "x"})[1] == {
        "level": "x",
        "level_extracted": "info",
        "code": "200",
    }
    strict = LogfmtExpressionParser([("a", "a")], strict=True)
    assert run(strict, b"a=1 b==")[1]["__error__"] == "LogfmtParserErr"
    with pytest.raises(ParserError):
        LogfmtExpressionParser([])


def test_regexp() -> None:
    assert run(RegexpParser("(?P<foo>.*)buzz"), b"matchebuzz barbuzz")[1] == {"foo": "matchebuzz bar"}
    assert run(RegexpParser("(?P<bar>bar)buzz"), b"barbuzz", {"bar": "foo"})[1] == {
        "bar": "foo",
        "bar_extracted": "bar",
    }
    p = RegexpParser(r"status=(?P<status>\w+),latency=(?P<latency>\w+)(ms|ns)")
    assert run(p, b"status=200,latency=500ms")[1] == {"status": "200", "latency": "500"}
    assert run(p, b"no match")[1] == {}
    opt = RegexpParser(r"a(?P<x>b)?(?P<y>c)")
    assert run(opt, b"ac")[1] == {"x": "", "y": "c"}
    with pytest.raises(ParserError, match="at least one named capture"):
        RegexpParser("(a)")
    with pytest.raises(InvalidInput):
        RegexpParser("(?P<x>a")


def test_pattern() -> None:
    p = PatternParser('<ip> <userid> <user> [<_>] "<method> <path> <_>" <status> <size>')
    line = (
        b'127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
    )
    assert run(p, line)[1] == {
        "ip": "127.0.0.1", "userid": "user-identifier", "user": "frank", "method": "GET",
        "path": "/apache_pb.gif", "status": "200", "size": "2326",
    }  # fmt: skip
    p2 = PatternParser('<_> msg="<method> <path> (<status>) <duration>"')
    line2 = b'level=debug caller=logging.go:66 msg="POST /loki/api/v1/push (204) 1.238734ms"'
    assert run(p2, line2, {"method": "bar"})[1] == {
        "method": "bar", "method_extracted": "POST", "path": "/loki/api/v1/push",
        "status": "204", "duration": "1.238734ms",
    }  # fmt: skip
    # a partial match yields the captures found so far; a wrong prefix yields none
    assert run(PatternParser("<a> <b> end"), b"x y")[1] == {"a": "x", "b": "y"}
    assert run(PatternParser("start <a>"), b"other x")[1] == {}


@pytest.mark.parametrize("pattern", ["no captures", "<a><b>", "<a> <a>", "<_> only"])
def test_pattern_validation(pattern: str) -> None:
    with pytest.raises(PatternError):
        PatternMatcher.compile(pattern)


def test_unpack() -> None:
    line = b'{"bar":1,"app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}}'
    out, labels = run(UnpackParser(), line, {"app": "bar", "cluster": "us-central1"})
    assert out == b"some message"
    assert labels == {
        "app": "bar",
        "app_extracted": "foo",
        "namespace": "prod",
        "cluster": "us-central1",
    }
    plain = b'{"bar":1,"app":"foo","namespace":"prod","pod":{"uid":"1"}}'
    assert run(UnpackParser(), plain, {"app": "bar"}) == (plain, {"app": "bar"})
    bad = b'"app":"foo","_entry":"x"'
    assert run(UnpackParser(), bad)[1] == {
        "__error__": "JSONParserErr",
        "__error_details__": "expecting json object(6), but it is not",
    }
    keys = b'{"foo.bar":"10ms","test-dash":"foo","_entry":"some message"}'
    assert run(UnpackParser(), keys) == (b"some message", {"foo_bar": "10ms", "test_dash": "foo"})
    md = b'{"app":"foo","namespace":"prod","_entry":"some message"}'
    assert run(UnpackParser(), md, md={"app": "foo_sm"})[1] == {
        "app": "foo_sm", "app_extracted": "foo", "namespace": "prod",
    }  # fmt: skip
    assert run(UnpackParser(), b"") == (b"", {})
    lone = b'{"_entry":"a\\ud800b"}'
    assert run(UnpackParser(), lone)[0] == "a\ufffdb".encode()


json_scalars = st.one_of(
    st.text(max_size=8), st.integers(-(10**6), 10**6), st.booleans(), st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
json_objects = st.recursive(
    st.dictionaries(st.text(max_size=6), json_scalars, max_size=5),
    lambda children: st.dictionaries(st.text(max_size=6), children | json_scalars, max_size=4),
    max_leaves=12,
)


@given(json_objects)
def test_json_fast_and_slow_paths_agree(obj: dict[str, Any]) -> None:
    """The C-decoder fast path and the jsonparser-style walker give the same labels."""
    import json

    line = json.dumps(obj).encode()
    fast = LabelsBuilder()
    JSONParser().process(0, line, fast)
    slow = LabelsBuilder()
    JSONParser()._slow(line, "", slow, set())
    assert fast.labels() == slow.labels()


logfmt_lines = st.lists(
    st.sampled_from(["a", "b", "=", '"', "\\", " ", "\t", "\n", "é", "\ufffd", "n", "x1"]),
    max_size=20,
).map(lambda parts: "".join(parts).encode())


@given(st.one_of(logfmt_lines, st.binary(max_size=16)))
def test_logfmt_fast_path_agrees_with_decoder(line: bytes) -> None:
    """The regex fast path only answers for lines the decoder reads without an error."""
    from lokipy.logql.log.logfmt import Decoder
    from lokipy.logql.log.parsers import fast_logfmt

    fast = fast_logfmt(line)
    if fast is None:
        return
    dec = Decoder(line)
    assert list(dec.scan()) == fast
    assert dec.err is None
    for strict in (False, True):
        for keep in (False, True):
            assert run(LogfmtParser(strict, keep), line)[1] == _slow_logfmt(line, strict, keep)


def _slow_logfmt(line: bytes, strict: bool, keep: bool) -> dict[str, str]:
    b = LabelsBuilder()
    LogfmtParser(strict, keep)._slow(line, b)
    return dict(b.labels())
