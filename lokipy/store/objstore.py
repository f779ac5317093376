"""The object-store interface every durable file except the WAL goes through.

Local filesystem and memory now; S3-compatible storage later (``design.md``: "the way past one
machine"). Keys are ``/``-separated relative paths. Chunk objects are named by content, so a
retried put is harmless; ``create_only`` makes a second writer of the same key a no-op.

Durability contract: when ``put`` or ``put_many`` returns, every object it wrote is durable
(survives a power cut), and no key ever names bytes that are not durable yet: a crash leaves
each key either absent or complete. ``put_many`` gives that for a whole batch at the cost of
a couple of syncs instead of two fsyncs per object (a flush of 20 000 streams is 20 000 files).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from lokipy.model.errors import NotFound, StorageUnavailable
from lokipy.store.durable import FsyncBatch, SyncBatch, Syncer, SyncMode, make_syncer


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None: ...
    def put_many(self, items: Sequence[tuple[str, bytes]], *, create_only: bool = False) -> None:
        """Write every object; all of them are durable when it returns (see module docstring)."""
        ...

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

    def put_many(self, items: Sequence[tuple[str, bytes]], *, create_only: bool = False) -> None:
        for key, data in items:
            self.put(key, data, create_only=create_only)

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
    """Files under a root directory; a key appears only once its bytes are durable
    (temp file, sync, rename, sync of the directory).

    ``sync`` picks how a batch is made durable (``lokipy.store.durable``: a mode, or a
    :data:`Syncer` of one's own); batches smaller than ``batch_min`` always use the fsync
    batch, cheaper than a filesystem-wide ``syncfs`` when there are only a few files and much
    unrelated dirty data (the WAL).
    """

    def __init__(self, root: Path, *, sync: SyncMode | Syncer = "auto", batch_min: int = 16) -> None:
        self.root = root
        self._batch_syncer = make_syncer(sync) if isinstance(sync, str) else sync
        self._batch_min = batch_min
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes, *, create_only: bool = False) -> None:
        self.put_many([(key, data)], create_only=create_only)

    def put_many(self, items: Sequence[tuple[str, bytes]], *, create_only: bool = False) -> None:
        """Write all temp files, make them durable together, rename them, sync the names.

        Plain ``str`` paths, not ``Path``: a flush of 20 000 streams calls this with 20 000
        files, and pathlib's per-call parsing showed up in its profile.
        """
        if not items:
            return
        root = str(self.root)
        todo = {os.path.join(root, _checked(key)): data for key, data in items}
        syncer = self._batch_syncer if len(todo) >= self._batch_min else FsyncBatch
        batch: SyncBatch | None = None
        moves: list[tuple[str, str]] = []  # (temp file, final path)
        renamed = 0
        suffix = f".tmp{threading.get_ident()}"
        try:
            batch = syncer(self.root, len(todo))
            ready: set[str] = set()  # directories known to exist
            sync_dirs: set[str] = set()  # directories whose entries change
            kept: list[str] = []  # create_only keys already present
            for path, data in todo.items():
                parent, name = os.path.split(path)
                fresh = False  # the directory was just made: the file cannot exist yet
                if parent not in ready:
                    made = _make_dirs(parent, root)
                    fresh = bool(made) and made[-1] == parent
                    ready.add(parent)
                    sync_dirs.add(parent)
                    sync_dirs.update(os.path.dirname(d) for d in made)  # a new name in its parent
                if create_only and not fresh and os.path.exists(path):
                    # Maybe renamed by a write that crashed before its sync: sync it again
                    # rather than trust it (the caller indexes it once this returns).
                    kept.append(path)
                    continue
                tmp = os.path.join(parent, f".{name}{suffix}")
                moves.append((tmp, path))
                fd = _open_new(tmp)
                try:
                    _write_all(fd, data)
                except BaseException:
                    os.close(fd)
                    raise
                batch.wrote(fd)
            batch.files(kept)
            for tmp, path in moves:
                os.replace(tmp, path)
                renamed += 1
            batch.names(sorted(sync_dirs))
        except OSError as err:
            for tmp, _ in moves[renamed:]:
                _unlink(tmp)
            if create_only:  # they did not exist: leave no name whose sync failed
                for _, path in moves[:renamed]:
                    _unlink(path)
            where = next(iter(todo)) if len(todo) == 1 else f"{len(todo)} objects under {root}"
            raise StorageUnavailable(f"cannot write {where}: {err.strerror or err}") from err
        finally:
            if batch is not None:
                batch.close()

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


def _checked(key: str) -> str:
    if key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"invalid object key {key!r}")
    return key


def _make_dirs(directory: str, root: str) -> list[str]:
    """Create ``directory`` and any missing parents up to ``root``; returns those it created.

    ``mkdir`` first rather than a ``stat``: it is one call whether the directory exists or not.
    """
    try:
        os.mkdir(directory)
    except FileExistsError:
        return []
    except FileNotFoundError:
        if directory == root or os.path.dirname(directory) == directory:
            raise
        made = _make_dirs(os.path.dirname(directory), root)
        try:
            os.mkdir(directory)
        except FileExistsError:
            return made  # another writer made it meanwhile
        return [*made, directory]
    return [directory]


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _open_new(path: str) -> int:
    """Create (or truncate) a file for writing; the one place files are created (tests fake it)."""
    return os.open(path, _CREATE, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
