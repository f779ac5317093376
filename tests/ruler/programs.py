"""Real Prometheus and Alertmanager (Debian packages) on free loopback ports, and a webhook
receiver recording what Alertmanager delivers. Skips only when the binaries are absent."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from lokipy.testing.server import free_port

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def require_binary(path: str) -> str:
    found = shutil.which(path)
    if found is None:
        pytest.skip(f"{path} is not installed (apt-get install -y prometheus prometheus-alertmanager)")
    return found


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready")


class Program:
    def __init__(self, cmd: list[str], ready_url: str, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        _wait(ready_url, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_prometheus(tmp: Path) -> tuple[Program, str]:
    binary = require_binary(PROMETHEUS)
    port = free_port()
    cfg = tmp / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1m\n")
    cmd = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'prom-data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return Program(cmd, url + "/-/ready", tmp / "prometheus.log"), url


def start_alertmanager(tmp: Path, webhook_url: str) -> tuple[Program, str]:
    binary = require_binary(ALERTMANAGER)
    port = free_port()
    cfg = tmp / "alertmanager.yml"
    cfg.write_text(yaml.safe_dump({
        "route": {"receiver": "hook", "group_by": ["alertname", "username"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }))  # fmt: skip
    cmd = [binary, f"--config.file={cfg}", f"--storage.path={tmp / 'am-data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return Program(cmd, url + "/-/ready", tmp / "alertmanager.log"), url


class Webhook:
    """Records every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.cond:
                    hook.bodies.append(json.loads(body))
                    hook.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for b in self.bodies:
                    if predicate(b):
                        return b
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"webhook got no matching delivery in {timeout}s: {self.bodies}")
                self.cond.wait(left)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
