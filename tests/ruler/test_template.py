"""Go template expansion and Go number printing, checked against what Prometheus 2.42 produced."""

from __future__ import annotations

import json
import math
import re

from hypothesis import given
from hypothesis import strategies as st

from lokipy.logql.log.gofmt import sprintf
from lokipy.ruler import gofmt
from lokipy.ruler.template import Template, TemplateError, alert_data
from tests.shared import require_shared


def _value_of(expr: str) -> float:
    m = re.search(r"vector\(([^)]*)\)", expr)
    assert m is not None
    return float(m.group(1))


def test_prometheus_expansions_fixture() -> None:
    cases = json.loads(require_shared("fixtures", "ruler", "prometheus_template_expansions.json").read_text())
    for case in cases["cases"]:
        labels = {k: v for k, v in case["labels"].items() if k not in ("alertname", "severity")}
        value = _value_of(case["expr"])
        got = Template("t", case["template"]).expand(alert_data(labels, {}, "", value))
        assert got == case["expanded"], case
        assert gofmt.format_e(value) == case["api_value"], case


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_go_float_forms_round_trip_and_follow_go_rules(v: float) -> None:
    g, e = gofmt.format_g(v), gofmt.format_e(v)
    assert float(g) == v and float(e) == v
    mantissa, _, exp = e.partition("e")
    assert re.fullmatch(r"-?\d(\.\d*[1-9])?", mantissa) and re.fullmatch(r"[+-]\d{2,3}", exp)
    exponent = int(exp)
    # Go's %v: exponent form exactly when the decimal exponent is < -4 or >= 6.
    assert ("e" in g) == (exponent < -4 or exponent >= 6)
    if "e" in g:
        assert g == e


def test_special_values() -> None:
    assert [gofmt.format_g(x) for x in (math.nan, math.inf, -math.inf)] == ["NaN", "+Inf", "-Inf"]
    assert gofmt.format_e(math.nan) == "NaN"


def test_humanize_family() -> None:
    assert gofmt.humanize(1234567) == "1.235M"
    assert gofmt.humanize(0.5) == "500m"
    assert gofmt.humanize(0) == "0"
    assert gofmt.humanize1024(2048) == "2ki"
    assert gofmt.humanize_duration(3725) == "1h 2m 5s"
    assert gofmt.humanize_duration(90061) == "1d 1h 1m 1s"
    assert gofmt.humanize_duration(0.25) == "250ms"
    assert gofmt.humanize_percentage(0.1234) == "12.34%"
    assert gofmt.humanize_timestamp(1435065584.128) == "2015-06-23 13:19:44.128 +0000 UTC"


def test_printf_verbs() -> None:
    assert sprintf("%.2f", 1.0) == "1.00"
    assert sprintf("%s=%v (%d)", "a", 2.5, 3) == "a=2.5 (3)"
    assert sprintf("%q", 'x"y') == '"x\\"y"'
    assert sprintf("%d") == "%!d(MISSING)"
    # Alert templates and LogQL templates share one Sprintf, exact to Go's for sample values
    # (float64): %d of a float is a bad verb, widths and flags apply.
    got = Template("t", '{{ printf "%d|%5.1f|" $value $value }}').expand(alert_data({}, {}, "", 3.0))
    assert got == "%!d(float64=3)|  3.0|"


def expand(src: str, labels: dict[str, str] | None = None, value: float = 1.0) -> str:
    return Template("t", src).expand(alert_data(labels or {}, {"env": "prod"}, "http://x", value))


def test_control_flow_variables_and_functions() -> None:
    labels = {"user": "alice", "host": "web-1:22"}
    assert expand("{{ if gt $value 1.0 }}many{{ else }}one{{ end }}", labels, 2.0) == "many"
    assert (
        expand('{{ if eq $labels.user "bob" }}b{{ else if eq $labels.user "alice" }}a{{ end }}', labels)
        == "a"
    )
    assert (
        expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", labels)
        == "host=web-1:22;user=alice;"
    )
    assert expand("{{ $labels.host | stripPort | toUpper }}", labels) == "WEB-1"
    assert (
        expand("{{ .Labels.user }} {{ $externalLabels.env }} {{ $externalURL }}", labels)
        == "alice prod http://x"
    )
    assert expand('{{ reReplaceAll "^(.*)-(\\\\d)$" "$2/$1" "web-1" }}') == "1/web"
    assert expand('{{- $x := "v" -}}  [{{ $x }}]  {{- /* comment */ -}}  !') == "[v]!"
    assert expand("{{ with $labels.missing }}set{{ else }}unset{{ end }}", labels) == "unset"
    assert expand('{{ title "ssh login" }}') == "Ssh Login"


def test_runtime_errors_do_not_raise() -> None:
    out = expand("{{ $labels.user.name }}", {"user": "alice"})
    assert out.startswith("<error expanding template: ")


def test_parse_errors_name_the_template() -> None:
    for src, needle in (("{{ nope }}", 'function "nope" not defined'), ("{{ if 1 }}", "unexpected EOF"),
                        ("{{ end }}", "unexpected"), ("{{ $x", "unclosed action")):  # fmt: skip
        try:
            Template("__alert_A", src)
        except TemplateError as err:
            assert needle in str(err) and "__alert_A" in str(err)
        else:
            raise AssertionError(f"{src!r} parsed")


_plain = st.text(max_size=40).filter(lambda s: "{{" not in s and not s.endswith("{"))  # "{" + "{{" is "{{{"


@given(_plain, _plain)
def test_text_outside_actions_is_kept_and_label_values_are_inserted_verbatim(text: str, value: str) -> None:
    assert Template("t", text).expand(alert_data({}, {}, "", 1.0)) == text
    assert expand(text + "{{ $labels.x }}" + text, {"x": value}) == text + value + text
