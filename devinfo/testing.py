"""FakeSysfs: a kernel-shaped sysfs tree in a temporary directory, for discovery tests.

Shipped for device-plugin authors' own tests as well as ours. The tree is laid out the way the kernel
lays out ``/sys``, so code that follows real symlinks works on it unchanged::

    devices/pci0000:03/0000:03:00.0/             the device directory (real files)
        vendor device class numa_node ...        "0x8086\\n" style attribute files
        driver -> ../../../bus/pci/drivers/ice   relative links, as the kernel makes them
        virtfn0 -> ../0000:03:02.0               on a PF; physfn -> ../0000:03:00.0 on a VF
        net/<ifname>/{address,operstate,type,phys_switch_id,phys_port_name}
        infiniband/mlx5_0/   vdpa0/{driver,vhost-vdpa-0/}
    bus/pci/devices/<bdf> -> ../../../devices/pci0000:03/<bdf>
    bus/pci/drivers/<drv>/<bdf> -> the device (the back link the kernel keeps)
    class/net/<ifname> -> ../../devices/.../net/<ifname>
    bus/vdpa/devices/<name> -> ../../../devices/.../<name>

Simplification: every device sits directly under a root bus named ``pci<domain>:<bus>`` (real hosts
put bridges in between; nothing here depends on the depth). Pass :attr:`FakeSysfs.root` as a
``sysfs_root``; discovery then reads it with plain files (pyudev serves only the real ``/sys``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from devinfo.spec import pci_address_problem


class FakeSysfs:
    """Builds the tree under ``<base>/sys``; :attr:`root` is what plays ``/sys``."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.root = Path(base) / "sys"
        for sub in ("devices", "bus/pci/devices", "bus/pci/drivers", "class/net", "class/infiniband",
                    "bus/vdpa/devices", "bus/vdpa/drivers"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # ---- helpers

    def device_dir(self, bdf: str) -> Path:
        """The real directory of a device added earlier."""
        return (self.root / "bus" / "pci" / "devices" / bdf).resolve()

    def _link(self, link: Path, target: Path) -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(target, link.parent))

    def set_attribute(self, bdf: str, name: str, value: str | int) -> None:
        """Write an attribute file of a device, with the kernel's trailing newline."""
        (self.device_dir(bdf) / name).write_text(f"{value}\n")

    def bind_driver(self, bdf: str, driver: str | None) -> None:
        """Bind (or with None unbind) a driver: the ``driver`` link and the driver's back link."""
        dev = self.device_dir(bdf)
        if (dev / "driver").is_symlink():
            old = dev / "driver"
            (old.resolve() / bdf).unlink(missing_ok=True)
            old.unlink()
        if driver is not None:
            drv = self.root / "bus" / "pci" / "drivers" / driver
            drv.mkdir(parents=True, exist_ok=True)
            self._link(dev / "driver", drv)
            self._link(drv / bdf, dev)

    # ---- devices

    def add_pci_device(self, bdf: str, *, vendor: str = "8086", device: str = "154c", driver: str | None = None,
                       numa_node: int | None = -1, netdevs: Iterable[str] = (), class_: str = "0x020000") -> Path:
        """A PCI device with its attribute files, bus link, optional driver and netdevs; returns its directory.

        ``numa_node=None`` leaves the file out (as on kernels without NUMA support).
        """
        if why := pci_address_problem(bdf):
            raise ValueError(why)
        domain, bus, _ = bdf.split(":")
        dev = self.root / "devices" / f"pci{domain}:{bus}" / bdf
        dev.mkdir(parents=True)
        vendor, device = vendor.lower().removeprefix("0x"), device.lower().removeprefix("0x")
        v, d = vendor.upper(), device.upper()
        modalias = f"pci:v0000{v}d0000{d}sv0000{v}sd0000{d}bc{class_[2:4]}sc{class_[4:6]}i{class_[6:8]}"
        for name, value in (("vendor", f"0x{vendor}"), ("device", f"0x{device}"), ("class", class_),
                            ("modalias", modalias), ("uevent", f"PCI_ID={v}:{d}\nPCI_SLOT_NAME={bdf}")):
            (dev / name).write_text(f"{value}\n")
        if numa_node is not None:
            (dev / "numa_node").write_text(f"{numa_node}\n")
        self._link(dev / "subsystem", self.root / "bus" / "pci")
        self._link(self.root / "bus" / "pci" / "devices" / bdf, dev)
        self.bind_driver(bdf, driver)
        for ifname in netdevs:
            self.add_netdev(bdf, ifname)
        return dev

    def add_netdev(self, bdf: str, ifname: str, *, switch_id: str | None = None, port_name: str | None = None,
                   mac: str = "02:00:00:00:00:01") -> Path:
        """A netdev under ``<dev>/net/`` with its ``class/net`` link; switch attributes only when given."""
        net = self.device_dir(bdf) / "net" / ifname
        net.mkdir(parents=True)
        attributes: Mapping[str, str | None] = {"address": mac, "operstate": "up", "type": "1",
                                                "phys_switch_id": switch_id, "phys_port_name": port_name}
        for name, value in attributes.items():
            if value is not None:
                (net / name).write_text(f"{value}\n")
        self._link(net / "device", self.device_dir(bdf))
        self._link(self.root / "class" / "net" / ifname, net)
        return net

    def add_sriov_pf(self, bdf: str, *, vfs: Iterable[str], totalvfs: int | None = None, vf_device: str = "1889",
                     vf_driver: str | None = "iavf", vf_netdevs: Mapping[str, Iterable[str]] | None = None,
                     vendor: str = "8086", device: str = "1593", driver: str | None = "ice",
                     numa_node: int | None = -1, netdevs: Iterable[str] = (), class_: str = "0x020000") -> Path:
        """A PF (``sriov_totalvfs``/``sriov_numvfs``) and its VFs, linked by ``virtfnN`` / ``physfn``.

        ``vfs`` are the VF addresses in index order; ``vf_netdevs`` maps a VF address to its netdevs.
        The other keyword arguments describe the PF, as in :meth:`add_pci_device`.
        """
        pf = self.add_pci_device(bdf, vendor=vendor, device=device, driver=driver, numa_node=numa_node,
                                 netdevs=netdevs, class_=class_)
        vf_list = list(vfs)
        self.set_attribute(bdf, "sriov_totalvfs", totalvfs if totalvfs is not None else max(len(vf_list), 8))
        self.set_attribute(bdf, "sriov_numvfs", len(vf_list))
        for index, vf in enumerate(vf_list):
            self.add_vf(bdf, index, vf, vendor=vendor, device=vf_device, driver=vf_driver, numa_node=numa_node,
                        netdevs=(vf_netdevs or {}).get(vf, ()))
        return pf

    def add_vf(self, pf_bdf: str, index: int, bdf: str, *, vendor: str = "8086", device: str = "1889",
               driver: str | None = "iavf", numa_node: int | None = -1, netdevs: Iterable[str] = ()) -> Path:
        """One VF of an existing PF: the device plus its ``physfn`` and the PF's ``virtfn<index>`` links."""
        vf = self.add_pci_device(bdf, vendor=vendor, device=device, driver=driver, numa_node=numa_node,
                                 netdevs=netdevs)
        pf = self.device_dir(pf_bdf)
        self._link(vf / "physfn", pf)
        self._link(pf / f"virtfn{index}", vf)
        return vf

    def add_rdma(self, bdf: str, name: str) -> Path:
        """An RDMA device (e.g. ``mlx5_0``) under ``<dev>/infiniband/``, with its ``class/infiniband`` link."""
        rdma = self.device_dir(bdf) / "infiniband" / name
        rdma.mkdir(parents=True)
        (rdma / "node_type").write_text("1: CA\n")
        self._link(self.root / "class" / "infiniband" / name, rdma)
        return rdma

    def add_representor(self, pf_bdf: str, vf_index: int, ifname: str, switch_id: str, *, pf_number: int = 0,
                        controller: int | None = None, legacy: bool = False) -> Path:
        """A switchdev VF representor: a netdev under the PF with the PF's switch ID.

        Its ``phys_port_name`` is ``pf<P>vf<V>``, ``c<N>pf<P>vf<V>`` with ``controller``, or the bare
        ``<V>`` with ``legacy``. The PF's first netdev becomes the uplink (switch ID, ``p<P>``) if it
        has no switch ID yet, as in switchdev mode.
        """
        pf = self.device_dir(pf_bdf)
        uplinks = sorted(os.listdir(pf / "net")) if (pf / "net").is_dir() else []
        if uplinks and not (pf / "net" / uplinks[0] / "phys_switch_id").exists():
            (pf / "net" / uplinks[0] / "phys_switch_id").write_text(f"{switch_id}\n")
            (pf / "net" / uplinks[0] / "phys_port_name").write_text(f"p{pf_number}\n")
        prefix = f"c{controller}" if controller is not None else ""
        port = str(vf_index) if legacy else f"{prefix}pf{pf_number}vf{vf_index}"
        return self.add_netdev(pf_bdf, ifname, switch_id=switch_id, port_name=port)

    def add_vdpa(self, bdf: str, name: str = "vdpa0", *, driver: str | None = "vhost_vdpa", vhost_index: int = 0
                 ) -> Path:
        """A vDPA device on a PCI device, bound to ``vhost_vdpa`` (with ``vhost-vdpa-N``) or ``virtio_vdpa``."""
        vdpa = self.device_dir(bdf) / name
        vdpa.mkdir()
        self._link(self.root / "bus" / "vdpa" / "devices" / name, vdpa)
        if driver is not None:
            drv = self.root / "bus" / "vdpa" / "drivers" / driver
            drv.mkdir(parents=True, exist_ok=True)
            self._link(vdpa / "driver", drv)
        if driver == "vhost_vdpa":
            (vdpa / f"vhost-vdpa-{vhost_index}").mkdir()
        return vdpa
