"""Line filters: Loki's semantics, and block-at-a-time selection agreeing with a naive scan."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.logql.log import line_filter, line_filter_or
from lokipy.logql.log.filters import ContainsFilter, RegexFilter, chain
from lokipy.logql.log.ip import IPPatternError
from lokipy.logql.log.pattern import PatternError
from lokipy.model.entry import EntryBatch
from lokipy.model.regex import RegexError


def batch(lines: list[bytes]) -> EntryBatch:
    return EntryBatch.from_entries([(i, line, ()) for i, line in enumerate(lines)])


def kept(flt: object, lines: list[bytes]) -> list[bytes]:
    b = batch(lines)
    return [lines[i] for i in flt.select(b)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("op", "value", "lines", "want"),
    [
        ("|=", "foo", [b"foobar", b"bar", b"xfoo"], [b"foobar", b"xfoo"]),
        ("!=", "foo", [b"foobar", b"bar"], [b"bar"]),
        ("|=", "", [b"a", b"", b"b"], [b"a", b"", b"b"]),
        ("!=", "", [b"a", b""], []),
        ("|=", "Foo", [b"foo"], []),  # case-sensitive
        ("|~", "f.*b", [b"foo", b"bar", b"foobar"], [b"foobar"]),
        ("|~", "(?i)FOO", [b"foo", b"bar"], [b"foo"]),
        ("!~", "foo\\.bar", [b"foo.bar", b"fooxbar"], [b"fooxbar"]),
        ("|~", "\\|", [b"\\", b"|"], [b"|"]),
        ("|~", "^foo", [b"foo", b"afoo", b"xx"], [b"foo"]),
        ("|~", "bar$", [b"foobar", b"barx"], [b"foobar"]),
        ("|~", "\\bab", [b"x ab", b"xab"], [b"x ab"]),
        ("|~", "a*", [b"", b"x"], [b"", b"x"]),  # matches the empty string: every line
        ("|>", "foo <_>", [b"foo bar", b"foo"], [b"foo bar"]),
        ("!>", "foo <_>", [b"foo bar", b"foo"], [b"foo"]),
        ("|>", "<_>foo<_>", [b"a foo b", b"foo"], [b"a foo b"]),
        ("|>", "foo", [b"foo", b"foo bar"], [b"foo"]),  # no wildcard: the whole line
        ("|>", "<_> bar <_>", [b" bar ", b"a bar b"], [b"a bar b"]),  # no empty captures
    ],
)
def test_single_filters(op: str, value: str, lines: list[bytes], want: list[bytes]) -> None:
    flt = line_filter(op, value)
    assert kept(flt, lines) == want
    assert [line for line in lines if flt.matches(line)] == want


def test_or_chains_inherit_the_first_operator() -> None:
    lines = [b"foo", b"bar", b"none"]
    assert kept(line_filter_or("|=", [("foo", False), ("bar", False)]), lines) == [b"foo", b"bar"]
    assert kept(line_filter_or("!=", [("foo", False), ("bar", False)]), lines) == [b"none"]
    assert kept(line_filter_or("|~", [("fo+", False), ("ba.", False)]), lines) == [b"foo", b"bar"]
    assert kept(line_filter_or("!~", [("fo+", False), ("ba.", False)]), lines) == [b"none"]
    pat = line_filter_or("|>", [("<_>foo<_>", False), ("<_>bar<_>", False)])
    assert kept(pat, [b"a foo b", b"a bar b", b"none"]) == [b"a foo b", b"a bar b"]


def test_chained_filters() -> None:
    flt = chain([line_filter("|=", "test"), line_filter_or("|=", [("foo", False), ("bar", False)])])
    assert kept(flt, [b"test foo", b"test bar", b"foo", b"none"]) == [b"test foo", b"test bar"]
    neg = chain([line_filter("!=", "test"), line_filter_or("!=", [("foo", False), ("baz", False)])])
    assert kept(neg, [b"test", b"foo", b"bar", b"baz"]) == [b"bar"]


@pytest.mark.parametrize(
    ("op", "pattern", "lines", "want"),
    [
        ("|=", "127.0.0.1", [b"foo", b"127.0.0.2", b"127.0.0.1", b"x 127.0.0.1:80"],
         [b"127.0.0.1", b"x 127.0.0.1:80"]),
        ("|=", "127.0.0.0/8", [b"req from 127.0.0.2 ok", b"req from 8.8.8.8 ok"],
         [b"req from 127.0.0.2 ok"]),
        ("|=", "192.168.0.1-192.168.0.10", [b"a 192.168.0.5", b"a 192.168.0.11"],
         [b"a 192.168.0.5"]),
        ("!=", "10.0.0.0/8", [b"from 10.5.3.2", b"from 192.168.1.1"], [b"from 192.168.1.1"]),
        ("|=", "::1", [b"addr ::1 here", b"addr ::2"], [b"addr ::1 here"]),
        ("|=", "2001:db8::/32", [b"x 2001:db8::68 y", b"x 2001:db9::1"], [b"x 2001:db8::68 y"]),
        ("|=", "1.2.3.4", [b"01.2.3.4", b"1.2.3.4"], [b"1.2.3.4"]),
    ],
)  # fmt: skip
def test_ip_line_filter(op: str, pattern: str, lines: list[bytes], want: list[bytes]) -> None:
    flt = line_filter(op, pattern, ip=True)
    assert kept(flt, lines) == want


def test_ip_or_literal() -> None:
    flt = line_filter_or("|=", [("127.0.0.1", True), ("foo", False)])
    assert kept(flt, [b"foo", b"bar", b"127.0.0.2", b"127.0.0.1"]) == [b"foo", b"127.0.0.1"]


def test_invalid_filters_are_rejected() -> None:
    with pytest.raises(IPPatternError, match="ip: invalid pattern"):
        line_filter("|=", "999.1.1.1", ip=True)
    with pytest.raises(ValueError, match="ip: invalid operation"):
        line_filter("|~", "1.2.3.4", ip=True)
    with pytest.raises(RegexError, match="error parsing regexp"):
        line_filter("|~", "(a")
    with pytest.raises(PatternError):
        line_filter("|>", "<name> x")
    with pytest.raises(PatternError):
        line_filter("|>", "<_><_>")


def test_candidates_restrict_the_selection() -> None:
    b = batch([b"foo", b"foo", b"bar", b"foo"])
    assert line_filter("|=", "foo").select(b, [1, 2]) == [1]
    assert line_filter("!=", "foo").select(b, [1, 2]) == [2]
    assert line_filter("|~", "o+").select(b, [0, 3]) == [0, 3]
    assert line_filter("|=", "foo").select(b, []) == []


def test_hits_spanning_lines_are_rechecked() -> None:
    # "ab" only exists across the boundary of line 0 and 1; line 1 holds a real "aab".
    lines = [b"xa", b"b", b"aab"]
    assert kept(ContainsFilter(b"ab"), lines) == [b"aab"]
    assert kept(RegexFilter("a+b"), [b"a", b"ab"]) == [b"ab"]
    assert kept(RegexFilter("fo.*ar"), [b"xfo", b"yar", b"foobar"]) == [b"foobar"]


def test_regex_is_linear_time() -> None:
    # Catastrophic for a backtracking engine: no match after a long run of 'a'.
    line = b"a" * 200_000 + b"!"
    b = batch([line] * 5)
    start = time.perf_counter()
    assert line_filter("|~", "(a+)+$").select(b) == []
    assert line_filter("|~", "(a+)+!").select(b) == [0, 1, 2, 3, 4]
    assert [line_filter("!~", "(a+)+$").matches(line) for _ in range(3)] == [True] * 3
    assert time.perf_counter() - start < 5.0


lines_strategy = st.lists(
    st.binary(max_size=12).map(lambda b: b.replace(b"\x00", b"\n")), min_size=0, max_size=12
)
needles = st.sampled_from([b"a", b"ab", b"\n", b"a\nb", b"ba", b"", b"\xff"])
regexes = st.sampled_from(
    ["a", "ab", "a+b", "a.b", "a\\nb", "(?s)a.b", "^a", "b$", "\\bab", "[ab]{2}", "x|ab", "a*"]
)


@given(lines_strategy, needles)
def test_contains_block_scan_agrees_with_naive(lines: list[bytes], needle: bytes) -> None:
    b = batch(lines)
    for negate in (False, True):
        flt = ContainsFilter(needle, negate)
        naive = [i for i, line in enumerate(lines) if (needle in line) != negate]
        assert flt.select(b) == naive
        cands = list(range(0, len(lines), 2))
        assert flt.select(b, cands) == [i for i in naive if i in cands]


@given(lines_strategy, regexes)
def test_regex_block_scan_agrees_with_naive(lines: list[bytes], pattern: str) -> None:
    import re2

    rx = re2.compile(pattern.encode())
    b = batch(lines)
    for negate in (False, True):
        flt = RegexFilter(pattern, negate)
        naive = [i for i, line in enumerate(lines) if (rx.search(line) is not None) != negate]
        assert flt.select(b) == naive


def _loki_ip_scan(matcher: object, line: bytes) -> bool:
    """Loki's byte-by-byte ip() scan, transcribed literally: the reference for the fast one."""
    from lokipy.logql.log.ip import _V4, _V6, _ipv6_hint

    n = len(line)
    i = 0
    while i < n:
        if i + 3 < n and line[i] in b"0123456789" and 46 in line[i + 1 : i + 4]:
            ok, length = matcher._try(line, i, _V4)  # type: ignore[attr-defined]
            if ok:
                return True
            i += length + 1
            continue
        if i + 4 < n and _ipv6_hint(line, i):
            ok, length = matcher._try(line, i, _V6)  # type: ignore[attr-defined]
            if ok:
                return True
            i += length + 1
            continue
        i += 1
    return False


ip_text = st.lists(
    st.sampled_from(["1", "2", "0", ".", ":", "a", "f", " ", "10", "::", "x", "127.0.0.1", "\n"]),
    max_size=16,
).map(lambda parts: "".join(parts).encode())


@given(ip_text, st.sampled_from(["10.0.0.0/8", "127.0.0.1", "::1", "1.0.0.0-2.0.0.0", "::/0"]))
def test_ip_scan_agrees_with_lokis_loop(line: bytes, pattern: str) -> None:
    from lokipy.logql.log.ip import IPMatcher

    m = IPMatcher.compile(pattern)
    assert m.search(line) == _loki_ip_scan(m, line)


@given(st.lists(ip_text, max_size=8), st.sampled_from(["10.0.0.0/8", "127.0.0.1", "::1", "::/0"]))
def test_ip_block_scan_agrees_with_per_line(lines: list[bytes], pattern: str) -> None:
    flt = line_filter("|=", pattern, ip=True)
    assert flt.select(batch(lines)) == [i for i, line in enumerate(lines) if flt.matches(line)]


dense_lines = st.lists(
    st.lists(st.sampled_from([b"a", b"b", b"ab", b"\n"]), max_size=5).map(b"".join),
    min_size=1,
    max_size=16,
)


@given(
    st.lists(st.sampled_from([b"xab", b"b", b"a", b"", b"ab\nab", b"zz"]), min_size=64, max_size=300),
    st.sampled_from(["a+b", "a.?b", "b|z", "[ab]$"]),
)
def test_regex_switch_to_per_line_agrees_with_naive(lines: list[bytes], pattern: str) -> None:
    """Past 64 hits on a dense batch the block scan finishes line by line; same answer."""
    import re2

    rx = re2.compile(pattern.encode())
    want = [i for i, line in enumerate(lines) if rx.search(line) is not None]
    assert RegexFilter(pattern).select(batch(lines)) == want


@given(dense_lines, st.sampled_from([b"a", b"ab", b"aa", b"ba", b"aba"]))
def test_dense_contains_path_agrees_with_naive(lines: list[bytes], needle: bytes) -> None:
    b = batch(lines)
    naive = [i for i, line in enumerate(lines) if needle in line]
    assert ContainsFilter(needle).select(b) == naive
    assert ContainsFilter(needle, negate=True).select(b) == [i for i in range(len(lines)) if i not in naive]


@given(
    lines_strategy.map(lambda ls: [line.replace(b"b", b"B") for line in ls] + [b"\xe2\x84\xaa"]),
    st.sampled_from(["(?i)ab", "(?i)A|b", "a|ab|\\n", "(?i)k", "(?i)AB|xy", "ab|b"]),
)
def test_literal_alternatives_agree_with_re2(lines: list[bytes], pattern: str) -> None:
    import re2

    rx = re2.compile(pattern.encode())
    want = [i for i, line in enumerate(lines) if rx.search(line) is not None]
    flt = RegexFilter(pattern)
    assert flt.select(batch(lines)) == want
    assert [i for i, line in enumerate(lines) if flt.matches(line)] == want


@given(
    st.lists(st.sampled_from([b"foo bar", b"foo", b"x foo y", b"", b"bar", b"foo\nbar"]), max_size=12),
    st.sampled_from(["foo <_>", "<_>foo<_>", "<_> bar", "foo", "", "<_>"]),
)
def test_pattern_block_prefilter_agrees_with_per_line(lines: list[bytes], pattern: str) -> None:
    flt = line_filter("|>", pattern)
    assert flt.select(batch(lines)) == [i for i, line in enumerate(lines) if flt.matches(line)]


def test_block_regex_search_stays_linear_when_matches_span_lines() -> None:
    """`a.*9` over lines joined without separators matches across lines; the block search
    must not restart a whole-block scan for every line (that was quadratic)."""
    from lokipy.logql.log.filters import RegexFilter
    from lokipy.model.entry import EntryBatch

    lines = [(f"a line {i} b" if i % 7 else f"x{i}9").encode() for i in range(4000)]
    batch = EntryBatch.from_entries([(i, line, ()) for i, line in enumerate(lines)])
    flt = RegexFilter("a.*9")
    scanned = 0
    real = flt._rx

    class Counting:
        def search(self, data: bytes, pos: int = 0, endpos: int | None = None):  # type: ignore[no-untyped-def]
            nonlocal scanned
            end = len(data) if endpos is None else endpos
            scanned += end - pos
            return real.search(data, pos, end)

    flt._rx = Counting()
    hits = flt._hits(batch)
    assert hits == [i for i, line in enumerate(lines) if real.search(line)]
    assert scanned <= 3 * len(batch.data), f"scanned {scanned} bytes of a {len(batch.data)}-byte block"


@given(
    lines=st.lists(
        st.sampled_from([b"", b"a", b"ab", b"ba", b"xabx", b"b", b"aab", b"AB", b"b\xffa"]), max_size=60
    ),
    make=st.sampled_from(
        [
            lambda neg: ContainsFilter(b"ab", negate=neg),
            lambda neg: ContainsFilter(b"a", negate=neg),
            lambda neg: ContainsFilter(b"aab", negate=neg),
            lambda neg: ContainsFilter(b"zz", negate=neg),
            lambda neg: ContainsFilter(b"", negate=neg),
            lambda neg: RegexFilter("ab", negate=neg),  # literal
            lambda neg: RegexFilter("(?i)ab", negate=neg),  # folded literal
            lambda neg: RegexFilter("ab|ba", negate=neg),  # alternatives
            lambda neg: RegexFilter("a+b?", negate=neg),  # block search
            lambda neg: RegexFilter("ba*b?a", negate=neg),  # matches may span lines
            lambda neg: RegexFilter("^ab", negate=neg),  # anchored: line by line
            lambda neg: RegexFilter("x*", negate=neg),  # matches the empty string
            lambda neg: line_filter_or("|=", [("ab", False), ("ba", False)]),  # no range search
        ]
    ),
    segment=st.integers(1, 12),
    reverse=st.booleans(),
    negate=st.booleans(),
)
def test_lazy_scan_segments_cover_the_batch_in_order(
    lines: list[bytes],
    make,
    segment: int,
    reverse: bool,
    negate: bool,  # type: ignore[no-untyped-def]
) -> None:
    """``scan`` yields what ``select`` keeps (and per-line ``matches`` decides), segment by
    segment in scan order, and each segment's ``next`` is where the following one starts."""
    flt = make(negate)
    b = batch(lines)
    want = [i for i, line in enumerate(lines) if flt.matches(line)]
    assert flt.select(b) == want
    if reverse:
        want.reverse()
    got: list[int] = []
    order = list(range(len(lines)))
    if reverse:
        order.reverse()
    pos = 0  # how many indices of ``order`` the segments so far have covered
    for nxt, kept in flt.scan(b, reverse, segment=segment):
        got.extend(kept)
        if nxt == -1:
            pos = len(order)
        else:
            new_pos = order.index(nxt)
            assert new_pos > pos or (new_pos == pos == 0 and not kept)
            covered = set(order[pos:new_pos])
            assert set(kept) <= covered
            pos = new_pos
    assert pos == len(order) or not lines
    assert got == want


def test_contains_without_a_counting_pass_switches_to_per_line_when_dense() -> None:
    lines = [b"x error y" if i % 2 else b"fine" for i in range(500)] + [b"errorerror", b"err", b"or"]
    want = [i for i, line in enumerate(lines) if b"error" in line]
    assert ContainsFilter("error").select(batch(lines)) == want
    assert ContainsFilter("error", negate=True).select(batch(lines)) == [
        i for i in range(len(lines)) if i not in set(want)
    ]
