"""Pydantic v2 models of a device-info object (spec 1.0.0 and 1.1.0), strict on write, lenient on read.

Field names are Python identifiers; each carries the spec's JSON name as its alias (``pci-address``),
and both spellings are accepted when constructing. Every string field defaults to ``""``, Go's zero
value, so an object read from a file with a key missing says so honestly instead of holding None in
a field typed ``str``; the serializer omits empty strings, as Go's ``omitempty`` does.

Two ways in:

* **Constructing** (``DeviceInfo(...)``, ``PciDevice(...)``, ``DeviceInfo.model_validate(...)``,
  :meth:`DeviceInfo.for_pci` and friends) is the write path and *strict*: required keys, enum values,
  PCI address format, the type/sub-object pairing, ``representor-device`` only from 1.1.0, and no
  unknown keys. A violation raises pydantic's ``ValidationError`` listing every problem.
* **Reading** (:meth:`DeviceInfo.parse`, by default) is *lenient*, as Go's ``json.Unmarshal`` is:
  unknown keys ignored, any type/version strings kept (``v1.1.0``, Go's ``punt``, a vdpa without
  ``path``). :meth:`DeviceInfo.problems` lists what a strict check would refuse, so a reader can warn.

The rules themselves live in :mod:`devinfo.spec` (standard library only) and the byte-exact Go
serialization in :mod:`devinfo.wire`; these models add typed access, construction and JSON Schema.
``model_copy(update=...)`` bypasses validation, as in any pydantic model: rebuild to re-check. Use
:meth:`DeviceInfo.to_json`, not ``model_dump_json``, for files: only the former matches Go's bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from devinfo import wire
from devinfo.errors import InvalidDeviceInfoError
from devinfo.spec import (
    SPEC_VERSION,
    SUBOBJECT_KEYS,
    DeviceType,
    WireDict,
    normalize_memif_mode,
    normalize_version,
    spec_problems,
    subobject_problems,
)

LENIENT: dict[str, Any] = {"devinfo_lenient": True}
"""Validation context that turns the strict checks off (what :meth:`DeviceInfo.parse` uses)."""


def _wire_field(json_name: str, description: str, *, default: Any = "") -> Any:
    """A field whose JSON key differs from its Python name; both spellings are accepted on input.

    ``validation_alias``/``serialization_alias`` rather than ``alias`` keep type checkers seeing the
    Python names as constructor keywords without the pydantic mypy plugin.
    """
    return Field(default, validation_alias=json_name, serialization_alias=json_name, description=description)


def _is_lenient(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("devinfo_lenient"))


def _unknown_keys(model: type[BaseModel], data: Any, where: str) -> list[str]:
    if not isinstance(data, Mapping):
        return []
    known = set(model.model_fields) | {f.serialization_alias for f in model.model_fields.values()
                                       if f.serialization_alias}
    return [f"{where}{key}: unknown key" for key in data if key not in known]


class _SpecModel(BaseModel):
    """Common configuration and wire conversion of the spec's objects."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")
    wire_name: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any, info: ValidationInfo) -> Any:
        prefix = f"{cls.wire_name}." if cls.wire_name else ""
        if not _is_lenient(info) and (unknown := _unknown_keys(cls, data, prefix)):
            raise ValueError("; ".join(unknown))
        return data

    def to_wire(self) -> WireDict:
        """The wire form: spec key names, present (non-empty) values only, in Go's order."""
        out: WireDict = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, _SpecModel):
                out[field.serialization_alias or name] = value.to_wire()
            elif value:
                out[field.serialization_alias or name] = value
        return out


class _SubObject(_SpecModel):
    """A ``pci``/``vdpa``/``vhost-user``/``memif`` sub-object; checks its own keys when strict."""

    @model_validator(mode="after")
    def _check_spec(self, info: ValidationInfo) -> Self:
        if not _is_lenient(info) and (problems := subobject_problems(self.wire_name, self.to_wire())):
            raise ValueError("; ".join(problems))
        return self


class PciDevice(_SubObject):
    """``pci``: a PCI device (typically an SR-IOV VF) handed to the pod."""

    wire_name: ClassVar[str] = "pci"
    pci_address: str = _wire_field("pci-address", "BDF of the device, e.g. 0000:18:02.5")
    vhost_net: str = _wire_field("vhost-net", "vhost-net char device for a DPDK exception path")
    rdma_device: str = _wire_field("rdma-device", "RDMA device name(s), comma-joined")
    pf_pci_address: str = _wire_field("pf-pci-address", "BDF of the parent PF")
    representor_device: str = _wire_field("representor-device", "netdev of the VF representor (spec 1.1.0+)")


class VdpaDevice(_SubObject):
    """``vdpa``: a vDPA device, with the vhost or virtio char device the pod uses."""

    wire_name: ClassVar[str] = "vdpa"
    parent_device: str = _wire_field("parent-device", "name in /sys/bus/vdpa/devices, e.g. vdpa2")
    driver: str = Field(default="", description="vhost or virtio")
    path: str = Field(default="", description="the vhost/virtio device, e.g. /dev/vhost-vdpa-0")
    pci_address: str = _wire_field("pci-address", "BDF of the backing VF/PF")
    pf_pci_address: str = _wire_field("pf-pci-address", "BDF of the PF")
    representor_device: str = _wire_field("representor-device", "netdev of the VF representor (spec 1.1.0+)")


class VhostUserDevice(_SubObject):
    """``vhost-user``: a vhost-user socket shared between host and pod."""

    wire_name: ClassVar[str] = "vhost-user"
    mode: str = Field(default="", description="client: the host creates the socket; server: the container does")
    path: str = Field(default="", description="the socket path")


class MemifDevice(_SubObject):
    """``memif``: a memif socket shared between host and pod."""

    wire_name: ClassVar[str] = "memif"
    role: str = Field(default="", description="master: the container creates the socket; slave: the host does")
    path: str = Field(default="", description="the socket path")
    mode: str = Field(default="", description="ethernet, ip or inject-punt")

    @property
    def normalized_mode(self) -> str:
        """The mode in the spec's spelling: Go's ``punt`` reads as ``inject-punt``."""
        return normalize_memif_mode(self.mode)


class DeviceInfo(_SpecModel):
    """One device-info object: ``type``, ``version`` and the sub-object the type names."""

    type: str = Field(default="", description="pci, vdpa, vhost-user or memif; names the sub-object present")
    version: str = Field(default="", description="the spec version the producer followed: 1.0.0 or 1.1.0")
    pci: PciDevice | None = None
    vdpa: VdpaDevice | None = None
    vhost_user: VhostUserDevice | None = _wire_field("vhost-user", "the vhost-user sub-object", default=None)
    memif: MemifDevice | None = None

    @model_validator(mode="after")
    def _check_spec(self, info: ValidationInfo) -> Self:
        if not _is_lenient(info) and (problems := spec_problems(self.to_wire())):
            raise ValueError("; ".join(problems))
        return self

    # ---- reading

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], *, strict: bool = False) -> DeviceInfo:
        """Build from a decoded JSON object (e.g. a network-status ``device-info``), Go-leniently by default."""
        decoded = wire.decode_object(data)
        if strict and (problems := decoded.strict_problems()):
            raise InvalidDeviceInfoError(problems)
        try:
            return cls.model_validate(decoded.wire, context=LENIENT)
        except ValidationError as exc:  # not reachable for decoded input; kept as a typed error
            raise InvalidDeviceInfoError([str(exc)]) from None

    @classmethod
    def parse(cls, data: str | bytes | Mapping[str, Any], *, strict: bool = False) -> DeviceInfo:
        """Read JSON text (or an already-parsed object). Lenient like Go unless ``strict``.

        Raises :class:`~devinfo.errors.InvalidDeviceInfoError` with every reason found.
        """
        obj = data if isinstance(data, Mapping) else wire.parse_json(data)
        return cls.from_wire(obj, strict=strict)

    # ---- writing

    @classmethod
    def for_pci(cls, pci_address: str, *, pf_pci_address: str = "", rdma_device: str = "", vhost_net: str = "",
                representor_device: str = "", version: str = SPEC_VERSION) -> DeviceInfo:
        """A strict ``type: pci`` object."""
        pci = PciDevice(pci_address=pci_address, pf_pci_address=pf_pci_address, rdma_device=rdma_device,
                        vhost_net=vhost_net, representor_device=representor_device)
        return cls(type=DeviceType.PCI.value, version=version, pci=pci)

    @classmethod
    def for_vdpa(cls, parent_device: str, driver: str, path: str, *, pci_address: str = "", pf_pci_address: str = "",
                 representor_device: str = "", version: str = SPEC_VERSION) -> DeviceInfo:
        """A strict ``type: vdpa`` object."""
        vdpa = VdpaDevice(parent_device=parent_device, driver=driver, path=path, pci_address=pci_address,
                          pf_pci_address=pf_pci_address, representor_device=representor_device)
        return cls(type=DeviceType.VDPA.value, version=version, vdpa=vdpa)

    @classmethod
    def for_vhost_user(cls, mode: str, path: str, *, version: str = SPEC_VERSION) -> DeviceInfo:
        """A strict ``type: vhost-user`` object."""
        return cls(type=DeviceType.VHOST_USER.value, version=version, vhost_user=VhostUserDevice(mode=mode, path=path))

    @classmethod
    def for_memif(cls, role: str, path: str, mode: str, *, version: str = SPEC_VERSION) -> DeviceInfo:
        """A strict ``type: memif`` object."""
        return cls(type=DeviceType.MEMIF.value, version=version, memif=MemifDevice(role=role, path=path, mode=mode))

    def to_json(self) -> str:
        """Compact JSON, byte-for-byte what Go's ``json.Marshal`` writes for the same object."""
        return wire.dumps(self.to_wire())

    # ---- inspecting

    def problems(self) -> list[str]:
        """What a strict check refuses in this object (empty when valid to write)."""
        return spec_problems(self.to_wire())

    @property
    def spec_version(self) -> str | None:
        """``version`` as ``MAJOR.MINOR.PATCH`` (``v1.1.0`` -> ``1.1.0``), or None if unparsable."""
        return normalize_version(self.version)

    @property
    def device(self) -> PciDevice | VdpaDevice | VhostUserDevice | MemifDevice | None:
        """The sub-object ``type`` names, or None if it is absent or the type unknown."""
        if self.type not in SUBOBJECT_KEYS:
            return None
        attribute = "vhost_user" if self.type == DeviceType.VHOST_USER else self.type
        device: PciDevice | VdpaDevice | VhostUserDevice | MemifDevice | None = getattr(self, attribute)
        return device

