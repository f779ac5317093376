"""Making a batch of new files durable together instead of one fsync pair per file.

A flush writes one chunk file per stream; with 20 000 streams, an fsync of each file and of its
directory costs more than all the rest of the flush. Two ways to pay once per batch:

* ``syncfs(2)`` (Linux): one call writes back every dirty page and inode of the filesystem and
  commits its journal once. Since Linux 5.8 it reports any writeback error that happened on the
  filesystem since the descriptor it is given was opened, so the descriptor is opened *before*
  the batch's files are written: an I/O error on one of them cannot go unnoticed.
* Elsewhere (or on older kernels, where ``syncfs`` always returns 0): ``fsync`` of every file
  and then of every directory, from a small thread pool so the filesystem can fold concurrent
  fsyncs into shared journal commits.

A :class:`SyncBatch` is used in two steps, which :class:`LocalObjectStore.put_many
<lokipy.store.objstore.LocalObjectStore>` orders: ``files`` after writing the temporary files
(their bytes are durable before any key names them), ``names`` after renaming them into place.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

SyncMode = Literal["auto", "syncfs", "fsync"]

_FSYNC_THREADS = 16


class SyncBatch(Protocol):
    def files(self, paths: Iterable[str]) -> None:
        """Make the contents of ``paths`` durable (raises ``OSError``)."""
        ...

    def names(self, dirs: Iterable[str]) -> None:
        """Make the entries just created or renamed in ``dirs`` durable (raises ``OSError``)."""
        ...

    def close(self) -> None: ...


Syncer = Callable[[Path], SyncBatch]  # opens a batch on the filesystem holding the path


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_all(paths: Iterable[str]) -> None:
    todo = list(paths)
    if len(todo) <= 1:
        for p in todo:
            fsync_path(p)
        return
    with ThreadPoolExecutor(min(_FSYNC_THREADS, len(todo)), thread_name_prefix="lokipy-fsync") as ex:
        # list() re-raises the first OSError of any worker.
        list(ex.map(fsync_path, todo))


class FsyncBatch:
    """Per-file fsync, then per-directory fsync: portable, one journal commit per fsync at worst."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, paths: Iterable[str]) -> None:
        _fsync_all(paths)

    def names(self, dirs: Iterable[str]) -> None:
        _fsync_all(dirs)

    def close(self) -> None:
        pass


class SyncfsBatch:
    """One ``syncfs`` per step on a descriptor opened before the batch was written."""

    def __init__(self, root: Path) -> None:
        self._fd = os.open(root, os.O_RDONLY)

    def files(self, paths: Iterable[str]) -> None:
        _syncfs(self._fd)

    def names(self, dirs: Iterable[str]) -> None:
        _syncfs(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def _load_syncfs() -> Callable[[int], int] | None:
    if sys.platform != "linux" or _kernel_version() < (5, 8):
        return None  # before 5.8, syncfs returned 0 even when writeback had failed
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


def _kernel_version() -> tuple[int, int]:
    parts = platform.release().split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


_SYNCFS = _load_syncfs()


def _syncfs(fd: int) -> None:
    assert _SYNCFS is not None
    if _SYNCFS(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syncfs: {os.strerror(err)}")


def syncfs_available() -> bool:
    return _SYNCFS is not None


def make_syncer(mode: SyncMode = "auto") -> Syncer:
    """The batch syncer for ``mode``; ``auto`` is ``syncfs`` where it is available and sound."""
    if mode == "syncfs" and _SYNCFS is None:
        raise ValueError("syncfs(2) is not available here (Linux >= 5.8 only)")
    if mode == "fsync" or (mode == "auto" and _SYNCFS is None):
        return FsyncBatch
    return SyncfsBatch
