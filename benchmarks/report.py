"""The target table of ``docs/performance.md``: absolute, baseline, ratio, target, verdict.

Printed to the terminal, written as JSON, and as ``report.md`` + ``ratios.png`` in the report
folder. A row whose measurement failed its oracle check is ``WRONG`` whatever its speed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import WORKLOAD, chart
from benchmarks.ingest_models import MODEL_SQLITE
from benchmarks.querytable import QUERIES
from benchmarks.results import Measurement, Results

Getter = Callable[[Results], tuple[float, str] | None]


@dataclass(frozen=True, slots=True)
class Target:
    id: str
    what: str
    measure: str  # key of the measurement judged
    absolute: Getter  # (value, text) of the measurement
    baseline: Getter  # (value, text) of what it is compared with
    ratio: Callable[[float, float], float]
    target: float
    stretch: float | None
    higher_is_better: bool = True
    unit: str = "x"  # how target and ratio print: "x" or "ms"


def _lines_s(key: str, extra: str | None = None) -> Getter:
    def get(res: Results) -> tuple[float, str] | None:
        m = res.get(key)
        if m is None or m.timing is None:
            return None
        v = m.extra[extra] if extra else m.lines_s
        if v is None:
            return None
        return v, f"{v / 1e6:.3f} M lines/s ({key}{' ' + extra if extra else ''})"

    return get


def _bytes(key: str) -> Getter:
    def get(res: Results) -> tuple[float, str] | None:
        m = res.get(key)
        if m is None or m.value is None:
            return None
        return m.value, f"{m.value / 1e6:.2f} MB ({key})"

    return get


def _query(key: str, selector_only: bool = False) -> Getter:
    def get(res: Results) -> tuple[float, str] | None:
        m = res.get(key)
        if m is None or m.timing is None:
            return None
        rate = f"{m.lines_s / 1e6:.2f} M lines/s" if selector_only or m.mb_s is None else f"{m.mb_s:.0f} MB/s"
        return m.timing.median, f"p50 {m.timing.median * 1e3:.1f} ms, {rate}"

    return get


def _time_ratio(floor: float, query: float) -> float:
    return floor / query


def _div(a: float, b: float) -> float:
    return a / b


def targets() -> list[Target]:
    rows = [
        Target(
            "I1",
            "JSON push ingest, in process (push + flush)",
            "I1",
            _lines_s("I1"),
            _lines_s("limit.sqlite_executemany"),
            _div,
            1.0,
            1.3,
        ),
        Target(
            "I2",
            "protobuf+snappy push ingest, in process (push + flush)",
            "I2",
            _lines_s("I2"),
            _lines_s("limit.sqlite_executemany"),
            _div,
            1.0,
            1.3,
        ),
        Target(
            "I3",
            "HTTP push, ~1 MiB bodies, one client (vs I2 push-only)",
            "I3",
            _lines_s("I3"),
            _lines_s("I2", "push_only_lines_s"),
            _div,
            0.8,
            0.9,
        ),
        Target(
            "S1",
            "bytes on disk after flush vs zstd -3 of the raw text",
            "S1",
            _bytes("S1"),
            _bytes("limit.zstd3_raw"),
            _div,
            1.15,
            1.05,
            higher_is_better=False,
        ),
    ]
    klass = {
        "Q1": (0.5, 0.7),
        "Q2": (0.5, 0.7),
        "Q3": (0.5, None),
        "Q4": (0.5, None),
        "Q5": (0.25, 0.5),
    }
    for q in QUERIES:
        qid, selector_only = q.spec.id, q.spec.line_filter is None
        if q.klass == "Q6":
            rows.append(
                Target(
                    qid,
                    f"{q.spec.logql} (limit {q.spec.limit}, {q.spec.direction}; first page)",
                    qid,
                    _query(qid, selector_only),
                    _query(f"floor.{qid}", selector_only),
                    _div,  # unused: unit "ms" rows compare the p50 itself
                    50.0,
                    20.0,
                    higher_is_better=False,
                    unit="ms",
                )
            )
            continue
        target, stretch = klass[q.klass]
        rows.append(
            Target(
                qid,
                q.spec.logql + (f" (limit {q.spec.limit}, {q.spec.direction})" if q.spec.limit else ""),
                qid,
                _query(qid, selector_only),
                _query(f"floor.{qid}", selector_only),
                _time_ratio,
                target,
                stretch,
            )
        )
    return rows


def evaluate(res: Results) -> list[dict[str, Any]]:
    out = []
    for t in targets():
        m: Measurement | None = res.get(t.measure)
        absolute, baseline = t.absolute(res), t.baseline(res)
        row: dict[str, Any] = {
            "id": t.id,
            "what": t.what,
            "target": t.target,
            "stretch": t.stretch,
            "higher_is_better": t.higher_is_better,
            "unit": t.unit,
            "absolute": absolute[1] if absolute else None,
            "baseline": baseline[1] if baseline else None,
            "ratio": None,
            "score": None,
            "status": "n/a",
        }
        if m is not None and not m.ok:
            row["status"] = "WRONG"
            row["error"] = m.error
        elif absolute is not None and (baseline is not None or t.unit == "ms"):
            if t.unit == "ms":
                ratio = absolute[0] * 1e3
            else:
                assert baseline is not None
                ratio = (
                    t.ratio(baseline[0], absolute[0])
                    if t.ratio is _time_ratio
                    else t.ratio(absolute[0], baseline[0])
                )
            score = ratio / t.target if t.higher_is_better else t.target / ratio
            met_stretch = t.stretch is not None and (
                ratio >= t.stretch if t.higher_is_better else ratio <= t.stretch
            )
            row.update(ratio=ratio, score=score)
            row["status"] = "stretch" if met_stretch else ("pass" if score >= 1.0 else "miss")
        elif t.measure in res.skipped:
            row["status"] = "skipped"
            row["error"] = res.skipped[t.measure]
        out.append(row)
    return out


# (store run, model run): I1/I2 next to the minimal ingest models of benchmarks/ingest_models.py.
_MODEL_PAIRS = (("I1", "model.ingest_json"), ("I2", "model.ingest_protobuf"))
_SQLITE = "limit.sqlite_executemany"  # timed in I1/I2's rounds


def ingest_context(res: Results) -> list[dict[str, Any]]:
    """For I1 and I2: the minimal model's rate, its ratio to SQLite (what the least possible
    work reaches against the I1/I2 baseline on this machine), and lokipy's ratio to the model.

    The models run in rounds of their own with their own SQLite insert, so lokipy / model is
    taken as (lokipy / SQLite) / (model / SQLite): each ratio from tasks timed side by side.
    """
    out = []
    sqlite, model_sqlite = _rate(res, _SQLITE), _rate(res, MODEL_SQLITE)
    for store_key, model_key in _MODEL_PAIRS:
        store, model = _rate(res, store_key), _rate(res, model_key)
        if store is None or model is None or sqlite is None or model_sqlite is None:
            continue
        store_over_sqlite, model_over_sqlite = store / sqlite, model / model_sqlite
        out.append(
            {
                "id": store_key,
                "model": model_key,
                "model_lines_s": model,
                "model_over_sqlite": model_over_sqlite,
                "store_over_sqlite": store_over_sqlite,
                "store_over_model": store_over_sqlite / model_over_sqlite,
            }
        )
    return out


def _rate(res: Results, key: str) -> float | None:
    """Lines/s of a measurement whose answer was checked right, else None."""
    m = res.get(key)
    return m.lines_s if m is not None and m.ok else None


def print_context(context: list[dict[str, Any]]) -> None:
    for c in context:
        print(
            f"{c['id']}: {c['store_over_sqlite']:.2f}x SQLite; the minimal model {c['model']} "
            f"{c['model_over_sqlite']:.2f}x SQLite; {c['id']} = {c['store_over_model']:.2f}x the model"
        )


def _context_markdown(context: list[dict[str, Any]]) -> list[str]:
    if not context:
        return []
    out = [
        "",
        "## Ingest against the minimal models",
        "",
        "The minimal in-memory ingest models of `docs/performance.md` (decode, append, cut, "
        "zstd; no validation, WAL, files or index; `benchmarks/ingest_models.py`), timed "
        "round-robin with a SQLite insert of their own (in rounds apart from I1/I2's): how far "
        "the least possible work gets against the I1/I2 baseline on this machine, and how "
        "close lokipy is to it (lokipy / model = lokipy/SQLite over model/SQLite).",
        "",
        "| id | model | model M lines/s | model / SQLite | lokipy / SQLite | lokipy / model |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for c in context:
        out.append(
            f"| {c['id']} | `{c['model']}` | {c['model_lines_s'] / 1e6:.3f} | "
            f"{c['model_over_sqlite']:.2f}x | {c['store_over_sqlite']:.2f}x | "
            f"{c['store_over_model']:.2f}x |"
        )
    return out


def _fmt_target(row: dict[str, Any], value: float | None) -> str:
    if value is None:
        return "-"
    op = ">=" if row["higher_is_better"] else "<="
    return f"{op} {value:g} {row['unit']}" if row["unit"] == "ms" else f"{op} {value:g}x"


def _fmt_ratio(row: dict[str, Any]) -> str:
    r = row["ratio"]
    if r is None:
        return "-"
    return f"{r:.1f} ms" if row["unit"] == "ms" else f"{r:.2f}x"


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print(f"{'id':<5} {'absolute':<44} {'baseline':<44} {'ratio':>9} {'target':>10}  status")
    print("-" * 124)
    for r in rows:
        print(
            f"{r['id']:<5} {str(r['absolute'] or '-')[:44]:<44} "
            f"{str(r['baseline'] or '-')[:44]:<44}"
            f" {_fmt_ratio(r):>9} {_fmt_target(r, r['target']):>10}  {r['status']}"
            + (f" ({r['error'][:80]})" if r.get("error") else "")
        )


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))


def write_chart(rows: list[dict[str, Any]], path: Path) -> None:
    bars = []
    for r in rows:
        stretch = None
        if r["stretch"] is not None:
            s, t = r["stretch"], r["target"]
            stretch = s / t if r["higher_is_better"] else t / s
        note = f"{_fmt_ratio(r)} / {_fmt_target(r, r['target'])}".replace(">= ", ">=")
        bars.append(chart.Bar(r["id"], r["score"], stretch, note, r["status"] == "WRONG"))
    chart.draw(bars, path, f"{WORKLOAD.upper()}: LOKIPY VS SAME-RUN LIMITS")


def write_markdown(path: Path, payload: dict[str, Any], chart_name: str | None) -> None:
    rows, ms = payload["rows"], payload["measurements"]
    corpus, env = payload["corpus"], payload["env"]
    out = [
        f"# {WORKLOAD} benchmark report",
        "",
        f"Run {env['time_utc']} on {env['cpu_model']} ({env['cpus']} cores), Python "
        f"{env['python']}, load {env['loadavg_start']} -> {env.get('loadavg_end')}, "
        f"push decoder: {env.get('push_decoder', 'python')}. "
        f"Command: `{payload['command']}` ({payload['total_s']:.0f} s).",
        "",
        f"Corpus: {corpus['raw_bytes'] / 1e6:.1f} MB raw, {corpus['lines']:,} lines, "
        f"{corpus['streams']} streams, {corpus['blocks']} blocks of <= 256 KiB, "
        f"{corpus['error_fraction'] * 100:.2f}% of lines contain `error`, seed {corpus['seed']}, "
        f"fingerprint `{corpus['fingerprint']}`.",
        "",
        *_load_note(env),
        "## Targets",
        "",
        "Ratios are to limits measured in the same run (`docs/performance.md`). For queries the "
        "baseline is the floor kernel of the query's class run over the same blocks, producing "
        "the same (oracle-checked) answer: ratio = floor p50 / lokipy p50.",
        "",
        "| id | what | absolute | baseline | ratio | target | stretch | status |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        what = r["what"].replace("|", "\\|")
        status = r["status"] + (f": {r['error']}" if r.get("error") else "")
        out.append(
            f"| {r['id']} | `{what}` | {r['absolute'] or '-'} | {r['baseline'] or '-'} | "
            f"{_fmt_ratio(r)} | {_fmt_target(r, r['target'])} | "
            f"{_fmt_target(r, r['stretch'])} | {status.replace('|', '/')} |"
        )
    if chart_name:
        out += ["", f"![score per target]({chart_name})"]
    out += _context_markdown(payload.get("ingest_context", []))
    out += [
        "",
        "## Every measurement",
        "",
        "| key | what | p50 ms | MB/s | M lines/s | other | check |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for key, m in ms.items():
        other = ", ".join(
            f"{k}={_short(v)}"
            for k, v in m.items()
            if k
            not in {
                "key",
                "what",
                "runs",
                "median_s",
                "min_s",
                "max_s",
                "cpu_median_s",
                "nbytes",
                "nlines",
                "mb_s",
                "lines_s",
                "check",
                "error",
            }
        )
        check = "-" if "check" not in m else ("ok" if "error" not in m else f"FAILED: {m['error']}")
        p50 = f"{m['median_s'] * 1e3:.1f}" if "median_s" in m else "-"
        mbs = f"{m['mb_s']:.1f}" if "mb_s" in m else "-"
        mls = f"{m['lines_s'] / 1e6:.3f}" if "lines_s" in m else "-"
        out.append(
            f"| {key} | {m['what'].replace('|', '/')} | {p50} | {mbs} | {mls} | "
            f"{other.replace('|', '/')} | {check} |"
        )
    if payload["skipped"]:
        out += ["", "## Skipped", ""]
        out += [f"- {k}: {why}" for k, why in payload["skipped"].items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


def _load_note(env: dict[str, Any]) -> list[str]:
    """A warning when other processes were competing for the CPUs during the run."""
    cpus = env.get("cpus") or 1
    loads = [env["loadavg_start"][0], (env.get("loadavg_end") or (0,))[0]]
    if max(loads) <= 0.75 * cpus:
        return []
    return [
        f"**The machine was busy** (1-minute load {loads[0]:.1f} at the start, {loads[1]:.1f} at "
        f"the end, on {cpus} cores): absolute figures are depressed. Ratios compare tasks timed "
        "round-robin in the same run, so they suffer less, but treat them as noisy.",
        "",
    ]


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and v > 10**6:
        return f"{v / 1e6:.2f}M"
    return str(v)
