"""Results of spec versions 0.3.0, 0.3.1 and 0.4.0: interfaces, a flat list of ips, top-level routes.

The three versions share one wire shape (0.4.0 only added the CHECK verb), so one model serves them.
Wire shape (Go libcni's ``types/040``)::

    {"cniVersion": "0.3.1",
     "interfaces": [{"name": "eth0", "mac": "...", "sandbox": "/var/run/netns/x"}],
     "ips": [{"version": "4", "interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
     "routes": [{"dst": "0.0.0.0/0"}],
     "dns": {}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictStr, field_validator, model_validator

from multus.cni.types.common import (
    DNS,
    IP,
    HasInterfaceIndex,
    Route,
    WireModel,
    check_family,
    check_interface_indexes,
    ip_version,
    put,
)

__all__ = ["DNS", "IPConfig", "Interface", "Result", "Route"]

FAMILY = "040"

# The per-ip family label of the 0.3/0.4 shape.
IpVersion = Literal["4", "6"]


class Interface(WireModel):
    """A network interface the plugin created or configured."""

    name: StrictStr = ""
    mac: StrictStr = ""
    sandbox: StrictStr = ""

    def to_dict(self) -> dict[str, Any]:
        # "name" has no omitempty in Go: it is printed even when empty.
        out: dict[str, Any] = {"name": self.name}
        put(out, "mac", self.mac)
        put(out, "sandbox", self.sandbox)
        return out


class IPConfig(HasInterfaceIndex):
    """One address; ``interface`` (optional) is an index into the result's ``interfaces``."""

    version: IpVersion
    gateway: IP | None = None

    @model_validator(mode="after")
    def _version_matches_address(self) -> IPConfig:
        # Converters derive the family from the address; a contradicting label is a plugin bug to surface.
        if int(self.version) != ip_version(self.address):
            raise ValueError(f"ip version {self.version!r} does not match address {self.address}")
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version}
        put(out, "interface", self.interface, pointer=True)
        out["address"] = self.address
        put(out, "gateway", self.gateway)
        return out


class Result(WireModel):
    """A 0.3.0 / 0.3.1 / 0.4.0 result."""

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
