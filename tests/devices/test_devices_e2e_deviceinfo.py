"""Device-info around the deviceID path, end to end: DP file -> CNI file -> network-status -> cleanup.

The API server is a test double (:mod:`multus.testing.kube_api`) spoken to over real HTTP, the kubelet a
test double (:class:`podresources.testing.FakeKubelet`) spoken to over real gRPC. The "device plugin"
is the test, writing its DP files with :func:`devinfo.save_for_dp` into the node's ``deviceInfoDir``.
Delegates are real processes that record whether their ``CNIDeviceInfoFile`` existed, and what it held,
at the moment they ran. sysfs is a :class:`devinfo.testing.FakeSysfs` tree (never the host's /sys).
Checked:

* the DP file is copied to the attachment's CNI file *before* the delegate's ADD, shows up as
  ``device-info`` in the pod's network-status, and is removed by DEL (the DP file stays);
* the same for a conflist NAD, and for a delegate that does not declare ``CNIDeviceInfoFile``;
* a rollback removes the CNI files of every delegate it DELs;
* without a DP file no CNI file is created before the ADD (a plugin writing its own would otherwise
  find one), and the plugin's own device-info is reported and later removed;
* with no device-info at all and the PCI deviceID present in sysfs, network-status gets sysfs-built
  device-info (no file is written); not with ``deviceInfoFromSysfs: false``, nor for a non-PCI ID;
* a CNI file left over by an earlier ADD of the same attachment is not overwritten by the copy;
* a DEL without its scratch cache: re-resolving from the pod asks the kubelet again (as Go does), so
  the delegate's DEL gets its deviceID back and the CNI file is removed; with neither the scratch
  cache nor the pod, or when the kubelet cannot answer, the attachment is released from libcni's
  result cache and its CNI file removed too.
"""

from __future__ import annotations

import json
from pathlib import Path

from devices_support import DEVICE_CAPABILITIES, NAMESPACE, RESOURCE_A, VERSION, DeviceNode, error_body

import devinfo
from devinfo.testing import FakeSysfs
from multus.devices.source import LazyPodResources

PF, VF1, VF2 = "0000:03:00.0", "0000:03:02.1", "0000:03:02.3"


def dp_info(vf: str, rdma: str = "") -> dict[str, object]:
    """What the SR-IOV device plugin writes for a VF: ``type: pci``, version 1.1.0."""
    pci: dict[str, object] = {"pci-address": vf}
    if rdma:
        pci["rdma-device"] = rdma
    return {"type": "pci", "version": "1.1.0", "pci": pci}


def write_dp_file(node: DeviceNode, vf: str, rdma: str = "") -> None:
    info = devinfo.DeviceInfo.for_pci(vf, rdma_device=rdma)
    devinfo.save_for_dp(RESOURCE_A, vf, info, base_dir=node.devinfo_dir)


def one_sriov_network(node: DeviceNode, *vfs: str, capabilities: bool = True, nads: int = 1) -> str:
    """Pod ``pod1`` holding ``vfs`` of RESOURCE_A, attached to ``nads`` NADs ``net<i>`` of plugin ``sriov``."""
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: list(vfs)}})
    config: dict[str, object] = {"cniVersion": VERSION, "type": "sriov"}
    if capabilities:
        config["capabilities"] = DEVICE_CAPABILITIES
    names = [f"net{i}" for i in range(1, nads + 1)]
    for name in names:
        node.add_nad(name, config, RESOURCE_A)
    node.add_pod("pod1", "uid-1", ",".join(names), requests={RESOURCE_A: str(len(vfs))})
    return ",".join(names)


def add(node: DeviceNode, **extra: object) -> None:
    out = node.call("ADD", node.multus(**extra), pod="pod1", uid="uid-1", container_id="ctr1")
    assert out.code == 0, out


def delete(node: DeviceNode) -> None:
    out = node.call("DEL", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1")
    assert out.code == 0, out


# ---- DP -> CNI -> network-status -> DEL -------------------------------------------------------------------


def test_the_dp_file_reaches_the_plugin_before_its_add_then_network_status_and_del_removes_it(
        node: DeviceNode) -> None:
    write_dp_file(node, VF1, rdma="mlx5_3")
    one_sriov_network(node, VF1)
    cni_file = node.cni_file("net1", "ctr1", "net1")

    add(node)

    [call] = node.plugin("sriov").calls("ADD")
    assert call["stdin"]["runtimeConfig"]["CNIDeviceInfoFile"] == str(cni_file)
    assert call["devinfo_existed"] and call["devinfo_seen"] == dp_info(VF1, "mlx5_3")
    assert json.loads(cni_file.read_text()) == dp_info(VF1, "mlx5_3")
    assert node.status_of("pod1", "test/net1")["device-info"] == dp_info(VF1, "mlx5_3")
    assert "device-info" not in node.status_of("pod1", "master")

    delete(node)

    assert not cni_file.exists()
    assert devinfo.dp_path(RESOURCE_A, VF1, base_dir=node.devinfo_dir).exists()  # the device plugin's to remove
    [deleted] = node.plugin("sriov").calls("DEL")
    assert deleted["stdin"]["runtimeConfig"]["CNIDeviceInfoFile"] == str(cni_file)


def test_each_network_sharing_a_resource_gets_the_device_info_of_its_own_device(node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    write_dp_file(node, VF2)
    one_sriov_network(node, VF2, VF1, nads=2)

    add(node)

    seen = {c["stdin"]["name"]: c["devinfo_seen"] for c in node.plugin("sriov").calls("ADD")}
    assert seen == {"net1": dp_info(VF1), "net2": dp_info(VF2)}
    assert node.status_of("pod1", "test/net1")["device-info"] == dp_info(VF1)
    assert node.status_of("pod1", "test/net2")["device-info"] == dp_info(VF2)


def test_a_delegate_not_declaring_the_capability_still_gets_its_device_info_reported(node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    one_sriov_network(node, VF1, capabilities=False)

    add(node)

    [call] = node.plugin("sriov").calls("ADD")
    assert "runtimeConfig" not in call["stdin"]
    assert node.status_of("pod1", "test/net1")["device-info"] == dp_info(VF1)
    delete(node)
    assert not node.cni_file("net1", "ctr1", "net1").exists()


def test_a_conflist_nad_gets_its_device_info_copied_reported_and_removed(node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1]}})
    node.add_nad("sriov-list", {"cniVersion": VERSION, "name": "sriov-list", "plugins": [
        {"type": "sriov", "capabilities": DEVICE_CAPABILITIES},
        {"type": "tuning", "capabilities": {"CNIDeviceInfoFile": True}}]}, RESOURCE_A)
    node.add_pod("pod1", "uid-1", "sriov-list", requests={RESOURCE_A: "1"})
    cni_file = node.cni_file("sriov-list", "ctr1", "net1")

    add(node)

    for plugin in ("sriov", "tuning"):
        [call] = node.plugin(plugin).calls("ADD")
        assert call["devinfo_seen"] == dp_info(VF1), plugin
    assert node.status_of("pod1", "test/sriov-list")["device-info"] == dp_info(VF1)
    delete(node)
    assert not cni_file.exists()


def test_a_rollback_removes_the_cni_files_of_every_delegate_it_deletes(node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    write_dp_file(node, VF2)
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1, VF2]}})
    node.add_nad("net1", {"cniVersion": VERSION, "type": "sriov", "capabilities": DEVICE_CAPABILITIES}, RESOURCE_A)
    node.add_nad("net2", {"cniVersion": VERSION, "type": "failing", "capabilities": DEVICE_CAPABILITIES},
                 RESOURCE_A)
    node.plugin("failing").script(ADD={"error": error_body(11, "try again later")})
    node.add_pod("pod1", "uid-1", "net1,net2", requests={RESOURCE_A: "2"})

    out = node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1")

    assert out.error["code"] == 11
    [failed] = node.plugin("failing").calls("ADD")
    assert failed["devinfo_seen"] == dp_info(VF2)  # it ran with its copy in place ...
    assert not node.cni_file("net1", "ctr1", "net1").exists()  # ... and both copies are gone
    assert not node.cni_file("net2", "ctr1", "net2").exists()
    assert list((node.devinfo_dir / "cni").iterdir()) == []
    assert node.plugin("sriov").calls("DEL") and node.plugin("failing").calls("DEL")


# ---- no DP file ------------------------------------------------------------------------------------------------


def test_without_a_dp_file_no_cni_file_exists_when_the_plugin_runs_and_none_is_reported(node: DeviceNode) -> None:
    one_sriov_network(node, VF1)

    add(node)

    [call] = node.plugin("sriov").calls("ADD")
    assert call["stdin"]["runtimeConfig"]["CNIDeviceInfoFile"] == str(node.cni_file("net1", "ctr1", "net1"))
    assert call["devinfo_existed"] is False
    assert not node.cni_file("net1", "ctr1", "net1").exists()
    assert "device-info" not in node.status_of("pod1", "test/net1")


def test_a_plugin_writing_its_own_device_info_gets_it_reported_and_del_removes_it(node: DeviceNode) -> None:
    own = {"type": "vhost-user", "version": "1.1.0", "vhost-user": {"mode": "server", "path": "/var/run/vu.sock"}}
    one_sriov_network(node, VF1)
    node.plugin("sriov").script(ADD={"write_devinfo": own})

    add(node)

    assert node.plugin("sriov").calls("ADD")[0]["devinfo_existed"] is False  # the plugin could create it
    assert node.status_of("pod1", "test/net1")["device-info"] == own
    delete(node)
    assert not node.cni_file("net1", "ctr1", "net1").exists()


def test_a_cni_file_left_by_an_earlier_add_is_not_overwritten_by_the_copy(node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    one_sriov_network(node, VF1)
    stale = {"type": "pci", "version": "1.0.0", "pci": {"pci-address": "0000:00:00.0"}}
    cni_file = node.cni_file("net1", "ctr1", "net1")
    cni_file.parent.mkdir(parents=True)
    cni_file.write_text(json.dumps(stale))

    add(node)  # a retried ADD: the copy fails (logged), the ADD does not

    assert node.plugin("sriov").calls("ADD")[0]["devinfo_seen"] == stale
    assert node.status_of("pod1", "test/net1")["device-info"] == stale


# ---- sysfs ------------------------------------------------------------------------------------------------------


def sysfs_with_vfs(node: DeviceNode) -> None:
    FakeSysfs(node.work).add_sriov_pf(PF, vfs=[VF1, VF2], netdevs=["ens1f0"])


def test_with_no_device_info_at_all_network_status_gets_it_from_sysfs_without_writing_a_file(
        node: DeviceNode) -> None:
    sysfs_with_vfs(node)
    one_sriov_network(node, VF2)

    add(node)

    assert node.status_of("pod1", "test/net1")["device-info"] == {
        "type": "pci", "version": "1.1.0", "pci": {"pci-address": VF2, "pf-pci-address": PF}}
    assert not node.cni_file("net1", "ctr1", "net1").exists()
    assert node.plugin("sriov").calls("ADD")[0]["devinfo_existed"] is False


def test_device_info_from_sysfs_can_be_turned_off(node: DeviceNode) -> None:
    sysfs_with_vfs(node)
    one_sriov_network(node, VF2)

    add(node, deviceInfoFromSysfs=False)

    assert "device-info" not in node.status_of("pod1", "test/net1")


def test_a_dp_file_wins_over_sysfs(node: DeviceNode) -> None:
    sysfs_with_vfs(node)
    write_dp_file(node, VF1, rdma="mlx5_0")
    one_sriov_network(node, VF1)

    add(node)

    assert node.status_of("pod1", "test/net1")["device-info"] == dp_info(VF1, "mlx5_0")


def test_a_device_id_that_is_no_pci_address_gets_no_sysfs_device_info(node: DeviceNode) -> None:
    sysfs_with_vfs(node)
    one_sriov_network(node, "mlx5_core.sf.4")  # an auxiliary (SF) device ID

    add(node)

    [call] = node.plugin("sriov").calls("ADD")
    assert call["stdin"]["deviceID"] == "mlx5_core.sf.4"
    assert "device-info" not in node.status_of("pod1", "test/net1")


# ---- DEL without the scratch cache ----------------------------------------------------------------------------


def test_a_del_without_its_scratch_cache_gets_the_device_back_from_the_kubelet_and_removes_the_file(
        node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    one_sriov_network(node, VF2, VF1, nads=2)
    add(node)
    (node.cni_dir / "ctr1").unlink()  # e.g. lost in a reboot
    node.kubelet.reset_counts()

    delete(node)

    deleted = {c["stdin"]["name"]: c["stdin"] for c in node.plugin("sriov").calls("DEL")}
    assert {name: (d["deviceID"], d["pciBusID"]) for name, d in deleted.items()} == {
        "net1": (VF1, VF1), "net2": (VF2, VF2)}
    assert deleted["net1"]["runtimeConfig"]["CNIDeviceInfoFile"] == str(node.cni_file("net1", "ctr1", "net1"))
    assert list((node.devinfo_dir / "cni").iterdir()) == []
    assert node.kubelet.calls() == {"v1.Get": 1}
    assert node.events("NoDeviceForResource") == []  # a DEL tells the pod nothing


def test_a_del_with_neither_scratch_cache_nor_pod_releases_the_result_cache_and_its_device_info(
        node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    one_sriov_network(node, VF1)
    add(node)
    (node.cni_dir / "ctr1").write_text("[{")  # truncated
    node.api.delete_pod(NAMESPACE, "pod1")

    delete(node)

    [deleted] = node.plugin("sriov").calls("DEL")
    assert deleted["stdin"]["deviceID"] == VF1  # the config its ADD ran with, from libcni's cache
    assert not node.cni_file("net1", "ctr1", "net1").exists()


def test_a_del_whose_kubelet_cannot_answer_still_releases_the_attachment_and_its_device_info(
        node: DeviceNode) -> None:
    write_dp_file(node, VF1)
    one_sriov_network(node, VF1)
    add(node)
    (node.cni_dir / "ctr1").unlink()
    node.kubelet.stop(cleanup=False)
    Path(node.kubelet.socket_path).touch()  # a stale socket: nobody answers
    source = LazyPodResources(node.kubelet.root_dir)
    source.client.retries = 1
    try:
        out = node.call("DEL", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1", device_source=source)
    finally:
        source.close()

    assert out.code == 0, out
    [deleted] = node.plugin("sriov").calls("DEL")
    assert deleted["stdin"]["deviceID"] == VF1
    assert not node.cni_file("net1", "ctr1", "net1").exists()
