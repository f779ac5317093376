"""The ingest stage breakdown (benchmarks/ingest_stages.py) runs the store's own push path.

No speed is asserted: what is checked is that every stage ran over the whole corpus, so a
change of the store's internal APIs cannot leave the tool timing less work than a push does.
"""

from __future__ import annotations

import pytest

from benchmarks import ingest_stages

TINY = ["--mb", "1", "--runs", "1", "--no-cache"]
STAGES = ("decode", "validate", "wal", "head", "rest", "flush", "total", "model")


def test_every_stage_is_reported_for_both_encodings(capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest_stages.main(TINY) == 0
    out = capsys.readouterr().out
    for encoding in ("JSON (I1)", "protobuf (I2)"):
        section = out.split(encoding, 1)[1].split("\n\n", 1)[0]
        for stage in STAGES:
            assert f"  {stage} " in section, (encoding, stage)


def test_a_stage_that_skips_entries_stops_the_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    from lokipy.store.head import StreamHead

    real = StreamHead.append

    def keep_half(self: StreamHead, timestamps: list[int], *args: object) -> int:
        kept = real(self, timestamps, *args)  # type: ignore[arg-type]
        return kept // 2

    monkeypatch.setattr(StreamHead, "append", keep_half)
    with pytest.raises(RuntimeError, match="'head' handled"):
        ingest_stages.main(TINY)
