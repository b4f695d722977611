"""How discovery reads sysfs: pyudev on the real ``/sys``, plain files anywhere else.

Discovery needs a handful of primitives -- list PCI devices, find a device's directory, read an
attribute, name its driver, list network interfaces and read theirs -- gathered in the small
:class:`SysfsReader` protocol with two implementations:

* :class:`UdevReader` uses pyudev (libudev) for enumeration, attributes and drivers, as the project
  asks. libudev cannot be pointed at another tree: systemd's libudev (252 here) ignores the old
  ``SYSFS_PATH`` variable and refuses any syspath outside ``/sys`` (``Devices.from_sys_path`` on a
  fake tree raises ``DeviceNotFoundAtPathError``, checked on this machine). So it serves only the real
  ``/sys``.
* :class:`PlainReader` reads the files itself and works on any root laid out like the kernel's --
  a test double (:class:`devinfo.testing.FakeSysfs`) or a host's sysfs mounted elsewhere.

:func:`open_reader` picks pyudev for the real ``/sys`` when it is installed, the plain reader
otherwise. Symlink structure that libudev has no API for (``physfn``, ``virtfnN``, ``net/``,
``infiniband/``, vDPA children) is walked on the filesystem below the directory the reader returns,
identically for both. pyudev is imported only when a :class:`UdevReader` is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Protocol

from devinfo.errors import SysfsError

SYS = Path("/sys")
Backend = Literal["auto", "plain", "udev"]


class SysfsReader(Protocol):
    """What discovery needs from sysfs; ``root`` is the directory playing ``/sys``."""

    root: Path
    name: str

    def pci_addresses(self) -> list[str]:
        """Every PCI device's address, sorted."""
        ...

    def device_dir(self, address: str) -> Path | None:
        """The device's real directory (symlinks resolved), or None if there is no such device."""
        ...

    def attribute(self, address: str, attribute: str) -> str | None:
        """A device attribute's text without surrounding whitespace, or None if absent/unreadable."""
        ...

    def driver(self, address: str) -> str | None:
        """The bound driver's name, or None when no driver is bound."""
        ...

    def netdev_names(self) -> list[str]:
        """Every network interface visible under ``class/net``, sorted."""
        ...

    def netdev_attribute(self, ifname: str, attribute: str) -> str | None:
        """A network interface attribute (``phys_switch_id``...), or None if absent/unsupported."""
        ...


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:  # missing, a directory, or EOPNOTSUPP (phys_switch_id without switchdev)
        return None


def _link_name(path: Path) -> str | None:
    try:
        return Path(os.readlink(path)).name
    except OSError:
        return None


class PlainReader:
    """Reads a kernel-shaped sysfs tree with plain file operations; works for any root."""

    name = "plain"

    def __init__(self, root: Path = SYS) -> None:
        self.root = Path(root)
        if not (self.root / "bus" / "pci").is_dir():
            raise SysfsError(f"{self.root} does not look like sysfs (no bus/pci directory)")

    def pci_addresses(self) -> list[str]:
        return sorted(os.listdir(self.root / "bus" / "pci" / "devices"))

    def device_dir(self, address: str) -> Path | None:
        link = self.root / "bus" / "pci" / "devices" / address
        return link.resolve() if link.is_dir() else None

    def attribute(self, address: str, attribute: str) -> str | None:
        return _read_text(self.root / "bus" / "pci" / "devices" / address / attribute)

    def driver(self, address: str) -> str | None:
        return _link_name(self.root / "bus" / "pci" / "devices" / address / "driver")

    def netdev_names(self) -> list[str]:
        try:
            return sorted(os.listdir(self.root / "class" / "net"))
        except FileNotFoundError:
            return []

    def netdev_attribute(self, ifname: str, attribute: str) -> str | None:
        return _read_text(self.root / "class" / "net" / ifname / attribute)


class UdevReader:
    """Reads the real ``/sys`` through pyudev (libudev): enumeration, attributes, drivers."""

    name = "udev"

    def __init__(self) -> None:
        import pyudev  # type: ignore[import-untyped]  # lazily: only the real /sys needs it

        self._pyudev: Any = pyudev
        self._context: Any = pyudev.Context()
        self.root = Path(self._context.sys_path)
        self._devices: dict[tuple[str, str], Any] = {}

    def _device(self, subsystem: str, name: str) -> Any:
        key = (subsystem, name)
        if key not in self._devices:
            try:
                self._devices[key] = self._pyudev.Devices.from_name(self._context, subsystem, name)
            except (self._pyudev.DeviceNotFoundError, ValueError):
                self._devices[key] = None
        return self._devices[key]

    def _attribute(self, device: Any, attribute: str) -> str | None:
        if device is None:
            return None
        try:
            value: str = device.attributes.asstring(attribute)
        except (KeyError, UnicodeDecodeError, OSError):
            return None
        return value.strip()

    def pci_addresses(self) -> list[str]:
        return sorted(str(device.sys_name) for device in self._context.list_devices(subsystem="pci"))

    def device_dir(self, address: str) -> Path | None:
        device = self._device("pci", address)
        return Path(device.sys_path) if device is not None else None

    def attribute(self, address: str, attribute: str) -> str | None:
        return self._attribute(self._device("pci", address), attribute)

    def driver(self, address: str) -> str | None:
        device = self._device("pci", address)
        return str(device.driver) if device is not None and device.driver else None

    def netdev_names(self) -> list[str]:
        return sorted(str(device.sys_name) for device in self._context.list_devices(subsystem="net"))

    def netdev_attribute(self, ifname: str, attribute: str) -> str | None:
        return self._attribute(self._device("net", ifname), attribute)


def pyudev_available() -> bool:
    """True when pyudev and libudev can be loaded."""
    try:
        import pyudev

        pyudev.Context()
    except (ImportError, OSError):
        return False
    return True


def open_reader(sysfs_root: str | os.PathLike[str] | None = None, *, backend: Backend = "auto") -> SysfsReader:
    """A reader for ``sysfs_root`` (default ``/sys``).

    ``auto`` uses pyudev when the root is the real ``/sys`` and pyudev loads, else plain files;
    ``udev`` insists on pyudev (only for ``/sys``); ``plain`` always reads files.
    """
    root = Path(sysfs_root) if sysfs_root is not None else SYS
    is_real = root.resolve() == SYS
    if backend == "udev" or (backend == "auto" and is_real and pyudev_available()):
        if not is_real:
            raise SysfsError(f"pyudev reads only the real /sys, not {root} (libudev ignores SYSFS_PATH); "
                             "use the plain reader for other roots")
        return UdevReader()
    return PlainReader(root)
