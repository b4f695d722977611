"""devinfo: the NPWG Device Information Specification, its files, and sysfs discovery.

A library for device-plugin authors, CNI plugins and Multus alike; it does not depend on the rest
of multus-py. Spec 1.0.0 and 1.1.0: types ``pci``, ``vdpa``, ``vhost-user`` and ``memif``.

* :class:`DeviceInfo` and its sub-objects (pydantic): strict when constructed, lenient when parsed;
  ``to_json()`` is byte-for-byte Go's ``json.Marshal``; :func:`schema` is the JSON Schema.
* :func:`dp_path`, :func:`cni_path`, :func:`save`, :func:`load`, :func:`update`, :func:`clean`,
  :func:`copy_dp_to_cni`: the files under ``/var/run/k8s.cni.cncf.io/devinfo`` (atomic, 0444,
  no overwrite unless asked).
* :func:`discover` and :func:`build_device_info`: what sysfs says about a PCI device (pyudev on the
  real ``/sys``, plain files for :class:`devinfo.testing.FakeSysfs` trees).

Names are loaded on first use (PEP 562), so ``import devinfo`` stays cheap and paths, copies, raw
loads and discovery never import pydantic: the thin meta-plugin's per-call path can use them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devinfo.backends import PlainReader, SysfsReader, UdevReader, open_reader
    from devinfo.errors import (
        DeviceInfoExistsError,
        DeviceInfoNotFoundError,
        DevInfoError,
        InvalidDeviceInfoError,
        PciDeviceNotFoundError,
        SysfsError,
        UnsafeNameError,
    )
    from devinfo.files import (
        DEFAULT_BASE_DIR,
        clean,
        clean_for_dp,
        cni_path,
        copy_dp_to_cni,
        dp_path,
        load,
        load_from_dp,
        load_raw,
        multus_cni_name,
        save,
        save_for_dp,
        update,
    )
    from devinfo.models import DeviceInfo, MemifDevice, PciDevice, VdpaDevice, VhostUserDevice
    from devinfo.schema import schema
    from devinfo.spec import (
        SPEC_VERSION,
        SPEC_VERSIONS,
        DeviceType,
        MemifMode,
        MemifRole,
        VdpaDriver,
        VhostUserMode,
        is_pci_address,
    )
    from devinfo.sysfs import (
        PciDeviceFacts,
        VdpaFacts,
        VirtualFunction,
        build_device_info,
        build_device_info_dict,
        device_info_from_facts,
        discover,
        list_pci_addresses,
    )

__all__ = [
    "DEFAULT_BASE_DIR",
    "SPEC_VERSION",
    "SPEC_VERSIONS",
    "DevInfoError",
    "DeviceInfo",
    "DeviceInfoExistsError",
    "DeviceInfoNotFoundError",
    "DeviceType",
    "InvalidDeviceInfoError",
    "MemifDevice",
    "MemifMode",
    "MemifRole",
    "PciDevice",
    "PciDeviceFacts",
    "PciDeviceNotFoundError",
    "PlainReader",
    "SysfsError",
    "SysfsReader",
    "UdevReader",
    "UnsafeNameError",
    "VdpaDevice",
    "VdpaDriver",
    "VdpaFacts",
    "VhostUserDevice",
    "VhostUserMode",
    "VirtualFunction",
    "build_device_info",
    "build_device_info_dict",
    "clean",
    "clean_for_dp",
    "cni_path",
    "copy_dp_to_cni",
    "device_info_from_facts",
    "discover",
    "dp_path",
    "is_pci_address",
    "list_pci_addresses",
    "load",
    "load_from_dp",
    "load_raw",
    "multus_cni_name",
    "open_reader",
    "save",
    "save_for_dp",
    "schema",
    "update",
]

# Where each public name lives; a test checks this matches __all__ and the TYPE_CHECKING imports.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "devinfo.backends": ("PlainReader", "SysfsReader", "UdevReader", "open_reader"),
    "devinfo.errors": ("DevInfoError", "DeviceInfoExistsError", "DeviceInfoNotFoundError", "InvalidDeviceInfoError",
                       "PciDeviceNotFoundError", "SysfsError", "UnsafeNameError"),
    "devinfo.files": ("DEFAULT_BASE_DIR", "clean", "clean_for_dp", "cni_path", "copy_dp_to_cni", "dp_path", "load",
                      "load_from_dp", "load_raw", "multus_cni_name", "save", "save_for_dp", "update"),
    "devinfo.models": ("DeviceInfo", "MemifDevice", "PciDevice", "VdpaDevice", "VhostUserDevice"),
    "devinfo.schema": ("schema",),
    "devinfo.spec": ("SPEC_VERSION", "SPEC_VERSIONS", "DeviceType", "MemifMode", "MemifRole", "VdpaDriver",
                     "VhostUserMode", "is_pci_address"),
    "devinfo.sysfs": ("PciDeviceFacts", "VdpaFacts", "VirtualFunction", "build_device_info", "build_device_info_dict",
                      "device_info_from_facts", "discover", "list_pci_addresses"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import the defining module on first access (PEP 562) and cache the name here."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'devinfo' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
