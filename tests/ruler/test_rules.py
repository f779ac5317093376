"""Rule files and the ruler config: strict decoding, Loki's messages, the local store layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lokipy.config import load_config
from lokipy.model.errors import InvalidInput
from lokipy.ruler.rules import (
    GroupDef,
    RuleDef,
    RuleFileError,
    dump_yaml,
    format_duration,
    group_to_dict,
    load_text,
)
from lokipy.ruler.store import LocalRuleStore

GOOD = """groups:
  - name: ssh
    interval: 30s
    limit: 5
    rules:
      - alert: SSHLogin
        expr: sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m])) > 0
        for: 1m
        keep_firing_for: 2m
        labels: {severity: warning}
        annotations: {summary: "SSH login by {{ $labels.columns_username }}"}
      - record: osquery:ssh_logins:count5m
        expr: sum by (columns_username) (count_over_time({job="osquery_results"} | json | columns_type="7" [5m]))
        labels: {source: osquery}
"""


def test_good_file_decodes() -> None:
    (g,) = load_text(GOOD)
    assert (g.name, g.interval_ns, g.limit) == ("ssh", 30 * 10**9, 5)
    alert, record = g.rules
    assert (alert.alert, alert.for_ns, alert.keep_firing_for_ns) == ("SSHLogin", 60 * 10**9, 120 * 10**9)
    assert record.record == "osquery:ssh_logins:count5m" and dict(record.labels) == {"source": "osquery"}


def _rule(body: str) -> str:
    return "groups:\n  - name: g\n    rules:\n      - " + body.replace("\n", "\n        ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_rule("alert: A\nrecord: b\nexpr: vector(1)"), "only one of 'record' and 'alert' must be set"),
        (_rule("expr: vector(1)"), "one of 'record' or 'alert' must be set"),
        (_rule("alert: A"), "field 'expr' must be set in rule"),
        (_rule('alert: A\nexpr: "{job="'), "could not parse expression for alert 'A' in group 'g': parse error"),
        (_rule('record: r\nexpr: "{job=}"'), "could not parse expression for record 'r' in group 'g'"),
        (_rule("record: r\nexpr: vector(1)\nannotations: {a: b}"), "invalid field 'annotations' in recording rule"),
        (_rule("record: r\nexpr: vector(1)\nfor: 1m"), "invalid field 'for' in recording rule"),
        (_rule("record: a-b\nexpr: vector(1)"), "invalid recording rule name: a-b"),
        (_rule("alert: A\nexpr: vector(1)\nlabels: {__name__: x}"), "invalid label name: __name__"),
        (_rule("alert: A\nexpr: vector(1)\nlabels: {1x: y}"), "invalid label name: 1x"),
        (_rule("alert: A\nexpr: vector(1)\nannotations: {a-b: y}"), "invalid annotation name: a-b"),
        (_rule('alert: A\nexpr: vector(1)\nlabels: {x: "{{ nope }}"}'),
         'label "x": template: __alert_A:1: function "nope" not defined'),
        (_rule("alert: A\nexpr: vector(1)\nfor: 1.5h"), 'not a valid duration string: "1.5h"'),
        (_rule("alert: A\nexpr: vector(1)\nfoo: 1"), "field foo not found in type rulefmt.RuleNode"),
        ("groups:\n  - name: g\n    wat: 1\n", "field wat not found in type rulefmt.RuleGroup"),
        ("groups:\n  - name: g\n  - name: g\n", 'groupname: "g" is repeated in the same file'),
        ("groups:\n  - rules: []\n", "group 0: Groupname must not be empty"),
        ("rules: []\n", "field rules not found in type rulefmt.RuleGroups"),
    ],
)  # fmt: skip
def test_validation_messages(text: str, message: str) -> None:
    with pytest.raises(RuleFileError) as err:
        load_text(text)
    assert message in str(err.value)


def test_every_problem_of_a_file_is_reported() -> None:
    text = "groups:\n  - name: g\n    rules:\n      - expr: vector(1)\n  - name: g\n"
    with pytest.raises(RuleFileError) as err:
        load_text(text)
    assert err.value.errors == [
        "one of 'record' or 'alert' must be set",
        'groupname: "g" is repeated in the same file',
    ]


def test_log_queries_pass_validation_like_loki() -> None:
    assert load_text(_rule('alert: A\nexpr: \'{job="x"} |= "y"\''))


def test_format_duration() -> None:
    assert [format_duration(s * 10**9) for s in (0, 3, 60, 5400, 86400 * 8)] == [
        "0s",
        "3s",
        "1m",
        "1h30m",
        "1w1d",
    ]


def test_store_layout_skips_hidden_and_isolates_bad_files(tmp_path: Path) -> None:
    (tmp_path / "fake" / "sub").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "fake" / "ssh.yaml").write_text(GOOD)
    (tmp_path / "fake" / "broken.yml").write_text("groups: [{name: g, nope: 1}]")
    (tmp_path / "fake" / ".swp").write_text("garbage")
    store = LocalRuleStore(tmp_path)
    assert store.tenants() == ["fake"]
    spaces = store.namespaces("fake")
    assert sorted(spaces) == ["broken.yml", "ssh.yaml"]
    assert spaces["ssh.yaml"].groups[0].name == "ssh" and not spaces["ssh.yaml"].error
    assert spaces["broken.yml"].error.startswith("broken.yml: field nope not found")


def test_store_writes_round_trip(tmp_path: Path) -> None:
    store = LocalRuleStore(tmp_path)
    (g,) = load_text(GOOD)
    store.set_group("t1", "ns.yaml", g)
    assert store.namespace("t1", "ns.yaml").groups == (g,)
    assert yaml.safe_load((tmp_path / "t1" / "ns.yaml").read_text())["groups"][0]["rules"][0]["for"] == "1m"
    store.delete_group("t1", "ns.yaml", "ssh")
    assert not (tmp_path / "t1" / "ns.yaml").exists()
    for bad in ("..", "../x", "a/b", ".hidden"):
        with pytest.raises(InvalidInput, match="path traversal not allowed"):
            store.set_group("t1", bad, g)


def test_config_with_only_a_ruler_block(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"ruler": {
        "storage": {"type": "local", "local": {"directory": "/rules"}}, "rule_path": "/tmp/scratch",
        "alertmanager_url": "http://a:9093, http://u:p@b:9093/am", "evaluation_interval": "15s",
        "external_labels": {"origin": "x"}, "enable_api": True,
        "alertmanager_client": {"basic_auth_username": "am", "basic_auth_password": "pw"}, "ring": {"kvstore": {"store": "inmemory"}},
        "remote_write": {"enabled": True, "clients": {"p": {"url": "http://p/api/v1/write",
                         "queue_config": {"max_samples_per_send": 10, "min_backoff": "1s"}}}},
    }}))  # fmt: skip
    r = load_config(path).ruler
    assert r is not None
    assert r.storage_directory == "/rules" and r.evaluation_interval == 15 * 10**9
    assert r.alertmanager_urls == ("http://a:9093", "http://u:p@b:9093/am")
    assert r.alertmanager_basic_auth == ("am", "pw")
    assert (
        r.resend_delay == 60 * 10**9 and r.for_grace_period == 600 * 10**9 and r.poll_interval == 60 * 10**9
    )
    client = r.remote_write_clients["p"]
    assert (client.max_samples_per_send, client.min_backoff, client.capacity) == (10, 10**9, 10000)
    assert load_config(None).ruler is None


def test_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    for body, msg in (
        ({"ruler": {"nope": 1}}, "unknown key(s) in config section 'ruler': nope"),
        ({"ruler": {"storage": {"type": "s3"}}}, "unsupported rule storage type"),
        ({"ruler": {"storage": {"local": {"directory": "/a"}}}, "ruler_storage": {"backend": "local", "local": {"directory": "/b"}}},
         "both set and differ"),
        ({"ruler": {"evaluation_interval": "1.5m"}}, "cannot parse"),
    ):  # fmt: skip
        path.write_text(yaml.safe_dump(body))
        with pytest.raises(InvalidInput, match=msg.replace("(", r"\(").replace(")", r"\)")):
            load_config(path)
    path.write_text(yaml.safe_dump({"ruler_storage": {"backend": "local", "local": {"directory": "/b"}}}))
    assert load_config(path).ruler.storage_directory == "/b"  # type: ignore[union-attr]


_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
_values = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_durations = st.integers(0, 10**7).map(lambda ms: ms * 10**6)


@st.composite
def _groups(draw: st.DrawFn) -> GroupDef:
    rules = []
    for i in range(draw(st.integers(1, 3))):
        labels = draw(st.dictionaries(_names.filter(lambda n: n != "__name__"), _values, max_size=3))
        if draw(st.booleans()):
            annotations = draw(st.dictionaries(_names, _values.filter(lambda v: "{{" not in v), max_size=2))
            labels = {k: v for k, v in labels.items() if "{{" not in v}
            rules.append(RuleDef(expr="vector(1)", alert=f"A{i}", for_ns=draw(_durations),
                                 keep_firing_for_ns=draw(_durations), labels=labels, annotations=annotations))  # fmt: skip
        else:
            rules.append(RuleDef(expr='count_over_time({job="x"}[1m])', record=f"r:{i}", labels=labels))
    return GroupDef(name=draw(_values.filter(bool)), rules=tuple(rules), interval_ns=draw(_durations),
                    limit=draw(st.integers(0, 100)))  # fmt: skip


@given(_groups())
def test_written_yaml_reads_back_identically(group: GroupDef) -> None:
    text = dump_yaml({"groups": [group_to_dict(group)]})
    assert load_text(text) == [group]


@given(_durations)
def test_duration_format_round_trips(ns: int) -> None:
    from lokipy.model.timeparse import parse_prometheus_duration

    assert parse_prometheus_duration(format_duration(ns)) == ns
