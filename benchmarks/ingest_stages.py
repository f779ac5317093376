"""``python -m benchmarks.ingest_stages [--mb N]``: where the CPU time of I1/I2 goes, by stage.

A development tool, not part of the target table: it times each stage of the push path on
its own (CPU seconds, cyclic GC paused as during a push, best of ``--runs``), over the same push
bodies as I1/I2, next to the minimal model of ``benchmarks/ingest_models.py`` and a whole
``LogStore`` run (push, then flush). The stages are the store's own functions, called in the
order ``Store.push`` calls them:

- decode: ``decode_push`` (snappy + protobuf, or JSON) into per-stream columns;
- validate: ``Distributor.validate`` (label checks, time bounds, line sizes, joining lines);
- wal: ``encode_entries`` + ``WAL.append`` (one record per push, written to a temp folder);
- head: ``StreamHead.append`` with block cuts (block encoding, zstd of every full block);
- flush (from the whole run): the last blocks cut, chunk files written and fsynced, index.

"rest" is the whole push minus the stages: per-push bookkeeping (locks, limits, stats), and
the difference between stages timed alone and together. Every stage must handle every entry
of the corpus, or the tool stops with an error rather than print a cheaper stage.
Internal APIs are used on purpose; this module changes when they do.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.bench_ingest import JSON_TYPE, PROTO_TYPE, bench_config
from benchmarks.datasets import CACHE_DIR, load_or_generate
from benchmarks.ingest_models import ingest_json, ingest_protobuf, push_request_class
from benchmarks.pushbodies import build_bodies

TENANT = "fake"


def _cpu(fn: Callable[[], Any], runs: int) -> float:
    """Best CPU seconds of ``fn()`` over ``runs``, with the cyclic GC paused as in a push."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            c0 = time.process_time()
            fn()
            best = min(best, time.process_time() - c0)
        finally:
            gc.enable()
    return best


def _drain(items: Iterable[Any]) -> None:
    for _ in items:
        pass


def _check(stage: str, entries: int, want: int) -> None:
    """A stage that did not handle every entry measured less than the whole job."""
    if entries != want:
        raise RuntimeError(f"ingest stage {stage!r} handled {entries} entries, want {want}")


def _stages(bodies: list[bytes], content_type: str, want: int, runs: int, tmp: Path) -> dict[str, float]:
    from lokipy.logstore import LogStore
    from lokipy.store.distributor import Distributor
    from lokipy.store.head import AppendResult, StreamHead
    from lokipy.store.wal import WAL, RecordType, encode_entries
    from lokipy.wire import decode_push

    config = bench_config()
    ing = config.ingester
    out: dict[str, float] = {}
    decode = partial(decode_push, content_type=content_type, content_encoding=None, legacy=False)
    distributor = Distributor(config.limits_for(TENANT))
    now = time.time_ns()
    # Each stage is timed over all bodies with its output dropped as it goes, as in a push
    # (keeping 200 MB of decoded requests alive would slow it); the inputs of the next
    # stage are built untimed.
    out["decode"] = _cpu(lambda: _drain(map(decode, bodies)), runs)
    requests = list(map(decode, bodies))
    out["validate"] = _cpu(lambda: _drain(distributor.validate(r, TENANT, now) for r in requests), runs)
    validated = [distributor.validate(r, TENANT, now) for r in requests]
    requests.clear()
    _check("validate", sum(len(s.timestamps) for v in validated for s in v.streams), want)

    def wal() -> None:
        folder = Path(tempfile.mkdtemp(dir=tmp))
        log = WAL(folder, config.wal.segment_size, config.wal.fsync)
        for v in validated:
            log.append(RecordType.ENTRIES, encode_entries(TENANT, v.streams))
        log.close()
        shutil.rmtree(folder)

    out["wal"] = _cpu(wal, runs)

    def heads() -> None:
        held: dict[Any, StreamHead] = {}
        result = AppendResult()
        kept = 0
        for v in validated:
            for s in v.streams:
                head = held.get(s.labels)
                if head is None:
                    head = held[s.labels] = StreamHead(TENANT, s.labels, ing.chunk_block_size, ing.zstd_level)
                kept += head.append(s.timestamps, s.text, s.lengths, s.metadata, (1, 0), now, None, result)
        _check("head", kept, want)

    out["head"] = _cpu(heads, runs)
    validated.clear()

    def whole() -> tuple[float, float]:
        folder = Path(tempfile.mkdtemp(dir=tmp))
        store = LogStore(folder, config)
        c0 = time.process_time()
        accepted = sum(store.push_body(b, content_type).accepted for b in bodies)
        c1 = time.process_time()
        _check("whole push", accepted, want)
        store.flush()
        c2 = time.process_time()
        store.close()
        shutil.rmtree(folder)
        return c1 - c0, c2 - c1

    pushes = [whole() for _ in range(runs)]
    out["whole push"] = min(p for p, _ in pushes)
    out["flush"] = min(f for _, f in pushes)
    out["rest"] = out["whole push"] - sum(out[k] for k in ("decode", "validate", "wal", "head"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest_stages", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--mb", type=float, default=200.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-cache", action="store_true", help="regenerate the corpus in memory")
    args = ap.parse_args(argv)
    corpus = load_or_generate(int(args.mb * 1e6), cache_dir=None if args.no_cache else CACHE_DIR)
    bodies = build_bodies(corpus)
    request_class = push_request_class()
    tmp = Path(tempfile.mkdtemp(prefix="lokipy-stages-"))
    try:
        for name, content_type, bl, model in (
            ("JSON (I1)", JSON_TYPE, bodies.json, lambda: ingest_json(bodies.json)),
            ("protobuf (I2)", PROTO_TYPE, bodies.proto, lambda: ingest_protobuf(bodies.proto, request_class)),
        ):
            stages = _stages(bl, content_type, corpus.n_lines, args.runs, tmp)
            model_s = _cpu(model, args.runs)
            total = stages["whole push"] + stages["flush"]
            print(f"\n{name}: {corpus.n_lines:,} lines, CPU seconds (best of {args.runs})")
            for key in ("decode", "validate", "wal", "head", "rest", "flush"):
                print(f"  {key:<10} {stages[key]:6.3f}  {stages[key] / total * 100:5.1f}%")
            print(f"  {'total':<10} {total:6.3f}  ({corpus.n_lines / total / 1e6:.3f} M lines/s)")
            print(f"  {'model':<10} {model_s:6.3f}  ({corpus.n_lines / model_s / 1e6:.3f} M lines/s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
