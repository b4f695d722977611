"""What sysfs says about a PCI device, and the device-info object to write for it.

:func:`discover` gathers, for one PCI address, the facts device plugins and CNI plugins act on (the
SR-IOV device plugin and sriov-cni read the same places):

===================  ========================================================================
netdevs              entries of ``<dev>/net/`` (and ``<dev>/virtio*/net/`` for virtio-net)
driver               name of the ``<dev>/driver`` link; None when unbound
vendor/device/class  ``vendor``, ``device``, ``class`` files, without ``0x`` (``8086``, ``020000``)
NUMA node            ``numa_node``; -1 or missing -> None (no topology)
SR-IOV PF            ``sriov_totalvfs`` exists; ``sriov_numvfs``; VFs from ``virtfnN`` links (N = index)
SR-IOV VF            ``physfn`` link -> PF address; index = the N whose ``<pf>/virtfnN`` is this VF
RDMA                 entries of ``<dev>/infiniband/``
representor          a netdev with the PF's ``phys_switch_id`` whose ``phys_port_name`` names this
                     VF: ``pf<P>vf<V>``, ``c<N>pf<P>vf<V>`` or the legacy bare ``<V>``
vDPA                 ``bus/vdpa/devices/<name>`` whose parent is this device; its driver
                     (``vhost_vdpa``/``virtio_vdpa``) and ``/dev/vhost-vdpa-N`` char device
===================  ========================================================================

Reading goes through a :class:`~devinfo.backends.SysfsReader`: pyudev for the real ``/sys``, plain
files for any other root such as a :class:`~devinfo.testing.FakeSysfs` tree (see
:mod:`devinfo.backends` for why). Standard library only, apart from pyudev on the real ``/sys`` and
pydantic in :func:`build_device_info`.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devinfo.backends import Backend, SysfsReader, open_reader
from devinfo.errors import PciDeviceNotFoundError, SysfsError
from devinfo.spec import SPEC_VERSION, WireDict, normalize_version, pci_address_problem

if TYPE_CHECKING:
    from devinfo.models import DeviceInfo

DPDK_DRIVERS = frozenset({"vfio-pci", "uio_pci_generic", "igb_uio"})
"""Userspace drivers: a VF bound to one has no netdev, and sriov-cni runs it in DPDK mode."""

_VF_PORT_RE = re.compile(r"(?:c(?P<controller>\d+))?pf(?P<pf>\d+)vf(?P<vf>\d+)")
_LEGACY_VF_PORT_RE = re.compile(r"(?P<vf>\d+)")
_UPLINK_PORT_RE = re.compile(r"p(?P<pf>\d+)")
_VDPA_KINDS = {"vhost_vdpa": "vhost", "virtio_vdpa": "virtio"}


@dataclass(frozen=True)
class VirtualFunction:
    """One VF of a PF: its index N (from ``virtfnN``) and PCI address."""

    index: int
    address: str


@dataclass(frozen=True)
class VdpaFacts:
    """The vDPA device on top of a PCI device."""

    name: str
    bus_driver: str | None
    driver: str | None
    """``vhost`` or ``virtio`` as device-info spells it; None if unbound or unknown."""
    path: str | None
    """``/dev/vhost-vdpa-N`` for a vhost-bound device; None otherwise."""


@dataclass(frozen=True)
class PciDeviceFacts:
    """Everything :func:`discover` found about one PCI device."""

    address: str
    vendor: str | None
    device: str | None
    class_code: str | None
    driver: str | None
    numa_node: int | None
    netdevs: tuple[str, ...]
    rdma_devices: tuple[str, ...]
    pf_address: str | None
    vf_index: int | None
    vfs: tuple[VirtualFunction, ...]
    sriov_numvfs: int | None
    sriov_totalvfs: int | None
    representor: str | None
    vdpa: VdpaFacts | None
    backend: str

    @property
    def is_pf(self) -> bool:
        """An SR-IOV physical function (it can have VFs)."""
        return self.sriov_totalvfs is not None

    @property
    def is_vf(self) -> bool:
        """An SR-IOV virtual function (it has a ``physfn``)."""
        return self.pf_address is not None

    @property
    def is_network(self) -> bool:
        """PCI class 0x02, network controller."""
        return bool(self.class_code and self.class_code.startswith("02"))

    @property
    def is_dpdk_bound(self) -> bool:
        """Bound to a userspace driver, without a netdev (sriov-cni's DPDK mode)."""
        return self.driver in DPDK_DRIVERS and not self.netdevs

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, with the derived flags."""
        data = asdict(self)
        data.update(is_pf=self.is_pf, is_vf=self.is_vf, is_network=self.is_network, is_dpdk_bound=self.is_dpdk_bound)
        return data


def _hex_id(value: str | None) -> str | None:
    if not value:
        return None
    value = value.lower()
    return value[2:] if value.startswith("0x") else value


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _entries(directory: Path) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:  # absent, or not a directory
        return []


def _netdevs(dev_dir: Path) -> tuple[str, ...]:
    names = _entries(dev_dir / "net")
    for child in _entries(dev_dir):
        if child.startswith("virtio") and child[6:].isdigit():
            names.extend(_entries(dev_dir / child / "net"))
    return tuple(sorted(names))


def _virtfns(pf_dir: Path) -> tuple[VirtualFunction, ...]:
    vfs = [VirtualFunction(int(name[6:]), (pf_dir / name).resolve().name)
           for name in _entries(pf_dir) if name.startswith("virtfn") and name[6:].isdigit()]
    return tuple(sorted(vfs, key=lambda vf: vf.index))


def _vdpa(reader: SysfsReader, dev_dir: Path) -> VdpaFacts | None:
    bus = reader.root / "bus" / "vdpa" / "devices"
    for name in _entries(bus):
        vdpa_dir = (bus / name).resolve()
        if vdpa_dir.parent != dev_dir:
            continue
        bus_driver = Path(os.readlink(vdpa_dir / "driver")).name if (vdpa_dir / "driver").is_symlink() else None
        kind = _VDPA_KINDS.get(bus_driver or "")
        chardevs = [entry for entry in _entries(vdpa_dir) if re.fullmatch(r"vhost-vdpa-\d+", entry)]
        path = f"/dev/{chardevs[0]}" if kind == "vhost" and chardevs else None
        return VdpaFacts(name=name, bus_driver=bus_driver, driver=kind, path=path)
    return None


def find_representor(reader: SysfsReader, pf_dir: Path, vf_index: int, *, exclude: tuple[str, ...] = ()) -> str | None:
    """The netdev representing VF ``vf_index`` of the PF at ``pf_dir``, or None (not in switchdev mode).

    The PF's uplink netdev gives the switch ID and, from a ``p<N>`` port name, the PF number; a
    representor shares the switch ID and names the VF in its port name. A local ``pf<P>vf<V>`` wins
    over an external controller's ``c<N>pf<P>vf<V>``, which wins over a legacy bare ``<V>``.
    """
    switch_id, pf_number = None, None
    for ifname in _netdevs(pf_dir):
        candidate = reader.netdev_attribute(ifname, "phys_switch_id")
        if not candidate:
            continue
        uplink = _UPLINK_PORT_RE.fullmatch(reader.netdev_attribute(ifname, "phys_port_name") or "")
        if uplink or switch_id is None:
            switch_id, pf_number = candidate, int(uplink.group("pf")) if uplink else None
        if uplink:
            break
    if switch_id is None:
        return None
    ranked: list[tuple[int, str]] = []
    for ifname in reader.netdev_names():
        if ifname in exclude or reader.netdev_attribute(ifname, "phys_switch_id") != switch_id:
            continue
        port = reader.netdev_attribute(ifname, "phys_port_name") or ""
        if match := _VF_PORT_RE.fullmatch(port):
            if int(match.group("vf")) == vf_index and pf_number in (None, int(match.group("pf"))):
                ranked.append((1 if match.group("controller") else 0, ifname))
        elif (legacy := _LEGACY_VF_PORT_RE.fullmatch(port)) and int(legacy.group("vf")) == vf_index:
            ranked.append((2, ifname))
    return min(ranked)[1] if ranked else None


def list_pci_addresses(sysfs_root: str | os.PathLike[str] | None = None, *, backend: Backend = "auto") -> list[str]:
    """Every PCI device address under the sysfs root (default ``/sys``), sorted."""
    return open_reader(sysfs_root, backend=backend).pci_addresses()


def discover(pci_address: str, *, sysfs_root: str | os.PathLike[str] | None = None, backend: Backend = "auto",
             reader: SysfsReader | None = None) -> PciDeviceFacts:
    """Gather the facts about one PCI device (see the module doc for where each comes from).

    Raises :class:`~devinfo.errors.SysfsError` for a malformed address and
    :class:`~devinfo.errors.PciDeviceNotFoundError` when no such device exists.
    """
    if why := pci_address_problem(pci_address):
        raise SysfsError(f"bad PCI address: {why}")
    reader = reader or open_reader(sysfs_root, backend=backend)
    dev_dir = reader.device_dir(pci_address)
    if dev_dir is None:
        raise PciDeviceNotFoundError(f"no PCI device {pci_address} in {reader.root / 'bus' / 'pci' / 'devices'}")
    netdevs = _netdevs(dev_dir)
    pf_dir = (dev_dir / "physfn").resolve() if (dev_dir / "physfn").is_dir() else None
    vf_index = next((vf.index for vf in _virtfns(pf_dir) if vf.address == pci_address), None) if pf_dir else None
    representor = None
    if pf_dir is not None and vf_index is not None:
        representor = find_representor(reader, pf_dir, vf_index, exclude=netdevs)
    numa = _int_or_none(reader.attribute(pci_address, "numa_node"))
    return PciDeviceFacts(
        address=pci_address,
        vendor=_hex_id(reader.attribute(pci_address, "vendor")),
        device=_hex_id(reader.attribute(pci_address, "device")),
        class_code=_hex_id(reader.attribute(pci_address, "class")),
        driver=reader.driver(pci_address),
        numa_node=numa if numa is not None and numa >= 0 else None,
        netdevs=netdevs,
        rdma_devices=tuple(_entries(dev_dir / "infiniband")),
        pf_address=pf_dir.name if pf_dir else None,
        vf_index=vf_index,
        vfs=_virtfns(dev_dir),
        sriov_numvfs=_int_or_none(reader.attribute(pci_address, "sriov_numvfs")),
        sriov_totalvfs=_int_or_none(reader.attribute(pci_address, "sriov_totalvfs")),
        representor=representor,
        vdpa=_vdpa(reader, dev_dir),
        backend=reader.name,
    )


def device_info_from_facts(facts: PciDeviceFacts, *, version: str = SPEC_VERSION, prefer_vdpa: bool = False
                           ) -> WireDict:
    """The wire-form device-info for discovered facts (standard library only).

    ``type: pci`` with ``pci-address``, ``pf-pci-address``, ``rdma-device`` (names comma-joined, as the
    SR-IOV device plugin writes them) and ``representor-device`` (dropped for version 1.0.0, which
    lacks it). With ``prefer_vdpa``, a device with a vhost-bound vDPA device gets ``type: vdpa`` instead,
    as the SR-IOV device plugin writes for vDPA pools.
    """
    representor = facts.representor if normalize_version(version) != "1.0.0" else None
    optional = {"pf-pci-address": facts.pf_address, "representor-device": representor}
    if prefer_vdpa and facts.vdpa and facts.vdpa.driver and facts.vdpa.path:
        vdpa = {"parent-device": facts.vdpa.name, "driver": facts.vdpa.driver, "path": facts.vdpa.path,
                "pci-address": facts.address, **optional}
        return {"type": "vdpa", "version": version, "vdpa": {k: v for k, v in vdpa.items() if v}}
    pci = {"pci-address": facts.address, "rdma-device": ",".join(facts.rdma_devices), **optional}
    return {"type": "pci", "version": version, "pci": {k: v for k, v in pci.items() if v}}


def build_device_info_dict(pci_address: str, *, version: str = SPEC_VERSION, prefer_vdpa: bool = False,
                           sysfs_root: str | os.PathLike[str] | None = None, reader: SysfsReader | None = None
                           ) -> WireDict:
    """Discover a device and return its device-info in wire form (for callers avoiding pydantic)."""
    facts = discover(pci_address, sysfs_root=sysfs_root, reader=reader)
    return device_info_from_facts(facts, version=version, prefer_vdpa=prefer_vdpa)


def build_device_info(pci_address: str, *, version: str = SPEC_VERSION, prefer_vdpa: bool = False,
                      sysfs_root: str | os.PathLike[str] | None = None, reader: SysfsReader | None = None
                      ) -> DeviceInfo:
    """The device-info a meta-plugin writes when the device plugin left none: a strict DeviceInfo."""
    from devinfo.models import DeviceInfo

    wire = build_device_info_dict(pci_address, version=version, prefer_vdpa=prefer_vdpa, sysfs_root=sysfs_root,
                                  reader=reader)
    return DeviceInfo.model_validate(wire)
