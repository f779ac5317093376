"""The object-store interface every durable file except the WAL goes through.

Local filesystem and memory now; S3-compatible storage later (``design.md``: "the way past one
machine"). Keys are ``/``-separated relative paths. Chunk objects are named by content, so a
retried put is harmless; ``create_only`` makes a second writer of the same key a no-op.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from lokipy.model.errors import NotFound, StorageUnavailable


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None: ...
    def get(self, key: str) -> bytes: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...
    def size(self, key: str) -> int: ...


class MemoryObjectStore:
    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        with self._lock:
            if create_only and key in self._objects:
                return
            self._objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        try:
            return self._objects[key]
        except KeyError:
            raise NotFound(f"object {key} not found") from None

    def list(self, prefix: str) -> Iterator[str]:
        with self._lock:
            keys = sorted(k for k in self._objects if k.startswith(prefix))
        return iter(keys)

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def size(self, key: str) -> int:
        return len(self.get(key))


class LocalObjectStore:
    """Files under a root directory; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid object key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        path = self._path(key)
        if create_only and path.exists():
            return
        tmp = path.with_name(f".{path.name}.tmp{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise StorageUnavailable(f"cannot write {path}: {err.strerror or err}") from err

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"object {key} not found") from None

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if not base.exists():
            return iter(())
        keys = []
        for dirpath, _, files in os.walk(base):
            for name in files:
                if name.startswith("."):
                    continue  # temp files of interrupted writes
                keys.append(Path(dirpath, name).relative_to(self.root).as_posix())
        return iter(sorted(keys))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
