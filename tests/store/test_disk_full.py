"""Disk full / read-only disk: pushes get a 5xx-class error, nothing acknowledged is damaged,
and service resumes when space returns (ENOSPC injected at the WAL and chunk writes)."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import httpx
import pytest

from lokipy.api.app import create_app
from lokipy.config import Config, Limits
from lokipy.logstore import LogStore
from lokipy.model.errors import StorageUnavailable
from lokipy.testing.server import ThreadServer

PLAIN = Limits(discover_service_name=(), discover_log_levels=False)


class FlakyFile:
    """Wraps the WAL's segment file; raises ENOSPC while ``full`` is set."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.full = False

    def write(self, data: bytes) -> int:
        if self.full:
            self.inner.write(data[: len(data) // 2])  # a torn write, then the error
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.inner.write(data)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def test_enospc_on_the_wal_is_503_and_recovers(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path, limits=PLAIN)
    store = LogStore(config=config)
    wal = store.store.wal
    assert wal is not None
    flaky = FlakyFile(wal._file)
    wal._file = flaky
    t = time.time_ns()
    with ThreadServer(create_app(store, config)) as srv:

        def push(line: str, ts: int) -> httpx.Response:
            body = {"streams": [{"stream": {"job": "disk"}, "values": [[str(ts), line]]}]}
            return httpx.post(srv.url + "/loki/api/v1/push", json=body)

        assert push("before", t).status_code == 204
        flaky.full = True
        resp = push("while full", t + 1)
        assert resp.status_code == 503
        assert "No space left on device" in resp.text
        flaky.full = False
        assert push("after", t + 2).status_code == 204
    lines = [e.line for s in store.select('{job="disk"}') for e in s.entries]
    assert lines == [b"after", b"before"]
    store.close()
    # The torn record was truncated away: a restart replays cleanly, nothing lost or doubled.
    with LogStore(config=config) as reopened:
        assert [e.line for s in reopened.select('{job="disk"}') for e in s.entries] == [b"after", b"before"]


def test_a_failed_chunk_write_keeps_data_in_memory_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(data_dir=tmp_path, limits=PLAIN)
    store = LogStore(config=config)
    t = time.time_ns()
    store.push({"job": "x"}, [(t, "kept")])
    objects = store.store.objects

    def failing_put(*args: object, **kwargs: object) -> None:
        raise StorageUnavailable("cannot write: No space left on device")

    # Chunks go through put_many (one durable batch per flush), index segments through put.
    monkeypatch.setattr(objects, "put_many", failing_put)
    monkeypatch.setattr(objects, "put", failing_put)
    with pytest.raises(StorageUnavailable):
        store.flush()
    assert [e.line for s in store.select('{job="x"}') for e in s.entries] == [b"kept"]
    monkeypatch.undo()
    assert store.flush() == 1
    assert [e.line for s in store.select('{job="x"}') for e in s.entries] == [b"kept"]
    store.close()
