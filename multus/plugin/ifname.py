"""The interface-name collision check that runs before each delegate ADD (Go Multus's ``validateIfName``).

Two delegates given the same interface name, or a name the pod already has, would make the second
plugin fail half-way, or worse, configure the wrong link; checking first gives one clear message.

It runs on every delegate ADD of the thin plugin, so it is built for cost: no pyroute2 (about 150 ms
to import) and no netlink dump, only ``setns(2)`` plus ``if_nametoindex(3)`` in a helper thread,
a fraction of a millisecond in all. Stdlib only; ``ctypes`` is loaded on the first call, and only on
Pythons without ``os.setns`` (before 3.12).
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable
from functools import cache

from multus.cni.errors import CniError

__all__ = ["check_interface_free"]

CLONE_NEWNET = 0x40000000  # <sched.h>: setns() may only join a network namespace through this fd


def check_interface_free(netns_path: str, ifname: str) -> None:
    """Raise CniError unless the namespace at ``netns_path`` is free of a link called ``ifname``.

    Errors, in Go Multus's words: ``validateIfName: interface name <ifname> already exists`` and
    ``validateIfName: no net namespace <path> found: <reason>`` (the path does not exist, or is not a
    network namespace).

    Why a helper thread: a network namespace belongs to a *thread*, and ``setns`` moves only the
    calling one. Doing it on the caller's thread would leave that thread, and every socket or process
    it creates later, in the pod's namespace, silently, and an exception between the switch and the
    switch back would strand it there. A fresh thread is entered into the namespace, looks the name up
    and ends; CPython never reuses an ended thread, so the namespace dies with it and no other thread
    of the process ever sees it. (Go's ``ns.Do`` does the same with a locked goroutine thread.)

    The lookup reports only "found" or "not found": CPython's ``if_nametoindex`` raises the same error
    for a missing name and for a failure to look (which, in a fresh plugin process, is in practice an
    invalid name that the runtime rejects anyway). Missing a collision is harmless: the delegate
    plugin then fails on the existing link itself.
    """
    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise CniError(f"validateIfName: no net namespace {netns_path} found: {exc.strerror or exc}") from exc
    try:
        exists = _link_exists_in(fd, ifname)
    except OSError as exc:
        reason = "not a network namespace" if exc.errno == errno.EINVAL else (exc.strerror or str(exc))
        raise CniError(f"validateIfName: no net namespace {netns_path} found: {reason}") from exc
    finally:
        os.close(fd)
    if exists:
        raise CniError(f"validateIfName: interface name {ifname} already exists")



def _link_exists_in(netns_fd: int, ifname: str) -> bool:
    """Look ``ifname`` up inside the namespace ``netns_fd`` from a throw-away thread (see above).

    OSError when the thread cannot enter the namespace (EINVAL: the fd is not a network namespace).
    """
    outcome: list[bool | BaseException] = []

    def look() -> None:
        try:
            _setns()(netns_fd)
        except BaseException as exc:  # handed to the caller, never lost in the thread
            outcome.append(exc)
            return
        try:
            socket.if_nametoindex(ifname)
        except (OSError, ValueError):  # not found (or not a name the kernel could hold)
            outcome.append(False)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(True)

    helper = threading.Thread(target=look, name="multus-ifname-check", daemon=True)
    helper.start()
    helper.join()
    found = outcome[0]
    if isinstance(found, BaseException):
        raise found
    return found


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
