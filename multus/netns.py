"""Network namespaces: create and remove named ones, and read or change what is inside them.

This is the project's one place that deals with network namespaces, built on pyroute2. It is imported
only by the code that needs it (tests, the demo, the daemon's checks), never on the CNI call path,
which only passes namespace paths to plugins.

Why we never ``setns`` the calling thread: a network namespace belongs to a *thread*, not a process.
Switching it in a multithreaded process (pytest plugins, the daemon's gRPC and Kubernetes watch
threads, asyncio's executor) silently moves whatever that thread does next -- sockets it opens,
subprocesses it starts -- into the other namespace, and an exception between the switch and the
switch back leaves the thread stranded there. Instead, :func:`ns_ipr` uses pyroute2 0.9's
``IPRoute(netns=...)``, which forks a short-lived child that enters the namespace, opens a netlink
socket there and passes its file descriptor back; a netlink socket keeps talking to the namespace it
was created in, so the caller's threads never move. (pyroute2's ``NetNS`` class is now only a
compatibility wrapper around the same thing.)
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from pyroute2 import IPRoute  # type: ignore[import-untyped]  # pyroute2 ships no type information
from pyroute2 import netns as _pyroute2_netns

NETNS_RUN_DIR = "/var/run/netns"
# The main routing table; the kernel's local/default tables hold nothing a CNI result describes.
MAIN_TABLE = 254
# rtnetlink scopes: 0 is "universe" (global), 253 "link" (e.g. fe80::/64 and on-link routes).
SCOPE_UNIVERSE = 0


class Route(NamedTuple):
    """A main-table route as a CNI result would write it: ``dst`` in CIDR form, ``gw`` or None."""

    dst: str
    gw: str | None
    ifname: str


class LinkInfo(NamedTuple):
    """The attributes of a link that plugins set and tests check."""

    name: str
    mac: str
    mtu: int
    kind: str
    up: bool


def netns_path(name_or_path: str) -> str:
    """The bind-mount path of a named namespace; a path (anything with a ``/``) is returned unchanged."""
    if not name_or_path:
        raise ValueError("empty network namespace name")
    return name_or_path if "/" in name_or_path else os.path.join(NETNS_RUN_DIR, name_or_path)


def netns_exists(name_or_path: str) -> bool:
    """True when the path is a mounted namespace (nsfs); a stale empty file left behind does not count."""
    path = os.path.realpath(netns_path(name_or_path))
    if not os.path.exists(path):
        return False
    if path.startswith("/proc/"):
        return True  # /proc/<pid>/ns/net is a namespace for as long as it exists
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        # Fields: id parent major:minor root mount-point options ... - fstype source superoptions
        for line in mounts:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == path and " - nsfs " in line:
                return True
    return False


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def create_netns(name: str) -> str:
    """Create a named namespace bound at /var/run/netns/<name> (as ``ip netns add``) and return its path.

    Raises FileExistsError if one of that name exists: silently reusing it could mix two tests' state.
    """
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"invalid network namespace name {name!r}")
    path = netns_path(name)
    if os.path.exists(path):
        raise FileExistsError(f"network namespace {name!r} already exists at {path}")
    # pyroute2 unshares in a forked child, so this process's own namespace is untouched.
    _pyroute2_netns.create(name)
    return path


def remove_netns(name_or_path: str) -> None:
    """Unmount and delete a namespace's bind mount; a namespace that is already gone is not an error.

    The kernel destroys the namespace (and every link in it) once no mount, process or fd holds it.
    """
    path = netns_path(name_or_path)
    if not os.path.lexists(path):
        return
    try:
        _pyroute2_netns.remove(path)  # umount2(MNT_DETACH) then unlink; a failed umount is ignored
    except FileNotFoundError:
        pass


@contextmanager
def ns_ipr(name_or_path: str) -> Iterator[IPRoute]:
    """A pyroute2 ``IPRoute`` whose netlink socket lives in the namespace; the caller's thread stays put.

    ``flags=0``: pyroute2 would otherwise *create* a missing namespace; here a typo must fail loudly
    (FileNotFoundError) rather than configure a fresh, empty namespace nobody looks at.
    """
    ipr = IPRoute(netns=netns_path(name_or_path), flags=0)
    try:
        yield ipr
    finally:
        ipr.close()


def _index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise LookupError(f"no link {ifname!r} in the namespace")
    return int(found[0])


def link_names(name_or_path: str) -> list[str]:
    """Names of every link in the namespace, sorted."""
    with ns_ipr(name_or_path) as ipr:
        return sorted(str(link.get("ifname")) for link in ipr.get_links())


def link_exists(name_or_path: str, ifname: str) -> bool:
    with ns_ipr(name_or_path) as ipr:
        return bool(ipr.link_lookup(ifname=ifname))


def link_info(name_or_path: str, ifname: str) -> LinkInfo:
    """Name, MAC, MTU, kind ("veth", "bridge", "" for lo) and admin state of one link."""
    with ns_ipr(name_or_path) as ipr:
        link: Any = ipr.get_links(_index(ipr, ifname))[0]
        kind = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") or ""
        return LinkInfo(str(link.get("ifname")), str(link.get("address") or ""), int(link.get("mtu") or 0),
                        str(kind), bool(link["flags"] & 1))


def addresses(name_or_path: str, ifname: str, family: int | None = None,
              include_link_local: bool = False) -> list[str]:
    """The addresses on a link as ``"10.1.0.2/24"``, sorted.

    Link-scope addresses (IPv6 fe80::/64, which the kernel adds by itself) are left out by default so
    the list can be compared with the ``ips`` of a CNI result.
    """
    with ns_ipr(name_or_path) as ipr:
        query: dict[str, Any] = {"index": _index(ipr, ifname)}
        if family is not None:
            query["family"] = family
        found = [
            f"{msg.get('address')}/{msg['prefixlen']}" for msg in ipr.get_addr(**query)
            if include_link_local or msg["scope"] == SCOPE_UNIVERSE
        ]
    return sorted(found, key=_address_sort_key)


def _address_sort_key(cidr: str) -> tuple[int, int]:
    iface = ipaddress.ip_interface(cidr)
    return iface.version, int(iface.ip)


def routes(name_or_path: str, family: int = socket.AF_INET) -> list[Route]:
    """The main table's routes of one family, as (dst CIDR, gateway or None, device name)."""
    default = "0.0.0.0/0" if family == socket.AF_INET else "::/0"
    with ns_ipr(name_or_path) as ipr:
        names = {int(link["index"]): str(link.get("ifname")) for link in ipr.get_links()}
        found = []
        for msg in ipr.get_routes(family=family, table=MAIN_TABLE):
            dst = msg.get("dst")
            found.append(Route(
                dst=f"{dst}/{msg['dst_len']}" if dst else default,
                gw=msg.get("gateway"),
                ifname=names.get(int(msg.get("oif") or 0), ""),
            ))
    return found


__all__ = ["LinkInfo", "NETNS_RUN_DIR", "Route", "addresses", "create_netns", "link_exists", "link_info",
           "link_names", "netns_exists", "netns_path", "ns_ipr", "remove_netns", "routes"]
