"""The logcli-style CLI against a real server on loopback (in-process, and once as a subprocess)."""

from __future__ import annotations

import io
import os
import selectors
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lokipy.api.app import create_app
from lokipy.cli.main import main
from lokipy.cli.output import Progress, rfc3339
from lokipy.config import Config, Limits
from lokipy.logstore import LogStore
from lokipy.testing.server import ThreadServer

SEC = 10**9
REPO = Path(__file__).resolve().parents[2]


class Srv:
    def __init__(self, url: str, store: LogStore) -> None:
        self.url = url
        self.store = store

    def push(self, labels: dict[str, str], values: list[tuple[int, str]], tenant: str | None = None) -> None:
        import httpx

        headers = {"Content-Type": "application/json"}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        body = {"streams": [{"stream": labels, "values": [[str(t), ln] for t, ln in values]}]}
        resp = httpx.post(self.url + "/loki/api/v1/push", content=orjson.dumps(body), headers=headers)
        assert resp.status_code == 204, resp.text


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    limits = Limits(discover_service_name=(), discover_log_levels=False, reject_old_samples=False)
    config = replace(Config(data_dir=tmp_path_factory.mktemp("cli")), limits=limits)
    store = LogStore(config=config)
    with ThreadServer(create_app(store, config)) as server:
        yield Srv(server.url, store)
    store.close()


def run(capsys: pytest.CaptureFixture[str], srv: Srv, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--addr", srv.url, "--progress", "never"] if argv[0] in ("query", "instant-query")
                else [*argv, "--addr", srv.url])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def uniq() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture()
def data(srv: Srv) -> tuple[str, int]:
    r = uniq()
    t = (time.time_ns() // SEC - 300) * SEC
    srv.push({"run": r, "app": "api"}, [(t, "api a"), (t + 2 * SEC, "api c")])
    srv.push({"run": r, "app": "web"}, [(t + SEC, "web b")])
    return r, t


def utc(t: int) -> str:
    return datetime.fromtimestamp(t // SEC, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_query_default_output(capsys: pytest.CaptureFixture[str], srv: Srv, data: tuple[str, int]) -> None:
    r, t = data
    code, out, err = run(capsys, srv, "query", f'{{run="{r}"}}', "-z", "UTC")
    assert code == 0
    assert f'Common labels: {{run="{r}"}}' in err
    assert out.splitlines() == [
        f'{utc(t + 2 * SEC)} {{app="api"}} api c',
        f'{utc(t + SEC)} {{app="web"}} web b',
        f'{utc(t)} {{app="api"}} api a',
    ]


def test_query_raw_forward_and_jsonl(
    capsys: pytest.CaptureFixture[str], srv: Srv, data: tuple[str, int]
) -> None:
    r, t = data
    code, out, _ = run(capsys, srv, "query", f'{{run="{r}"}}', "--forward", "-o", "raw")
    assert code == 0 and out == "api a\nweb b\napi c\n"
    code, out, _ = run(capsys, srv, "query", f'{{run="{r}"}}', "-o", "jsonl", "-z", "UTC", "--limit", "2")
    records = [orjson.loads(line) for line in out.splitlines()]
    assert records == [
        {"labels": {"app": "api", "run": r}, "line": "api c", "timestamp": utc(t + 2 * SEC)},
        {"labels": {"app": "web", "run": r}, "line": "web b", "timestamp": utc(t + SEC)},
    ]


def test_from_to_window(capsys: pytest.CaptureFixture[str], srv: Srv, data: tuple[str, int]) -> None:
    r, t = data
    code, out, _ = run(capsys, srv, "query", f'{{run="{r}"}}', "-o", "raw",
                       "--from", utc(t + SEC), "--to", str((t + 2 * SEC) // SEC))  # fmt: skip
    assert code == 0 and out == "web b\n"  # --from inclusive, --to exclusive


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    offsets=st.lists(st.integers(0, 6), min_size=1, max_size=15),
    limit=st.integers(1, 20),
    batch=st.integers(2, 7),
    forward=st.booleans(),
)
def test_paging_matches_a_single_request(
    srv: Srv, offsets: list[int], limit: int, batch: int, forward: bool
) -> None:
    """logcli-style paging (with many equal timestamps) returns what one big request returns."""
    from lokipy.cli.client import ClientConfig, LokiClient

    r = uniq()
    t = (time.time_ns() // SEC - 100) * SEC
    for stream in ("a", "b"):
        srv.push({"run": r, "s": stream}, [(t + o, f"{stream}{i}") for i, o in enumerate(offsets)])
    with LokiClient(ClientConfig(srv.url)) as client:
        paged = list(
            client.log_entries(f'{{run="{r}"}}', t - SEC, t + SEC, limit, forward=forward, batch=batch)
        )
        whole = list(
            client.log_entries(f'{{run="{r}"}}', t - SEC, t + SEC, limit, forward=forward, batch=5000)
        )
    assert len(whole) == min(limit, 2 * len(offsets))
    assert [(e.ts, e.line) for e in paged] == [(e.ts, e.line) for e in whole]


def test_labels_and_series(capsys: pytest.CaptureFixture[str], srv: Srv, data: tuple[str, int]) -> None:
    r, _ = data
    code, out, _ = run(capsys, srv, "labels", "--query", f'{{run="{r}"}}')
    assert code == 0 and out.splitlines() == ["app", "run"]
    code, out, _ = run(capsys, srv, "labels", "app", "--query", f'{{run="{r}"}}')
    assert out.splitlines() == ["api", "web"]
    code, out, _ = run(capsys, srv, "series", f'{{run="{r}"}}')
    assert out.splitlines() == [f'{{app="api", run="{r}"}}', f'{{app="web", run="{r}"}}']
    code, out, _ = run(capsys, srv, "series", f'{{run="{r}"}}', "--analyze-labels")
    assert "Total Streams:  2" in out and "Unique Labels:  2" in out
    assert [ln.split()[:3] for ln in out.splitlines() if ln.startswith(("app ", "run "))] == [
        ["app", "2", "2"], ["run", "1", "2"],
    ]  # fmt: skip


def test_org_id(capsys: pytest.CaptureFixture[str], srv: Srv) -> None:
    r = uniq()
    srv.push({"run": r}, [(time.time_ns() - SEC, "tenant line")], tenant="team-x")
    assert run(capsys, srv, "query", f'{{run="{r}"}}', "-o", "raw")[1] == ""
    code, out, _ = run(capsys, srv, "query", f'{{run="{r}"}}', "-o", "raw", "--org-id", "team-x")
    assert code == 0 and out == "tenant line\n"


def test_clear_errors(capsys: pytest.CaptureFixture[str], srv: Srv) -> None:
    code, _, err = run(capsys, srv, "query", '{run="x"')
    assert code == 1 and "lokipy query: error response from server (400): " in err
    code, _, err = run(capsys, srv, "instant-query", '{run="x"}')
    assert code == 1 and "log queries are not supported as an instant query type" in err
    code, _, err = run(capsys, srv, "query", '{run="x"}', "--since", "yesterday")
    assert code == 1 and 'cannot parse "yesterday" to a valid duration' in err
    code, _, err = run(capsys, srv, "series", '{run=~".*"}')
    assert code == 1 and "empty-compatible value" in err
    code = main(["labels", "--addr", "http://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot connect to http://127.0.0.1:1" in err and "LOKI_ADDR" in err


def test_progress_spinner_on_stderr() -> None:
    err = io.StringIO()
    with Progress(True, err, delay=0.0) as progress:
        progress.update(1500)
        time.sleep(0.3)
    text = err.getvalue()
    assert "querying…" in text and "1500 entries so far" in text and "done in" in text
    quiet = io.StringIO()
    with Progress(False, quiet, delay=0.0):
        time.sleep(0.05)
    assert quiet.getvalue() == ""


def test_rfc3339_zones() -> None:
    from datetime import timedelta, timezone

    t = 1700000000 * SEC + 5
    assert rfc3339(t, UTC) == "2023-11-14T22:13:20Z"
    assert rfc3339(t, UTC, nano=True) == "2023-11-14T22:13:20.000000005Z"
    assert rfc3339(t, timezone(timedelta(hours=-5, minutes=-30))) == "2023-11-14T16:43:20-05:30"


def _cli(*argv: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "lokipy", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)  # fmt: skip


def test_entry_point_with_loki_addr_and_tail(srv: Srv) -> None:
    env = {**os.environ, "LOKI_ADDR": srv.url, "PYTHONPATH": str(REPO)}
    r = uniq()
    srv.push({"run": r}, [(time.time_ns() - 2 * SEC, "before tail")])
    done = subprocess.run([sys.executable, "-m", "lokipy", "labels", "run", "--since", "1m"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)  # fmt: skip
    assert done.returncode == 0 and r in done.stdout.split()
    proc = _cli("query", "--tail", f'{{run="{r}"}}', "-o", "raw", "--since", "1m", env=env)
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)

        def next_line(timeout: float = 20.0) -> str:
            assert sel.select(timeout), "no output from lokipy query --tail"
            return proc.stdout.readline()  # type: ignore[union-attr]

        assert next_line() == "before tail\n"
        srv.push({"run": r}, [(time.time_ns(), "while tailing")])
        assert next_line() == "while tailing\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_stats_and_volume(capsys: pytest.CaptureFixture[str], srv: Srv, data: tuple[str, int]) -> None:
    r, t = data
    code, out, _ = run(capsys, srv, "stats", f'{{run="{r}"}}')
    assert code == 0
    assert out.splitlines() == ["{", "  bytes: 15 B", "  chunks: 2", "  streams: 2", "  entries: 3", "}"]
    code, out, _ = run(capsys, srv, "volume", f'{{run="{r}"}}', "--targets", "app")
    result = orjson.loads(out)
    assert [(s["metric"], s["value"][1]) for s in result] == [({"app": "api"}, "10"), ({"app": "web"}, "5")]
    code, out, _ = run(capsys, srv, "volume_range", f'{{run="{r}"}}', "--step", "1m", "--since", "10m")
    [series] = orjson.loads(out)
    assert series["metric"] == {"run": r} and series["values"]


def test_human_bytes() -> None:
    from lokipy.cli.commands import human_bytes

    assert [human_bytes(n) for n in (0, 999, 1000, 1_234_567, 5 * 10**12)] == [
        "0 B", "999 B", "1.0 kB", "1.2 MB", "5.0 TB",
    ]  # fmt: skip
