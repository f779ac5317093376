"""``python -m benchmarks.median RUN.json RUN.json RUN.json [--out FILE.md]``: the verdicts on
the median of several whole benchmark runs.

``docs/performance.md`` marks a target missed only on the median of at least three runs. Each
run's ``report.json`` (``--json`` of ``python -m benchmarks``) already holds every target's
ratio from that run's own baselines; this takes the median ratio per target across the runs,
judges it against the target and stretch, and prints (or writes) a markdown table with every
run's ratio beside it. A run whose answer was wrong for a target makes that target WRONG.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} ms" if unit == "ms" else f"{value:.2f}x"


def _verdict(row: dict[str, Any], ratio: float) -> str:
    target, stretch, higher = row["target"], row["stretch"], row["higher_is_better"]
    met = ratio >= target if higher else ratio <= target
    met_stretch = stretch is not None and (ratio >= stretch if higher else ratio <= stretch)
    return "stretch" if met_stretch else ("pass" if met else "miss")


def combine(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target: every run's ratio, their median and the verdict on the median."""
    out = []
    for row in runs[0]["rows"]:
        same = [next((r for r in run["rows"] if r["id"] == row["id"]), None) for run in runs]
        ratios = [r["ratio"] for r in same if r is not None and r["ratio"] is not None]
        wrong = any(r is not None and r["status"] == "WRONG" for r in same)
        median = statistics.median(ratios) if ratios else None
        if wrong:
            status = "WRONG"
        elif median is None:
            status = "n/a"
        else:
            status = _verdict(row, median)
        out.append(
            {**row, "runs": [r["ratio"] if r else None for r in same], "median": median, "status": status}
        )
    return out


def markdown(rows: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    heads = " | ".join(f"run {i + 1}" for i in range(len(runs)))
    lines = [
        f"| id | what | {heads} | median | target | stretch | verdict on the median |",
        "|---|---|" + "---:|" * (len(runs) + 3) + "---|",
    ]
    for r in rows:
        unit = r["unit"]
        op = ">=" if r["higher_is_better"] else "<="
        cells = " | ".join(_fmt(v, unit) for v in r["runs"])
        target = f"{op} {_fmt(r['target'], unit)}"
        stretch = f"{op} {_fmt(r['stretch'], unit)}" if r["stretch"] is not None else "-"
        what = r["what"].replace("|", "\\|")
        lines.append(
            f"| {r['id']} | `{what}` | {cells} | {_fmt(r['median'], unit)} | {target} | {stretch} | "
            f"{r['status']} |"
        )
    lines += _context(runs)
    lines.append("")
    for i, run in enumerate(runs):
        env = run["env"]
        lines.append(
            f"- run {i + 1}: {env['time_utc']}, load {env['loadavg_start']} -> "
            f"{env.get('loadavg_end')}, `{run['command']}` ({run['total_s']:.0f} s)"
        )
    return "\n".join(lines) + "\n"


_CONTEXT_COLUMNS = (
    ("model_over_sqlite", "model / SQLite"),
    ("store_over_sqlite", "lokipy / SQLite"),
    ("store_over_model", "lokipy / model"),
)


def _context(runs: list[dict[str, Any]]) -> list[str]:
    """Median of each run's I1/I2 comparison with the minimal ingest models, if recorded."""
    ids = [c["id"] for c in runs[0].get("ingest_context", [])]
    if not ids:
        return []
    heads = " | ".join(h for _, h in _CONTEXT_COLUMNS)
    out = [
        "",
        "Ingest against the minimal in-memory models (`benchmarks/ingest_models.py`), median of "
        "the runs:",
        "",
        f"| id | model | {heads} |",
        "|---|---|" + "---:|" * len(_CONTEXT_COLUMNS),
    ]
    for cid in ids:
        found = [c for run in runs for c in run.get("ingest_context", []) if c["id"] == cid]
        cells = " | ".join(
            f"{statistics.median(c[key] for c in found):.2f}x" for key, _ in _CONTEXT_COLUMNS
        )
        out.append(f"| {cid} | `{found[0]['model']}` | {cells} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.median", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="report.json of each run")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args(argv)
    runs = [json.loads(p.read_text()) for p in args.runs]
    text = markdown(combine(runs), runs)
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
