"""What every result family shares: the base model, address fields, DNS and the version -> family map.

Results arrive as JSON from plugins we do not control, so decoding validates at this boundary: an
address that is not an address, or an ``ips`` entry pointing at a missing interface, is rejected here
once instead of surfacing later as a confusing failure somewhere else.

The wire form (``to_dict``) is written by hand rather than by ``model_dump``: it has to reproduce Go
libcni's JSON exactly (field order, ``omitempty`` on most fields but not on pointer fields or on the
``dns`` struct), and spelling that out per model is clearer than bending a generic serializer.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictInt, StrictStr, model_validator

from multus.cni.errors import VersionError
from multus.cni.version import ALL_VERSIONS

# Which model decodes which cniVersion. Versions within a family share one wire shape.
FAMILIES: dict[str, str] = {
    "0.1.0": "020",
    "0.2.0": "020",
    "0.3.0": "040",
    "0.3.1": "040",
    "0.4.0": "040",
    "1.0.0": "100",
    "1.1.0": "100",
}


def family_of(version: str) -> str:
    """``"0.3.1"`` -> ``"040"``. Exact strings only, as libcni matches result versions."""
    try:
        return FAMILIES[version]
    except KeyError:
        raise VersionError(
            f"unsupported CNI result version {version!r}", f"supported versions: {', '.join(ALL_VERSIONS)}"
        ) from None


def check_family(version: str, family: str) -> str:
    """Field check for ``cniVersion``: a model must never carry a version of another family."""
    if FAMILIES.get(version) != family:
        members = ", ".join(v for v, f in FAMILIES.items() if f == family)
        raise ValueError(f"cniVersion {version!r} does not belong to this result family ({members})")
    return version


def _reject_zone(value: str) -> None:
    # ipaddress accepts "fe80::1%eth0", Go's ParseIP/ParseCIDR do not; a result must not carry zones.
    if "%" in value:
        raise ValueError(f"invalid IP address {value!r}: zone identifiers are not allowed")


def canonical_cidr(value: str) -> str:
    """Validate an address with prefix length and return it canonically, host bits kept (like Go's IPNet)."""
    _reject_zone(value)
    _, _, prefix = value.partition("/")
    # ipaddress also takes a bare address or a dotted netmask; Go's ParseCIDR takes only "addr/len".
    if not (prefix.isascii() and prefix.isdigit()):
        raise ValueError(f"invalid CIDR address {value!r}: expected address/prefix-length")
    try:
        return ipaddress.ip_interface(value).with_prefixlen
    except ValueError:
        raise ValueError(f"invalid CIDR address {value!r}") from None


def canonical_ip(value: str) -> str:
    """Validate a bare IP address (a gateway) and return it canonically."""
    _reject_zone(value)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"invalid IP address {value!r}") from None


def ip_version(cidr: str) -> int:
    """4 or 6 for an already validated address (with or without prefix)."""
    return ipaddress.ip_interface(cidr).version


# Field types: strings on the model (what the wire carries), validated and normalized on the way in.
CIDR = Annotated[StrictStr, AfterValidator(canonical_cidr)]
IP = Annotated[StrictStr, AfterValidator(canonical_ip)]


def put(out: dict[str, Any], key: str, value: Any, *, pointer: bool = False) -> None:
    """Add ``key`` the way Go's ``omitempty`` would.

    A plain field is left out when it is its zero value (None, "", 0, empty sequence); a ``pointer``
    field (Go ``*int``, e.g. an ip's ``interface`` index) is left out only when absent, so 0 is printed.
    """
    if value is None or (not pointer and value in ("", 0, ())):
        return
    if isinstance(value, tuple):
        value = [item.to_dict() if isinstance(item, WireModel) else item for item in value]
    out[key] = value


class WireModel(BaseModel):
    """Base for every piece of a result: immutable, unknown keys ignored, JSON ``null`` read as absent."""

    # Frozen: results are shared between the cache, conversions and callers; nobody may edit one in place.
    # extra="ignore": plugins add their own fields to results, and that must not fail the call.
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # Go decodes null into the zero value; non-Go plugins do print "ips": null and the like.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    def to_dict(self) -> dict[str, Any]:
        """The wire JSON object, shaped as Go libcni prints it."""
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


class DNS(WireModel):
    """The ``dns`` object; the same in every spec version."""

    nameservers: tuple[StrictStr, ...] = ()
    domain: StrictStr = ""
    search: tuple[StrictStr, ...] = ()
    options: tuple[StrictStr, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        put(out, "nameservers", self.nameservers)
        put(out, "domain", self.domain)
        put(out, "search", self.search)
        put(out, "options", self.options)
        return out


class Route(WireModel):
    """A route as 0.1.0 through 0.4.0 know it: destination and optional gateway."""

    dst: CIDR
    gw: IP | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dst": self.dst}
        put(out, "gw", self.gw)
        return out


class HasInterfaceIndex(WireModel):
    """An ``ips`` entry of the 0.3+ shapes, which may point at an ``interfaces`` entry by index."""

    # Strict: Go rejects "0" or 0.0 for an int, and so do we.
    interface: StrictInt | None = None
    address: CIDR


def check_interface_indexes(ips: Sequence[HasInterfaceIndex], interfaces: Sequence[Any]) -> None:
    """An ``ips[].interface`` must index into ``interfaces``; anything else is a broken result."""
    for ip in ips:
        if ip.interface is not None and not 0 <= ip.interface < len(interfaces):
            raise ValueError(
                f"ip {ip.address} refers to interface index {ip.interface}, "
                f"but the result has {len(interfaces)} interface(s)"
            )
