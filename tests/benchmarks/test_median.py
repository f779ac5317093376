"""Verdicts on the median of several benchmark runs (benchmarks/median.py)."""

from __future__ import annotations

from typing import Any

from benchmarks.median import combine, markdown


def _row(
    id_: str, ratio: float | None, status: str, *, unit: str = "x", higher: bool = True
) -> dict[str, Any]:
    target, stretch = (1.0, 1.3) if unit == "x" else (50.0, 20.0)
    return {
        "id": id_,
        "what": f"{id_} | query",
        "target": target,
        "stretch": stretch,
        "higher_is_better": higher,
        "unit": unit,
        "ratio": ratio,
        "status": status,
    }


def _run(rows: list[dict[str, Any]]) -> dict[str, Any]:
    env = {"time_utc": "2026-11-28T10:00:00Z", "loadavg_start": (0.1, 0.1, 0.1), "loadavg_end": None}
    return {"rows": rows, "env": env, "command": "python -m benchmarks", "total_s": 1.0}


def test_the_verdict_is_on_the_median_not_on_the_best_or_worst_run() -> None:
    runs = [
        _run([_row("I1", 0.9, "miss"), _row("Q6a", 60.0, "miss", unit="ms", higher=False)]),
        _run([_row("I1", 1.1, "pass"), _row("Q6a", 18.0, "stretch", unit="ms", higher=False)]),
        _run([_row("I1", 1.4, "stretch"), _row("Q6a", 45.0, "pass", unit="ms", higher=False)]),
    ]
    rows = {r["id"]: r for r in combine(runs)}
    assert rows["I1"]["median"] == 1.1 and rows["I1"]["status"] == "pass"
    assert rows["I1"]["runs"] == [0.9, 1.1, 1.4]
    assert rows["Q6a"]["median"] == 45.0 and rows["Q6a"]["status"] == "pass"


def test_one_wrong_answer_makes_the_target_wrong_and_missing_runs_are_skipped() -> None:
    runs = [
        _run([_row("Q1a", 0.8, "pass"), _row("S1", None, "n/a")]),
        _run([_row("Q1a", 0.9, "WRONG"), _row("S1", None, "n/a")]),
        _run([_row("Q1a", 0.7, "pass"), _row("S1", None, "n/a")]),
    ]
    rows = {r["id"]: r for r in combine(runs)}
    assert rows["Q1a"]["status"] == "WRONG"
    assert rows["S1"]["median"] is None and rows["S1"]["status"] == "n/a"
    text = markdown(combine(runs), runs)
    assert "| Q1a | `Q1a \\| query` | 0.80x | 0.90x | 0.70x | 0.80x |" in text
    assert text.count("- run ") == 3


def test_the_ingest_model_comparison_is_the_median_of_the_runs() -> None:
    def run(store_over_model: float) -> dict[str, Any]:
        context = [
            {
                "id": "I2",
                "model": "model.ingest_protobuf",
                "model_over_sqlite": 1.2,
                "store_over_sqlite": store_over_model * 1.2,
                "store_over_model": store_over_model,
            }
        ]
        return {**_run([_row("I2", store_over_model * 1.2, "miss")]), "ingest_context": context}

    runs = [run(0.5), run(0.7), run(0.6)]
    text = markdown(combine(runs), runs)
    assert "| I2 | `model.ingest_protobuf` | 1.20x | 0.72x | 0.60x |" in text
    # Runs from before the models were timed have no such table.
    assert "minimal in-memory models" not in markdown(combine([_run([])]), [_run([])])
