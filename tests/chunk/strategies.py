"""Hypothesis strategies for entries: arbitrary bytes, metadata and int64 timestamps."""

from __future__ import annotations

from hypothesis import strategies as st

from lokipy.model.entry import Metadata

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

# Lines that stress the format: empty, newline-only, invalid UTF-8, NUL, CRLF, long runs.
TRICKY = st.sampled_from(
    [b"", b"\n", b"\n\n", b"\r\n", b"\xff\xfe\xfd", b"\x00", b"a\nb", b"\xc3", b"x" * 300]
)
LINES = st.one_of(st.binary(max_size=64), TRICKY)

_NAME = st.text(min_size=1, max_size=8)
_VALUE = st.text(max_size=12)


@st.composite
def metadata_sets(draw: st.DrawFn) -> Metadata:
    pairs = draw(st.dictionaries(_NAME, _VALUE, max_size=3))
    return tuple(sorted(pairs.items()))


@st.composite
def entry_columns(
    draw: st.DrawFn, min_size: int = 1, max_size: int = 40
) -> tuple[list[int], list[bytes], list[Metadata] | None]:
    """Sorted timestamps (ties likely), lines, and metadata or None."""
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    if draw(st.booleans()):
        # Close together: many equal timestamps and small deltas.
        base = draw(INT64.filter(lambda v: v < 2**63 - 1000))
        ts = sorted(base + draw(st.integers(0, 999)) for _ in range(n))
    else:
        ts = sorted(draw(INT64) for _ in range(n))
    lines = [draw(LINES) for _ in range(n)]
    palette = draw(st.lists(metadata_sets(), min_size=1, max_size=4))
    md = None
    if draw(st.booleans()):
        md = [draw(st.sampled_from(palette)) for _ in range(n)]
    return ts, lines, md
