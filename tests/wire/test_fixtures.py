"""Every push body in ../shared/fixtures (hand-built and captured from real clients) decodes
to exactly the streams its sidecar lists: labels, timestamps, lines, structured metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lokipy.model.labels import Labels
from lokipy.wire import decode_push, decompress_block
from tests.shared import require_shared, shared_dir
from tests.wire._helpers import canonical, expected_rows, normalised


def _client_bins() -> list[str]:
    base = shared_dir()
    if base is None or not (base / "fixtures" / "clients").is_dir():
        return ["(shared fixtures absent)"]
    index = json.loads((base / "fixtures" / "clients" / "INDEX.json").read_text())
    names: list[str] = []
    for fx in index["fixtures"]:
        if fx["kind"] == "push":
            names += [f for f in fx["files"] if f.endswith(".bin")]
    return sorted(names)


def _sidecar_request(bin_path: Path) -> tuple[dict, dict]:
    stem = bin_path.name.removesuffix(".bin")
    fixture = stem.rsplit(".", 1)[0] if stem.rsplit(".", 1)[-1].isdigit() else stem
    sidecar = json.loads((bin_path.parent / f"{fixture}.json").read_text())
    (request,) = [r for r in sidecar["requests"] if r["body_file"] == bin_path.name]
    return sidecar, request


@pytest.mark.parametrize("name", _client_bins())
def test_client_fixture_decodes_to_sidecar(name: str) -> None:
    path = require_shared("fixtures", "clients", name)
    _, request = _sidecar_request(path)
    body = path.read_bytes()
    assert hashlib.sha256(body).hexdigest() == request["body_sha256"]
    req = decode_push(
        body,
        request["content_type"],
        request["content_encoding"],
        legacy=request["path"] == "/api/prom/push",
    )
    expected = [
        (Labels.from_map(s["labels"]), expected_rows(s["entries"])) for s in request["decoded"]["streams"]
    ]
    assert normalised(req) == expected
    # Protobuf and legacy JSON keep the label text exactly as the client sent it.
    for stream, exp in zip(req.streams, request["decoded"]["streams"], strict=True):
        if exp.get("labels_raw") is not None:
            assert stream.labels == exp["labels_raw"]


def test_every_client_push_fixture_is_covered() -> None:
    clients = require_shared("fixtures", "clients")
    on_disk = {p.name for p in clients.glob("*.bin") if not p.name.startswith(("alerting__", "query__"))}
    assert on_disk == set(_client_bins())


@pytest.mark.parametrize(
    ("body", "sidecar"),
    [
        ("push_proto_snappy.bin", "push_proto_snappy.expected.json"),
        ("push_json_gzip.bin", "push_json_gzip.expected.json"),
    ],
)
def test_hand_built_fixture_decodes_to_sidecar(body: str, sidecar: str) -> None:
    data = require_shared("fixtures", body).read_bytes()
    exp = json.loads(require_shared("fixtures", sidecar).read_text())
    headers = exp["request"]["headers"]
    req = decode_push(data, headers["Content-Type"], headers.get("Content-Encoding"), legacy=False)
    assert len(data) == exp["body_bytes"]
    assert [str(canonical(s)) for s in req.streams] == [s["labels"] for s in exp["streams"]]
    assert normalised(req) == [
        (Labels.from_map(s["label_map"]), expected_rows(s["entries"])) for s in exp["streams"]
    ]
    assert req.entry_count() == exp["total_entries"]


@pytest.mark.parametrize("parts", [("push_proto_snappy.bin",), ("clients", "winston_loki_proto.bin")])
def test_proto_fixtures_reencode_byte_exact(parts: tuple[str, ...]) -> None:
    """Our encoder reproduces the client's protobuf bytes exactly (Go's field order)."""
    from lokipy.wire import decode_push_proto, encode_push_proto_raw

    data = require_shared("fixtures", *parts).read_bytes()
    raw = decompress_block(data, 1 << 20)
    assert encode_push_proto_raw(decode_push_proto(raw)) == raw


def test_proto_fixture_preamble() -> None:
    data = require_shared("fixtures", "push_proto_snappy.bin").read_bytes()
    assert data[:2] == b"\x90\x04"  # uvarint 528
    assert len(decompress_block(data, 1 << 20)) == 528
