"""Atomic file writes, and making a CNI call's cache files durable while its plugins run.

:func:`write_atomically` writes a temp file beside the target and renames it over the target, so a
reader sees the old file or the new one, never a partial one. Durability against a power loss needs an
``fdatasync`` of the data before the answer relies on it: ~0.3-0.8 ms per file on this kind of disk,
two or three files per pod ADD (the scratch cache, then one result-cache entry per network).

Inside :func:`deferred_syncs` (one CNI call on this thread), a write marked ``deferrable`` is renamed
into place at once (visible to every process, so a crash of the daemon or plugin leaves it readable) and
its ``fdatasync`` runs on a background thread, overlapping the plugin executions and API writes that
follow; leaving the scope waits for every sync, so a call still answers only once its caches are on disk.
The one difference: a power loss *during* the call may leave a deferred file empty, where a synced-first
file would be missing or whole; the call never answered, and DEL treats an unreadable cache as it treats
a missing one (it re-resolves from the pod and says what it could not release). Writes outside a scope,
and configuration files, always sync before the rename.
"""

from __future__ import annotations

import _thread
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from multus.logs import get_logger

log = get_logger(__name__)

_scope = threading.local()  # .pending: the current call's syncs on this thread, when inside a scope


class _Sync:
    """One file's fdatasync, handed to a sync thread; ``done`` is released when it has run."""

    __slots__ = ("fd", "path", "done", "error")

    def __init__(self, fd: int, path: str) -> None:
        self.fd, self.path, self.error = fd, path, ""
        self.done = _thread.allocate_lock()
        self.done.acquire()

    def run(self) -> None:
        try:
            os.fdatasync(self.fd)
        except OSError as exc:
            self.error = str(exc)
        finally:
            os.close(self.fd)
            self.done.release()


class _SyncThreads:
    """The daemon threads running queued syncs: one to start with, another whenever a sync is queued while
    every thread is busy, up to ``limit``. Several at once matter under a burst of pods: the filesystem's
    journal commits concurrent syncs together, where one thread would wait for a commit per file."""

    def __init__(self, limit: int = 4) -> None:
        self._queue: queue.SimpleQueue[_Sync] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._limit = limit
        self._threads = 0
        self._idle = 0

    def submit(self, sync: _Sync) -> None:
        with self._lock:
            start = self._idle == 0 and self._threads < self._limit
            if start:
                self._threads += 1
                name = f"multus-fsync-{self._threads}"
        self._queue.put(sync)
        if start:
            threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1  # waiting for a sync (an approximate count: it only decides growth)
            sync = self._queue.get()
            with self._lock:
                self._idle -= 1
            sync.run()

    @property
    def threads(self) -> int:
        with self._lock:
            return self._threads


_sync_threads = _SyncThreads()


@contextmanager
def deferred_syncs() -> Iterator[None]:
    """One CNI call's scope: deferrable writes on this thread sync in the background; the exit waits.

    A failed sync is logged, not raised: the file is in place and readable; only its survival of a power
    loss is in doubt, which is no reason to undo a pod's networking.
    """
    pending: list[_Sync] = []
    try:
        with joined(pending):
            yield
    finally:
        for sync in pending:
            sync.done.acquire()
            if sync.error:
                log.error("could not sync %s to disk: %s", sync.path, sync.error)


def current_scope() -> list[_Sync] | None:
    """The deferred syncs of the call running on this thread (None outside a scope), to hand to helper
    threads of the same call with :func:`joined`."""
    pending: list[_Sync] | None = getattr(_scope, "pending", None)
    return pending


@contextmanager
def joined(scope: list[_Sync] | None) -> Iterator[None]:
    """On a helper thread of a call: its deferrable writes join ``scope`` (the call's exit waits for them)."""
    outer = getattr(_scope, "pending", None)
    _scope.pending = scope
    try:
        yield
    finally:
        _scope.pending = outer


def _create_temp_file(target: str) -> tuple[int, str]:
    """A new mode-0600 file ``.<name>.<random>.tmp`` beside ``target``, created exclusively as mkstemp does.

    Not ``tempfile.mkstemp`` itself: importing tempfile pulls in shutil and random (~3 ms), paid by every
    thin-plugin ADD, which writes caches.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    directory, name = os.path.split(target)
    for _ in range(100):
        tmp_name = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp_name, flags, 0o600), tmp_name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {target}")


def write_atomically(target: str | os.PathLike[str], data: bytes, mode: int = 0o600,
                     deferrable: bool = False) -> None:
    """Write ``data`` to ``target`` through a temp file in the same directory and a rename.

    The data is synced before the rename, or, when ``deferrable`` and inside :func:`deferred_syncs`,
    after it on the sync thread (see the module docstring).
    """
    target = os.fspath(target)
    pending: list[_Sync] | None = getattr(_scope, "pending", None) if deferrable else None
    fd, tmp_name = _create_temp_file(target)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if pending is None:
            # fdatasync: the data (and the size that finds it) must be on disk before the rename makes
            # the file visible; its timestamps need not be, which saves a metadata write per cache entry.
            os.fdatasync(fd)
        os.fchmod(fd, mode)
        os.replace(tmp_name, target)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if pending is None:
        os.close(fd)
        return
    sync = _Sync(fd, str(target))
    pending.append(sync)
    _sync_threads.submit(sync)
