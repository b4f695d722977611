"""The pod's network-selection annotations: which extra networks a pod asks for, and how.

``k8s.v1.cni.cncf.io/networks`` comes in two forms, told apart as Go Multus does (any ``[``,
``{`` or ``"`` means JSON):

* text: ``[<namespace>/]<name>[@<ifname>], ...`` with DNS-label names;
* JSON: a list of NetworkSelectionElement objects (``name``, ``namespace``, ``ips``, ``mac``,
  ``infiniband-guid``, ``interface``, ``interfaceRequest``, ``portMappings``, ``bandwidth``,
  ``deviceID``, ``cni-args``, ``default-route``); unknown keys are ignored.

Both forms share the per-element checks (MACs, IPs, interface names, non-empty names) and the
namespace default. ``v1.multus-cni.io/default-network`` uses the same parser with Multus's own
namespace as the default and at most one entry.

Stdlib only (the element is a NamedTuple decoded by :mod:`multus.plugin.gojson`): the thin plugin
imports this module on every CNI call, where pydantic's import cost (~90 ms) alone would exceed the
call's whole latency budget (and the stdlib's data classes would add ~6 ms, see gojson).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from multus.cni.errors import CniError
from multus.plugin.config_options import BANDWIDTH_JSON, PORT_MAPPING_JSON, Bandwidth, PortMapping
from multus.plugin.gojson import (
    JsonField,
    JsonStruct,
    JsonTypeError,
    decode_json,
    decode_struct,
    go_json_type,
    go_quote,
    read_object,
    read_str,
    struct_of,
    tuple_of,
)

T = TypeVar("T")

NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network"

IFNAMSIZ = 16  # Linux's buffer size, including the terminating NUL
_JSON_MARKERS = frozenset('[{"')
_HEX = re.compile(r"[0-9a-fA-F]+")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PREFIX = "parsePodNetworkAnnotation:"
_JSON_PREFIX = f"{_PREFIX} failed to parse pod Network Attachment Selection Annotation JSON format:"


class SelectionError(CniError):
    """A network-selection annotation that cannot be honoured.

    Go returns these as plain errors, which reach the runtime as code 999, so the default code
    is kept; the message names the element at fault.
    """


# ---------------------------------------------------------------- value checks (Go's net package rules)


def parse_mac(text: str) -> bytes:
    """Hardware address as Go's ``net.ParseMAC`` reads it: EUI-48, EUI-64 or 20-octet IPoIB,
    written as ``xx:xx:..``, ``xx-xx-..`` or ``xxxx.xxxx..``; anything else is a ValueError."""
    if len(text) >= 14 and text[2] in ":-":
        group, sep = 2, text[2]
    elif len(text) >= 14 and text[4] == ".":
        group, sep = 4, "."
    else:
        raise ValueError(f"address {text}: invalid MAC address")
    chunks = text.split(sep)
    if len(chunks) * group // 2 not in (6, 8, 20) or not all(
        len(c) == group and _HEX.fullmatch(c) for c in chunks
    ):
        raise ValueError(f"address {text}: invalid MAC address")
    return bytes.fromhex("".join(chunks))


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP as Go's ``net.ParseIP`` accepts it: no zone, IPv4-mapped IPv6 is the IPv4 address."""
    if "%" in text:
        raise ValueError(f"invalid IP address {text}")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"invalid IP address {text}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def check_ip_or_cidr(text: str) -> None:
    """``ips`` entries: a CIDR (``net.ParseCIDR``: decimal prefix length) when there is a ``/``, else an IP."""
    if "/" not in text:
        parse_ip(text)
        return
    addr, _, prefix = text.partition("/")
    try:
        bits = parse_ip(addr).max_prefixlen
    except ValueError:
        raise ValueError(f"invalid CIDR address {text}") from None
    if not re.fullmatch(r"[0-9]{1,3}", prefix) or int(prefix) > bits:
        raise ValueError(f"invalid CIDR address {text}")


def check_interface_name(name: str) -> None:
    """libcni's container interface-name rules, which the kernel enforces anyway."""
    if not name:
        raise ValueError("interface name is empty")
    if len(name.encode()) > IFNAMSIZ - 1:
        raise ValueError(f"interface name {name!r} is longer than {IFNAMSIZ - 1} characters")
    if name in (".", ".."):
        raise ValueError(f"interface name {name!r} is . or ..")
    if any(ch in "/:" or ch.isspace() for ch in name):
        raise ValueError(f"interface name {name!r} contains '/', ':' or whitespace")


# ---------------------------------------------------------------- the element


def _check(key: str, check: Callable[[str], T], value: str) -> T:
    """Run a value check, naming the JSON key in its error (``mac: address ..: invalid MAC address``)."""
    try:
        return check(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


class NetworkSelection(NamedTuple):
    """One requested network: Go's NetworkSelectionElement, with the same JSON names.

    After parsing, ``namespace`` is never empty and ``interface`` already holds a deprecated
    ``interfaceRequest``. ``default_route`` keeps ``None`` apart from ``()``: an empty list still
    asks Multus to manage default routes (it strips them everywhere), so the difference matters.
    Decoding one (:data:`NETWORK_SELECTION_JSON`) checks the values as Go's parser does (MACs, IPs,
    interface names: ValueError naming the JSON key) and puts the gateways in canonical form.
    """

    name: str = ""
    namespace: str = ""
    ips: tuple[str, ...] = ()
    mac: str = ""
    infiniband_guid: str = ""
    interface: str = ""
    interface_request: str = ""
    port_mappings: tuple[PortMapping, ...] = ()
    bandwidth: Bandwidth | None = None
    device_id: str = ""
    cni_args: dict[str, Any] | None = None
    default_route: tuple[str, ...] | None = None

    @property
    def requests_default_route(self) -> bool:
        """True when ``default-route`` was given at all, even as ``[]`` (Go's nil check)."""
        return self.default_route is not None

    def to_dict(self) -> dict[str, Any]:
        """Go's JSON shape: its key order, ``name`` always, everything else only when set."""
        out: dict[str, Any] = {"name": self.name}
        for key, value in (("namespace", self.namespace), ("ips", list(self.ips)), ("mac", self.mac),
                           ("infiniband-guid", self.infiniband_guid), ("interface", self.interface),
                           ("interfaceRequest", self.interface_request),
                           ("portMappings", [p.to_dict() for p in self.port_mappings])):
            if value:
                out[key] = value
        if self.bandwidth is not None:
            out["bandwidth"] = self.bandwidth.to_dict()
        if self.device_id:
            out["deviceID"] = self.device_id
        if self.cni_args is not None:
            out["cni-args"] = dict(self.cni_args)
        if self.default_route:
            out["default-route"] = list(self.default_route)
        return out


def _checked(sel: NetworkSelection) -> NetworkSelection:
    """The value checks, in field order; the first failure is the error, as in Go."""
    for ip in sel.ips:
        _check("ips", check_ip_or_cidr, ip)
    for key, value in (("mac", sel.mac), ("infiniband-guid", sel.infiniband_guid)):
        if value:
            _check(key, parse_mac, value)
    for key, value in (("interface", sel.interface), ("interfaceRequest", sel.interface_request)):
        if value:
            _check(key, check_interface_name, value)
    if sel.default_route is None:
        return sel
    # Go holds gateways as net.IP and prints them canonically; so do we.
    return sel._replace(default_route=tuple(str(_check("default-route", parse_ip, gw)) for gw in sel.default_route))


NETWORK_SELECTION_JSON = JsonStruct(NetworkSelection, (
    JsonField("name", "name", read_str),
    JsonField("namespace", "namespace", read_str),
    JsonField("ips", "ips", tuple_of(read_str)),
    JsonField("mac", "mac", read_str),
    JsonField("infiniband_guid", "infiniband-guid", read_str),
    JsonField("interface", "interface", read_str),
    JsonField("interface_request", "interfaceRequest", read_str),
    JsonField("port_mappings", "portMappings", tuple_of(struct_of(PORT_MAPPING_JSON))),
    JsonField("bandwidth", "bandwidth", struct_of(BANDWIDTH_JSON)),
    JsonField("device_id", "deviceID", read_str),
    JsonField("cni_args", "cni-args", read_object),
    JsonField("default_route", "default-route", tuple_of(read_str)),
), check=_checked)


# ---------------------------------------------------------------- parsing


def _text_element(index: int, item: str) -> tuple[str, dict[str, Any]]:
    """``[<ns>/]<name>[@<ifname>]``: split on ``/`` first, then ``@``; names are DNS labels."""
    where = f"network selection element {index} ({go_quote(item)})"
    slash = item.split("/")
    if len(slash) > 2:
        raise SelectionError(f"{_PREFIX} Invalid network object (failed at '/') in {where}")
    namespace, rest = (slash[0].strip(), slash[1]) if len(slash) == 2 else ("", slash[0])
    at = rest.split("@")
    if len(at) > 2:
        raise SelectionError(f"{_PREFIX} Invalid network object (failed at '@') in {where}")
    name, ifname = at[0].strip(), (at[1].strip() if len(at) == 2 else "")
    for label, value in (("namespace", namespace), ("name", name)):
        if value and not _DNS_LABEL.fullmatch(value):
            raise SelectionError(
                f"{_PREFIX} {where}: {label} {go_quote(value)} must consist of lower case "
                "alphanumeric characters or '-', and start and end with an alphanumeric character"
            )
    return where, {"name": name, "namespace": namespace, "interface": ifname}


def _json_elements(annotation: str) -> list[tuple[str, dict[str, Any]]]:
    """The JSON form: an array of objects, each labelled by index and name for error messages."""
    try:
        data = decode_json(annotation)
    except ValueError as exc:
        raise SelectionError(f"{_JSON_PREFIX} {exc}") from None
    if not isinstance(data, list):
        raise SelectionError(f"{_JSON_PREFIX} json: cannot unmarshal {go_json_type(data)} "
                             "into a list of network selection elements")
    out = []
    for index, element in enumerate(data):
        where = f"network selection element {index}"
        if not isinstance(element, dict):
            raise SelectionError(f"{_JSON_PREFIX} {where}: must be an object, got {go_json_type(element)}")
        name = element.get("name")
        out.append((f"{where} ({go_quote(name)})" if isinstance(name, str) else where, element))
    return out


def _decode(where: str, raw: dict[str, Any]) -> NetworkSelection:
    """Types first (a mistyped key is a JSON decoding failure, as in Go), then the value checks."""
    try:
        return decode_struct(NETWORK_SELECTION_JSON, raw)
    except JsonTypeError as exc:
        raise SelectionError(f"{_JSON_PREFIX} {where}: {exc}") from None
    except ValueError as exc:
        raise SelectionError(f"{_PREFIX} {where}: {exc}") from None


def _finish(where: str, sel: NetworkSelection, default_namespace: str) -> NetworkSelection:
    """Reject a nameless element; fill the namespace default and the deprecated interfaceRequest."""
    if not sel.name:
        raise SelectionError(f"{_PREFIX} {where}: the network name is empty")
    update: dict[str, Any] = {}
    if not sel.namespace:
        update["namespace"] = default_namespace
    if not sel.interface and sel.interface_request:
        update["interface"] = sel.interface_request
    return sel._replace(**update) if update else sel


def is_json_form(annotation: str) -> bool:
    """Go's test: any ``[``, ``{`` or ``"`` anywhere means the JSON form."""
    return not _JSON_MARKERS.isdisjoint(annotation)


def parse_network_selections(annotation: str, default_namespace: str) -> list[NetworkSelection]:
    """Parse ``k8s.v1.cni.cncf.io/networks``; elements without a namespace get ``default_namespace``
    (the pod's). An empty or blank annotation asks for nothing."""
    if not annotation.strip():
        return []
    if is_json_form(annotation):
        elements = _json_elements(annotation)
    else:
        elements = [_text_element(i, item.strip()) for i, item in enumerate(annotation.split(","))]
    return [_finish(where, _decode(where, raw), default_namespace) for where, raw in elements]


def parse_default_network(annotation: str, multus_namespace: str) -> NetworkSelection | None:
    """Parse ``v1.multus-cni.io/default-network``: same syntax, Multus's namespace as the default,
    at most one network (it replaces the cluster network). ``None`` when the annotation is blank."""
    try:
        selections = parse_network_selections(annotation, multus_namespace)
    except SelectionError as exc:
        raise SelectionError(f"tryLoadK8sPodDefaultNetwork: {exc.msg}") from None
    if len(selections) > 1:
        raise SelectionError(
            f"tryLoadK8sPodDefaultNetwork: more than one default network is specified: {annotation}"
        )
    return selections[0] if selections else None


def check_namespace_isolation(
    selections: list[NetworkSelection], pod_namespace: str, non_isolated_namespaces: list[str]
) -> None:
    """With ``namespaceIsolation``, a pod may only use networks from its own namespace or from the
    non-isolated ones (``globalNamespaces``); applies to the ``networks`` annotation only."""
    for sel in selections:
        if sel.namespace != pod_namespace and sel.namespace not in non_isolated_namespaces:
            raise SelectionError(
                "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, "
                f"pod is in namespace {pod_namespace} but refers to target namespace {sel.namespace}"
            )
