"""``python -m benchmarks [--quick] [--mb N] [--json FILE] [--only GROUPS]``: run everything.

Exits 1 when any measured answer differs from the oracle (never because of speed).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import WORKLOAD, report
from benchmarks.baselines import measure_baselines
from benchmarks.bench_queries import (
    engine_available,
    measure_floors,
    measure_queries,
    query_store,
)
from benchmarks.datasets import (
    CACHE_DIR,
    DEFAULT_SEED,
    N_HOSTS,
    Block,
    Corpus,
    compress_blocks,
    cut_blocks,
    load_or_generate,
)
from benchmarks.oracle import LineFilter, Oracle
from benchmarks.querytable import QUERIES
from benchmarks.results import Measurement, Results

REPO = Path(__file__).resolve().parents[1]
GROUPS = ("baselines", "floors", "ingest", "queries")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 MB corpus (the CI smoke run)")
    ap.add_argument("--mb", type=float, default=None, help="raw corpus MB (default 200; quick 20)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per measurement (median)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument(
        "--hosts",
        type=int,
        default=N_HOSTS,
        help=f"hosts (7 streams each; default {N_HOSTS} = 196 streams): for scaling runs",
    )
    ap.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="repeat short kernels until this many seconds are sampled (default 1; quick 0.3)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the results JSON here")
    ap.add_argument(
        "--only",
        default=None,
        help=f"comma-separated groups or ids: {', '.join(GROUPS)}, I1, I2, I3",
    )
    ap.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="report.md/json/png folder (default docs/benchmarks for a default run, "
        "benchmarks/.cache/report otherwise)",
    )
    ap.add_argument("--no-cache", action="store_true", help="regenerate the corpus in memory")
    ap.add_argument("--tmpdir", type=Path, default=None, help="where stores and databases go")
    args = ap.parse_args(argv)
    if args.mb is None:
        args.mb = 20.0 if args.quick else 200.0
    return args


def environment() -> dict[str, Any]:
    from lokipy.wire import native

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu,
        "cpus": os.cpu_count(),
        "loadavg_start": tuple(round(x, 2) for x in os.getloadavg()),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # lokipy's C push decoder, or the Python decoders alone (no compiler, LOKIPY_PURE_PYTHON)
        "push_decoder": "c" if native.columns is not None else "python",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = [s.strip() for s in args.only.split(",")] if args.only else None

    def want(*names: str) -> bool:
        return only is None or any(n in only for n in names)

    t_begin = time.perf_counter()
    env = environment()
    print(
        f"{WORKLOAD}: {args.mb:g} MB, seed {args.seed}; {env['cpu_model']} x{env['cpus']}, "
        f"Python {env['python']}, load {env['loadavg_start']}, push decoder {env['push_decoder']}",
        flush=True,
    )
    t0 = time.perf_counter()
    cache = None if args.no_cache else CACHE_DIR
    corpus = load_or_generate(int(args.mb * 1e6), args.seed, cache, args.hosts)
    blocks = cut_blocks(corpus)
    compress_blocks(blocks)
    oracle = Oracle(corpus)
    n_error = oracle.count_lines(LineFilter("|=", b"error"))
    stats = {
        "raw_bytes": corpus.raw_bytes,
        "lines": corpus.n_lines,
        "streams": len(set(corpus.sids)),
        "hosts": args.hosts,
        "blocks": len(blocks),
        "error_lines": n_error,
        "error_fraction": n_error / corpus.n_lines,
        "seed": args.seed,
        "fingerprint": corpus.fingerprint(),
        "boundary_entries": oracle.boundary_entries(),
        "prepare_s": time.perf_counter() - t0,
    }
    print(
        f"corpus: {stats['raw_bytes'] / 1e6:.1f} MB, {stats['lines']:,} lines, "
        f"{stats['streams']} streams, {stats['blocks']} blocks, "
        f"{stats['error_fraction'] * 100:.2f}% 'error' ({stats['prepare_s']:.1f}s)",
        flush=True,
    )
    min_time = args.min_time if args.min_time is not None else (0.3 if args.quick else 1.0)
    res = Results()
    if want("baselines"):
        _section("baselines", t_begin)
        # The SQLite insert is timed with I1/I2 (interleaved) when those run.
        with_insert = not want("ingest", "I1", "I2")
        measure_baselines(corpus, blocks, oracle, res, args.runs, min_time, args.tmpdir, with_insert)
    args.min_time = min_time
    bodies = None
    if want("ingest", "I1", "I2", "I3", "queries"):
        from benchmarks.pushbodies import build_bodies

        bodies = build_bodies(corpus)
    try:
        import lokipy.logstore  # noqa: F401
    except ImportError as exc:
        missing: str | None = f"lokipy.logstore is not importable ({exc})"
    else:
        missing = None
    if want("ingest", "I1", "I2", "I3") and bodies is not None:
        _section("ingest", t_begin)
        if missing:
            for key in ("I1", "I2", "S1", "I3"):
                res.skip(key, missing)
        else:
            from benchmarks.bench_ingest import measure_ingest

            keys = {"I1", "I2", "I3"} if want("ingest") or only is None else set(only)
            _guarded(
                res,
                "ingest",
                lambda: measure_ingest(
                    corpus,
                    bodies,
                    res,
                    args.runs,
                    args.tmpdir,
                    only=keys.__contains__,
                    # Quick mode is a smoke run: one server start is enough to check I3.
                    http_runs=1 if args.quick else args.runs,
                ),
            )
    if want("floors") and not want("queries"):
        _section("query floors", t_begin)
        measure_floors(corpus, blocks, oracle, res, args.runs, min_time)
    if want("queries") and bodies is not None:
        _section("queries: each with its floor, interleaved", t_begin)
        _guarded(res, "queries", lambda: _queries(corpus, blocks, oracle, res, bodies.proto, args, missing))

    rows = report.evaluate(res)
    report.print_table(rows)
    context = report.ingest_context(res)
    report.print_context(context)
    env["loadavg_end"] = tuple(round(x, 2) for x in os.getloadavg())
    payload = {
        "workload": WORKLOAD,
        "env": env,
        "args": {k: str(v) for k, v in vars(args).items()},
        "command": "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "corpus": stats,
        "rows": rows,
        "ingest_context": context,
        "measurements": {k: m.as_dict() for k, m in res.items.items()},
        "skipped": res.skipped,
        "failures": [m.key for m in res.failures()],
        "total_s": time.perf_counter() - t_begin,
    }
    default_run = args.mb == 200.0 and only is None and args.seed == DEFAULT_SEED and args.hosts == N_HOSTS
    out_dir = args.report_dir or (
        REPO / "docs" / "benchmarks" if default_run else REPO / "benchmarks" / ".cache" / "report"
    )
    report.write_json(out_dir / "report.json", payload)
    if args.json:
        report.write_json(args.json, payload)
    report.write_chart(rows, out_dir / "ratios.png")
    report.write_markdown(out_dir / "report.md", payload, "ratios.png")
    print(f"\nreport: {out_dir / 'report.md'} ({payload['total_s']:.0f} s)")
    failures = res.failures()
    if failures:
        print("WRONG ANSWERS:", "; ".join(f"{m.key}: {m.error}" for m in failures))
        return 1
    return 0


def _section(name: str, t_begin: float) -> None:
    print(f"[{name}] (+{time.perf_counter() - t_begin:.0f} s)", flush=True)


def _guarded(res: Results, section: str, fn: Any) -> None:
    """Run a section; a crash is recorded as a failed check (the run fails, the report is written)."""
    try:
        fn()
    except Exception as exc:
        traceback.print_exc()
        res.add(
            Measurement(
                f"crash.{section}",
                f"{section} crashed",
                check="no crash",
                error=f"{type(exc).__name__}: {exc}",
            )
        )


def _queries(
    corpus: Corpus,
    blocks: list[Block],
    oracle: Oracle,
    res: Results,
    proto: list[bytes],
    args: argparse.Namespace,
    missing: str | None,
) -> None:
    """Q1-Q6 against a flushed store holding the corpus; floors alone without an engine."""
    if missing is None:
        from lokipy.logstore import LogStore

        missing = engine_available(LogStore)
    if missing is not None:
        print("[query floors]", flush=True)
        measure_floors(corpus, blocks, oracle, res, args.runs, args.min_time)
        for q in QUERIES:
            res.skip(q.spec.id, missing)
        return
    store, d = query_store(proto, args.tmpdir)
    try:
        measure_queries(store, corpus, blocks, oracle, res, args.runs, args.min_time)
    finally:
        store.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
