"""Results of spec versions 0.1.0 and 0.2.0: at most one IPv4 and one IPv6 configuration, no interfaces.

Wire shape (Go libcni's ``types/020``)::

    {"cniVersion": "0.2.0",
     "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
     "ip6": {...},
     "dns": {}}
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictStr, field_validator, model_validator

from multus.cni.types.common import CIDR, DNS, IP, Route, WireModel, check_family, ip_version, put

__all__ = ["DNS", "IPConfig", "Result", "Route"]

FAMILY = "020"


class IPConfig(WireModel):
    """One address family's configuration: address with prefix, gateway, and that family's routes."""

    ip: CIDR
    gateway: IP | None = None
    routes: tuple[Route, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ip": self.ip}
        put(out, "gateway", self.gateway)
        put(out, "routes", self.routes)
        return out


class Result(WireModel):
    """A 0.1.0 / 0.2.0 result."""

    cni_version: StrictStr = Field(validation_alias="cniVersion", serialization_alias="cniVersion")
    ip4: IPConfig | None = None
    ip6: IPConfig | None = None
    dns: DNS = DNS()

    @field_validator("cni_version")
    @classmethod
    def _version_in_family(cls, value: str) -> str:
        return check_family(value, FAMILY)

    @model_validator(mode="after")
    def _slots_hold_their_family(self) -> Result:
        # Conversion trusts ip4 to be IPv4 and ip6 to be IPv6; a swapped one would be mislabelled later.
        for slot, config, want in (("ip4", self.ip4, 4), ("ip6", self.ip6, 6)):
            if config is not None and ip_version(config.ip) != want:
                raise ValueError(f"{slot} holds the IPv{6 if want == 4 else 4} address {config.ip}")
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": self.cni_version}
        put(out, "ip4", self.ip4.to_dict() if self.ip4 else None)
        put(out, "ip6", self.ip6.to_dict() if self.ip6 else None)
        # Go's DNS is a struct field, which omitempty never drops: "dns" is always printed.
        out["dns"] = self.dns.to_dict()
        return out
