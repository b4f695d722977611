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
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt, StrictStr, field_validator, model_validator

from multus.cni.types.common import (
    CIDR,
    DNS,
    IP,
    HasInterfaceIndex,
    WireModel,
    check_family,
    check_interface_indexes,
    put,
)

__all__ = ["DNS", "IPConfig", "Interface", "Result", "Route"]

FAMILY = "100"


class Interface(WireModel):
    """A network interface the plugin created or configured."""

    name: StrictStr = ""
    mac: StrictStr = ""
    mtu: StrictInt = 0
    sandbox: StrictStr = ""
    socket_path: StrictStr = Field(
        default="", validation_alias="socketPath", serialization_alias="socketPath"
    )
    pci_id: StrictStr = Field(default="", validation_alias="pciID", serialization_alias="pciID")

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

    gateway: IP | None = None

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

    dst: CIDR
    gw: IP | None = None
    mtu: StrictInt = 0
    advmss: StrictInt = 0
    priority: StrictInt = 0
    table: StrictInt | None = None
    scope: StrictInt | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dst": self.dst}
        put(out, "gw", self.gw)
        put(out, "mtu", self.mtu)
        put(out, "advmss", self.advmss)
        put(out, "priority", self.priority)
        put(out, "table", self.table, pointer=True)
        put(out, "scope", self.scope, pointer=True)
        return out


class Result(WireModel):
    """A 1.0.0 / 1.1.0 result."""

    cni_version: StrictStr = Field(validation_alias="cniVersion", serialization_alias="cniVersion")
    interfaces: tuple[Interface, ...] = ()
    ips: tuple[IPConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dns: DNS = DNS()

    @field_validator("cni_version")
    @classmethod
    def _version_in_family(cls, value: str) -> str:
        return check_family(value, FAMILY)

    @model_validator(mode="after")
    def _interface_indexes_exist(self) -> Result:
        check_interface_indexes(self.ips, self.interfaces)
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": self.cni_version}
        put(out, "interfaces", self.interfaces)
        put(out, "ips", self.ips)
        put(out, "routes", self.routes)
        out["dns"] = self.dns.to_dict()  # a struct in Go: never omitted
        return out
