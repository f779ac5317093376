"""``/metrics``: a strict reading of the text format, counters that follow pushes and flushes,
request-duration histograms, and a real Prometheus server scraping it."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lokipy.api.metrics import Exposition, route_label
from lokipy.testing.server import free_port
from tests.api.conftest import Server

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"({_NAME})(\{{(.*)\}})? (\S+)\Z")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|\Z)')


@dataclass
class Family:
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse_labels(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        m = _LABEL.match(body, pos)
        assert m, f"bad labels at {body[pos:]!r}"
        assert m.group(1) not in out, f"duplicate label {m.group(1)}"
        out[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return out


def parse_exposition(text: str) -> dict[str, Family]:
    """Prometheus text format 0.0.4, strictly: HELP then TYPE before any sample, families once."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    current: str | None = None
    for line in text[:-1].split("\n"):  # only \n ends a line (str.splitlines would split more)
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, f"family {name} appears twice"
            families[name] = Family("", help_text)
            current = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name == current and kind in ("counter", "gauge", "histogram", "summary", "untyped")
            families[name].kind = kind
        else:
            m = _SAMPLE.match(line)
            assert m, f"bad sample line {line!r}"
            name, labels, value = m.group(1), parse_labels(m.group(3) or ""), float(m.group(4))
            assert current is not None
            base = current
            fam = families[base]
            allowed = (
                {base} if fam.kind != "histogram" else {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
            )
            assert name in allowed, f"{name} outside its family {base}"
            if fam.kind == "counter":
                assert name.endswith("_total") and value >= 0
            fam.samples.append((name, labels, value))
    return families


def value(fams: dict[str, Family], name: str, family: str | None = None, **labels: str) -> float:
    samples = fams[family or name].samples
    hits = [v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def scrape(server: Server) -> dict[str, Family]:
    resp = server.http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(resp.text)


def push(server: Server, labels: dict[str, str], lines: list[str]) -> None:
    t = time.time_ns()
    body = {"streams": [{"stream": labels, "values": [[str(t + i), ln] for i, ln in enumerate(lines)]}]}
    resp = server.http.post(
        "/loki/api/v1/push", content=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 204


def test_loki_metric_names_follow_pushes_and_flushes(fresh_server: Server) -> None:
    before = scrape(fresh_server)
    for name in ("loki_distributor_lines_received_total", "loki_distributor_bytes_received_total",
                 "loki_ingester_memory_streams", "loki_ingester_chunks_flushed_total",
                 "loki_request_duration_seconds", "lokipy_wal_bytes", "lokipy_chunks_on_disk",
                 "lokipy_disk_bytes"):  # fmt: skip
        assert name in before, name
    assert before["loki_request_duration_seconds"].kind == "histogram"
    push(fresh_server, {"app": "a"}, ["one", "two", "three"])
    push(fresh_server, {"app": "b"}, ["four"])
    after = scrape(fresh_server)
    assert value(after, "loki_distributor_lines_received_total") == 4
    assert value(after, "loki_distributor_bytes_received_total") == len("onetwothreefour")
    assert value(after, "loki_ingester_memory_streams") == 2
    assert value(after, "lokipy_wal_bytes") > 0
    assert value(after, "lokipy_chunks_on_disk") == 0
    fresh_server.store.flush()
    flushed = scrape(fresh_server)
    assert value(flushed, "loki_ingester_chunks_flushed_total", reason="forced") == 2
    assert value(flushed, "lokipy_chunks_on_disk") == 2
    assert value(flushed, "lokipy_disk_bytes") >= value(flushed, "lokipy_wal_bytes")
    assert value(flushed, "loki_ingester_chunk_stored_bytes_total") > 0


def test_request_durations_by_route_method_status(fresh_server: Server) -> None:
    http = fresh_server.http
    http.get("/loki/api/v1/query_range", params={"query": '{app="a"}'})
    http.get("/loki/api/v1/query_range", params={"query": '{app="a"}', "limit": "0"})
    http.post("/loki/api/v1/query_range", data={"query": '{app="a"}'})
    http.get("/loki/api/v1/label/app/values")
    http.get("/no/such/path")
    push(fresh_server, {"app": "a"}, ["one"])
    bad = b'{"streams":[{"stream":{"a-b":"c"},"values":[["1","x"]]}]}'
    json_type = {"Content-Type": "application/json"}
    assert http.post("/loki/api/v1/push", content=bad, headers=json_type).status_code == 400
    assert http.get("/loki/api/v1/push").status_code == 405
    fams = scrape(fresh_server)
    h = "loki_request_duration_seconds"
    count = f"{h}_count"

    def n(**labels: str) -> float:
        return sum(
            v
            for name, ls, v in fams[h].samples
            if name == count and all(ls.get(k) == x for k, x in labels.items())
        )

    assert n(method="GET", route="loki_api_v1_query_range", status_code="200", ws="false") == 1
    assert n(method="GET", route="loki_api_v1_query_range", status_code="400", ws="false") == 1
    assert n(method="POST", route="loki_api_v1_query_range", status_code="200") == 1
    assert n(route="loki_api_v1_label_name_values", status_code="200") == 1
    assert n(route="notfound", status_code="404") == 1
    assert n(method="POST", route="loki_api_v1_push", status_code="204") == 1
    assert n(method="POST", route="loki_api_v1_push", status_code="400") == 1
    assert n(method="GET", route="loki_api_v1_push", status_code="405") == 1
    # Buckets are cumulative and end at +Inf == _count, per series.
    series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for name, ls, v in fams[h].samples:
        if name == f"{h}_bucket":
            key = tuple(sorted((k, x) for k, x in ls.items() if k != "le"))
            series.setdefault(key, []).append((float(ls["le"]), v))
    for key, buckets in series.items():
        les = [le for le, _ in buckets]
        counts = [c for _, c in buckets]
        assert les == sorted(les) and math.isinf(les[-1])
        assert counts == sorted(counts)
        assert counts[-1] == value(fams, count, h, **dict(key))


def test_route_label_is_dskits() -> None:
    assert route_label("/loki/api/v1/label/{name}/values") == "loki_api_v1_label_name_values"
    assert route_label("/api/prom/push") == "api_prom_push"
    assert route_label("/") == "root"


@given(st.text(max_size=30), st.floats(allow_nan=False, allow_infinity=True) | st.integers(0, 2**63))
def test_exposition_escapes_any_label_value(label_value: str, number: float) -> None:
    out = Exposition()
    out.family("x_total", "counter", "help")
    out.sample("x_total", abs(number), [("v", label_value)])
    fams = parse_exposition(out.text())
    [(_, labels, got)] = fams["x_total"].samples
    assert labels == {"v": label_value}
    assert got == float(abs(number))


# --- a real Prometheus ------------------------------------------------------------------------


def test_prometheus_scrapes_lokipy(fresh_server: Server, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus binary is absent (Debian: apt-get install -y prometheus)")
    run = uuid.uuid4().hex[:8]
    push(fresh_server, {"run": run}, [f"line {i}" for i in range(7)])
    target = fresh_server.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: lokipy\n    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
        deadline = time.monotonic() + 60
        result: list = []  # type: ignore[type-arg]
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                body = api.get(
                    "/api/v1/query", params={"query": "loki_distributor_lines_received_total"}
                ).json()
                result = body["data"]["result"]
            except (httpx.HTTPError, ValueError, KeyError):
                result = []
            if result:
                break
            time.sleep(0.5)
        assert result, "Prometheus never stored a sample: " + (tmp_path / "prometheus.log").read_text()
        [sample] = result
        assert sample["metric"]["job"] == "lokipy" and sample["value"][1] == "7"
        targets = api.get("/api/v1/targets").json()["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up"] and targets[0]["lastError"] == ""
        query = {"query": 'loki_request_duration_seconds_count{route="metrics",status_code="200"}'}
        deadline = time.monotonic() + 30  # a scrape is timed once it is answered: seen from the next one on
        while not api.get("/api/v1/query", params=query).json()["data"]["result"]:
            assert time.monotonic() < deadline, "the request histogram never reached Prometheus"
            time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
