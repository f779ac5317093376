"""``lokipy serve --sink`` and ``lokipy sink-wait`` as a benchmark script would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lokipy.model.entry import PushRequest, PushStream
from lokipy.testing.server import free_port, wait_ready
from lokipy.wire import encode_push_proto

ROOT = Path(__file__).resolve().parents[2]


def lokipy(*args: str) -> list[str]:
    return [sys.executable, "-m", "lokipy", *args]


@pytest.mark.slow
def test_serve_sink_and_sink_wait(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    port = free_port()
    addr = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        lokipy("serve", "--sink", "--port", str(port), "--log-level", "warning"),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_ready(f"http://{addr}", 60, proc)
        waiter = subprocess.Popen(
            lokipy("sink-wait", "--addr", addr, "--lines", "3000", "--timeout", "60", "--json"),
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        start = time.time_ns()
        with httpx.Client(base_url=f"http://{addr}") as http:
            for batch in range(3):
                ts = [start + batch * 1000 + i for i in range(1000)]
                body = encode_push_proto(PushRequest([PushStream('{job="bench"}', ts, [b"x" * 50] * 1000)]))
                assert http.post("/loki/api/v1/push", content=body).status_code == 204
                time.sleep(0.05)
        out, _ = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, out
        report = json.loads(out)
        assert report["reached"] and report["lines"] == 3000 and report["bytes"] == 150_000
        assert report["requests"] == 3 and report["lines_per_s"] > 0 and report["span_s"] > 0
        # A target that never arrives: exit 1 and a report saying so.
        late = subprocess.run(
            lokipy("sink-wait", "--addr", addr, "--lines", "3001", "--timeout", "0.5"),
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert late.returncode == 1 and late.stdout.startswith("TIMED OUT before 3,001 lines: 3,000 lines")
        assert not list(tmp_path.iterdir()), "sink mode must write nothing"
    finally:
        proc.terminate()
        proc.wait(30)
