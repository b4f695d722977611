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

Stdlib dataclasses, not pydantic: see ``common`` (the per-call import cost of a plugin process).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from multus.cni.types.common import DNS, HasInterfaceIndex, InterfacesResult, WireModel, put
from multus.cni.types.fields import Decoder, as_cidr, as_int, as_ip, as_str, fix

__all__ = ["DNS", "IPConfig", "Interface", "Result", "Route"]

FAMILY = "100"


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class Interface(WireModel):
    """A network interface the plugin created or configured."""

    name: str = ""
    mac: str = ""
    mtu: int = 0
    sandbox: str = ""
    socket_path: str = ""  # "socketPath" on the wire
    pci_id: str = ""  # "pciID" on the wire

    def __post_init__(self) -> None:
        for name in ("name", "mac", "sandbox", "socket_path", "pci_id"):
            fix(self, name, as_str)
        fix(self, "mtu", as_int)

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


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class IPConfig(HasInterfaceIndex):
    """One address; ``interface`` (optional) is an index into the result's ``interfaces``."""

    gateway: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        fix(self, "gateway", as_ip, optional=True)

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


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class Route(WireModel):
    """A route with the 1.1.0 attributes.

    ``mtu``/``advmss``/``priority`` are plain ints in Go (0 means unset and is not printed);
    ``table``/``scope`` are pointers there, because 0 is meaningful (e.g. scope 0 is "universe").
    """

    dst: str
    gw: str | None = None
    mtu: int = 0
    advmss: int = 0
    priority: int = 0
    table: int | None = None
    scope: int | None = None

    def __post_init__(self) -> None:
        fix(self, "dst", as_cidr)
        fix(self, "gw", as_ip, optional=True)
        for name in ("mtu", "advmss", "priority"):
            fix(self, name, as_int)
        for name in ("table", "scope"):
            fix(self, name, as_int, optional=True)

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


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class Result(InterfacesResult):
    """A 1.0.0 / 1.1.0 result."""

    family = FAMILY
    members = (Interface, IPConfig, Route)

    cni_version: str
    interfaces: tuple[Interface, ...] = ()
    ips: tuple[IPConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dns: DNS = DNS()
