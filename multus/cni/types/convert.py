"""Converting results between spec versions, through one explicit table of family-to-family steps.

A runtime must hand each caller the result in the version it asked for (the config's ``cniVersion``),
while plugins answer in whatever version they speak. The table below is the whole conversion graph:
it is written out rather than filled in by import-time registration so it can be read in one place.
Within a family only the label changes; 0.2.0 <-> 1.x goes through 0.4.0, as libcni does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from multus.cni.errors import ResultConversionError
from multus.cni.types import v100
from multus.cni.types.fields import family_of, ip_version
from multus.cni.version import ALL_VERSIONS, CURRENT_VERSION

if TYPE_CHECKING:
    from multus.cni.types import v020, v040

    AnyResult: TypeAlias = v020.Result | v040.Result | v100.Result

# The steps that build a 0.x model import its module when they run (see multus.cni.types: the 0.x
# families load only when a result must be converted to or from one of them).

# The label an intermediate result carries while passing through the 0.4.0 family.
_VIA_040 = "0.4.0"


def _relabel(result: AnyResult, to_version: str) -> AnyResult:
    # Versions of one family share a shape; replace() builds a new model, the frozen original stays.
    return result.replace(cni_version=to_version)


def _v020_to_v040(result: v020.Result, to_version: str) -> v040.Result:
    from multus.cni.types import v040

    slots: tuple[tuple[v020.IPConfig | None, v040.IpVersion], ...] = ((result.ip4, "4"), (result.ip6, "6"))
    configs = [(config, family) for config, family in slots if config]
    return v040.Result(
        cni_version=to_version,
        ips=tuple(v040.IPConfig(version=family, address=c.ip, gateway=c.gateway) for c, family in configs),
        # 0.2.0 keeps routes per family; 0.3+ has one list. ip4's come first.
        routes=tuple(route for config, _ in configs for route in config.routes),
        dns=result.dns,
    )


def _first_per_family(ips: tuple[v040.IPConfig, ...]) -> dict[int, v040.IPConfig]:
    """The one address per family that 0.2.0 can hold, or an error naming the ones it cannot.

    OUR DEVIATION from libcni, which keeps the first address of each family and silently drops the
    rest: a caller that asked for 0.1.0/0.2.0 would then believe the container has fewer addresses
    than it really does (and e.g. never release them). Failing loudly lets the operator fix the
    config version instead of debugging leaked or missing addresses.
    """
    first: dict[int, v040.IPConfig] = {}
    extra: list[str] = []
    for ip in ips:
        family = ip_version(ip.address)
        if family in first:
            extra.append(ip.address)
        else:
            first[family] = ip
    if extra:
        raise ResultConversionError(
            "cannot convert result to 0.1.0/0.2.0: it holds more than one address of the same IP family",
            f"0.1.0/0.2.0 results hold one IPv4 and one IPv6 address; cannot express {', '.join(extra)}",
        )
    return first


def _v040_to_v020(result: v040.Result, to_version: str) -> v020.Result:
    from multus.cni.types import v020

    first = _first_per_family(result.ips)

    def config(family: int) -> v020.IPConfig | None:
        ip = first.get(family)
        if ip is None:
            return None
        # Routes of a family with no address have nowhere to go in 0.2.0 and are dropped, as in libcni:
        # without an address of that family they could not be used anyway.
        routes = tuple(r for r in result.routes if ip_version(r.dst) == family)
        return v020.IPConfig(ip=ip.address, gateway=ip.gateway, routes=routes)

    # Interfaces are dropped: 0.2.0 has no field for them.
    return v020.Result(cni_version=to_version, ip4=config(4), ip6=config(6), dns=result.dns)


def _v040_to_v100(result: v040.Result, to_version: str) -> v100.Result:
    return v100.Result(
        cni_version=to_version,
        interfaces=tuple(
            v100.Interface(name=i.name, mac=i.mac, sandbox=i.sandbox) for i in result.interfaces
        ),
        # "version" is gone in 1.0: the address carries its family.
        ips=tuple(
            v100.IPConfig(interface=ip.interface, address=ip.address, gateway=ip.gateway) for ip in result.ips
        ),
        routes=tuple(v100.Route(dst=r.dst, gw=r.gw) for r in result.routes),
        dns=result.dns,
    )


def _label(address: str) -> v040.IpVersion:
    return "4" if ip_version(address) == 4 else "6"


def _v100_to_v040(result: v100.Result, to_version: str) -> v040.Result:
    from multus.cni.types import v040

    # The 1.1.0-only fields (interface mtu/socketPath/pciID, route mtu/advmss/...) have no 0.x place.
    return v040.Result(
        cni_version=to_version,
        interfaces=tuple(
            v040.Interface(name=i.name, mac=i.mac, sandbox=i.sandbox) for i in result.interfaces
        ),
        ips=tuple(
            v040.IPConfig(
                version=_label(ip.address),
                interface=ip.interface,
                address=ip.address,
                gateway=ip.gateway,
            )
            for ip in result.ips
        ),
        routes=tuple(v040.Route(dst=r.dst, gw=r.gw) for r in result.routes),
        dns=result.dns,
    )


def _v020_to_v100(result: v020.Result, to_version: str) -> v100.Result:
    return _v040_to_v100(_v020_to_v040(result, _VIA_040), to_version)


def _v100_to_v020(result: v100.Result, to_version: str) -> v020.Result:
    return _v040_to_v020(_v100_to_v040(result, _VIA_040), to_version)


# (from family, to family) -> step. Each step takes the model of its "from" family; convert_result
# picks the row from the result's own family, so the Any in the value type is never a lie.
CONVERSIONS: dict[tuple[str, str], Callable[[Any, str], AnyResult]] = {
    ("020", "020"): _relabel,
    ("020", "040"): _v020_to_v040,
    ("020", "100"): _v020_to_v100,
    ("040", "020"): _v040_to_v020,
    ("040", "040"): _relabel,
    ("040", "100"): _v040_to_v100,
    ("100", "020"): _v100_to_v020,
    ("100", "040"): _v100_to_v040,
    ("100", "100"): _relabel,
}

def convert_result(result: AnyResult, to_version: str) -> AnyResult:
    """Return ``result`` labelled and shaped for ``to_version``; the same object if it already is."""
    if to_version not in ALL_VERSIONS:
        raise ResultConversionError(
            f"cannot convert result to unsupported version {to_version!r}",
            f"supported versions: {', '.join(ALL_VERSIONS)}",
        )
    if result.cni_version == to_version:
        return result
    # A model only ever holds a version of its own family (checked when it is built), so the version
    # names the row as the model's class would.
    step = CONVERSIONS[(family_of(result.cni_version), family_of(to_version))]
    return step(result, to_version)


def to_current(result: AnyResult) -> v100.Result:
    """The result as the newest spec version, the form the runtime works with internally."""
    current = convert_result(result, CURRENT_VERSION)
    if not isinstance(current, v100.Result):  # pragma: no cover - the table guarantees this
        raise TypeError(f"conversion to {CURRENT_VERSION} produced {type(current).__name__}")
    return current
