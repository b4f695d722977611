"""Results of spec versions 0.1.0 and 0.2.0: at most one IPv4 and one IPv6 configuration, no interfaces.

Wire shape (Go libcni's ``types/020``)::

    {"cniVersion": "0.2.0",
     "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
     "ip6": {...},
     "dns": {}}

Stdlib dataclasses, not pydantic: see ``common`` (the per-call import cost of a plugin process).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from multus.cni.types.common import DNS, WireModel, put
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


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class IPConfig(WireModel):
    """One address family's configuration: address with prefix, gateway, and that family's routes."""

    ip: str
    gateway: str | None = None
    routes: tuple[Route, ...] = ()

    def __post_init__(self) -> None:
        fix(self, "ip", as_cidr)
        fix(self, "gateway", as_ip, optional=True)
        fix(self, "routes", tuple_of(Route))

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


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class Result(WireModel):
    """A 0.1.0 / 0.2.0 result."""

    cni_version: str
    ip4: IPConfig | None = None
    ip6: IPConfig | None = None
    dns: DNS = DNS()

    def __post_init__(self) -> None:
        fix(self, "cni_version", version_in(FAMILY))
        fix(self, "ip4", instance_of(IPConfig), optional=True)
        fix(self, "ip6", instance_of(IPConfig), optional=True)
        fix(self, "dns", instance_of(DNS))
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
