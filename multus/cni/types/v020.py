"""Results of spec versions 0.1.0 and 0.2.0: at most one IPv4 and one IPv6 configuration, no interfaces.

Wire shape (Go libcni's ``types/020``)::

    {"cniVersion": "0.2.0",
     "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
     "ip6": {...},
     "dns": {}}

Plain slotted classes, neither pydantic nor dataclasses: see ``common`` (the per-call import cost of a
plugin process).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from multus.cni.types.common import DNS, NO_DNS, WireModel, put
from multus.cni.types.fields import (
    Decoder,
    FieldError,
    as_cidr,
    as_ip,
    fix,
    instance_of,
    ip_version,
    tuple_of,
    version_in,
)
from multus.cni.types.v040 import Route

__all__ = ["DNS", "IPConfig", "Result", "Route"]

FAMILY = "020"


class IPConfig(WireModel):
    """One address family's configuration: address with prefix, gateway, and that family's routes."""

    FIELDS = ("ip", "gateway", "routes")
    __slots__ = FIELDS

    ip: str
    gateway: str | None
    routes: tuple[Route, ...]

    def __init__(self, *, ip: str, gateway: str | None = None, routes: tuple[Route, ...] = ()) -> None:
        fix(self, "ip", ip, as_cidr)
        fix(self, "gateway", gateway, as_ip, optional=True)
        fix(self, "routes", routes, tuple_of(Route))

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            ip=d.required(obj, "ip", path, as_cidr),
            gateway=d.field(obj, "gateway", path, as_ip, None),
            routes=d.objects(obj, "routes", path, Route.decode),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ip": self.ip}
        put(out, "gateway", self.gateway)
        put(out, "routes", self.routes)
        return out


class Result(WireModel):
    """A 0.1.0 / 0.2.0 result."""

    FIELDS = ("cni_version", "ip4", "ip6", "dns")
    __slots__ = FIELDS

    cni_version: str
    ip4: IPConfig | None
    ip6: IPConfig | None
    dns: DNS

    def __init__(
        self, *, cni_version: str, ip4: IPConfig | None = None, ip6: IPConfig | None = None, dns: DNS = NO_DNS
    ) -> None:
        fix(self, "cni_version", cni_version, version_in(FAMILY))
        fix(self, "ip4", ip4, instance_of(IPConfig), optional=True)
        fix(self, "ip6", ip6, instance_of(IPConfig), optional=True)
        fix(self, "dns", dns, instance_of(DNS))
        # Conversion trusts ip4 to be IPv4 and ip6 to be IPv6; a swapped one would be mislabelled later.
        for slot, config, want in (("ip4", self.ip4, 4), ("ip6", self.ip6, 6)):
            if config is not None and ip_version(config.ip) != want:
                raise FieldError(f"{slot}.ip", f"{slot} holds the IPv{6 if want == 4 else 4} address {config.ip}")

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            cni_version=d.required(obj, "cniVersion", path, version_in(FAMILY)),
            ip4=d.nested(obj, "ip4", path, IPConfig.decode),
            ip6=d.nested(obj, "ip6", path, IPConfig.decode),
            dns=d.nested(obj, "dns", path, DNS.decode) or DNS(),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": self.cni_version}
        put(out, "ip4", self.ip4.to_dict() if self.ip4 else None)
        put(out, "ip6", self.ip6.to_dict() if self.ip6 else None)
        # Go's DNS is a struct field, which omitempty never drops: "dns" is always printed.
        out["dns"] = self.dns.to_dict()
        return out
