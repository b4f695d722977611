"""What one delegate's result says about the pod: network-status entries and the AddedInterface event text.

The ``k8s.v1.cni.cncf.io/network-status`` annotation is read by other software (controllers, service
meshes, SR-IOV tooling, ``kubectl`` users' scripts) that was written against Go Multus, so its entries
keep Go's shape exactly: the same keys in the same order (``name, interface, ips, mac, mtu, default,
dns, device-info, gateway``), ``omitempty`` on everything but ``name`` and ``dns``, addresses printed as
Go prints a ``net.IP``, and the annotation value laid out as Go's ``json.MarshalIndent`` writes it,
HTML-safe escaping included, so the bytes on the pod are the same whichever implementation wrote them.

Entries come from a result in the newest spec form (older results are converted first), as the
network-attachment-definition client's ``CreateNetworkStatuses`` builds them:

* exactly one interface: one entry, with every IP of the result;
* otherwise one entry per interface that has a ``sandbox`` (the pod side; host-side veths and bridges
  are not the pod's), IPs placed by their ``interface`` index, unindexed IPs on the last entry; a
  result without sandbox interfaces (an IPAM-only plugin, say) yields no entry at all.

Stdlib only at import time: this module is on the path of every thin-plugin call, where importing
heavy libraries would cost more than the call. The result types are imported when first needed (by
then the caller has already loaded them to parse the result).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multus.cni.types import Result
    from multus.cni.types.v100 import Result as CurrentResult

__all__ = [
    "added_interface_message",
    "default_route_family",
    "format_network_status",
    "go_cidr",
    "go_ip",
    "network_statuses",
]

# Go's encoder escapes these even with SetEscapeHTML left at its default (the default *is* escaping):
# <, > and & so the JSON can sit inside HTML, U+2028/U+2029 so it can sit inside JavaScript.
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _current(result: Result) -> CurrentResult:
    from multus.cni.types import to_current  # deferred: see the module docstring

    return to_current(result)


# ---- addresses as Go prints them ----------------------------------------------------------------------


def go_ip(address: str) -> str:
    """A bare IP as Go's ``net.IP.String()`` prints it (the prefix of a CIDR is dropped).

    Go keeps IPv4 addresses in their 16-byte IPv4-mapped form and prints any mapped address as dotted
    IPv4, so ``::ffff:10.1.1.1`` is ``10.1.1.1``; Python would print ``::ffff:a01:101``.
    """
    ip = ipaddress.ip_interface(address).ip
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def go_cidr(address: str) -> str:
    """An ``address/prefix`` as Go's ``net.IPNet.String()`` prints a result's address (host bits kept).

    An IPv4-mapped IPv6 address prints as IPv4 with the last 32 bits of its mask, as Go does.
    """
    iface = ipaddress.ip_interface(address)
    ip = iface.ip
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"{ip.ipv4_mapped}/{max(iface.network.prefixlen - 96, 0)}"
    return f"{ip}/{iface.network.prefixlen}"


def default_route_family(dst: str) -> int | None:
    """4 or 6 when ``dst`` is a default route (prefix length 0, however it is spelled), else None.

    One definition for the whole plugin, the kernel's: ``0.0.0.0/0``, ``::/0`` and ``::0/0`` are all
    default routes. Unparsable destinations are not (they are someone else's problem, not a default).
    """
    try:
        network = ipaddress.ip_network(dst, strict=False)
    except ValueError:
        return None
    return network.version if network.prefixlen == 0 else None


# ---- network-status entries ---------------------------------------------------------------------------


def _entry(
    name: str,
    *,
    interface: str = "",
    ips: Sequence[str] = (),
    mac: str = "",
    mtu: int = 0,
    default: bool = False,
    dns: Mapping[str, Any],
    device_info: Mapping[str, Any] | None = None,
    gateway: Sequence[str] = (),
) -> dict[str, Any]:
    """One entry in Go's field order; empty values left out as ``omitempty`` does, except name and dns."""
    entry: dict[str, Any] = {"name": name}
    if interface:
        entry["interface"] = interface
    if ips:
        entry["ips"] = list(ips)
    if mac:
        entry["mac"] = mac
    if mtu:
        entry["mtu"] = mtu
    if default:
        entry["default"] = True
    entry["dns"] = dict(dns)
    if device_info:
        entry["device-info"] = dict(device_info)
    if gateway:
        entry["gateway"] = list(gateway)
    return entry


def network_statuses(
    result: Result, name: str, master: bool, device_info: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The network-status entries for one delegate's result (any spec version).

    ``name`` is the delegate's status name (``<namespace>/<nad>`` or the config name), ``master``
    whether it is the cluster network (its entries carry ``"default": true``), ``device_info`` the
    device-info object to attach to every entry (as loaded, key order kept).
    """
    current = _current(result)
    dns = current.dns.to_dict()
    # Every default route's gateway, shared by all entries. A default route without a gateway (a device
    # route) has nothing to report; Go would print "<nil>" into the list.
    gateways = [go_ip(route.gw) for route in current.routes if route.gw and default_route_family(route.dst)]

    if len(current.interfaces) == 1:
        # The single-interface shape: the interface's own fields only if it is on the pod side, but
        # every IP of the result, indexed or not.
        iface = current.interfaces[0]
        pod_side = bool(iface.sandbox)
        return [_entry(
            name,
            interface=iface.name if pod_side else "",
            ips=[go_ip(ip.address) for ip in current.ips],
            mac=iface.mac if pod_side else "",
            mtu=iface.mtu if pod_side else 0,
            default=master,
            dns=dns,
            device_info=device_info,
            gateway=gateways,
        )]

    # Position of each pod-side interface among the entries, by its index in the result.
    slot = {index: position for position, index in enumerate(
        i for i, iface in enumerate(current.interfaces) if iface.sandbox)}
    if not slot:
        return []  # IPAM-only results and host-only results describe no pod interface
    ips: list[list[str]] = [[] for _ in slot]
    for ip in current.ips:
        if ip.interface is None:
            ips[-1].append(go_ip(ip.address))  # unindexed: the last pod interface, as Go Multus always did
        elif ip.interface in slot:
            ips[slot[ip.interface]].append(go_ip(ip.address))
        # An IP indexed to a host-side interface is not the pod's and is left out.

    default_position = _default_position(current, slot) if master else None
    pod_interfaces = [current.interfaces[index] for index in slot]
    return [
        _entry(
            name,
            interface=iface.name,
            ips=ips[position],
            mac=iface.mac,
            mtu=iface.mtu,
            default=position == default_position,
            dns=dns,
            device_info=device_info,
            gateway=gateways,
        )
        for position, iface in enumerate(pod_interfaces)
    ]


def _default_position(current: CurrentResult, slot: Mapping[int, int]) -> int:
    """Which pod interface of the master network is the default one.

    The interface of the first IP that has a gateway, since the pod's default route goes through it;
    without such an IP, the first pod interface. Only IPs on pod-side interfaces count: Go also
    considers an IP of a host-side interface and then marks no entry as the default at all.
    """
    for ip in current.ips:
        if ip.gateway and ip.interface is not None and ip.interface in slot:
            return slot[ip.interface]
    return 0


# ---- the annotation value -----------------------------------------------------------------------------


def _go_marshal_indent(value: Any) -> str:
    """``json.MarshalIndent(value, "", "    ")`` for an entry: keys in the given order, HTML-safe escapes.

    Non-ASCII text stays as is (Go writes UTF-8 too); control characters get the same escapes in both
    encoders (Go 1.22+ writes ``\\b``/``\\f`` like Python). A lone surrogate, which only a Python string
    can hold, is written as Go writes invalid UTF-8: ``\\ufffd``.
    """
    text = json.dumps(value, indent=4, ensure_ascii=False)
    for char, escape in _GO_ESCAPES:
        text = text.replace(char, escape)
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = "".join("\\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def format_network_status(entries: Iterable[Mapping[str, Any]]) -> str:
    """The annotation value: each entry indented by 4 spaces, joined by ``,`` inside ``[...]``.

    This is not ``MarshalIndent`` of the whole list (that would indent the entries one level deeper and
    put newlines between them); it is what the Go client writes, byte for byte.
    """
    return "[" + ",".join(_go_marshal_indent(entry) for entry in entries) + "]"


# ---- the AddedInterface event -------------------------------------------------------------------------


def added_interface_message(ifname: str, result: Result, delegate_name: str) -> str | None:
    """``Add <ifname> [<ip/prefix> ...] from <delegate>``, or None when no event should be sent.

    No event when the result has neither interfaces nor IPs (a pass-through plugin, an aux chain): it
    attached nothing worth telling the pod's owner about. Without a delegate name the ``from ...`` part
    is left out, as in Go.
    """
    current = _current(result)
    if not current.interfaces and not current.ips:
        return None
    message = f"Add {ifname} [{' '.join(go_cidr(ip.address) for ip in current.ips)}]"
    return f"{message} from {delegate_name}" if delegate_name else message
