"""PodResourcesClient against FakeKubelet, a real gRPC server on a unix socket (no mocked stubs).

Checked here:
* the Get path: one ``v1.Get`` RPC per ``pod_devices`` call, no List, one channel for many calls;
* device IDs sorted and merged across containers and across resources;
* an unknown pod (UNKNOWN "pod ... not found") is ``{}`` / None, not an error;
* the List fallback on UNIMPLEMENTED and on UNKNOWN "...Get method disabled", remembered per client,
  and probed again after the kubelet went away and came back with Get;
* the v1alpha1 fallback for a kubelet without v1;
* dynamic resources decoded, with ``share_id`` None when unset and its value when set;
* allocatable resources and typed, frozen results;
* a dense node (500 pods x 4 devices): Get returns only the pod asked for, List filters correctly;
* errors: timeout, nothing listening, missing socket, closed client -- each typed and naming the socket.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import pytest

from podresources import (
    Allocatable,
    ClaimResource,
    ContainerDevices,
    ContainerMemory,
    ContainerResources,
    DynamicResource,
    KubeletTimeoutError,
    KubeletUnavailableError,
    PodResources,
    PodResourcesClient,
    PodResourcesError,
)
from podresources.testing import FakeKubelet

SRIOV = "intel.com/sriov_net_A"


def test_pod_devices_makes_exactly_one_get_call_and_no_list(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["0000:03:02.3"]}})
    for _ in range(3):
        assert client.pod_devices("default", "pod-a") == {SRIOV: ["0000:03:02.3"]}
    assert client.rpc_counts() == {"v1.Get": 3, "v1.List": 0, "v1.GetAllocatableResources": 0, "v1alpha1.List": 0}
    assert kubelet.calls() == {"v1.Get": 3}


def test_the_client_reuses_one_channel_across_calls(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["x"]}})
    client.pod_devices("default", "pod-a")
    channel = client._channel
    client.pod_devices("default", "pod-a")
    client.list()
    assert channel is not None and client._channel is channel


def test_device_ids_are_sorted_and_merged_across_containers(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    kubelet.add_pod("ns1", "pod-a", {
        "sidecar": {SRIOV: ["0000:03:02.5"], "example.com/gpu": ["gpu-1"]},
        "app": {SRIOV: ["0000:03:02.0", "0000:03:02.4"]},
    })
    assert client.pod_devices("ns1", "pod-a") == {
        "example.com/gpu": ["gpu-1"],
        SRIOV: ["0000:03:02.0", "0000:03:02.4", "0000:03:02.5"],
    }


def test_a_pod_the_kubelet_does_not_know_has_no_devices(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    kubelet.add_pod("default", "other", {"app": {SRIOV: ["x"]}})
    assert client.pod_devices("default", "missing") == {}
    assert client.get("default", "missing") is None
    assert client.rpc_counts()["v1.List"] == 0, "not found must not trigger the List fallback"


def test_a_pod_without_devices_gives_an_empty_map(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    kubelet.add_pod("default", "plain", cpu_ids={"app": [2, 3]})
    assert client.pod_devices("default", "plain") == {}
    pod = client.get("default", "plain")
    assert pod is not None and pod.containers[0].cpu_ids == (2, 3)


@pytest.mark.parametrize("mode", ["unimplemented", "disabled"])
def test_get_unavailable_falls_back_to_list_once_and_remembers_it(
        make_kubelet: Callable[..., FakeKubelet], make_client: Callable[..., PodResourcesClient], mode: str) -> None:
    kubelet = make_kubelet(get_mode=mode)
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["b", "a"]}})
    kubelet.add_pod("other", "pod-a", {"app": {SRIOV: ["z"]}})
    client = make_client(kubelet)
    assert client.pod_devices("default", "pod-a") == {SRIOV: ["a", "b"]}
    assert client.pod_devices("default", "pod-a") == {SRIOV: ["a", "b"]}
    assert client.pod_devices("default", "nope") == {}
    assert client.rpc_counts()["v1.Get"] == 1, "Get must be probed once per client"
    assert client.rpc_counts()["v1.List"] == 3
    assert kubelet.calls() == {"v1.Get": 1, "v1.List": 3}


def test_get_is_probed_again_after_the_kubelet_came_back(
        make_kubelet: Callable[..., FakeKubelet], make_client: Callable[..., PodResourcesClient]) -> None:
    kubelet = make_kubelet(get_mode="unimplemented")
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["a"]}})
    client = make_client(kubelet)
    client.pod_devices("default", "pod-a")
    kubelet.stop(cleanup=False)
    with pytest.raises(KubeletUnavailableError):
        client.get("default", "pod-a")
    kubelet.get_mode = "enabled"
    kubelet.start()
    assert client.pod_devices("default", "pod-a") == {SRIOV: ["a"]}
    assert client.rpc_counts()["v1.Get"] == 2 and client.rpc_counts()["v1.List"] == 1


def test_a_kubelet_without_v1_is_read_through_v1alpha1(
        make_kubelet: Callable[..., FakeKubelet], make_client: Callable[..., PodResourcesClient]) -> None:
    kubelet = make_kubelet(serve_v1=False)
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["b", "a"]}})
    client = make_client(kubelet)
    assert client.pod_devices("default", "pod-a") == {SRIOV: ["a", "b"]}
    assert client.pod_devices("default", "pod-a") == {SRIOV: ["a", "b"]}
    assert client.rpc_counts() == {"v1.Get": 1, "v1.List": 1, "v1.GetAllocatableResources": 0, "v1alpha1.List": 2}


def test_dynamic_resources_are_decoded_with_share_id(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    shared = ClaimResource(("vendor.com/gpu=dev1",), "gpu.vendor.com", "node-1", "gpu-0", share_id="a1b2")
    plain = ClaimResource(("vendor.com/nic=vf3",), "nic.vendor.com", "node-1", "vf-3")
    claim = DynamicResource("net-claim", "default", (shared, plain))
    kubelet.add_pod("default", "dra-pod", dynamic_resources={"app": [claim]})
    assert client.pod_dynamic_resources("default", "dra-pod") == [claim]
    decoded = client.get("default", "dra-pod")
    assert decoded is not None
    resources = decoded.containers[0].dynamic_resources[0].claim_resources
    assert resources[0].share_id == "a1b2"
    assert resources[1].share_id is None, "an unset optional share_id must not read as ''"
    assert client.pod_devices("default", "dra-pod") == {}, "DRA devices are not device-plugin devices"


def test_an_empty_share_id_is_kept_distinct_from_unset(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    claim = DynamicResource("c", "default", (ClaimResource(driver_name="d", share_id=""),))
    kubelet.add_pod("default", "p", dynamic_resources={"app": [claim]})
    assert client.pod_dynamic_resources("default", "p")[0].claim_resources[0].share_id == ""


def test_topology_memory_and_cpus_survive_the_round_trip(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    pod = PodResources("p", "default", (ContainerResources(
        "app", devices=(ContainerDevices(SRIOV, ("0000:03:02.3",), (0, 1)),), cpu_ids=(4, 5),
        memory=(ContainerMemory("hugepages-1Gi", 2 << 30, (1,)),)),))
    kubelet.add_pod_resources(pod)
    assert client.get("default", "p") == pod
    assert client.list() == [pod]


def test_allocatable_is_returned_as_a_frozen_dataclass(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    kubelet.set_allocatable({SRIOV: ["0000:03:02.1", "0000:03:02.0"]}, cpu_ids=[0, 1, 2], memory={"memory": 1 << 30})
    alloc = client.allocatable()
    assert isinstance(alloc, Allocatable)
    assert alloc.device_ids() == {SRIOV: ["0000:03:02.0", "0000:03:02.1"]}
    assert alloc.cpu_ids == (0, 1, 2)
    assert alloc.memory == (ContainerMemory("memory", 1 << 30),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        alloc.cpu_ids = ()  # type: ignore[misc]
    assert client.rpc_counts()["v1.GetAllocatableResources"] == 1


def test_on_a_dense_node_get_returns_only_the_pod_and_list_filters(
        kubelet: FakeKubelet, make_client: Callable[..., PodResourcesClient]) -> None:
    for i in range(500):
        kubelet.add_pod(f"ns{i % 7}", f"pod-{i}", {"app": {SRIOV: [f"0000:{i // 256:02x}:{i % 256:02x}.{d}"
                                                                    for d in range(4)]}})
    client = make_client(kubelet)
    expected = {SRIOV: ["0000:01:2c.0", "0000:01:2c.1", "0000:01:2c.2", "0000:01:2c.3"]}
    assert client.pod_devices("ns6", "pod-300") == expected
    pod = client.get("ns6", "pod-300")
    assert pod is not None and pod.name == "pod-300"
    assert len(client.list()) == 500
    kubelet.get_mode = "unimplemented"
    fallback = make_client(kubelet)
    assert fallback.pod_devices("ns6", "pod-300") == expected
    assert fallback.pod_devices("ns0", "pod-300") == {}, "same name in another namespace must not match"
    assert fallback.rpc_counts()["v1.List"] == 2


def test_a_slow_kubelet_raises_the_timeout_error(
        make_kubelet: Callable[..., FakeKubelet], make_client: Callable[..., PodResourcesClient]) -> None:
    kubelet = make_kubelet(latency=0.5)
    client = make_client(kubelet, timeout=0.05)
    with pytest.raises(KubeletTimeoutError) as info:
        client.pod_devices("default", "pod-a")
    assert info.value.code == "DEADLINE_EXCEEDED"
    assert kubelet.socket_path in str(info.value)


def test_a_socket_nobody_listens_on_is_unavailable_after_retries(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(str(tmp_path), "r")
    os.makedirs(os.path.join(root, "pod-resources"))
    socket = os.path.join(root, "pod-resources", "kubelet.sock")
    open(socket, "w").close()  # a stale file where the socket should be
    with PodResourcesClient(kubelet_root_dir=root, timeout=2.0, retries=2, backoff=0.01) as client:
        with pytest.raises(KubeletUnavailableError) as info:
            client.list()
        assert client.rpc_counts()["v1.List"] == 3 and client.retry_count == 2
    assert socket in str(info.value) and info.value.code == "UNAVAILABLE"
    assert info.value.__class__.__module__ == "podresources.errors"


def test_list_without_a_socket_names_the_missing_path(tmp_path: os.PathLike[str]) -> None:
    with PodResourcesClient(kubelet_root_dir=str(tmp_path)) as client:
        with pytest.raises(KubeletUnavailableError, match="does not exist") as info:
            client.list()
        assert client.rpc_counts()["v1.List"] == 0
    assert os.path.join(str(tmp_path), "pod-resources", "kubelet.sock") in str(info.value)


def test_a_closed_client_refuses_calls(kubelet: FakeKubelet, client: PodResourcesClient) -> None:
    client.pod_devices("default", "x")
    client.close()
    client.close()
    with pytest.raises(PodResourcesError, match="closed"):
        client.pod_devices("default", "x")


def test_default_paths_follow_the_kubelet_root_dir() -> None:
    client = PodResourcesClient(kubelet_root_dir="/srv/kubelet")
    assert client.socket == "/srv/kubelet/pod-resources/kubelet.sock"
    assert client.checkpoint_path == "/srv/kubelet/device-plugins/kubelet_internal_checkpoint"
    assert PodResourcesClient().socket == "/var/lib/kubelet/pod-resources/kubelet.sock"
    assert PodResourcesClient("/x.sock", checkpoint_path="/c").checkpoint_path == "/c"
