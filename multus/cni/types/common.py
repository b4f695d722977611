"""What every result family shares: the base model and the pieces of a result common to all of them.

The wire form (``to_dict``) is written by hand per model: it has to reproduce Go libcni's JSON exactly
(field order, ``omitempty`` on most fields but not on pointer fields or on the ``dns`` struct). Reading
and checking fields is :mod:`multus.cni.types.fields`.

The models are plain classes with ``__slots__`` and a hand-written keyword-only ``__init__``, not
dataclasses: these modules are imported by every CNI plugin process, a fresh process per call, where
``import dataclasses`` alone cost ~5.7 ms (it pulls in ``inspect``, ``ast``, ``dis``...) and building
each frozen dataclass another ~0.3 ms. :class:`WireModel` supplies what the dataclass machinery did:
equality, hashing and repr over the fields named in ``FIELDS``, immutability, and :meth:`~WireModel.replace`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

class FrozenModelError(AttributeError):
    """An attempt to set or delete an attribute of a model: models are immutable, build a new one."""


class WireModel:
    """Base of every piece of a result: an immutable value with keyword-only fields.

    A subclass names its fields in ``FIELDS`` (all of them, base class fields first, in declaration
    order: ``__eq__``/``__hash__``/``__repr__`` and :meth:`replace` go by it), holds the ones it adds in
    ``__slots__``, annotates them in its body for the type checker, and sets them in a keyword-only
    ``__init__`` through :func:`~multus.cni.types.fields.fix`, which checks each value and stores it
    (``__setattr__`` refuses anything else). Equal when of the same class with equal fields; hashable.
    """

    __slots__ = ()

    FIELDS: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WireModel) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenModelError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenModelError(f"cannot delete field {name!r}")

    def replace(self, **changes: Any) -> Self:
        """A new model with ``changes`` applied to this one's fields, built and checked by ``__init__``."""
        return type(self)(**{**{name: getattr(self, name) for name in self.FIELDS}, **changes})

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


class DNS(WireModel):
    """The ``dns`` object; the same in every spec version."""

    FIELDS = ("nameservers", "domain", "search", "options")
    __slots__ = FIELDS

    nameservers: tuple[str, ...]
    domain: str
    search: tuple[str, ...]
    options: tuple[str, ...]

    def __init__(
        self,
        *,
        nameservers: tuple[str, ...] = (),
        domain: str = "",
        search: tuple[str, ...] = (),
        options: tuple[str, ...] = (),
    ) -> None:
        fix(self, "nameservers", nameservers, as_strs)
        fix(self, "search", search, as_strs)
        fix(self, "options", options, as_strs)
        fix(self, "domain", domain, as_str)

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


# The default ``dns`` of a result: models are immutable, so every result can share this one.
NO_DNS = DNS()


class HasInterfaceIndex(WireModel):
    """An ``ips`` entry of the 0.3+ shapes, which may point at an ``interfaces`` entry by index.

    A family's IPConfig adds its own fields: its ``__init__`` passes these two here, then stores its own.
    """

    FIELDS: ClassVar[tuple[str, ...]] = ("interface", "address")  # extended by each family's IPConfig
    __slots__ = FIELDS

    interface: int | None
    address: str

    def __init__(self, *, interface: int | None = None, address: str) -> None:
        fix(self, "interface", interface, as_int, optional=True)
        fix(self, "address", address, as_cidr)


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

    A family's Result names its member models in ``members`` (Interface, IPConfig, Route), narrows the
    field types to them and has an ``__init__`` typed with them that passes everything here; the checks,
    the decoding and the wire form are the same for every such family and live here.
    """

    family: ClassVar[str]
    members: ClassVar[tuple[type[WireModel], type[WireModel], type[WireModel]]]

    FIELDS = ("cni_version", "interfaces", "ips", "routes", "dns")
    __slots__ = FIELDS

    cni_version: str
    interfaces: tuple[Any, ...]
    ips: tuple[Any, ...]
    routes: tuple[Any, ...]
    dns: DNS

    def __init__(
        self,
        *,
        cni_version: str,
        interfaces: tuple[Any, ...] = (),
        ips: tuple[Any, ...] = (),
        routes: tuple[Any, ...] = (),
        dns: DNS = NO_DNS,
    ) -> None:
        interface, ip_config, route = self.members
        fix(self, "cni_version", cni_version, version_in(self.family))
        fix(self, "interfaces", interfaces, tuple_of(interface))
        fix(self, "ips", ips, tuple_of(ip_config))
        fix(self, "routes", routes, tuple_of(route))
        fix(self, "dns", dns, instance_of(DNS))
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
