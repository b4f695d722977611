"""Atomic writes and the per-call deferred syncs (multus.cni.durable).

Checked: a write is atomic (the old bytes or the new ones, mode as asked, no temp file left, also when
the write fails); outside a scope, and for writes not marked deferrable, the data is synced before the
rename; inside ``deferred_syncs`` a deferrable write is in place at once and synced on the sync thread
before the scope is left, in order, with its descriptor closed; scopes nest and stay per thread; a
failing sync is logged with the path, not raised; the cache writes of a CNI call are deferrable.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from multus.cni import durable
from multus.cni.cache import CachedAttachment, ResultCache
from multus.cni.durable import deferred_syncs, write_atomically


class SyncSpy:
    """Records fdatasync calls (fd, thread name, whether the file was already in place) and runs them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, target: Path | None = None, fail: bool = False) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.target = target
        self.release = threading.Event()
        self.release.set()
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            self.release.wait(10)
            self.calls.append((threading.current_thread().name, bool(self.target and self.target.exists())))
            if fail:
                raise OSError(5, "Input/output error")
            real(fd)

        monkeypatch.setattr(os, "fdatasync", fdatasync)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_a_write_replaces_the_file_atomically_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    write_atomically(target, b"new" * 1000, mode=0o640)
    assert target.read_bytes() == b"new" * 1000
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["f"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    before = open_fds()
    with pytest.raises(OSError):
        write_atomically(target, b"new", deferrable=True)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]
    assert open_fds() == before


def test_outside_a_scope_the_data_is_synced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    spy = SyncSpy(monkeypatch, target)
    write_atomically(target, b"x", deferrable=True)
    assert spy.calls == [(threading.current_thread().name, False)]  # synced on this thread, before it existed


def test_a_write_not_marked_deferrable_syncs_first_even_inside_a_scope(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config"
    spy = SyncSpy(monkeypatch, target)
    with deferred_syncs():
        write_atomically(target, b"x")
    assert spy.calls == [(threading.current_thread().name, False)]


def test_inside_a_scope_the_file_is_in_place_at_once_and_synced_before_the_scope_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    spy = SyncSpy(monkeypatch, first)
    spy.release.clear()  # the sync thread blocks until released
    before = open_fds()
    left = threading.Event()

    def call() -> None:
        with deferred_syncs():
            write_atomically(first, b"1", deferrable=True)
            write_atomically(second, b"2", deferrable=True)
            assert first.read_bytes() == b"1" and second.read_bytes() == b"2"  # visible before any sync
        left.set()

    caller = threading.Thread(target=call)
    caller.start()
    assert not left.wait(0.2)  # the scope waits for its syncs
    spy.release.set()
    caller.join(10)
    assert left.is_set()
    assert [(name.startswith("multus-fsync-"), placed) for name, placed in spy.calls] == [(True, True), (True, True)]
    assert open_fds() == before  # every descriptor handed to the sync thread was closed


def test_scopes_nest_and_belong_to_their_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SyncSpy(monkeypatch)
    with deferred_syncs():
        with deferred_syncs():
            write_atomically(tmp_path / "inner", b"x", deferrable=True)
        assert len(spy.calls) == 1  # the inner scope waited for its own write
        other = threading.Thread(target=lambda: write_atomically(tmp_path / "other", b"y", deferrable=True))
        other.start()
        other.join(10)
        assert spy.calls[-1][0] == other.name  # no scope on that thread: synced there, before the rename
        write_atomically(tmp_path / "outer", b"z", deferrable=True)
    assert [name.rstrip("0123456789") for name, _ in spy.calls] == ["multus-fsync-", other.name, "multus-fsync-"]


def test_a_failed_sync_is_logged_with_the_path_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    SyncSpy(monkeypatch, fail=True)
    with caplog.at_level(logging.ERROR, logger="multus.cni.durable"), deferred_syncs():
        write_atomically(tmp_path / "f", b"x", deferrable=True)
    assert (tmp_path / "f").read_bytes() == b"x"
    assert f"could not sync {tmp_path / 'f'} to disk: [Errno 5] Input/output error" in caplog.text


def test_the_result_cache_write_is_deferred_inside_a_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = SyncSpy(monkeypatch)
    cache = ResultCache(tmp_path)
    with deferred_syncs():
        path = Path(cache.save(CachedAttachment(container_id="c1", if_name="eth0", network_name="n", result={})))
    assert path.exists()
    assert [(name.startswith("multus-fsync-"), placed) for name, placed in spy.calls] == [(True, False)]


def test_syncs_queued_while_every_sync_thread_is_busy_get_more_threads_up_to_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent syncs run side by side (the journal commits them together), on at most four threads."""
    spy = SyncSpy(monkeypatch)
    spy.release.clear()
    threads = durable._SyncThreads(limit=4)
    monkeypatch.setattr(durable, "_sync_threads", threads)
    calls = []
    for i in range(6):
        thread = threading.Thread(target=lambda i=i: _one_deferred_write(tmp_path / f"f{i}"))
        thread.start()
        calls.append(thread)
    deadline = time.monotonic() + 5
    while threads.threads < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threads.threads == 4  # six syncs waiting: four threads, not six
    spy.release.set()
    for thread in calls:
        thread.join(10)
    assert len(spy.calls) == 6
    assert threads.threads == 4


def _one_deferred_write(path: Path) -> None:
    with deferred_syncs():
        write_atomically(path, b"x", deferrable=True)
