"""The NPWG Device Information Specification (1.0.0 and 1.1.0) as data and rules, standard library only.

The spec's "required" keys exist only on paper: Go's network-attachment-definition-client types are
all ``omitempty`` and validate nothing. So this module splits the two concerns:

* the *wire form* -- a plain dict holding only present keys, string values and sub-object dicts, the
  shape :mod:`devinfo.wire` reads and writes byte-for-byte like Go;
* :func:`spec_problems` -- every way a wire dict breaks the spec, as readable sentences. Writers
  (the models' constructors, :func:`devinfo.files.save`) refuse an object with problems; readers
  accept it, as Go does, and may report the problems as warnings.

Choices where the spec is silent or its producers disagree (each one checked by a test):

* ``version`` must be exactly ``1.0.0`` or ``1.1.0`` on write. Readers accept any string;
  :func:`normalize_version` maps the ``v1.1.0`` spelling seen in a NAD-client test to ``1.1.0``.
* ``representor-device`` appeared in 1.1.0, so a 1.0.0 object carrying it is refused on write. On read
  it is kept (dropping data a producer wrote would help no one) and reported as a problem.
* memif ``mode``: the spec says ``inject-punt``, Go's constant is ``punt``. Writers must use the spec's
  spelling; readers accept both (:func:`normalize_memif_mode`).
* vdpa ``path`` stays required on write, as the spec says, although the SR-IOV device plugin omits it
  for virtio vDPA devices; such files still read fine.
* PCI addresses must look like the kernel's names: lowercase hex ``dddd:bb:dd.f`` with device <= 0x1f
  and function <= 7. The domain may have up to 8 hex digits, because VMD domains (``10000:...``) do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

SPEC_VERSION = "1.1.0"
"""The newest spec version, the one this library writes by default (Go's ``DeviceInfoVersion``)."""

SPEC_VERSIONS = ("1.0.0", "1.1.0")
"""Versions a writer may put in ``version``."""

WireDict = dict[str, Any]
"""A device-info object in wire form: present keys only, string values, sub-objects as dicts."""


class DeviceType(StrEnum):
    """The ``type`` values; each selects the sub-object of the same name."""

    PCI = "pci"
    VDPA = "vdpa"
    VHOST_USER = "vhost-user"
    MEMIF = "memif"


class VdpaDriver(StrEnum):
    """vdpa ``driver``: the vDPA bus driver, ``vhost`` (vhost_vdpa) or ``virtio`` (virtio_vdpa)."""

    VHOST = "vhost"
    VIRTIO = "virtio"


class VhostUserMode(StrEnum):
    """vhost-user ``mode``: ``client`` = the host creates the socket, ``server`` = the container does."""

    CLIENT = "client"
    SERVER = "server"


class MemifRole(StrEnum):
    """memif ``role``: ``master`` = the container creates the socket, ``slave`` = the host does."""

    MASTER = "master"
    SLAVE = "slave"


class MemifMode(StrEnum):
    """memif ``mode`` as the spec spells it (``inject-punt`` is reserved, not implemented by anyone)."""

    ETHERNET = "ethernet"
    IP = "ip"
    INJECT_PUNT = "inject-punt"


GO_MEMIF_PUNT = "punt"
"""Go's ``MemitDeviceModePunt`` spelling, accepted on read only."""

# Go's struct field order: json.Marshal writes keys in this order, so the encoder must too.
TOP_KEYS = ("type", "version", "pci", "vdpa", "vhost-user", "memif")
SUBOBJECT_KEYS: dict[str, tuple[str, ...]] = {
    "pci": ("pci-address", "vhost-net", "rdma-device", "pf-pci-address", "representor-device"),
    "vdpa": ("parent-device", "driver", "path", "pci-address", "pf-pci-address", "representor-device"),
    "vhost-user": ("mode", "path"),
    "memif": ("role", "path", "mode"),
}
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "": ("type", "version"),
    "pci": ("pci-address",),
    "vdpa": ("parent-device", "driver", "path"),
    "vhost-user": ("mode", "path"),
    "memif": ("role", "path", "mode"),
}
ENUM_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "type"): tuple(m.value for m in DeviceType),
    ("", "version"): SPEC_VERSIONS,
    ("vdpa", "driver"): tuple(m.value for m in VdpaDriver),
    ("vhost-user", "mode"): tuple(m.value for m in VhostUserMode),
    ("memif", "role"): tuple(m.value for m in MemifRole),
    ("memif", "mode"): tuple(m.value for m in MemifMode),
}
PCI_ADDRESS_KEYS = frozenset({"pci-address", "pf-pci-address"})
PATH_KEYS = frozenset({"vhost-net", "path"})
REPRESENTOR_KEY = "representor-device"

PCI_ADDRESS_PATTERN = r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$"
_PCI_ADDRESS_RE = re.compile(PCI_ADDRESS_PATTERN)
IFNAME_PATTERN = r"^[^/\s:]{1,15}$"
_IFNAME_RE = re.compile(IFNAME_PATTERN)
DEVICE_NAME_PATTERN = r"^[^/\s,]+$"
_DEVICE_NAME_RE = re.compile(DEVICE_NAME_PATTERN)
RDMA_DEVICES_PATTERN = r"^[^/\s,]+(,[^/\s,]+)*$"
_RDMA_DEVICES_RE = re.compile(RDMA_DEVICES_PATTERN)
PATH_PATTERN = r"^/[^\x00]*$"
_PATH_RE = re.compile(PATH_PATTERN)
_VERSION_RE = re.compile(r"^v?(\d+\.\d+\.\d+)$")


def is_pci_address(value: str) -> bool:
    """True for a kernel-style BDF such as ``0000:03:02.3`` (see the module doc for the exact rule)."""
    return _PCI_ADDRESS_RE.fullmatch(value) is not None


def pci_address_problem(value: str) -> str | None:
    """Why ``value`` is not a PCI address, or None when it is one."""
    if is_pci_address(value):
        return None
    if is_pci_address(value.lower()):
        return f"{value!r} must be lowercase, as the kernel names PCI devices ({value.lower()!r})"
    return f"{value!r} is not a PCI address of the form dddd:bb:dd.f (e.g. 0000:03:02.3)"


def normalize_version(version: str) -> str | None:
    """The ``MAJOR.MINOR.PATCH`` a reader should act on: ``v1.1.0`` -> ``1.1.0``; None if unparsable."""
    match = _VERSION_RE.fullmatch(version.strip())
    return match.group(1) if match else None


def normalize_memif_mode(mode: str) -> str:
    """The spec's spelling of a memif mode: Go's ``punt`` becomes ``inject-punt``; others unchanged."""
    return MemifMode.INJECT_PUNT.value if mode == GO_MEMIF_PUNT else mode


def _value_problems(sub: str, key: str, value: str) -> list[str]:
    where = f"{sub}.{key}" if sub else key
    problems: list[str] = []
    allowed = ENUM_VALUES.get((sub, key))
    if allowed is not None and value not in allowed:
        if sub == "memif" and key == "mode" and value == GO_MEMIF_PUNT:
            problems.append(f"{where}: 'punt' is Go's constant; the spec spells it 'inject-punt'")
        elif key == "version" and normalize_version(value) in SPEC_VERSIONS:
            problems.append(f"{where}: write {normalize_version(value)!r}, not {value!r} "
                            "(the 'v' spelling is accepted on read only)")
        else:
            problems.append(f"{where}: must be one of {', '.join(allowed)} (got {value!r})")
    if key in PCI_ADDRESS_KEYS and (why := pci_address_problem(value)):
        problems.append(f"{where}: {why}")
    if key in PATH_KEYS and not _PATH_RE.fullmatch(value):
        problems.append(f"{where}: must be an absolute path (got {value!r})")
    if key == REPRESENTOR_KEY and not _IFNAME_RE.fullmatch(value):
        problems.append(f"{where}: {value!r} is not a network interface name (1-15 chars, no '/', ':' or space)")
    if key == "parent-device" and not _DEVICE_NAME_RE.fullmatch(value):
        problems.append(f"{where}: {value!r} is not a vDPA device name such as 'vdpa2'")
    if key == "rdma-device" and not _RDMA_DEVICES_RE.fullmatch(value):
        problems.append(f"{where}: must be RDMA device names joined by ',' (got {value!r})")
    return problems


def subobject_problems(sub: str, fields: Mapping[str, Any]) -> list[str]:
    """The spec violations of one sub-object (``sub`` is ``pci``, ``vdpa``, ``vhost-user`` or ``memif``)."""
    problems = [f"{sub}.{key}: required" for key in REQUIRED_KEYS[sub] if not fields.get(key)]
    for key in SUBOBJECT_KEYS[sub]:
        value = fields.get(key)
        if value:
            problems.extend(_value_problems(sub, key, value))
    return problems


def spec_problems(wire: Mapping[str, Any]) -> list[str]:
    """Every way a wire-form object breaks the spec (empty when it is valid to write)."""
    problems = [f"{key}: required" for key in REQUIRED_KEYS[""] if not wire.get(key)]
    for key in REQUIRED_KEYS[""]:
        if wire.get(key):
            problems.extend(_value_problems("", key, wire[key]))
    kind = wire.get("type", "")
    if kind in SUBOBJECT_KEYS and wire.get(kind) is None:
        problems.append(f"{kind}: required when type is {kind!r}")
    version = normalize_version(wire.get("version", "") or "")
    for sub in SUBOBJECT_KEYS:
        fields = wire.get(sub)
        if fields is None:
            continue
        if kind in SUBOBJECT_KEYS and sub != kind:
            problems.append(f"{sub}: must be absent when type is {kind!r}")
        problems.extend(subobject_problems(sub, fields))
        if version == "1.0.0" and fields.get(REPRESENTOR_KEY):
            problems.append(f"{sub}.{REPRESENTOR_KEY}: needs version 1.1.0 (the key was added in 1.1.0)")
    return problems
