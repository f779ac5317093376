"""Stream identity: xxhash64 of the canonical label bytes (``docs/format/labels.md``).

The id is persisted (chunk files, index segments, WAL records), so it is pinned by a golden
test. It is only an id: two label sets whose ids collide are still two streams, because every
lookup compares the full label set too.
"""

from __future__ import annotations

import xxhash

from lokipy.model.labels import Labels


def canonical_bytes(labels: Labels) -> bytes:
    """UTF-8 of the canonical text; raw bytes from ``\\xNN`` escapes stay raw."""
    return str(labels).encode("utf-8", "surrogateescape")


def stream_id(labels: Labels) -> int:
    return xxhash.xxh64_intdigest(canonical_bytes(labels))


def loki_fingerprint(labels: Labels) -> int:
    """Loki's own fingerprint (Prometheus label hash: name 0xff value 0xff ...), for reference."""
    h = xxhash.xxh64()
    for name, value in labels:
        if name == "__name__":
            continue
        h.update(name.encode("utf-8", "surrogateescape") + b"\xff")
        h.update(value.encode("utf-8", "surrogateescape") + b"\xff")
    return h.intdigest()
