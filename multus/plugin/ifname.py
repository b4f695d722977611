"""The interface-name collision check that runs before each delegate ADD (Go Multus's ``validateIfName``).

Two delegates given the same interface name, or a name the pod already has, would make the second
plugin fail half-way, or worse, configure the wrong link; checking first gives one clear message.

It runs on every delegate ADD, so it is built for cost: no pyroute2 (about 150 ms to import) and no
netlink dump, only ``setns(2)`` there and back around ``if_nametoindex(3)`` on the calling thread
(:func:`multus.nsenter.peek_in_netns`), some 15 µs. Stdlib only.
"""

from __future__ import annotations

import errno

# The C module that ``socket`` re-exports this from: ``socket`` itself costs ~2 ms to import (its enum
# conversions), on every ADD and DEL.
from _socket import if_nametoindex

from multus.cni.errors import CniError
from multus.nsenter import peek_in_netns

__all__ = ["check_interface_free"]

def check_interface_free(netns_path: str, ifname: str) -> None:
    """Raise CniError unless the namespace at ``netns_path`` is free of a link called ``ifname``.

    Errors, in Go Multus's words: ``validateIfName: interface name <ifname> already exists`` and
    ``validateIfName: no net namespace <path> found: <reason>`` (the path does not exist, or is not a
    network namespace). The lookup is the one thing done inside the namespace.

    The lookup reports only "found" or "not found": CPython's ``if_nametoindex`` raises the same error
    for a missing name and for a failure to look (which, in a fresh plugin process, is in practice an
    invalid name that the runtime rejects anyway). Missing a collision is harmless: the delegate
    plugin then fails on the existing link itself.
    """
    try:
        exists = peek_in_netns(netns_path, lambda: _name_exists(ifname))
    except OSError as exc:
        reason = "not a network namespace" if exc.errno == errno.EINVAL else (exc.strerror or str(exc))
        raise CniError(f"validateIfName: no net namespace {netns_path} found: {reason}") from exc
    if exists:
        raise CniError(f"validateIfName: interface name {ifname} already exists")


def _name_exists(ifname: str) -> bool:
    try:
        if_nametoindex(ifname)
    except (OSError, ValueError):  # not found (or not a name the kernel could hold)
        return False
    return True
