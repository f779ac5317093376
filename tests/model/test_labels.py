from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.model.errors import InvalidLabels
from lokipy.model.labels import Labels, go_quote, parse_label_pairs
from lokipy.model.stream import loki_fingerprint, stream_id


def test_parse_sorts_drops_empty_values_and_prints_canonically() -> None:
    labels = Labels.parse('{level="info",job="clienttest",client="winston", empty=""}')
    assert labels.pairs == (("client", "winston"), ("job", "clienttest"), ("level", "info"))
    assert str(labels) == '{client="winston", job="clienttest", level="info"}'


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'{a="x\"y"}', 'x"y'),
        (r'{a="back\\slash"}', "back\\slash"),
        (r'{a="tab\tnl\n"}', "tab\tnl\n"),
        (r'{a="\x41\101\u00e9\U0001F680"}', "AAé🚀"),
        ("{a='single'}", "single"),
        ("{a=`raw \\n`}", "raw \\n"),
        ('{ a = "spaced" , }', "spaced"),
    ],
)
def test_go_string_escapes(text: str, value: str) -> None:
    assert Labels.parse(text).get("a") == value


@pytest.mark.parametrize(
    "text",
    [
        '{a="x}',
        "{a=x}",
        '{1a="x"}',
        '{a="x" b="y"}',
        'a="x"',
        '{a="\\q"}',
        '{a="x"} trailing',
        '{a.b="x"}',
    ],
)
def test_malformed_label_strings_are_rejected(text: str) -> None:
    with pytest.raises(InvalidLabels):
        Labels.parse(text)


def test_duplicate_names_are_kept_for_validation_to_report() -> None:
    labels = Labels(parse_label_pairs('{a="1", a="2"}'))
    assert labels.duplicate_name() == "a"


def test_go_quote_matches_strconv_quote() -> None:
    assert go_quote('a"b\\c\nd\x01é🚀\u00a0') == '"a\\"b\\\\c\\nd\\x01é🚀\\u00a0"'
    assert go_quote("\x7f") == '"\\x7f"'
    assert go_quote(b"\xff".decode("utf-8", "surrogateescape")) == '"\\xff"'


# Golden stream ids: the id is persisted (chunk keys, index), so any change must be deliberate.
@pytest.mark.parametrize(
    ("text", "lokipy_id", "loki_fp"),
    [
        ('{a="b"}', None, 6955969838111864200),
        ('{app="checkout", env="prod"}', 11379845616435257849, 17880486901110525123),
    ],
)
def test_stream_id_golden(text: str, lokipy_id: int | None, loki_fp: int) -> None:
    labels = Labels.parse(text)
    if lokipy_id is not None:
        assert stream_id(labels) == lokipy_id
    assert loki_fingerprint(labels) == loki_fp


def test_stream_id_is_xxh64_of_canonical_text() -> None:
    import xxhash

    labels = Labels.parse('{b="2", a="1"}')
    assert stream_id(labels) == xxhash.xxh64_intdigest(b'{a="1", b="2"}')


label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
label_values = st.text(min_size=1, max_size=20)


@given(st.dictionaries(label_names, label_values, max_size=8))
def test_canonical_text_round_trips(mapping: dict[str, str]) -> None:
    labels = Labels.from_map(mapping)
    assert Labels.parse(str(labels)) == labels
    assert str(Labels.parse(str(labels))) == str(labels)
    assert [n for n, _ in labels] == sorted(mapping)


@given(st.dictionaries(label_names, label_values, max_size=6), st.randoms())
def test_canonical_form_ignores_input_order(mapping: dict[str, str], rnd) -> None:  # type: ignore[no-untyped-def]
    items = list(mapping.items())
    rnd.shuffle(items)
    assert str(Labels(items)) == str(Labels.from_map(mapping))
