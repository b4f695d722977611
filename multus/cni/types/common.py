"""What every result family shares: the base model and the pieces of a result common to all of them.

The wire form (``to_dict``) is written by hand per model: it has to reproduce Go libcni's JSON exactly
(field order, ``omitempty`` on most fields but not on pointer fields or on the ``dns`` struct). Reading
and checking fields is :mod:`multus.cni.types.fields`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from multus.cni.types.fields import (
    DecodeError,
    Decoder,
    FieldError,
    as_cidr,
    as_int,
    as_str,
    as_strs,
    fix,
    instance_of,
    json_type,
    tuple_of,
    version_in,
)

# --- models ----------------------------------------------------------------------------------------------

class WireModel:
    """Base of every piece of a result; subclasses are frozen, keyword-only dataclasses.

    They are declared ``repr=False, eq=False`` and share the generic ``__repr__``/``__eq__``/``__hash__``
    below: dataclass would compile those three anew for every class at import, which cost about 2 ms
    per process. Same behaviour: equal when of the same class with equal fields, hashable.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WireModel) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__dataclass_fields__)
        return f"{type(self).__qualname__}({fields})"

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        """Read wire object ``obj`` found at ``path``, recording problems in ``d``; None if any."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Self:
        """The model of a wire JSON object; :class:`DecodeError` listing every problem otherwise."""
        if not isinstance(obj, dict):
            raise DecodeError([f"expected an object, got {json_type(obj)}"])
        d = Decoder()
        model = cls.decode(obj, d, "")
        if model is None:
            raise DecodeError(d.problems)
        return model

    def to_dict(self) -> dict[str, Any]:
        """The wire JSON object, shaped as Go libcni prints it."""
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


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


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class DNS(WireModel):
    """The ``dns`` object; the same in every spec version."""

    nameservers: tuple[str, ...] = ()
    domain: str = ""
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("nameservers", "search", "options"):
            fix(self, name, as_strs)
        fix(self, "domain", as_str)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        mark = d.mark()
        return d.build(
            cls, path, mark,
            nameservers=d.field(obj, "nameservers", path, as_strs, ()),
            domain=d.field(obj, "domain", path, as_str, ""),
            search=d.field(obj, "search", path, as_strs, ()),
            options=d.field(obj, "options", path, as_strs, ()),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        put(out, "nameservers", self.nameservers)
        put(out, "domain", self.domain)
        put(out, "search", self.search)
        put(out, "options", self.options)
        return out


@dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class HasInterfaceIndex(WireModel):
    """An ``ips`` entry of the 0.3+ shapes, which may point at an ``interfaces`` entry by index."""

    interface: int | None = None
    address: str

    def __post_init__(self) -> None:
        fix(self, "interface", as_int, optional=True)
        fix(self, "address", as_cidr)


def check_interface_indexes(ips: Sequence[HasInterfaceIndex], interfaces: Sequence[object]) -> None:
    """An ``ips[].interface`` must index into ``interfaces``; anything else is a broken result."""
    for index, ip in enumerate(ips):
        if ip.interface is not None and not 0 <= ip.interface < len(interfaces):
            raise FieldError(
                f"ips.{index}.interface",
                f"ip {ip.address} refers to interface index {ip.interface}, "
                f"but the result has {len(interfaces)} interface(s)",
            )


class InterfacesResult(WireModel):
    """What the results of 0.3.0 and later share: interfaces, ips indexing into them, routes, dns.

    A family declares the dataclass fields with its own member models and names those models in
    ``members`` (Interface, IPConfig, Route); the checks, the decoding and the wire form are the same
    for every such family and live here.
    """

    family: ClassVar[str]
    members: ClassVar[tuple[type[WireModel], type[WireModel], type[WireModel]]]

    cni_version: str
    interfaces: tuple[Any, ...]
    ips: tuple[Any, ...]
    routes: tuple[Any, ...]
    dns: DNS

    def __post_init__(self) -> None:
        interface, ip_config, route = self.members
        fix(self, "cni_version", version_in(self.family))
        fix(self, "interfaces", tuple_of(interface))
        fix(self, "ips", tuple_of(ip_config))
        fix(self, "routes", tuple_of(route))
        fix(self, "dns", instance_of(DNS))
        check_interface_indexes(self.ips, self.interfaces)

    @classmethod
    def decode(cls, obj: Mapping[str, Any], d: Decoder, path: str) -> Self | None:
        interface, ip_config, route = cls.members
        mark = d.mark()
        return d.build(
            cls, path, mark,
            cni_version=d.required(obj, "cniVersion", path, version_in(cls.family)),
            interfaces=d.objects(obj, "interfaces", path, interface.decode),
            ips=d.objects(obj, "ips", path, ip_config.decode),
            routes=d.objects(obj, "routes", path, route.decode),
            dns=d.nested(obj, "dns", path, DNS.decode) or DNS(),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": self.cni_version}
        put(out, "interfaces", self.interfaces)
        put(out, "ips", self.ips)
        put(out, "routes", self.routes)
        out["dns"] = self.dns.to_dict()  # a struct in Go: never omitted
        return out
