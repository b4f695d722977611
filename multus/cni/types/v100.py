"""Results of spec versions 1.0.0 and 1.1.0, the runtime's working form.

1.0.0 dropped the per-ip ``version`` label (the address says it); 1.1.0 only added optional fields
(interface ``mtu``/``socketPath``/``pciID``, route ``mtu``/``advmss``/``priority``/``table``/``scope``),
so one model serves both: a 1.0.0 result simply leaves the newer fields unset.

Wire shape (Go libcni's ``types/100``)::

    {"cniVersion": "1.1.0",
     "interfaces": [{"name": "eth0", "mac": "...", "mtu": 1500, "sandbox": "...", "socketPath": "...",
                     "pciID": "..."}],
     "ips": [{"interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
     "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1", "mtu": 1400, "advmss": 1360, "priority": 10,
                 "table": 100, "scope": 0}],
     "dns": {}}

Plain slotted classes, neither pydantic nor dataclasses: see ``common`` (the per-call import cost of a
plugin process).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from multus.cni.types.common import DNS, NO_DNS, HasInterfaceIndex, InterfacesResult, WireModel, put
from multus.cni.types.fields import Decoder, as_cidr, as_int, as_ip, as_str, fix

__all__ = ["DNS", "IPConfig", "Interface", "Result", "Route"]

FAMILY = "100"


class Interface(WireModel):
    """A network interface the plugin created or configured."""

    FIELDS = ("name", "mac", "mtu", "sandbox", "socket_path", "pci_id")
    __slots__ = FIELDS

    name: str
    mac: str
    mtu: int
    sandbox: str
    socket_path: str  # "socketPath" on the wire
    pci_id: str  # "pciID" on the wire

    def __init__(
        self,
        *,
        name: str = "",
        mac: str = "",
        mtu: int = 0,
        sandbox: str = "",
        socket_path: str = "",
        pci_id: str = "",
    ) -> None:
        fix(self, "name", name, as_str)
        fix(self, "mac", mac, as_str)
        fix(self, "sandbox", sandbox, as_str)
        fix(self, "socket_path", socket_path, as_str)
        fix(self, "pci_id", pci_id, as_str)
        fix(self, "mtu", mtu, as_int)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            name=d.field(obj, "name", path, as_str, ""),
            mac=d.field(obj, "mac", path, as_str, ""),
            mtu=d.field(obj, "mtu", path, as_int, 0),
            sandbox=d.field(obj, "sandbox", path, as_str, ""),
            socket_path=d.field(obj, "socketPath", path, as_str, ""),
            pci_id=d.field(obj, "pciID", path, as_str, ""),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}  # no omitempty on name in Go
        put(out, "mac", self.mac)
        put(out, "mtu", self.mtu)
        put(out, "sandbox", self.sandbox)
        put(out, "socketPath", self.socket_path)
        put(out, "pciID", self.pci_id)
        return out


class IPConfig(HasInterfaceIndex):
    """One address; ``interface`` (optional) is an index into the result's ``interfaces``."""

    FIELDS = (*HasInterfaceIndex.FIELDS, "gateway")
    __slots__ = ("gateway",)

    gateway: str | None

    def __init__(self, *, interface: int | None = None, address: str, gateway: str | None = None) -> None:
        super().__init__(interface=interface, address=address)
        fix(self, "gateway", gateway, as_ip, optional=True)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            interface=d.field(obj, "interface", path, as_int, None),
            address=d.required(obj, "address", path, as_cidr),
            gateway=d.field(obj, "gateway", path, as_ip, None),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        put(out, "interface", self.interface, pointer=True)
        out["address"] = self.address
        put(out, "gateway", self.gateway)
        return out


class Route(WireModel):
    """A route with the 1.1.0 attributes.

    ``mtu``/``advmss``/``priority`` are plain ints in Go (0 means unset and is not printed);
    ``table``/``scope`` are pointers there, because 0 is meaningful (e.g. scope 0 is "universe").
    """

    FIELDS = ("dst", "gw", "mtu", "advmss", "priority", "table", "scope")
    __slots__ = FIELDS

    dst: str
    gw: str | None
    mtu: int
    advmss: int
    priority: int
    table: int | None
    scope: int | None

    def __init__(
        self,
        *,
        dst: str,
        gw: str | None = None,
        mtu: int = 0,
        advmss: int = 0,
        priority: int = 0,
        table: int | None = None,
        scope: int | None = None,
    ) -> None:
        fix(self, "dst", dst, as_cidr)
        fix(self, "gw", gw, as_ip, optional=True)
        fix(self, "mtu", mtu, as_int)
        fix(self, "advmss", advmss, as_int)
        fix(self, "priority", priority, as_int)
        fix(self, "table", table, as_int, optional=True)
        fix(self, "scope", scope, as_int, optional=True)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            dst=d.required(obj, "dst", path, as_cidr),
            gw=d.field(obj, "gw", path, as_ip, None),
            mtu=d.field(obj, "mtu", path, as_int, 0),
            advmss=d.field(obj, "advmss", path, as_int, 0),
            priority=d.field(obj, "priority", path, as_int, 0),
            table=d.field(obj, "table", path, as_int, None),
            scope=d.field(obj, "scope", path, as_int, None),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dst": self.dst}
        put(out, "gw", self.gw)
        put(out, "mtu", self.mtu)
        put(out, "advmss", self.advmss)
        put(out, "priority", self.priority)
        put(out, "table", self.table, pointer=True)
        put(out, "scope", self.scope, pointer=True)
        return out


class Result(InterfacesResult):
    """A 1.0.0 / 1.1.0 result."""

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
