"""sysfs discovery against FakeSysfs, a kernel-shaped double of /sys built in a temporary directory.

Checked here: the double's layout (relative links from ``bus/pci/devices`` into ``devices/pci...``,
driver links); a PF with VFs (indexes, numvfs/totalvfs, driver, IDs, class, netdevs); a VF's PF and
index; NUMA (-1 and missing -> None); RDMA devices; representors (``pf<P>vf<V>``, controller-prefixed,
legacy bare index, the PF number filter, none without switchdev); a DPDK-bound VF without netdev;
virtio-net netdevs one level down; vDPA (vhost and virtio); ``build_device_info`` output as Go JSON;
reader selection; and clear errors for a missing device, a malformed address, a non-sysfs root.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devinfo import (
    PciDeviceNotFoundError,
    PlainReader,
    SysfsError,
    VirtualFunction,
    build_device_info,
    build_device_info_dict,
    discover,
    list_pci_addresses,
    open_reader,
)
from devinfo.testing import FakeSysfs

PF, VF0, VF1, VF2 = "0000:3b:00.0", "0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2"


@pytest.fixture
def sriov(fake_sysfs: FakeSysfs) -> FakeSysfs:
    """A PF (ice, NUMA 1, netdev ens1f0) with three iavf VFs; VF1 has netdev ens1f0v1."""
    fake_sysfs.add_sriov_pf(PF, vfs=[VF0, VF1, VF2], totalvfs=64, numa_node=1, netdevs=["ens1f0"],
                            vf_netdevs={VF1: ["ens1f0v1"]})
    return fake_sysfs


def test_the_double_links_bus_entries_and_drivers_relatively_like_the_kernel(sriov: FakeSysfs) -> None:
    link = sriov.root / "bus" / "pci" / "devices" / PF
    assert os.readlink(link) == f"../../../devices/pci0000:3b/{PF}"
    assert os.readlink(sriov.device_dir(PF) / "driver") == "../../../bus/pci/drivers/ice"
    assert os.readlink(sriov.device_dir(VF1) / "physfn") == f"../{PF}"
    assert (sriov.device_dir(PF) / "vendor").read_text() == "0x8086\n"


def test_a_pf_reports_its_vfs_with_indexes_and_its_sriov_counts(sriov: FakeSysfs) -> None:
    facts = discover(PF, sysfs_root=sriov.root)
    assert facts.is_pf and not facts.is_vf
    assert facts.vfs == (VirtualFunction(0, VF0), VirtualFunction(1, VF1), VirtualFunction(2, VF2))
    assert (facts.sriov_numvfs, facts.sriov_totalvfs) == (3, 64)
    assert (facts.vendor, facts.device, facts.class_code, facts.driver) == ("8086", "1593", "020000", "ice")
    assert facts.netdevs == ("ens1f0",) and facts.numa_node == 1 and facts.is_network
    assert facts.backend == "plain"


def test_a_vf_reports_its_pf_index_driver_and_netdev(sriov: FakeSysfs) -> None:
    facts = discover(VF1, sysfs_root=sriov.root)
    assert facts.is_vf and not facts.is_pf
    assert (facts.pf_address, facts.vf_index) == (PF, 1)
    assert (facts.driver, facts.device, facts.netdevs) == ("iavf", "1889", ("ens1f0v1",))
    assert facts.vfs == () and facts.sriov_totalvfs is None


def test_vf_indexes_come_from_virtfn_links_not_from_address_order(fake_sysfs: FakeSysfs) -> None:
    fake_sysfs.add_pci_device(PF, driver="ice")
    fake_sysfs.add_vf(PF, 5, VF0)
    fake_sysfs.add_vf(PF, 3, VF1)
    assert discover(VF0, sysfs_root=fake_sysfs.root).vf_index == 5
    assert [vf.index for vf in discover(PF, sysfs_root=fake_sysfs.root).vfs] == [3, 5]


@pytest.mark.parametrize(("numa", "expected"), [(-1, None), (None, None), (0, 0), (3, 3)])
def test_numa_node_minus_one_or_missing_means_no_topology(fake_sysfs: FakeSysfs, numa: int | None,
                                                          expected: int | None) -> None:
    fake_sysfs.add_pci_device("0000:00:05.0", numa_node=numa)
    assert discover("0000:00:05.0", sysfs_root=fake_sysfs.root).numa_node == expected


def test_rdma_devices_are_listed_and_comma_joined_in_device_info(sriov: FakeSysfs) -> None:
    sriov.add_rdma(VF1, "mlx5_3")
    sriov.add_rdma(VF1, "mlx5_2")
    assert discover(VF1, sysfs_root=sriov.root).rdma_devices == ("mlx5_2", "mlx5_3")
    assert build_device_info(VF1, sysfs_root=sriov.root).to_json() == (
        '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.1","rdma-device":"mlx5_2,mlx5_3",'
        '"pf-pci-address":"0000:3b:00.0"}}')


def test_the_representor_is_the_netdev_on_the_pfs_switch_naming_the_vf(sriov: FakeSysfs) -> None:
    sriov.add_representor(PF, 1, "ens1f0_1", "aabbccdd")
    sriov.add_representor(PF, 2, "ens1f0_2", "aabbccdd")
    assert discover(VF1, sysfs_root=sriov.root).representor == "ens1f0_1"
    assert discover(VF2, sysfs_root=sriov.root).representor == "ens1f0_2"
    assert discover(VF0, sysfs_root=sriov.root).representor is None
    assert build_device_info(VF1, sysfs_root=sriov.root).to_json() == (
        '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.1","pf-pci-address":"0000:3b:00.0",'
        '"representor-device":"ens1f0_1"}}')


def test_a_local_representor_wins_over_an_external_controllers_and_the_legacy_form_works(sriov: FakeSysfs) -> None:
    sriov.add_representor(PF, 1, "c1rep", "aabbccdd", controller=1)
    assert discover(VF1, sysfs_root=sriov.root).representor == "c1rep"
    sriov.add_representor(PF, 1, "localrep", "aabbccdd")
    assert discover(VF1, sysfs_root=sriov.root).representor == "localrep"
    sriov.add_representor(PF, 2, "legacy2", "aabbccdd", legacy=True)
    assert discover(VF2, sysfs_root=sriov.root).representor == "legacy2"


def test_a_representor_of_another_pf_on_the_same_switch_is_not_taken(sriov: FakeSysfs) -> None:
    sriov.add_representor(PF, 1, "pf1rep", "aabbccdd", pf_number=1)  # uplink becomes p1
    sriov.add_netdev(PF, "pf0rep", switch_id="aabbccdd", port_name="pf0vf1")
    assert discover(VF1, sysfs_root=sriov.root).representor == "pf1rep"


def test_a_representor_on_another_switch_is_not_taken(sriov: FakeSysfs) -> None:
    sriov.add_representor(PF, 1, "ens1f0_1", "aabbccdd")
    (sriov.device_dir(PF) / "net" / "ens1f0_1" / "phys_switch_id").write_text("00112233\n")
    assert discover(VF1, sysfs_root=sriov.root).representor is None


def test_device_info_for_version_1_0_0_leaves_the_representor_out(sriov: FakeSysfs) -> None:
    sriov.add_representor(PF, 1, "ens1f0_1", "aabbccdd")
    assert build_device_info(VF1, sysfs_root=sriov.root, version="1.0.0").pci.representor_device == ""  # type: ignore[union-attr]


def test_a_dpdk_bound_vf_has_no_netdev_and_still_gets_device_info(sriov: FakeSysfs) -> None:
    sriov.bind_driver(VF2, "vfio-pci")
    facts = discover(VF2, sysfs_root=sriov.root)
    assert facts.driver == "vfio-pci" and facts.netdevs == () and facts.is_dpdk_bound
    assert not discover(VF1, sysfs_root=sriov.root).is_dpdk_bound
    assert build_device_info_dict(VF2, sysfs_root=sriov.root) == {
        "type": "pci", "version": "1.1.0", "pci": {"pci-address": VF2, "pf-pci-address": PF}}


def test_an_unbound_device_has_no_driver(fake_sysfs: FakeSysfs) -> None:
    fake_sysfs.add_pci_device("0000:00:05.0", driver="ixgbe")
    fake_sysfs.bind_driver("0000:00:05.0", None)
    assert discover("0000:00:05.0", sysfs_root=fake_sysfs.root).driver is None


def test_a_virtio_net_netdev_one_level_down_is_found(fake_sysfs: FakeSysfs) -> None:
    dev = fake_sysfs.add_pci_device("0000:00:03.0", vendor="1af4", device="1041", driver="virtio-pci")
    (dev / "virtio2" / "net" / "eth0").mkdir(parents=True)
    assert discover("0000:00:03.0", sysfs_root=fake_sysfs.root).netdevs == ("eth0",)


def test_a_vhost_vdpa_device_is_found_and_can_be_described_as_type_vdpa(sriov: FakeSysfs) -> None:
    sriov.add_vdpa(VF1, "vdpa1", vhost_index=3)
    facts = discover(VF1, sysfs_root=sriov.root)
    assert facts.vdpa is not None
    assert (facts.vdpa.name, facts.vdpa.driver, facts.vdpa.path) == ("vdpa1", "vhost", "/dev/vhost-vdpa-3")
    assert build_device_info(VF1, sysfs_root=sriov.root, prefer_vdpa=True).to_json() == (
        '{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa1","driver":"vhost","path":"/dev/vhost-vdpa-3",'
        '"pci-address":"0000:3b:02.1","pf-pci-address":"0000:3b:00.0"}}')
    assert build_device_info(VF1, sysfs_root=sriov.root).type == "pci"


def test_a_virtio_vdpa_device_has_no_char_device_so_device_info_stays_pci(sriov: FakeSysfs) -> None:
    sriov.add_vdpa(VF2, "vdpa2", driver="virtio_vdpa")
    facts = discover(VF2, sysfs_root=sriov.root)
    assert facts.vdpa is not None and (facts.vdpa.driver, facts.vdpa.path) == ("virtio", None)
    assert discover(VF1, sysfs_root=sriov.root).vdpa is None
    assert build_device_info(VF2, sysfs_root=sriov.root, prefer_vdpa=True).type == "pci"


def test_a_missing_device_is_a_clear_error(sriov: FakeSysfs) -> None:
    with pytest.raises(PciDeviceNotFoundError, match=r"no PCI device 0000:99:00\.0 in .*/sys/bus/pci/devices"):
        discover("0000:99:00.0", sysfs_root=sriov.root)


@pytest.mark.parametrize("address", ["0000:3B:00.0", "../../etc", "3b:00.0", ""])
def test_a_malformed_address_is_refused_before_touching_the_filesystem(sriov: FakeSysfs, address: str) -> None:
    with pytest.raises(SysfsError, match="bad PCI address"):
        discover(address, sysfs_root=sriov.root)


def test_list_pci_addresses_lists_every_device_sorted(sriov: FakeSysfs) -> None:
    assert list_pci_addresses(sriov.root) == [PF, VF0, VF1, VF2]


def test_a_fake_root_is_read_with_plain_files_and_pyudev_is_refused_for_it(sriov: FakeSysfs) -> None:
    assert isinstance(open_reader(sriov.root), PlainReader)
    with pytest.raises(SysfsError, match="pyudev reads only the real /sys"):
        open_reader(sriov.root, backend="udev")


def test_a_directory_that_is_not_sysfs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SysfsError, match="does not look like sysfs"):
        discover("0000:00:01.0", sysfs_root=tmp_path)
