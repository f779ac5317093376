"""A disk that turns read-only (EROFS) under a running server: pushes get 503 so clients retry,
reads keep working, nothing acknowledged is damaged, and everything resumes when it is writable
again — through a restart, exactly once. (ENOSPC is covered in tests/store/test_disk_full.py.)"""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from lokipy.api.app import create_app
from lokipy.config import Config
from lokipy.logstore import LogStore
from lokipy.model.errors import StorageUnavailable
from lokipy.store import objstore
from lokipy.testing.server import ThreadServer
from tests.store.test_store import PLAIN


class Disk:
    """Makes the WAL's writes and the object store's file creations fail with EROFS on demand."""

    def __init__(self, store: LogStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read_only = False
        wal = store.store.wal
        assert wal is not None
        inner = wal._file
        disk = self

        class File:
            def write(self, data: bytes) -> int:
                if disk.read_only:
                    raise OSError(errno.EROFS, "Read-only file system")
                return int(inner.write(data))

            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

        wal._file = File()

        real_open_new = objstore._open_new

        def guarded_open_new(path: str) -> int:
            if disk.read_only:
                raise OSError(errno.EROFS, "Read-only file system", path)
            return real_open_new(path)

        monkeypatch.setattr(objstore, "_open_new", guarded_open_new)


def test_read_only_disk_is_503_reads_keep_working_and_writes_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(data_dir=tmp_path, limits=PLAIN)
    store = LogStore(config=config)
    disk = Disk(store, monkeypatch)
    t = time.time_ns()
    with ThreadServer(create_app(store, config)) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:

        def push(line: str, ts: int) -> httpx.Response:
            body = {"streams": [{"stream": {"job": "ro"}, "values": [[str(ts), line]]}]}
            return http.post("/loki/api/v1/push", json=body)

        def read() -> list[str]:
            resp = http.get("/loki/api/v1/query_range",
                            params={"query": '{job="ro"}', "start": str(t - 10**9), "end": str(t + 10**9),
                                    "direction": "forward"})  # fmt: skip
            assert resp.status_code == 200, resp.text
            return [v[1] for s in resp.json()["data"]["result"] for v in s["values"]]

        assert push("before", t).status_code == 204
        disk.read_only = True
        resp = push("refused", t + 1)
        assert resp.status_code == 503, resp.text
        assert "Read-only file system" in resp.text
        with pytest.raises(StorageUnavailable, match="Read-only file system"):
            store.flush()  # the chunk stays in memory, its entries stay in the WAL
        assert read() == ["before"]  # reads are served from memory meanwhile
        assert not list((tmp_path / "store").rglob("chunks/*/*/*"))
        disk.read_only = False
        assert push("after", t + 2).status_code == 204
        assert store.flush() == 2  # the chunk kept from the failed flush, and the new head
        assert read() == ["before", "after"]
    store.close()
    with LogStore(config=config) as reopened:
        lines = [e.line for s in reopened.select('{job="ro"}', t - 10**9, t + 10**9, direction="forward")
                 for e in s.entries]  # fmt: skip
        assert lines == [b"before", b"after"]
