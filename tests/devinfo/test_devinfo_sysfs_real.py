"""Discovery against this machine's real PCI devices: pyudev and the plain-file reader must agree.

Checked here: pyudev enumerates the same PCI devices as ``/sys/bus/pci/devices``; for a device
present on the machine, driver, vendor and device read through pyudev equal the plain reader's;
``discover`` gives identical facts through both readers for every device; the default reader for
``/sys`` is pyudev. Skipped (with the reason) only where the machine shows no PCI devices.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from devinfo import PlainReader, UdevReader, discover, open_reader

SYS_PCI = "/sys/bus/pci/devices"


@pytest.fixture(scope="module")
def real_addresses() -> list[str]:
    """The machine's PCI addresses, as the kernel lists them."""
    addresses = sorted(os.listdir(SYS_PCI)) if os.path.isdir(SYS_PCI) else []
    if not addresses:
        pytest.skip("this machine shows no PCI devices under /sys/bus/pci/devices")
    return addresses


def test_pyudev_enumerates_the_same_pci_devices_as_sysfs(real_addresses: list[str]) -> None:
    import pyudev  # type: ignore[import-untyped]

    names = sorted(device.sys_name for device in pyudev.Context().list_devices(subsystem="pci"))
    assert names == real_addresses
    assert UdevReader().pci_addresses() == real_addresses


def test_driver_vendor_and_device_read_through_pyudev_equal_the_plain_reader(real_addresses: list[str]) -> None:
    udev, plain = UdevReader(), PlainReader()
    bound = [address for address in real_addresses if plain.driver(address)] or real_addresses
    address = bound[0]
    assert udev.driver(address) == plain.driver(address)
    assert udev.attribute(address, "vendor") == plain.attribute(address, "vendor")
    assert udev.attribute(address, "device") == plain.attribute(address, "device")
    assert plain.attribute(address, "vendor").startswith("0x")  # type: ignore[union-attr]


def test_discover_gives_the_same_facts_through_both_readers_for_every_device(real_addresses: list[str]) -> None:
    udev, plain = UdevReader(), PlainReader()
    for address in real_addresses:
        via_udev = dataclasses.replace(discover(address, reader=udev), backend="-")
        via_plain = dataclasses.replace(discover(address, reader=plain), backend="-")
        assert via_udev == via_plain, address


def test_the_real_sys_is_read_through_pyudev_by_default(real_addresses: list[str]) -> None:
    assert isinstance(open_reader(), UdevReader)
    assert discover(real_addresses[0]).backend == "udev"
    assert discover(real_addresses[0], backend="plain").backend == "plain"
