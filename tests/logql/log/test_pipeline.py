"""Pipelines end to end: stage order, metadata, errors, drop/keep, block front + per-line rest."""

# ruff: noqa: E501  (tables of Loki test cases read best one case per line)

from __future__ import annotations

from lokipy.logql.log import (
    NOOP_PIPELINE,
    DropLabels,
    JSONParser,
    KeepLabels,
    LabelsFormatter,
    LineFormatter,
    LogfmtParser,
    NumericLabelFilter,
    Pipeline,
    StringLabelFilter,
    line_filter,
)
from lokipy.model.entry import EntryBatch
from lokipy.model.labels import Labels

STREAM = Labels([("app", "a"), ("env", "prod")])


def test_noop_pipeline_returns_stream_labels_unchanged() -> None:
    sp = NOOP_PIPELINE.for_stream(STREAM)
    res = sp.process(1, b"x")
    assert res == (b"x", STREAM.pairs)
    assert res is not None and res[1] is sp.base
    assert NOOP_PIPELINE.is_noop and NOOP_PIPELINE.filters_only


def test_structured_metadata_is_visible_as_labels() -> None:
    sp = NOOP_PIPELINE.for_stream(STREAM)
    assert sp.process(1, b"x", (("trace", "t1"),)) == (
        b"x",
        (("app", "a"), ("env", "prod"), ("trace", "t1")),
    )
    # a metadata name clashing with a stream label becomes _extracted
    assert sp.process(1, b"x", (("env", "dev"),)) == (
        b"x",
        (("app", "a"), ("env", "prod"), ("env_extracted", "dev")),
    )
    flt = Pipeline([StringLabelFilter("trace", "=", "t1")]).for_stream(STREAM)
    assert flt.process(1, b"x", (("trace", "t1"),)) is not None
    assert flt.process(1, b"x") is None


def test_error_lines_and_error_filter() -> None:
    p = Pipeline([JSONParser(), StringLabelFilter("__error__", "=", "")])
    sp = p.for_stream(STREAM)
    assert sp.process(1, b'{"a":"1"}') == (
        b'{"a":"1"}',
        (("a", "1"), ("app", "a"), ("env", "prod")),
    )
    assert sp.process(2, b"not json") is None
    kept = Pipeline([JSONParser()]).for_stream(STREAM).process(2, b"not json")
    assert kept is not None and dict(kept[1])["__error__"] == "JSONParserErr"


def test_drop_and_keep() -> None:
    sp = Pipeline([LogfmtParser(), DropLabels([("a", None, None), ("b", "=", "2")])]).for_stream(STREAM)
    assert sp.process(1, b"a=1 b=2 c=3") == (
        b"a=1 b=2 c=3",
        (("app", "a"), ("c", "3"), ("env", "prod")),
    )
    res = sp.process(1, b"a=1 b=9")
    assert res is not None and dict(res[1])["b"] == "9"
    drop_err = Pipeline(
        [JSONParser(), DropLabels([("__error__", None, None), ("__error_details__", None, None)])]
    )
    assert drop_err.for_stream(STREAM).process(1, b"oops") == (b"oops", STREAM.pairs)
    keep = Pipeline([LogfmtParser(), KeepLabels([("app", None, None), ("c", "=~", "3|4")])])
    ksp = keep.for_stream(STREAM)
    assert ksp.process(1, b"a=1 c=3") == (b"a=1 c=3", (("app", "a"), ("c", "3")))
    assert ksp.process(1, b"a=1 c=5") == (b"a=1 c=5", (("app", "a"),))
    keep_err = Pipeline([JSONParser(), KeepLabels([("app", None, None)])]).for_stream(STREAM)
    res = keep_err.process(1, b"oops")
    assert res is not None and dict(res[1]).keys() == {"app", "__error__", "__error_details__"}


def test_drop_keep_accept_names_and_matchers() -> None:
    from lokipy.model.matchers import LabelMatcher, MatchType

    drop = DropLabels(["a", LabelMatcher("b", MatchType.RE, "[0-9]+")])
    sp = Pipeline([LogfmtParser(), drop]).for_stream(STREAM)
    assert sp.process(1, b"a=1 b=22 c=3") == (
        b"a=1 b=22 c=3",
        (("app", "a"), ("c", "3"), ("env", "prod")),
    )
    keep = Pipeline([KeepLabels(["env"])]).for_stream(STREAM)
    assert keep.process(1, b"x") == (b"x", (("env", "prod"),))
    m = StringLabelFilter.from_matcher(LabelMatcher("app", MatchType.NEQ, "a"))
    assert Pipeline([m]).for_stream(STREAM).process(1, b"x") is None


def test_line_filters_after_a_formatter_see_the_new_line() -> None:
    p = Pipeline([
        LogfmtParser(),
        LineFormatter("L={{.level}}"),
        line_filter("|=", "L=error"),
    ])  # fmt: skip
    assert p.line_filter is None and len(p.rest) == 3
    sp = p.for_stream(STREAM)
    assert sp.process(1, b"level=error msg=x") == (
        b"L=error",
        (("app", "a"), ("env", "prod"), ("level", "error"), ("msg", "x")),
    )
    assert sp.process(1, b"level=info") is None


def test_run_batch_matches_per_line_processing() -> None:
    entries = [
        (1, b"level=error n=5", ()),
        (2, b"level=info n=7", (("trace", "x"),)),
        (3, b"nothing here", ()),
        (4, b"level=error n=abc", ()),
        (5, b"level=error n=1\nsecond line", ()),
    ]
    batch = EntryBatch.from_entries(entries)
    p = Pipeline([
        line_filter("|=", "level"),
        line_filter("!=", "info"),
        LogfmtParser(),
        NumericLabelFilter("n", ">", 2),
        LabelsFormatter([("lvl", "level", False)]),
    ])  # fmt: skip
    assert p.line_filter is not None and len(p.rest) == 3
    sp = p.for_stream(STREAM)
    got = sp.run_batch(batch)
    want = []
    for i, (ts, line, md) in enumerate(entries):
        res = p.for_stream(STREAM).process(ts, line, md)
        if res is not None:
            want.append((i, res[0], res[1]))
    assert got == want
    assert [i for i, _, _ in got] == [0, 3]
    assert dict(got[1][2])["__error__"] == "LabelFilterErr"
    assert sp.select(batch) == [0, 3, 4]
    assert sp.select(batch, [3, 4]) == [3, 4]


def test_filters_only_pipeline_batch_fast_path() -> None:
    batch = EntryBatch.from_entries([(1, b"foo", ()), (2, b"bar", ())])
    sp = Pipeline([line_filter("|=", "o")]).for_stream(STREAM)
    assert sp.run_batch(batch) == [(0, b"foo", STREAM.pairs)]


def test_identical_label_sets_are_interned() -> None:
    sp = Pipeline([LogfmtParser()]).for_stream(STREAM)
    a = sp.process(1, b"x=1")
    b = sp.process(2, b"x=1")
    assert a is not None and b is not None and a[1] is b[1]


def test_label_format_overrides_a_stream_label() -> None:
    sp = Pipeline([LabelsFormatter([("app", "{{.app}}-x", True)])]).for_stream(STREAM)
    assert sp.process(1, b"l") == (b"l", (("app", "a-x"), ("env", "prod")))
