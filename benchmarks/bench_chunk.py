"""Chunk format benchmark: encode/decode speed and bytes on disk against zstd -3 of the text.

Run: ``python -m benchmarks.bench_chunk [--quick] [--json FILE]``.

The corpus is shaped like ``lokipy-bench-v1`` (performance.md): nginx access 45%, logfmt app
40%, osquery JSON 15%, 196 streams {host, job, level}, one hour of strictly increasing random
nanosecond timestamps, cut per stream into ~256 KiB blocks. It is generated here from a fixed
seed (the package never reads ../shared), so figures are close to, not identical with, the
shared harness's. Floors are measured in the same run: zstd-3 compression of each block's text,
zstd decompression plus ``bytes.find`` over it, and zstd -3 of the whole raw text in time order.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import zstandard

from lokipy.chunk import (
    ChunkReader,
    ChunkWriter,
    decode_block,
    decode_block_timestamps,
    encode_block,
)
from lokipy.chunk.block import layout

T0 = 1_700_000_000 * 10**9
SPAN = 3600 * 10**9
BLOCK = 256 * 1024
HOSTS = 28
CHUNK_TARGET = 1536 * 1024  # design.md: a chunk closes near 1.5 MiB compressed

_PATHS = (
    "/api/v1/users",
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/cart",
    "/healthz",
    "/static/app.js",
    "/metrics",
    "/api/v2/search?q={q}",
    "/login",
    "/api/v1/inventory/{id}",
)
_UAS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "curl/8.4.0",
    "Prometheus/2.48.0",
    "kube-probe/1.28",
)
_CALLERS = (
    "handler.go:142",
    "orders/service.go:88",
    "db/pool.go:311",
    "auth/jwt.go:57",
    "cache/redis.go:204",
    "worker/queue.go:73",
)
_MSGS = {
    "info": (
        "request completed",
        "cache hit",
        "cache miss",
        "order created",
        "payment authorized",
        "job scheduled",
    ),
    "warn": ("slow query", "retrying request", "upstream timeout, retrying"),
    "error": ("request failed", "database error", "upstream connection refused"),
}
_ERRS = ("connection refused", "i/o timeout", "context deadline exceeded", "unexpected EOF")
_USERS = ("alice", "bob", "carol", "root", "ubuntu", "deploy", "postgres")
_METHODS = ("GET",) * 8 + ("POST", "PUT")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _line(rng: random.Random, job: str, host: str, ts: int) -> tuple[str, bytes]:
    sec, ms = divmod(ts // 1_000_000, 1000)
    tm = time.gmtime(sec)
    r = rng.random()
    if job == "nginx":
        level, status = (
            ("info", rng.choice((200, 200, 200, 204, 301, 304)))
            if r < 0.9
            else ("warn", rng.choice((400, 403, 404, 429)))
            if r < 0.97
            else ("error", rng.choice((500, 502, 503, 504)))
        )
        path = rng.choice(_PATHS).replace("{id}", str(rng.randrange(100000)))
        path = path.replace("{q}", rng.choice(("shoes", "lamp", "desk")))
        text = (
            f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)} - - "
            f"[{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:{tm.tm_hour:02d}:"
            f'{tm.tm_min:02d}:{tm.tm_sec:02d} +0000] "{rng.choice(_METHODS)} {path} HTTP/1.1" '
            f'{status} {rng.randrange(120, 20000)} "-" "{rng.choice(_UAS)}" '
            f'rt={rng.random() * 0.3:.3f} uct="0.001" host={host}'
        )
        return level, text.encode()
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
    if job == "app":
        level = "info" if r < 0.85 else "warn" if r < 0.95 else "error"
        text = (
            f"ts={iso}.{ms:03d}Z level={level} caller={rng.choice(_CALLERS)} "
            f'msg="{rng.choice(_MSGS[level])}" method={rng.choice(_METHODS)} '
            f"path=/api/v1/orders status=200 duration_ms={rng.randrange(3000)} "
            f"user_id={rng.randrange(50000)} trace_id={rng.getrandbits(64):016x}"
        )
        if level == "error":
            text += f' err="{rng.choice(_ERRS)}" status=500'
        return level, text.encode()
    user = rng.choice(_USERS)
    text = (
        f'{{"name":"pack_incident-response_last","hostIdentifier":"{host}",'
        f'"calendarTime":"{iso}","unixTime":{sec},"epoch":0,"counter":{rng.randrange(400)},'
        f'"decorations":{{"username":"{user}"}},"columns":{{"username":"{user}",'
        f'"host":"10.0.{rng.randrange(4)}.{rng.randrange(256)}","tty":"pts/{rng.randrange(3)}",'
        f'"pid":"{rng.randrange(100, 60000)}","time":"{sec}"}},"action":"added"}}'
    )
    return "info", text.encode()


Block = tuple[list[int], list[bytes]]
StreamKey = tuple[str, str, str]


def make_corpus(target_bytes: int, seed: int = 20240601) -> tuple[list[Block], list[StreamKey], bytes, int]:
    """Per-stream ~256 KiB blocks with their stream keys, the raw text in time order
    (newline-terminated, as ``zstd -3 file`` would see it), and the line count."""
    rng = random.Random(seed)
    n_est = target_bytes // 212
    dt = SPAN // n_est
    heads: dict[StreamKey, tuple[list[int], list[bytes], list[int]]] = {}
    blocks: list[Block] = []
    keys: list[StreamKey] = []
    raw: list[bytes] = []
    total = i = 0
    while total < target_bytes:
        ts = T0 + i * dt + int(rng.random() * dt)
        r = rng.random()
        job = "nginx" if r < 0.45 else "app" if r < 0.85 else "osquery"
        host = f"host-{rng.randrange(HOSTS):02d}"
        level, line = _line(rng, job, host, ts)
        head = heads.setdefault((job, host, level), ([], [], [0]))
        head[0].append(ts)
        head[1].append(line)
        head[2][0] += len(line) + 1
        if head[2][0] >= BLOCK:
            blocks.append((head[0], head[1]))
            keys.append((job, host, level))
            heads[(job, host, level)] = ([], [], [0])
        raw.append(line)
        total += len(line) + 1
        i += 1
    for key, head in sorted(heads.items()):
        if head[0]:
            blocks.append((head[0], head[1]))
            keys.append(key)
    return blocks, keys, b"\n".join(raw) + b"\n", i


def _median_time(fn: Callable[[], object], runs: int) -> float:
    """Median CPU time of ``runs`` runs after one warm-up.

    CPU time, not wall time: the figures are single-core throughputs, and on a shared machine
    wall time mostly measures the neighbours (ratios to the same-run floors hold either way).
    """
    fn()
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def _chunks(keys: list[StreamKey], encoded: list[bytes]) -> list[bytes]:
    """Per-stream chunks closed near 1.5 MiB compressed, as the store cuts them."""
    by_stream: dict[StreamKey, list[bytes]] = {}
    for key, buf in zip(keys, encoded, strict=True):
        by_stream.setdefault(key, []).append(buf)
    out = []
    for (job, host, level), bufs in sorted(by_stream.items()):
        labels = f'{{host="{host}", job="{job}", level="{level}"}}'.encode()
        writer = ChunkWriter(labels)
        for buf in bufs:
            if writer.compressed_size + len(buf) > CHUNK_TARGET and writer.block_count:
                out.append(writer.finish())
                writer = ChunkWriter(labels)
            writer.add_block(buf)
        out.append(writer.finish())
    return out


def run(quick: bool, *, target_bytes: int | None = None) -> dict[str, Any]:
    """Measure the chunk layer; returns a flat dict of figures (MB = 10**6 raw line bytes).

    ``target_bytes`` overrides the corpus size (20 MB quick, 100 MB otherwise).
    """
    size = target_bytes or (20_000_000 if quick else 100_000_000)
    blocks, keys, raw_text, n_lines = make_corpus(size)
    runs = 3 if quick else 5
    line_bytes = sum(sum(map(len, lines)) for _, lines in blocks)
    mb = line_bytes / 1e6
    texts = [b"".join(lines) for _, lines in blocks]
    cctx = zstandard.ZstdCompressor(level=3)
    dctx = zstandard.ZstdDecompressor()
    ztexts = [cctx.compress(t) for t in texts]
    encoded = [encode_block(ts, lines) for ts, lines in blocks]
    _check(blocks, encoded)
    out: dict[str, Any] = {
        "corpus_mb": size / 1e6,
        "lines": n_lines,
        "mean_line_bytes": line_bytes / n_lines,
        "blocks": len(blocks),
    }

    # Speed, each next to the floor it is a ratio of, measured in the same run.
    t = _median_time(lambda: [encode_block(ts, lines) for ts, lines in blocks], runs)
    out["encode_mb_s"] = mb / t
    t = _median_time(lambda: [cctx.compress(x) for x in texts], runs)
    out["floor_zstd3_compress_mb_s"] = mb / t
    out["decode_mb_s"] = mb / _median_time(lambda: [decode_block(b) for b in encoded], runs)
    t = _median_time(lambda: [dctx.decompress(z) for z in ztexts], runs)
    out["floor_zstd_decompress_mb_s"] = mb / t
    t = _median_time(lambda: [decode_block(b).data.find(b"error") for b in encoded], runs)
    out["decode_find_mb_s"] = mb / t
    t = _median_time(lambda: [dctx.decompress(z).find(b"error") for z in ztexts], runs)
    out["floor_decompress_find_mb_s"] = mb / t
    out["decode_find_over_floor"] = out["decode_find_mb_s"] / out["floor_decompress_find_mb_s"]
    t = _median_time(lambda: [decode_block_timestamps(b) for b in encoded], runs)
    out["timestamps_m_entries_s"] = n_lines / t / 1e6
    chunks = _chunks(keys, encoded)
    readers = [ChunkReader(c) for c in chunks]
    t = _median_time(lambda: [ChunkReader(c).metas for c in chunks], runs)
    out["chunk_open_us"] = t / len(chunks) * 1e6
    out["chunks"] = len(chunks)
    if sum(r.count for r in readers) != n_lines:
        raise AssertionError("chunks lost entries")

    # Bytes on disk (S1): chunks against zstd -3 of the whole raw text in time order.
    whole = len(zstandard.ZstdCompressor(level=3).compress(raw_text))
    chunk_bytes = sum(map(len, chunks))
    text_frames = sum(map(len, ztexts))
    cols = {"timestamps": 0, "lengths": 0}
    for buf in encoded:
        lay = layout(buf)
        cols["timestamps"] += lay.ts[1] - lay.ts[0]
        cols["lengths"] += lay.lens[1] - lay.lens[0]
    out["zstd3_whole_text_bytes"] = whole
    out["zstd3_block_texts_bytes"] = text_frames
    out["chunk_bytes"] = chunk_bytes
    out["s1_chunks_over_zstd3_whole"] = chunk_bytes / whole
    out["block_texts_over_zstd3_whole"] = text_frames / whole
    out["compression_ratio"] = line_bytes / chunk_bytes
    out["overhead_bytes_per_entry"] = (chunk_bytes - text_frames) / n_lines
    out["timestamp_bytes_per_entry"] = cols["timestamps"] / n_lines
    out["length_bytes_per_entry"] = cols["lengths"] / n_lines
    out["framing_bytes_per_entry"] = (
        chunk_bytes - text_frames - cols["timestamps"] - cols["lengths"]
    ) / n_lines
    return out


def _check(blocks: list[Block], encoded: list[bytes]) -> None:
    """A fast wrong answer is worthless: the decoded corpus must equal the input."""
    for (ts, lines), buf in zip(blocks, encoded, strict=True):
        batch = decode_block(buf)
        if list(batch.timestamps) != ts or batch.lines() != lines:
            raise AssertionError("chunk round trip differs from the input")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 MB instead of 100 MB")
    parser.add_argument("--mb", type=float, help="corpus size in MB (overrides --quick)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(args.quick, target_bytes=int(args.mb * 1e6) if args.mb else None)
    for key, value in figures.items():
        print(f"{key:<34} {value:,.3f}" if isinstance(value, float) else f"{key:<34} {value:,}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
