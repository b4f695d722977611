"""Run a function inside another network namespace, on a throw-away thread.

A network namespace belongs to a *thread*, and ``setns(2)`` moves only the calling one. Switching the
caller's thread would leave it, and every socket or process it creates later, in the other namespace,
silently; an exception between the switch and the switch back would strand it there. So a fresh
thread joins the namespace, runs the function and ends; CPython never reuses an ended thread, so no
other thread of the process ever sees the namespace. (Go's ``ns.Do`` does the same with a locked OS
thread.) Sockets the function creates stay in that namespace after the thread is gone, which is how
a server in this process can listen inside a test's "node" namespace.

Stdlib only, cheap (a thread start and a syscall), so it can sit on a CNI call's path; ``ctypes`` is
loaded on first use, and only on Pythons without ``os.setns`` (before 3.12).

:func:`peek_in_netns` is the cheaper form for a short look that creates nothing (a link-name lookup):
the calling thread itself switches in and back, as Go's ``ns.Do`` does on a locked OS thread, which
saves the thread start (0.1-0.3 ms on a busy node, per delegate of every ADD). Switching back cannot
fail in practice (the thread's own namespace, by a descriptor opened before leaving it); if it ever
did, the process aborts rather than run on in a pod's namespace.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache
from typing import TypeVar

CLONE_NEWNET = 0x40000000  # <sched.h>: setns() may only join a network namespace through this fd

T = TypeVar("T")


def run_in_netns(netns_path: str, fn: Callable[[], T]) -> T:
    """``fn()`` called on a new thread inside the namespace at ``netns_path``; its result or exception.

    OSError when the path cannot be opened, or is not a network namespace (EINVAL from setns).
    """
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    outcome: list[tuple[bool, object]] = []

    def enter_and_run() -> None:
        try:
            _setns()(fd)
            outcome.append((True, fn()))
        except BaseException as exc:  # handed to the caller, never lost in the thread
            outcome.append((False, exc))

    try:
        helper = threading.Thread(target=enter_and_run, name="multus-netns", daemon=True)
        helper.start()
        helper.join()
    finally:
        os.close(fd)
    ok, value = outcome[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value  # type: ignore[return-value]


def peek_in_netns(netns_path: str, fn: Callable[[], T]) -> T:
    """``fn()`` on the calling thread, switched into the namespace at ``netns_path`` and back.

    Only for a function that creates nothing that outlives it (no sockets kept, no threads, no
    processes): those would belong to the pod's namespace. OSError when the path cannot be opened or is
    not a network namespace (the thread has not moved then).
    """
    setns = _setns()
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            return fn()
        finally:
            try:
                setns(own)
            except BaseException:  # stranded in the pod's namespace: nothing this process does is safe now
                os.write(2, f"multus: could not return from network namespace {netns_path}; aborting\n".encode())
                os.abort()
    finally:
        os.close(own)


@cache
def _setns() -> Callable[[int], None]:
    """``setns(fd, CLONE_NEWNET)`` for the calling thread: ``os.setns`` (3.12+), else libc through ctypes."""
    native = getattr(os, "setns", None)
    if native is not None:
        return lambda fd: native(fd, CLONE_NEWNET)

    import ctypes  # deferred: only older Pythons need it

    libc = ctypes.CDLL(None, use_errno=True)
    libc_setns = libc.setns
    libc_setns.argtypes = (ctypes.c_int, ctypes.c_int)
    libc_setns.restype = ctypes.c_int

    def setns(fd: int) -> None:
        if libc_setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return setns
