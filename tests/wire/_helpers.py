"""Shared helpers for the wire tests: normalise decoded streams for comparison."""

from __future__ import annotations

from typing import Any

from lokipy.model.entry import NO_METADATA, PushRequest, PushStream
from lokipy.model.labels import Labels


def canonical(stream: PushStream) -> Labels:
    """Decoded labels as a Labels set, whatever form the decoder left them in."""
    return stream.labels if isinstance(stream.labels, Labels) else Labels.parse(stream.labels)


def rows(stream: PushStream) -> list[tuple[int, bytes, tuple[tuple[str, str], ...]]]:
    return [
        (t, line, stream.metadata_at(i))
        for i, (t, line) in enumerate(zip(stream.timestamps, stream.lines, strict=True))
    ]


def expected_rows(entries: list[dict[str, Any]]) -> list[tuple[int, bytes, Any]]:
    return [
        (
            int(e["ts"]),
            e["line"].encode("utf-8"),
            tuple(sorted((e.get("structured_metadata") or {}).items())) or NO_METADATA,
        )
        for e in entries
    ]


def normalised(req: PushRequest) -> list[tuple[Labels, list[tuple[int, bytes, Any]]]]:
    return [(canonical(s), rows(s)) for s in req.streams]
