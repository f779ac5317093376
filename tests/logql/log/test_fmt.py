"""line_format / label_format / decolorize, with cases from Loki's ``fmt_test.go``."""

# ruff: noqa: E501  (tables of Loki test cases read best one case per line)

from __future__ import annotations

import pytest

from lokipy.logql.log import (
    Decolorize,
    LabelsBuilder,
    LabelsFormatter,
    LineFormatter,
    TemplateParseError,
)

L = {"foo": "blip", "bar": "blop"}
B = {"foo": "BLIp", "bar": "blop"}
URL = '/loki/api/v1/query?query=sum(count_over_time({stream_filter="some_stream",environment="prod", host=~"someec2.*"}'  # noqa: E501
URL_ENC = "%2Floki%2Fapi%2Fv1%2Fquery%3Fquery%3Dsum%28count_over_time%28%7Bstream_filter%3D%22some_stream%22%2Cenvironment%3D%22prod%22%2C+host%3D~%22someec2.%2A%22%7D"  # noqa: E501


def fmt_line(
    tmpl: str, labels: dict[str, str], ts: int = 0, line: bytes = b""
) -> tuple[bytes, dict[str, str]]:
    b = LabelsBuilder(labels.items())
    out = LineFormatter(tmpl).process(ts, line, b)
    assert out is not None
    return out, dict(b.labels())


@pytest.mark.parametrize(
    ("tmpl", "labels", "want"),
    [
        ('{{.foo | count "abc" }}', {"foo": "abc abc abc"}, "3"),
        ('{{.foo | count "a|b|c" }}', {"foo": "abc abc abc"}, "9"),
        ("foo{{.foo}}buzz{{  .bar  }}", L, "fooblipbuzzblop"),
        ('foo{{.foo}}buzz{{ Replace .bar "blop" "bar" -1 }}', L, "fooblipbuzzbar"),
        ('foo{{.foo}}buzz{{ .bar | replace "blop" "bar" }}', L, "fooblipbuzzbar"),
        ("{{.foo | title }}", L, "Blip"),
        ("{{.foo | substr 1 3 }} {{ .bar  | trunc 1 }} {{ .bar  | trunc 3 }}", L, "li b blo"),
        ('{{.foo | trim }} {{ .bar  | trimAll "op" }} {{ .bar  | trimPrefix "b" }} {{ .bar  | trimSuffix "p" }}',
         {"foo": "  blip ", "bar": "blop"}, "blip bl lop blo"),
        ("{{.foo | lower }} {{ .bar  | upper }}", B, "blip BLOP"),
        ("{{.foo | urlencode }} {{ urlencode .foo }}", {"foo": URL}, URL_ENC + " " + URL_ENC),
        ("{{.foo | urldecode }} {{ urldecode .foo }}", {"foo": URL_ENC}, URL + " " + URL),
        ('{{ "foo" | repeat 3 }}', B, "foofoofoo"),
        ('{{ "foo\\n bar" | indent 4 }}', B, "    foo\n     bar"),
        ('{{ "foo" | nindent 2 }}', B, "\n  foo"),
        ('{{ if  .foo | contains "p"}}yes{{end}}-{{ if  .foo | contains "z"}}no{{end}}', B, "yes-"),
        ('{{ if  .foo | hasPrefix "BL" }}yes{{end}}-{{ if  .foo | hasPrefix "p"}}no{{end}}', B, "yes-"),
        ('{{ if  .foo | hasSuffix "Ip" }}yes{{end}}-{{ if  .foo | hasSuffix "pw"}}no{{end}}', B, "yes-"),
        ('{{ regexReplaceAll "(p)" .foo "t" }}', B, "BLIt"),
        ('{{ regexReplaceAllLiteral "(p)" .foo "${1}" }}', B, "BLI${1}"),
        ('{{ regexReplaceAll "(?P<x>l+)" "hello" "[${x}]$$" }}', {}, "he[ll]$o"),
        ("foo {{.foo}}buzz{{  .bar  }}", {"bar": "blop"}, "foo buzzblop"),
        ("foo {{.foo | ToUpper }} buzz{{  .bar  }}", L, "foo BLIP buzzblop"),
        ("{{ add .foo 1 | sub .bar | mul .baz | div .bazz}}",
         {"foo": "1", "bar": "3", "baz": "10", "bazz": "20"}, "2"),
        ("{{ addf .foo 1.5 | subf .bar 1.5 | mulf .baz | divf .bazz }}",
         {"foo": "1.5", "bar": "5", "baz": "10.5", "bazz": "20.2"}, "3.8476190476190477"),
        ("{{ round (addf .foo 1.5 | subf .bar | mulf .baz | divf .bazz) 5 .2}}",
         {"foo": "1.5", "bar": "3.5", "baz": "10.5", "bazz": "20.4"}, "3.88572"),
        ("min is {{ min .foo .bar .baz }} and max is {{ max .foo .bar .baz }}",
         {"foo": "5", "bar": "10", "baz": "15"}, "min is 5 and max is 15"),
        ("minf is {{ minf .foo .bar .baz }} and maxf is {{maxf .foo .bar .baz}}",
         {"foo": "5.3", "bar": "10.5", "baz": "15.2"}, "minf is 5.3 and maxf is 15.2"),
        ("ceil is {{ ceil .foo }} and floor is {{floor .foo }}", {"foo": "5.3"}, "ceil is 6 and floor is 5"),
        ("mod is {{ mod .foo 3 }}", {"foo": "20"}, "mod is 2"),
        ('{{ "2.5" | float64 | int | add 10}}', {}, "12"),
        ('{{ sub (unixEpoch (toDate "2006-01-02" "2021-11-02")) (unixEpoch (toDate "2006-01-02" "2021-11-01")) }}',
         {}, "86400"),
        ('{{ date "2006-01-02" (toDate "2006-01-02" "2021-11-02") }}', {}, "2021-11-02"),
        ("{{ div (unixEpoch now) (unixEpoch now) }}", {}, "1"),
        ('{{.foo | default "-" }}{{.bar | default "-"}}{{.unknown | default "-"}}',
         {"foo": "blip", "bar": ""}, "blip--"),
        ("{{ .foo | bytes }}", {"foo": "3 kB"}, "3000"),
        ("{{ .foo | bytes }}", {"foo": "3MB"}, "3e+06"),
        ("{{ .foo | duration }}", {"foo": "3ms"}, "0.003"),
        ("{{ .foo | duration_seconds }}", {"foo": "3m10s"}, "190"),
        ('{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochMillis }}',
         {"foo": "2023-03-10T01:32:40.340485723Z"}, "1678411960340"),
        ('{{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochNanos }}',
         {"foo": "2023-03-10T01:32:40.340485723Z"}, "1678411960340485723"),
        ("{{ .foo | b64enc }}", {"foo": "i'm a string, encode me!"}, "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"),
        ("{{ .foo | b64dec }}", {"foo": "aSdtIGEgc3RyaW5nLCBlbmNvZGUgbWUh"}, "i'm a string, encode me!"),
        ("{{ alignLeft 4 .foo }}", {"foo": "hello"}, "hell"),
        ("{{ alignRight 4 .foo }}", {"foo": "hello"}, "ello"),
        ("{{ alignLeft 7 .foo }}|", {"foo": "hello"}, "hello  |"),
        ("{{.foo}}  ", {"foo": "bar"}, "bar  "),
        ("{{.missing}}", {"foo": "bar"}, ""),
        ('{{ printf "%s=%05.2f %d %v %q" .foo 3.14159 42 true "x" }}', L, 'blip=03.14 42 true "x"'),
        ('{{ printf "%d" .foo }}', L, "%!d(string=blip)"),
        ('{{ if eq .foo "blip" }}A{{ else if eq .foo "x" }}B{{ else }}C{{ end }}', L, "A"),
        ('{{ if ne .foo "blip" }}A{{ else if eq .bar "blop" }}B{{ else }}C{{ end }}', L, "B"),
        ('{{ if and (eq .foo "blip") (not (eq .bar "x")) }}y{{ end }}', L, "y"),
        ('{{ or .missing "fallback" }} {{ len .foo }}', L, "fallback 4"),
        ("{{- .foo -}}  \n  {{- .bar }}", L, "blipblop"),
        ("{{/* a comment */}}{{ .foo }}", L, "blip"),
        ('{{ $x := "a" }}{{ $x }}{{ $x = "b" }}{{ $x }}', {}, "ab"),
        ("{{ range $i, $v := fromJson .j }}{{ $i }}:{{ $v }},{{ end }}", {"j": '{"b":1,"a":"x"}'}, "a:x,b:1,"),
        ('{{ with .foo }}[{{ . }}]{{ end }}{{ with .missing }}no{{ else }}none{{ end }}', L, "[blip]none"),
        ("{{ 1e6 }} {{ 0.5 }} {{ 3 }} {{ true }} {{ nil }}", {}, "1e+06 0.5 3 true <nil>"),
        ('{{ lt 1 2 }} {{ ge "b" "a" }} {{ eq 1 2 3 1 }}', {}, "true true true"),
    ],
)  # fmt: skip
def test_line_format(tmpl: str, labels: dict[str, str], want: str) -> None:
    out, after = fmt_line(tmpl, labels)
    assert out.decode() == want
    assert after == labels


def test_dates_in_zones() -> None:
    tmpl = '{{ toDateInZone "2006-01-02 15:04" "Europe/Paris" .t | unixEpoch }}'
    assert fmt_line(tmpl, {"t": "2024-07-01 12:00"})[0] == b"1719828000"  # CEST, UTC+2
    utc = '{{ toDate "2006-01-02T15:04:05Z07:00" .t | unixEpoch }}'
    assert fmt_line(utc, {"t": "2024-07-01T12:00:00+02:00"})[0] == b"1719828000"


def test_line_and_timestamp_functions() -> None:
    assert fmt_line("{{ __line__ }} bar {{ .bar }}", {"bar": "2"}, 0, b"1")[0] == b"1 bar 2"
    ts = 1656353124120000000
    assert fmt_line('{{ __timestamp__ | date "2006-01-02" }} x', {}, ts)[0] == b"2022-06-27 x"
    assert fmt_line("{{ __timestamp__ | unixEpoch }}", {}, ts)[0] == b"1656353124"
    assert fmt_line("{{ __timestamp__ }}", {}, ts)[0] == b"2022-06-27 18:05:24.12 +0000 UTC"


@pytest.mark.parametrize(
    ("tmpl", "details"),
    [
        ('{{.foo Replace "foo"}}',
         'template: line:1:2: executing "line" at <.foo>: foo is not a method but has arguments'),
        ("{{.foo | now}}",
         'template: line:1:9: executing "line" at <now>: wrong number of args for now: want 0 got 1'),
        ("{{ div 1 0 }}",
         'template: line:1:3: executing "line" at <div 1 0>: error calling div: runtime error: integer divide by zero'),
        ('{{ eq .foo 1 }}',
         'template: line:1:3: executing "line" at <eq .foo 1>: error calling eq: incompatible types for comparison'),
    ],
)  # fmt: skip
def test_line_format_errors(tmpl: str, details: str) -> None:
    out, labels = fmt_line(tmpl, L, line=b"orig")
    assert out == b"orig"
    assert labels == {**L, "__error__": "TemplateFormatErr", "__error_details__": details}


@pytest.mark.parametrize(
    ("tmpl", "msg"),
    [("{{", "unclosed action"), ("{{ nosuchfunc }}", 'function "nosuchfunc" not defined'),
     ("{{ if .a }}x", "unexpected EOF"), ("{{ end }}", "unexpected {{end}}"),
     ("{{ .a | 1 }}", "non executable command")],
)  # fmt: skip
def test_template_parse_errors(tmpl: str, msg: str) -> None:
    with pytest.raises(TemplateParseError, match=msg.replace("{", "\\{").replace("}", "\\}")):
        LineFormatter(tmpl)


def fmt_labels(formats: list[tuple[str, str, bool]], labels: dict[str, str], ts: int = 0) -> dict[str, str]:
    b = LabelsBuilder(labels.items())
    assert LabelsFormatter(formats).process(ts, b"line", b) == b"line"
    return dict(b.labels())


def test_label_format() -> None:
    assert fmt_labels([("baz", "foo", False)], L) == {"bar": "blop", "baz": "blip"}
    assert fmt_labels([("bar", "foo", False)], L) == {"bar": "blip"}
    assert fmt_labels([("foo", "{{.foo}} and {{.bar}}", True)], L) == {
        "foo": "blip and blop",
        "bar": "blop",
    }
    assert fmt_labels([("baz", "foo", False), ("foo", "{{.foo}} and {{.bar}}", True)], L) == {
        "foo": " and blop",  # renames run first; templates see the labels after them
        "bar": "blop",
        "baz": "blip",
    }
    assert fmt_labels([("nope", "missing", False)], L) == L
    assert fmt_labels([("x", "{{ __line__ }}", True)], {}) == {"x": "line"}
    out = fmt_labels([("x", "{{ div 1 0 }}", True)], {"a": "1"})
    assert out["__error__"] == "TemplateFormatErr" and "x" not in out
    assert 'executing "label"' in out["__error_details__"]


def test_label_format_validation() -> None:
    with pytest.raises(ValueError, match="multiple label name 'a'"):
        LabelsFormatter([("a", "b", False), ("a", "{{.c}}", True)])
    with pytest.raises(TemplateParseError, match="unclosed action"):
        LabelsFormatter([("x", "{{", True)])


def test_decolorize() -> None:
    b = LabelsBuilder()
    line = b"\x1b[31mhello\x1b[0m \x1b[1;32mworld\x1b[0m"
    assert Decolorize().process(0, line, b) == b"hello world"
    assert Decolorize().process(0, b"plain", b) == b"plain"
