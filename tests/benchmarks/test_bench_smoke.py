"""The benchmark harness end to end on a tiny corpus: it finishes and every oracle check passes.

Nothing here asserts a speed: the machine is shared and noisy, and benchmarks report figures
rather than test them. What is asserted is that every measured answer was checked and right,
and that a wrong answer makes the run fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import kernels
from benchmarks.querytable import QUERIES

TINY = ["--mb", "1", "--runs", "1", "--min-time", "0", "--no-cache"]


def _run(tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "report"
    code = bench_main.main([*TINY, "--report-dir", str(out), "--tmpdir", str(tmp_path), *extra])
    return code, json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_tiny_run_end_to_end(tmp_path: Path) -> None:
    code, payload = _run(tmp_path)
    assert code == 0, payload["failures"]
    assert payload["failures"] == []
    ms = payload["measurements"]
    # Every baseline, floor and ingest figure was measured and its answer checked.
    for key in ("limit.decompress_find", "limit.count_kernel", "limit.neq_kernel",
                "limit.re2_kernel", "limit.ts_kernel", "limit.sqlite_executemany",
                "limit.sqlite_like", "I1", "I2", "I3",
                "model.ingest_json", "model.ingest_protobuf", "model.sqlite_executemany"):  # fmt: skip
        assert key in ms, key
        assert ms[key]["check"], key
        assert "error" not in ms[key], ms[key]
    for q in QUERIES:
        floor = ms[f"floor.{q.spec.id}"]
        assert "error" not in floor and floor["check"]
        # A query row is either measured and right, or skipped because the engine is missing.
        if q.spec.id in ms:
            assert "error" not in ms[q.spec.id]
        else:
            assert "LogQL engine" in payload["skipped"][q.spec.id]
    assert ms["S1"]["value"] > 0
    context = {c["id"]: c for c in payload["ingest_context"]}
    assert set(context) == {"I1", "I2"}
    for key, model in (("I1", "model.ingest_json"), ("I2", "model.ingest_protobuf")):
        store = ms[key]["lines_s"] / ms["limit.sqlite_executemany"]["lines_s"]
        least = ms[model]["lines_s"] / ms["model.sqlite_executemany"]["lines_s"]
        assert context[key]["store_over_model"] == pytest.approx(store / least)
    statuses = {row["id"]: row["status"] for row in payload["rows"]}
    assert "WRONG" not in statuses.values()
    assert statuses["I1"] != "n/a" and statuses["S1"] != "n/a"
    report_dir = tmp_path / "report"
    assert (report_dir / "report.md").read_text().startswith("# lokipy-bench-v1")
    assert (report_dir / "ratios.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_wrong_answer_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = kernels.count_find
    monkeypatch.setattr(kernels, "count_find", lambda blocks, needle: real(blocks, needle) + 1)
    code, payload = _run(tmp_path, "--only", "baselines")
    assert code == 1
    assert "limit.decompress_find" in payload["failures"]


def test_an_ingest_model_that_loses_entries_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import ingest_models

    real = ingest_models.ingest_json
    monkeypatch.setattr(ingest_models, "ingest_json", lambda bodies: real(bodies[1:]))
    code, payload = _run(tmp_path, "--only", "I1")
    assert code == 1
    assert payload["failures"] == ["model.ingest_json"]
    assert "entries stored, want" in payload["measurements"]["model.ingest_json"]["error"]
