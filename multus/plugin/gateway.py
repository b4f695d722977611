"""The pod's ``default-route`` requests: which default routes each delegate keeps, loses or gains.

A pod chooses the network its default route goes through with ``"default-route": ["<gateway>"]`` on
one selection element (``[]`` asks for no default route at all). When any element asks, configuration
(see :mod:`multus.plugin.delegate`) marks every delegate with the address families whose default
routes it must drop: all of them, except the families of the gateways that delegate itself requested.
After each delegate's ADD, its plan is carried out in two places:

* in the pod's namespace (:func:`apply_in_netns`): the default routes of the delegate's interface, of
  the planned families, are deleted, then one default route per requested gateway is added;
* in libcni's result cache entry for that attachment (:func:`apply_to_cache`), so CHECK and DEL see
  the routes the pod really has.

The result handed back to the container runtime is **not** edited, as in Go Multus: it reports what
the delegate plugin did, not what Multus changed afterwards.

Where Go does something else (see docs/compatibility.md, "Default route and network-status"): only the
planned families are deleted from the namespace, a default route is found in the cache however its
destination is spelled, results that attach nothing get no plan, and a missing interface is never
replaced by "every interface".

Importing this module stays cheap (stdlib and the cache module): pyroute2, ~150 ms per process, is
imported inside :func:`apply_in_netns`, which runs only when a pod asked for a default-route change.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from multus.cni.cache import ResultCache
from multus.cni.durable import write_atomically
from multus.cni.errors import CniError, ConfigError, ErrorCode
from multus.plugin.status import default_route_family, go_ip

if TYPE_CHECKING:
    from multus.cni.types import Result
    from multus.plugin.delegate import Delegate

__all__ = ["GatewayPlan", "apply_in_netns", "apply_to_cache", "edit_cached_result", "plan"]

# rtnetlink: the main table (what a CNI result describes), and "boot" as the route's origin, which is
# what Go's netlink library and ``ip route add`` stamp on routes they add.
_MAIN_TABLE = 254
_PROTO_BOOT = 3

_DEFAULT_DST = {4: "0.0.0.0/0", 6: "::/0"}
_FLAT_VERSIONS = ("0.3.0", "0.3.1", "0.4.0")  # and every version from 1.0.0 on
_V020_VERSIONS = ("0.1.0", "0.2.0")


class GatewayPlan(NamedTuple):
    """What to do with one delegate's default routes after its ADD.

    ``delete_v4``/``delete_v6``: drop the interface's default routes of that family.
    ``gateways``: add a default route via each (canonical addresses, in request order).
    A NamedTuple rather than a frozen dataclass: every ADD process defines it, and a dataclass costs
    ~0.5 ms to create at import.
    """

    delete_v4: bool = False
    delete_v6: bool = False
    gateways: tuple[str, ...] = ()

    @property
    def changes_anything(self) -> bool:
        return self.delete_v4 or self.delete_v6 or bool(self.gateways)

    @property
    def delete_families(self) -> frozenset[int]:
        """The IP versions (4, 6) whose default routes are deleted."""
        return frozenset(family for family, wanted in ((4, self.delete_v4), (6, self.delete_v6)) if wanted)


def plan(delegate: Delegate, result: Result) -> GatewayPlan:
    """The plan for ``delegate`` given its ADD result (any spec version). Pure: touches nothing.

    Nothing is planned for a result with neither interfaces nor IPs: such a delegate (a pass-through,
    an aux chain plugin) attached nothing whose routes could be fixed, and its interface name may not
    even exist in the pod. Otherwise a family is deleted when configuration filtered it for this
    delegate, or when the delegate requested gateways at all (its own default routes are replaced by
    the requested ones); the requested gateways are added.
    """
    from multus.cni.types import to_current  # deferred: the caller has loaded the types already

    current = to_current(result)
    if not current.interfaces and not current.ips:
        return GatewayPlan()
    request = delegate.gateway_request or ()
    return GatewayPlan(
        delete_v4=delegate.filter_v4_gateway or bool(request),
        delete_v6=delegate.filter_v6_gateway or bool(request),
        gateways=tuple(_canonical_gateway(gateway) for gateway in request),
    )


def _canonical_gateway(gateway: str) -> str:
    try:
        return go_ip(gateway)
    except ValueError:
        raise ConfigError(f"invalid default-route gateway {gateway!r}: not an IP address") from None


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


# ---- the pod's namespace ------------------------------------------------------------------------------


def apply_in_netns(netns_path: str, ifname: str, gateway_plan: GatewayPlan) -> None:
    """Carry out the plan on link ``ifname`` in the namespace at ``netns_path``.

    Deletes the link's main-table default routes of the planned families only (Go deletes both
    families whatever the plan says, so a pod asking for an IPv4 gateway lost its IPv6 default too),
    then adds ``default via <gateway> dev <ifname>`` per requested gateway; EEXIST is ignored, as in
    Go. (For IPv4 the kernel also answers EEXIST when *another* link holds a default route of the same
    metric; in a Multus ADD the filters have already removed those from every earlier delegate.)
    When the link does not exist there is nothing of it to delete, and only adding fails (Go then
    deleted the default routes of *every* link in the pod).

    The caller's threads never enter the namespace: :func:`multus.netns.ns_ipr` talks to it through a
    netlink socket opened there by a short-lived child process.
    """
    if not gateway_plan.changes_anything:
        return
    # Deferred: pyroute2 costs ~150 ms to import, paid only by pods that asked for a default route.
    from pyroute2 import NetlinkError  # type: ignore[import-untyped]  # pyroute2 ships no type information

    from multus.netns import ns_ipr

    try:
        with ns_ipr(netns_path) as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                if gateway_plan.gateways:
                    raise CniError(f"SetDefaultGW: no link {ifname} in network namespace {netns_path}")
                return
            index = int(found[0])
            for family in sorted(gateway_plan.delete_families):
                _delete_default_routes(ipr, index, family, ifname, NetlinkError)
            for gateway in gateway_plan.gateways:
                _add_default_route(ipr, index, gateway, ifname, NetlinkError)
    except (OSError, NetlinkError) as exc:
        raise CniError(f"failed to set the default route of {ifname} in {netns_path}", str(exc)) from exc


def _address_family(family: int) -> int:
    """AF_INET or AF_INET6 for IP version ``family``."""
    import socket  # deferred: ~2 ms to import, needed only when routes are edited, not on every ADD's plan()

    return socket.AF_INET if family == 4 else socket.AF_INET6


def _delete_default_routes(ipr: Any, index: int, family: int, ifname: str, netlink_error: type[Exception]) -> None:
    af = _address_family(family)
    for route in ipr.get_routes(family=af, table=_MAIN_TABLE, oif=index):
        if route["dst_len"] != 0 or route.get("oif") != index:
            continue
        # Enough attributes to name exactly this route among several defaults (another gateway or metric).
        spec: dict[str, Any] = {"family": af, "dst_len": 0, "table": route.get("table") or _MAIN_TABLE,
                                "oif": index}
        for attr in ("gateway", "priority"):
            if route.get(attr) is not None:
                spec[attr] = route.get(attr)
        try:
            ipr.route("del", **spec)
        except netlink_error as exc:
            if getattr(exc, "code", None) == errno.ESRCH:
                continue  # gone meanwhile: that is what we wanted
            raise CniError(f"DeleteDefaultGW: failed to delete the IPv{family} default route of {ifname}",
                           str(exc)) from exc


def _add_default_route(ipr: Any, index: int, gateway: str, ifname: str, netlink_error: type[Exception]) -> None:
    family = _version(gateway)
    try:
        ipr.route("add", family=_address_family(family), dst=_DEFAULT_DST[family],
                  gateway=gateway, oif=index, table=_MAIN_TABLE, proto=_PROTO_BOOT)
    except netlink_error as exc:
        if getattr(exc, "code", None) == errno.EEXIST:
            return
        raise CniError(f"SetDefaultGW: failed to add a default route via {gateway} on {ifname}", str(exc)) from exc


# ---- libcni's result cache ----------------------------------------------------------------------------


def apply_to_cache(
    cache_dir: str | os.PathLike[str], network_name: str, container_id: str, ifname: str, gateway_plan: GatewayPlan
) -> None:
    """Carry out the plan on the cached result of attachment ``<network>-<container>-<ifname>``.

    The entry's other fields are kept as they are; the file is replaced atomically (Go rewrote it in
    place, which a crash could leave truncated). A missing entry is an error: libcni caches every
    successful ADD, so its absence means the attachment is not what we think.
    """
    if not gateway_plan.changes_anything:
        return
    path = ResultCache(cache_dir).path(network_name, container_id, ifname)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise CniError(f"failed to update the default route in result cache {path}", exc.strerror or str(exc),
                       ErrorCode.IO_FAILURE) from exc
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise CniError(f"failed to decode result cache {path}", str(exc), ErrorCode.DECODING_FAILURE) from exc
    if not isinstance(body, dict) or "result" not in body:
        raise CniError(f"failed to update result cache {path}: cannot get result from cache")
    body["result"] = edit_cached_result(body["result"], gateway_plan)
    try:
        write_atomically(path, json.dumps(body, separators=(",", ":")).encode(), mode=0o600)
    except OSError as exc:
        raise CniError(f"failed to write result cache {path}", str(exc), ErrorCode.IO_FAILURE) from exc


def edit_cached_result(result: Any, gateway_plan: GatewayPlan) -> dict[str, Any]:
    """A cached result (wire JSON) with the plan applied; the input is not modified.

    0.3.x, 0.4.0 and 1.x results keep routes in ``routes``; 0.1.0/0.2.0 results (also any result
    without ``cniVersion``, as Go assumes) in ``ip4.routes``/``ip6.routes``, where a gateway whose
    family has no address slot has nowhere to go and is left out, as in Go. A ``routes`` list left
    empty is removed. Other versions raise ``not supported version: <v>``.
    """
    if not isinstance(result, dict):
        raise CniError(f"wrong result type: {result!r}")
    edited: dict[str, Any] = json.loads(json.dumps(result))  # a deep copy that is plain JSON again
    version = edited.get("cniVersion")
    if version is not None and not isinstance(version, str):
        raise CniError(f"wrong cniVersion format: {version!r}")
    if version is None or version in _V020_VERSIONS:
        for family, slot_key in ((4, "ip4"), (6, "ip6")):
            slot = edited.get(slot_key)
            if slot is None:
                continue
            if not isinstance(slot, dict):
                raise CniError(f"wrong {slot_key} format: {slot!r}")
            _edit_routes(slot, f"{slot_key} routes", gateway_plan.delete_families,
                         [gw for gw in gateway_plan.gateways if _version(gw) == family])
        return edited
    if version not in _FLAT_VERSIONS and not _at_least_1_0(version):
        raise CniError(f"not supported version: {version}")
    _edit_routes(edited, "routes", gateway_plan.delete_families, gateway_plan.gateways)
    return edited


def _at_least_1_0(version: str) -> bool:
    parts = version.split(".")
    return len(parts) == 3 and all(part.isdigit() for part in parts) and int(parts[0]) >= 1


def _edit_routes(holder: dict[str, Any], what: str, delete: frozenset[int], gateways: Iterable[str]) -> None:
    """Drop the default routes of the ``delete`` families from ``holder["routes"]``, then append one
    default route per gateway. Every route is checked, consecutive defaults included."""
    routes = holder.get("routes")
    if routes is None:
        routes = []
    if not isinstance(routes, list):
        raise CniError(f"wrong {what} format: {routes!r}")
    kept: list[Any] = []
    for route in routes:
        if not isinstance(route, dict):
            raise CniError(f"wrong route format: {route!r}")
        dst = route.get("dst")
        if dst is not None and not isinstance(dst, str):
            raise CniError(f"wrong dst format: {dst!r}")
        if dst is not None and default_route_family(dst) in delete:
            continue
        kept.append(route)
    kept.extend({"dst": _DEFAULT_DST[_version(gw)], "gw": gw} for gw in gateways)
    if kept:
        holder["routes"] = kept
    else:
        holder.pop("routes", None)
