"""The deviceID path end to end: NADs naming a device resource, the kubelet's answer, what delegates get.

The API server is a test double (:mod:`multus.testing.kube_api`) that our real client talks to over HTTP;
the kubelet is a test double too (:class:`podresources.testing.FakeKubelet`), a real gRPC server on a
unix socket that our real PodResources client talks to. Delegates are real processes recording their
stdin (``node``) or answered in-process where many ADDs must be fast (``fast_node``); every ADD goes
through the ``multus`` entry point (:func:`multus.plugin.entry.plugin_funcs`). Checked:

* two NADs sharing one resource (the pod holds 2 VFs, listed unsorted): the sorted IDs are consumed in
  delegate order, ``deviceID`` and ``pciBusID`` are injected at the top level, the capability args
  ``deviceID`` and ``CNIDeviceInfoFile`` reach the plugin that declares them (and only it); exactly one
  kubelet Get per ADD; DEL reuses the cached IDs without asking the kubelet;
* several resources and networks in one ADD still make one Get; a pod whose networks name no resource
  makes none; ``kubeletRootDir`` from the config is where the plugin's own client looks, and the
  device settings (``kubeletRootDir``, ``deviceInfoDir``, ``deviceInfoFromSysfs``) default as documented;
* a conflist NAD: deviceID/pciBusID in every plugin of the list, not at the top;
* a NAD naming a resource the pod holds no device of: the delegate runs without deviceID (Go's
  behaviour), a Warning ``NoDeviceForResource`` event names the resource and the pod's requests; when
  that delegate fails like sriov-cni, the CNI error keeps the plugin's code and carries the hint;
* a kubelet that cannot answer fails the ADD with a CNI error before any delegate runs;
* the checkpoint fallback (no socket): NUMA-keyed DeviceIDs of the pod's UID only, sorted;
* a kubelet without Get (too old, or gate off): the List fallback gives the same devices, and a shared
  client stops probing Get;
* a rate-limited kubelet (100/s, burst 10) hit by 50 concurrent ADDs released at the same instant:
  no failures, every pod gets its own device, with a client per call (thin mode) and a shared one
  (daemon mode);
* a dense node (500 pods x 4 devices): the right pod's devices, one Get.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from devices_support import (
    DEVICE_CAPABILITIES,
    MASTER_PLUGIN,
    NAMESPACE,
    RESOURCE_A,
    RESOURCE_B,
    VERSION,
    DeviceNode,
    InProcessExecutor,
    error_body,
)

from multus.cni.skel import CmdArgs
from multus.devices.source import LazyPodResources
from multus.plugin import entry
from podresources.testing import write_checkpoint

VF1, VF2, VF3 = "0000:03:02.1", "0000:03:02.3", "0000:81:00.5"


def sriov_nad(node: DeviceNode, name: str, plugin: str, resource: str | None = RESOURCE_A, *,
              capabilities: bool = True) -> None:
    config: dict[str, object] = {"cniVersion": VERSION, "type": plugin}
    if capabilities:
        config["capabilities"] = DEVICE_CAPABILITIES
    node.add_nad(name, config, resource)


def added(node: DeviceNode, plugin: str) -> list[dict[str, Any]]:
    """The stdin of every ADD a real-process plugin received."""
    return [call["stdin"] for call in node.plugin(plugin).calls("ADD")]


# ---- sharing a resource -------------------------------------------------------------------------------------


def test_networks_sharing_a_resource_get_its_sorted_devices_in_delegate_order_with_one_kubelet_get(
        node: DeviceNode) -> None:
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF2, VF1]}})  # the kubelet's order: unsorted
    sriov_nad(node, "net1", "sriov-a")
    sriov_nad(node, "net2", "sriov-b", capabilities=False)
    node.add_pod("pod1", "uid-1", "net1,net2", requests={RESOURCE_A: "2"})

    assert node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0

    [first], [second] = added(node, "sriov-a"), added(node, "sriov-b")
    assert (first["deviceID"], first["pciBusID"]) == (VF1, VF1)
    assert (second["deviceID"], second["pciBusID"]) == (VF2, VF2)
    assert first["runtimeConfig"] == {"deviceID": VF1,
                                      "CNIDeviceInfoFile": str(node.cni_file("net1", "ctr1", "net1"))}
    assert "runtimeConfig" not in second  # it declares no capability, so it is offered none
    [master] = added(node, MASTER_PLUGIN)
    assert "deviceID" not in master and "runtimeConfig" not in master
    assert node.kubelet.calls() == {"v1.Get": 1}


def test_del_uses_the_cached_device_ids_and_never_asks_the_kubelet(node: DeviceNode) -> None:
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF2, VF1]}})
    sriov_nad(node, "net1", "sriov-a")
    sriov_nad(node, "net2", "sriov-a")
    node.add_pod("pod1", "uid-1", "net1,net2", requests={RESOURCE_A: "2"})
    assert node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0
    node.kubelet.reset_counts()
    node.kubelet.remove_pod(NAMESPACE, "pod1")  # the kubelet may well have forgotten it by DEL time

    assert node.call("DEL", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0
    deleted = [call["stdin"] for call in node.plugin("sriov-a").calls("DEL")]
    assert [(d["name"], d["deviceID"], d["runtimeConfig"]["deviceID"]) for d in deleted] == [
        ("net2", VF2, VF2), ("net1", VF1, VF1)]
    assert node.kubelet.calls() == {}


def test_one_add_with_several_resources_and_networks_asks_the_kubelet_once(fast_node: DeviceNode) -> None:
    fast_node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1, VF2]}, "side": {RESOURCE_B: [VF3]}})
    for name, resource in (("net1", RESOURCE_A), ("net2", RESOURCE_B), ("net3", RESOURCE_A)):
        sriov_nad(fast_node, name, "sriov", resource)
    fast_node.add_pod("pod1", "uid-1", "net1,net2,net3", requests={RESOURCE_A: "2", RESOURCE_B: "1"})

    assert fast_node.call("ADD", fast_node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0

    executor: InProcessExecutor = fast_node.executor
    assert [(c.if_name, c.stdin["deviceID"]) for c in executor.calls_of("sriov", "ADD")] == [
        ("net1", VF1), ("net2", VF3), ("net3", VF2)]
    assert fast_node.kubelet.calls() == {"v1.Get": 1}


def test_a_pod_whose_networks_name_no_resource_never_asks_the_kubelet(fast_node: DeviceNode) -> None:
    fast_node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1]}})
    sriov_nad(fast_node, "plain", "bridge", resource=None)
    fast_node.add_pod("pod1", "uid-1", "plain", requests={RESOURCE_A: "1"})
    shared = LazyPodResources(fast_node.kubelet.root_dir)
    try:
        assert fast_node.call("ADD", fast_node.multus(), pod="pod1", uid="uid-1", container_id="ctr1",
                              device_source=shared).code == 0
        [plain] = fast_node.executor.calls_of("bridge", "ADD")
        assert "deviceID" not in plain.stdin and "runtimeConfig" not in plain.stdin
        assert fast_node.kubelet.calls() == {}
        assert shared._client is None  # the client was not even created
    finally:
        shared.close()


def test_the_plugins_own_client_looks_under_kubelet_root_dir_from_the_config(
        fast_node: DeviceNode, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[LazyPodResources] = []

    class Recording(LazyPodResources):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(entry, "LazyPodResources", Recording)
    fast_node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1]}})
    sriov_nad(fast_node, "net1", "sriov")
    fast_node.add_pod("pod1", "uid-1", "net1", requests={RESOURCE_A: "1"})
    try:
        out = fast_node.call("ADD", fast_node.multus(), pod="pod1", uid="uid-1", container_id="ctr1",
                             device_source="from-config")
    finally:
        for source in made:
            source.close()
    assert out.code == 0, out
    assert [s.kubelet_root_dir for s in made] == [fast_node.kubelet.root_dir]
    assert fast_node.executor.calls_of("sriov", "ADD")[0].stdin["deviceID"] == VF1
    assert fast_node.kubelet.calls() == {"v1.Get": 1}


@pytest.mark.parametrize("extra, root, devinfo_dir, from_sysfs", [
    ({}, "/var/lib/kubelet", "/var/run/k8s.cni.cncf.io/devinfo", True),
    ({"kubeletRootDir": "/data/kubelet", "deviceInfoDir": "/run/di", "deviceInfoFromSysfs": False},
     "/data/kubelet", "/run/di", False),
], ids=["defaults", "configured"])
def test_the_device_settings_of_a_call_come_from_the_config_or_the_kubelets_defaults(
        extra: dict[str, object], root: str, devinfo_dir: str, from_sysfs: bool) -> None:
    config = {"cniVersion": VERSION, "name": "multus", "type": "multus",
              "delegates": [{"cniVersion": VERSION, "name": "master", "type": MASTER_PLUGIN}], **extra}
    data = json.dumps(config).encode()
    args = CmdArgs("ADD", "ctr1", "/var/run/netns/x", "eth0", "", "", False, data, config, VERSION)
    ctx = entry.build_context(args, {}, kube_factory=lambda conf, env: None, configure_logging=False)
    assert isinstance(ctx.devices, LazyPodResources)
    assert (ctx.devices.kubelet_root_dir, ctx.devinfo_dir, ctx.device_info_from_sysfs) == (root, devinfo_dir,
                                                                                           from_sysfs)
    assert ctx.devices._client is None  # nothing opened by building the context


# ---- conflists ---------------------------------------------------------------------------------------------


def test_a_conflist_nad_gets_the_device_in_every_plugin_of_the_list_and_not_at_the_top(node: DeviceNode) -> None:
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1]}})
    node.add_nad("sriov-list", {"cniVersion": VERSION, "name": "sriov-list", "plugins": [
        {"type": "sriov-a", "capabilities": DEVICE_CAPABILITIES}, {"type": "tuning-b"}]}, RESOURCE_A)
    node.add_pod("pod1", "uid-1", "sriov-list", requests={RESOURCE_A: "1"})

    assert node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0

    [first], [second] = added(node, "sriov-a"), added(node, "tuning-b")
    for plugin in (first, second):
        assert (plugin["deviceID"], plugin["pciBusID"], plugin["name"]) == (VF1, VF1, "sriov-list")
    assert first["runtimeConfig"]["deviceID"] == VF1 and "runtimeConfig" not in second
    scratch = json.loads((node.cni_dir / "ctr1").read_text())
    [cached] = [d for d in scratch if d["Name"] == "test/sriov-list"]
    assert (cached["deviceID"], cached["resourceName"]) == (VF1, RESOURCE_A)
    assert "deviceID" not in cached["ConfList"]  # not injected at the top of the list
    assert node.kubelet.calls() == {"v1.Get": 1}


# ---- a resource the pod holds no device of ----------------------------------------------------------------


def test_a_network_whose_resource_the_pod_lacks_runs_without_a_device_and_warns_on_the_pod(
        node: DeviceNode) -> None:
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1]}})
    sriov_nad(node, "net-b", "sriov-b", RESOURCE_B)
    node.add_pod("pod1", "uid-1", "net-b", requests={RESOURCE_A: "1"})

    out = node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1")

    assert out.code == 0, out  # as in Go: a resource may exist only for scheduling (e.g. bridge-marker)
    [delegate] = added(node, "sriov-b")
    assert "deviceID" not in delegate and "pciBusID" not in delegate and "runtimeConfig" not in delegate
    [event] = node.events("NoDeviceForResource")
    assert event["type"] == "Warning"
    assert event["involvedObject"]["name"] == "pod1" and event["involvedObject"]["uid"] == "uid-1"
    assert RESOURCE_B in event["message"] and "test/pod1" in event["message"]
    assert f"the pod requests {RESOURCE_A}=1." in event["message"]
    assert node.kubelet.calls() == {"v1.Get": 1}


def test_a_delegate_failing_for_want_of_a_device_keeps_its_error_and_gets_the_hint(node: DeviceNode) -> None:
    node.kubelet.add_pod(NAMESPACE, "pod1", {})
    sriov_nad(node, "net-b", "sriov-b", RESOURCE_B)
    node.plugin("sriov-b").script(ADD={"error": error_body(7, "VF pci addr is required")})
    node.add_pod("pod1", "uid-1", "net-b")

    out = node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1")

    assert out.error["code"] == 7
    assert "VF pci addr is required" in out.error["msg"] and 'network "test/net-b"' in out.error["msg"]
    assert out.error["details"].startswith(f"hint: this network names resource {RESOURCE_B}, but the pod was "
                                           f"given no {RESOURCE_B} device")
    [event] = node.events("NoDeviceForResource")
    assert "the pod requests no extended resources" in event["message"]
    # rolled back: the master and the failed delegate were DELed, the scratch cache is gone
    assert node.plugin(MASTER_PLUGIN).calls("DEL") and node.plugin("sriov-b").calls("DEL")
    assert not (node.cni_dir / "ctr1").exists()


def test_a_delegate_failing_with_its_device_gets_no_hint(node: DeviceNode) -> None:
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF1]}})
    sriov_nad(node, "net1", "sriov-a")
    node.plugin("sriov-a").script(ADD={"error": error_body(7, "VF is busy", "details of the plugin")})
    node.add_pod("pod1", "uid-1", "net1", requests={RESOURCE_A: "1"})

    out = node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1")

    assert (out.error["code"], out.error["details"]) == (7, "details of the plugin")
    assert node.events("NoDeviceForResource") == []


def test_a_kubelet_that_cannot_answer_fails_the_add_before_any_delegate_runs(fast_node: DeviceNode) -> None:
    socket_path = Path(fast_node.kubelet.socket_path)
    fast_node.kubelet.stop(cleanup=False)
    socket_path.touch()  # a stale socket file: nobody listens, and it hides the checkpoint fallback
    sriov_nad(fast_node, "net1", "sriov")
    fast_node.add_pod("pod1", "uid-1", "net1", requests={RESOURCE_A: "1"})
    source = LazyPodResources(fast_node.kubelet.root_dir)
    source.client.retries = 1  # one retry instead of five keeps the test fast; the mapping is the same
    try:
        out = fast_node.call("ADD", fast_node.multus(), pod="pod1", uid="uid-1", container_id="ctr1",
                             device_source=source)
    finally:
        source.close()
    assert out.error["code"] == 999
    assert "getKubernetesDelegate: failed to get resourceMap from ResourceClient: kubelet PodResources v1.Get" \
        in out.error["msg"]
    assert str(socket_path) in out.error["msg"] and "UNAVAILABLE" in out.error["msg"]
    assert fast_node.executor.calls == []
    assert not (fast_node.cni_dir / "ctr1").exists()


# ---- other kubelets ----------------------------------------------------------------------------------------


def test_without_a_socket_the_checkpoint_gives_the_pods_numa_keyed_devices_by_uid(node: DeviceNode) -> None:
    root = node.kubelet.root_dir
    node.kubelet.stop(cleanup=False)  # no socket any more; the root stays (removed at teardown)
    write_checkpoint(f"{root}/device-plugins/kubelet_internal_checkpoint", [
        ("uid-other", "app", RESOURCE_A, {0: ["0000:03:02.0"]}),
        ("uid-1", "app", RESOURCE_A, {1: [VF3], 0: [VF2, VF1]}),
        ("uid-1", "side", RESOURCE_B, {-1: ["0000:05:00.1"]}),
    ])
    for index, resource in enumerate((RESOURCE_A, RESOURCE_A, RESOURCE_A, RESOURCE_B)):
        sriov_nad(node, f"net{index}", f"sriov-{index}", resource)
    node.add_pod("pod1", "uid-1", "net0,net1,net2,net3", requests={RESOURCE_A: "3", RESOURCE_B: "1"})

    assert node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0

    assert [added(node, f"sriov-{i}")[0]["deviceID"] for i in range(4)] == [VF1, VF2, VF3, "0000:05:00.1"]
    assert node.events("NoDeviceForResource") == []


@pytest.mark.parametrize("get_mode", ["unimplemented", "disabled"])
def test_a_kubelet_without_get_gives_the_same_devices_through_list(
        make_node: Callable[..., DeviceNode], get_mode: str) -> None:
    node = make_node(in_process=True, get_mode=get_mode)
    node.kubelet.add_pod(NAMESPACE, "pod1", {"app": {RESOURCE_A: [VF2, VF1]}})
    node.kubelet.add_pod("elsewhere", "pod1", {"app": {RESOURCE_A: [VF3]}})  # same name, other namespace
    sriov_nad(node, "net1", "sriov")
    sriov_nad(node, "net2", "sriov")
    node.add_pod("pod1", "uid-1", "net1,net2", requests={RESOURCE_A: "2"})

    assert node.call("ADD", node.multus(), pod="pod1", uid="uid-1", container_id="ctr1").code == 0

    assert [c.stdin["deviceID"] for c in node.executor.calls_of("sriov", "ADD")] == [VF1, VF2]
    assert node.kubelet.calls() == {"v1.Get": 1, "v1.List": 1}  # a fresh client probes Get once


def test_a_shared_client_stops_probing_a_kubelet_without_get(make_node: Callable[..., DeviceNode]) -> None:
    node = make_node(in_process=True, get_mode="unimplemented")
    sriov_nad(node, "net1", "sriov")
    shared = LazyPodResources(node.kubelet.root_dir)
    try:
        for index, device in enumerate((VF1, VF2, VF3)):
            node.kubelet.add_pod(NAMESPACE, f"pod{index}", {"app": {RESOURCE_A: [device]}})
            node.add_pod(f"pod{index}", f"uid-{index}", "net1", requests={RESOURCE_A: "1"})
            out = node.call("ADD", node.multus(), pod=f"pod{index}", uid=f"uid-{index}", container_id=f"ctr{index}",
                            device_source=shared)
            assert out.code == 0, out
    finally:
        shared.close()
    assert [c.stdin["deviceID"] for c in node.executor.calls_of("sriov", "ADD")] == [VF1, VF2, VF3]
    assert node.kubelet.calls() == {"v1.Get": 1, "v1.List": 3}


# ---- load ----------------------------------------------------------------------------------------------------


class BarrierSource:
    """A DeviceSource that holds every caller until ``parties`` have arrived, then lets them all call at once."""

    def __init__(self, inner: LazyPodResources, barrier: threading.Barrier) -> None:
        self.inner = inner
        self.barrier = barrier

    def pod_devices(self, namespace: str, name: str, uid: str | None = None) -> dict[str, list[str]]:
        self.barrier.wait(timeout=30)
        return self.inner.pod_devices(namespace, name, uid)


@pytest.mark.parametrize("client", ["per-call", "shared"])
def test_fifty_simultaneous_adds_against_a_rate_limited_kubelet_all_succeed(
        fast_node: DeviceNode, client: str) -> None:
    """``per-call``: a fresh client per ADD, as the thin plugin has (a process per call); ``shared``: one
    client for all, as the daemon has. Both must absorb the kubelet's 100/s burst-10 limit by retrying."""
    pods = 50
    sriov_nad(fast_node, "net1", "sriov")
    for index in range(pods):
        fast_node.kubelet.add_pod(NAMESPACE, f"pod{index}", {"app": {RESOURCE_A: [f"0000:03:{index:02x}.1"]}})
        fast_node.add_pod(f"pod{index}", f"uid-{index}", "net1", requests={RESOURCE_A: "1"})
    config = fast_node.multus()
    barrier = threading.Barrier(pods)
    shared = LazyPodResources(fast_node.kubelet.root_dir)
    per_call: list[LazyPodResources] = []

    def add(index: int) -> int:
        inner = shared
        if client == "per-call":
            inner = LazyPodResources(fast_node.kubelet.root_dir)
            per_call.append(inner)
        out = fast_node.call("ADD", config, pod=f"pod{index}", uid=f"uid-{index}", container_id=f"ctr{index}",
                             device_source=BarrierSource(inner, barrier))
        return out.code

    try:
        with ThreadPoolExecutor(max_workers=pods) as pool:
            codes = list(pool.map(add, range(pods)))
    finally:
        for source in [shared, *per_call]:
            source.close()

    assert codes == [0] * pods
    got = {c.container_id: c.stdin["deviceID"] for c in fast_node.executor.calls_of("sriov", "ADD")}
    assert got == {f"ctr{i}": f"0000:03:{i:02x}.1" for i in range(pods)}
    assert fast_node.kubelet.rejected > 0  # the limit really bit: all 50 Gets arrived at once
    assert fast_node.kubelet.calls()["v1.Get"] - fast_node.kubelet.rejected == pods  # one admitted Get per ADD


def test_on_a_dense_node_the_pod_gets_its_own_devices_with_one_get(fast_node: DeviceNode) -> None:
    for index in range(500):
        fast_node.kubelet.add_pod(NAMESPACE if index % 2 else "other", f"pod{index}", {
            "app": {RESOURCE_A: [f"0000:{index // 256 + 0x10:02x}:{index % 256:02x}.{f}" for f in range(4)]}})
    fast_node.kubelet.add_pod("other", "pod250-b", {"app": {RESOURCE_A: ["0000:99:00.0"]}})
    for index in range(4):
        sriov_nad(fast_node, f"net{index}", "sriov")
    fast_node.add_pod("pod251", "uid-251", "net0,net1,net2,net3", requests={RESOURCE_A: "4"})

    assert fast_node.call("ADD", fast_node.multus(), pod="pod251", uid="uid-251", container_id="ctr1").code == 0

    assert [c.stdin["deviceID"] for c in fast_node.executor.calls_of("sriov", "ADD")] == [
        "0000:10:fb.0", "0000:10:fb.1", "0000:10:fb.2", "0000:10:fb.3"]
    assert fast_node.kubelet.calls() == {"v1.Get": 1}
    assert fast_node.events("NoDeviceForResource") == []
