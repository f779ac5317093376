"""The chunk benchmark stays runnable: it finishes, checks its own round trip, and reports.

Speed is never asserted here (the machine is shared); only that figures exist and add up.
"""

from __future__ import annotations

from benchmarks.bench_chunk import make_corpus, run


def test_corpus_is_deterministic_and_shaped_like_the_bench() -> None:
    blocks, keys, raw, n = make_corpus(300_000)
    again = make_corpus(300_000)
    assert (blocks, keys, raw, n) == again
    assert sum(len(ts) for ts, _ in blocks) == n == raw.count(b"\n")
    assert {job for job, _, _ in keys} == {"nginx", "app", "osquery"}
    for ts, _ in blocks:
        assert ts == sorted(ts)


def test_run_reports_every_figure() -> None:
    figures = run(True, target_bytes=1_000_000)
    for key in (
        "encode_mb_s",
        "decode_mb_s",
        "floor_decompress_find_mb_s",
        "timestamps_m_entries_s",
        "s1_chunks_over_zstd3_whole",
        "overhead_bytes_per_entry",
    ):
        assert figures[key] > 0, key
    parts = (
        figures["timestamp_bytes_per_entry"]
        + figures["length_bytes_per_entry"]
        + figures["framing_bytes_per_entry"]
    )
    assert abs(parts - figures["overhead_bytes_per_entry"]) < 1e-9
    assert figures["chunk_bytes"] > figures["zstd3_block_texts_bytes"]
