from __future__ import annotations

import time

import pytest

from lokipy.config import Limits
from lokipy.model.entry import PushRequest, PushStream
from lokipy.model.errors import InvalidLabels, LimitExceeded, NoStreams
from lokipy.model.labels import Labels
from lokipy.store.distributor import Distributor, summarise_errors

NOW = 1_800_000_000 * 10**9
PLAIN = Limits(discover_service_name=(), discover_log_levels=False)


def stream(labels: str, *entries: tuple[int, bytes]) -> PushStream:
    return PushStream(labels, [e[0] for e in entries], [e[1] for e in entries])


def test_a_label_string_that_does_not_parse_rejects_the_whole_request() -> None:
    d = Distributor(PLAIN)
    req = PushRequest([stream('{a="1"}', (NOW, b"ok")), stream('{a="1"', (NOW, b"x"))])
    with pytest.raises(InvalidLabels, match="error parsing labels '\\{a=\"1\"' with error"):
        d.validate(req, "t", NOW)


def test_zero_streams_is_rejected() -> None:
    with pytest.raises(NoStreams, match="at least one valid stream is required"):
        Distributor(PLAIN).validate(PushRequest([]), "t", NOW)


def test_partial_acceptance_keeps_good_entries_and_reports_bad_ones() -> None:
    d = Distributor(PLAIN)
    old = NOW - 8 * 24 * 3600 * 10**9
    future = NOW + 11 * 60 * 10**9
    req = PushRequest([stream('{app="a"}', (NOW, b"good"), (old, b"old"), (future, b"new"))])
    out = d.validate(req, "t", NOW)
    assert [s.lines for s in out.streams] == [[b"good"]]
    assert out.rejected_entries == 2
    assert "has timestamp too old: 2027-01-07T08:00:00Z, oldest acceptable timestamp is:" in out.errors[0]
    assert out.errors[1] == "entry for stream '{app=\"a\"}' has timestamp too new: 2027-01-15T08:11:00Z"


def test_line_too_long_is_rejected_or_truncated() -> None:
    line = b"x" * 300_000
    out = Distributor(PLAIN).validate(PushRequest([stream('{a="1"}', (NOW, line))]), "t", NOW)
    assert out.streams == []
    assert out.errors == [
        "max entry size '262144' bytes exceeded for stream '{a=\"1\"}' while adding an entry with "
        "length '300000' bytes"
    ]
    trunc = Distributor(
        Limits(discover_service_name=(), discover_log_levels=False, max_line_size_truncate=True)
    )
    out = trunc.validate(PushRequest([stream('{a="1"}', (NOW, line))]), "t", NOW)
    assert len(out.streams[0].lines[0]) == 262144


def test_stream_label_validation_messages() -> None:
    d = Distributor(PLAIN)
    many = "{" + ", ".join(f'l{i}="v"' for i in range(16)) + "}"
    dup = '{a="1", a="2"}'
    long_value = '{a="' + "v" * 2049 + '"}'
    out = d.validate(
        PushRequest([stream(many, (NOW, b"x")), stream(dup, (NOW, b"x")), stream(long_value, (NOW, b"x"))]),
        "t",
        NOW,
    )
    assert out.streams == []
    assert out.errors[0].endswith("has 16 label names; limit 15")
    assert out.errors[1] == "stream '{a=\"1\", a=\"2\"}' has duplicate label name: 'a'"
    assert "has label value too long" in out.errors[2]


def test_service_name_discovery_and_its_exemption_from_the_label_count() -> None:
    d = Distributor(Limits(discover_log_levels=False))
    out = d.validate(
        PushRequest([stream('{job="api", env="p"}', (NOW, b"x")), stream("{}", (NOW, b"y"))]),
        "t",
        NOW,
    )
    assert [str(s.labels) for s in out.streams] == [
        '{env="p", job="api", service_name="api"}',
        '{service_name="unknown_service"}',
    ]
    fifteen = "{" + ", ".join(f'l{i}="v"' for i in range(15)) + "}"
    assert d.validate(PushRequest([stream(fifteen, (NOW, b"x"))]), "t", NOW).errors == []


def test_detected_level_from_label_metadata_json_logfmt_and_keywords() -> None:
    d = Distributor(Limits(discover_service_name=()))
    req = PushRequest(
        [
            stream('{app="a", level="WARNING"}', (NOW, b"whatever")),
            stream(
                '{app="b"}',
                (NOW, b'{"msg": "x", "level": "ERROR"}'),
                (NOW + 1, b"ts=1 level=debug msg=y"),
                (NOW + 2, b"something failed with error 42"),
                (NOW + 3, b"no level here"),
            ),
        ]
    )
    out = d.validate(req, "t", NOW)
    assert out.streams[0].metadata == [(("detected_level", "warn"),)]
    assert [dict(m)["detected_level"] for m in out.streams[1].metadata or []] == [
        "error",
        "debug",
        "error",
        "unknown",
    ]


def test_detected_level_keeps_an_explicit_value() -> None:
    d = Distributor(Limits(discover_service_name=()))
    s = stream('{app="b"}', (NOW, b"error!"))
    s.metadata = [(("detected_level", "custom"),)]
    out = d.validate(PushRequest([s]), "t", NOW)
    assert out.streams[0].metadata == [(("detected_level", "custom"),)]


def test_tenant_rate_limit_rejects_the_whole_request_with_lokis_message() -> None:
    d = Distributor(
        Limits(
            discover_service_name=(),
            discover_log_levels=False,
            ingestion_rate_mb=1,
            ingestion_burst_size_mb=1,
        )
    )
    big = b"x" * 200_000
    now = time.time_ns()
    req = PushRequest([stream('{a="1"}', *[(now + i, big) for i in range(6)])])
    with pytest.raises(
        LimitExceeded,
        match="ingestion rate limit exceeded for user t \\(limit: 1048576 bytes/sec\\)",
    ):
        d.validate(req, "t", now)


def test_errors_are_grouped_like_loki() -> None:
    assert summarise_errors(["a", "b", "a"]) == "2 errors like: a; b"


def test_json_maps_arrive_as_labels_and_skip_parsing() -> None:
    d = Distributor(PLAIN)
    out = d.validate(
        PushRequest([PushStream(Labels.from_map({"b": "2", "a": "1"}), [NOW], [b"x"])]), "t", NOW
    )
    assert str(out.streams[0].labels) == '{a="1", b="2"}'


def test_label_parses_are_remembered_for_twenty_thousand_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tenant with 20 000 active streams sends each label set again in every push: the
    # second push must not parse any of them again (the cache used to hold only 8192).
    d = Distributor(PLAIN)
    t = time.time_ns()
    req = PushRequest([stream(f'{{job="j", n="{i}"}}', (t, b"x")) for i in range(20_000)])
    assert len(d.validate(req, "t").streams) == 20_000
    parsed: list[str] = []
    real_parse = Labels.parse
    monkeypatch.setattr(Labels, "parse", staticmethod(lambda text: parsed.append(text) or real_parse(text)))
    assert len(d.validate(req, "t").streams) == 20_000
    assert parsed == []
