"""Results of spec versions 0.3.0, 0.3.1 and 0.4.0: interfaces, a flat list of ips, top-level routes.

The three versions share one wire shape (0.4.0 only added the CHECK verb), so one model serves them.
Wire shape (Go libcni's ``types/040``)::

    {"cniVersion": "0.3.1",
     "interfaces": [{"name": "eth0", "mac": "...", "sandbox": "/var/run/netns/x"}],
     "ips": [{"version": "4", "interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
     "routes": [{"dst": "0.0.0.0/0"}],
     "dns": {}}

Plain slotted classes, neither pydantic nor dataclasses: see ``common`` (the per-call import cost of a
plugin process).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from multus.cni.types.common import DNS, NO_DNS, HasInterfaceIndex, InterfacesResult, WireModel, put
from multus.cni.types.fields import (
    Decoder,
    FieldError,
    as_cidr,
    as_int,
    as_ip,
    as_str,
    fix,
    ip_version,
)

__all__ = ["DNS", "IPConfig", "Interface", "Result", "Route"]

FAMILY = "040"

# The per-ip family label of the 0.3/0.4 shape.
IpVersion = Literal["4", "6"]


def as_ip_version(value: object) -> IpVersion:
    # A string, as in Go's struct: the number 4 is a plugin bug, not a label.
    if value == "4":
        return "4"
    if value == "6":
        return "6"
    raise ValueError(f"expected '4' or '6', got {value!r}")


class Interface(WireModel):
    """A network interface the plugin created or configured."""

    FIELDS = ("name", "mac", "sandbox")
    __slots__ = FIELDS

    name: str
    mac: str
    sandbox: str

    def __init__(self, *, name: str = "", mac: str = "", sandbox: str = "") -> None:
        fix(self, "name", name, as_str)
        fix(self, "mac", mac, as_str)
        fix(self, "sandbox", sandbox, as_str)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            name=d.field(obj, "name", path, as_str, ""),
            mac=d.field(obj, "mac", path, as_str, ""),
            sandbox=d.field(obj, "sandbox", path, as_str, ""),
        )

    def to_dict(self) -> dict[str, Any]:
        # "name" has no omitempty in Go: it is printed even when empty.
        out: dict[str, Any] = {"name": self.name}
        put(out, "mac", self.mac)
        put(out, "sandbox", self.sandbox)
        return out


class Route(WireModel):
    """A route as 0.1.0 through 0.4.0 know it: destination and optional gateway.

    0.2.0 results use this class too (``v020.Route`` is this one), so routes pass between the two
    families unchanged; it lives here rather than in ``common`` because 1.x has its own Route and a
    1.x-only call should not build this one.
    """

    FIELDS = ("dst", "gw")
    __slots__ = FIELDS

    dst: str
    gw: str | None

    def __init__(self, *, dst: str, gw: str | None = None) -> None:
        fix(self, "dst", dst, as_cidr)
        fix(self, "gw", gw, as_ip, optional=True)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark, dst=d.required(obj, "dst", path, as_cidr), gw=d.field(obj, "gw", path, as_ip, None)
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dst": self.dst}
        put(out, "gw", self.gw)
        return out


class IPConfig(HasInterfaceIndex):
    """One address; ``interface`` (optional) is an index into the result's ``interfaces``."""

    FIELDS = (*HasInterfaceIndex.FIELDS, "version", "gateway")
    __slots__ = ("version", "gateway")

    version: IpVersion
    gateway: str | None

    def __init__(
        self, *, interface: int | None = None, address: str, version: IpVersion, gateway: str | None = None
    ) -> None:
        super().__init__(interface=interface, address=address)
        fix(self, "version", version, as_ip_version)
        fix(self, "gateway", gateway, as_ip, optional=True)
        # Converters derive the family from the address; a contradicting label is a plugin bug to surface.
        if int(self.version) != ip_version(self.address):
            raise FieldError("version", f"ip version {self.version!r} does not match address {self.address}")

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            version=d.required(obj, "version", path, as_ip_version),
            interface=d.field(obj, "interface", path, as_int, None),
            address=d.required(obj, "address", path, as_cidr),
            gateway=d.field(obj, "gateway", path, as_ip, None),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version}
        put(out, "interface", self.interface, pointer=True)
        out["address"] = self.address
        put(out, "gateway", self.gateway)
        return out


class Result(InterfacesResult):
    """A 0.3.0 / 0.3.1 / 0.4.0 result."""

    family = FAMILY
    members = (Interface, IPConfig, Route)

    __slots__ = ()

    interfaces: tuple[Interface, ...]
    ips: tuple[IPConfig, ...]
    routes: tuple[Route, ...]

    def __init__(
        self,
        *,
        cni_version: str,
        interfaces: tuple[Interface, ...] = (),
        ips: tuple[IPConfig, ...] = (),
        routes: tuple[Route, ...] = (),
        dns: DNS = NO_DNS,
    ) -> None:
        super().__init__(cni_version=cni_version, interfaces=interfaces, ips=ips, routes=routes, dns=dns)
