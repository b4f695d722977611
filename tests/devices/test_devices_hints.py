"""Unit tests of multus.devices.hints: what the operator is told when a network's resource has no device.

Checked:
* ``pod_resource_requests``: extended resources (``vendor/name``) only, summed over containers, requests
  and limits of one container counted once (the request wins), non-integer values kept as written, and
  nothing for pods without a spec or resources;
* ``describe_requests``: sorted ``name=value`` pairs, or "no extended resources";
* ``missing_device_message``: the two situations (none allocated / all used by earlier networks), the pod
  reference, its requests, the sriov-cni symptom and the remedy;
* ``delegate_failure_hint``: names the resource and the remedy.
"""

from __future__ import annotations

from typing import Any

from multus.devices.hints import (
    delegate_failure_hint,
    describe_requests,
    missing_device_message,
    pod_resource_requests,
)

RES_A, RES_B = "intel.com/sriov_a", "nvidia.com/gpu"


def container(limits: dict[str, str] | None = None, requests: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if limits is not None:
        resources["limits"] = limits
    if requests is not None:
        resources["requests"] = requests
    return {"name": "c", "resources": resources}


def pod_with(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns1", "name": "pod1"}, "spec": {"containers": list(containers)}}


def test_extended_resources_are_summed_over_containers_and_others_ignored() -> None:
    pod = pod_with(container(limits={RES_A: "1", "cpu": "2", "memory": "1Gi", "hugepages-1Gi": "2Gi"}),
                   container(limits={RES_A: "2", RES_B: "1"}))
    assert pod_resource_requests(pod) == {RES_A: "3", RES_B: "1"}


def test_a_containers_request_and_limit_of_one_resource_count_once() -> None:
    pod = pod_with(container(limits={RES_A: "2"}, requests={RES_A: "2"}), container(requests={RES_A: "1"}))
    assert pod_resource_requests(pod) == {RES_A: "3"}


def test_a_value_that_is_not_a_count_is_kept_as_written() -> None:
    assert pod_resource_requests(pod_with(container(limits={"example.com/mem": "1Gi"}))) == {"example.com/mem": "1Gi"}


def test_pods_without_spec_or_resources_request_nothing() -> None:
    assert pod_resource_requests({"metadata": {}}) == {}
    assert pod_resource_requests({"spec": None}) == {}
    assert pod_resource_requests(pod_with({"name": "c"}, {"name": "d", "resources": None})) == {}


def test_requests_are_described_sorted_or_as_none() -> None:
    assert describe_requests({RES_B: "1", RES_A: "2"}) == f"{RES_A}=2, {RES_B}=1"
    assert describe_requests({}) == "no extended resources"


def test_the_message_for_a_resource_never_allocated_names_pod_resource_requests_and_remedy() -> None:
    message = missing_device_message(pod_with(), RES_A, 0, {RES_B: "1"})
    assert message == (
        f"a network names resource {RES_A}, but the kubelet allocated no {RES_A} device to pod ns1/pod1; the pod "
        f"requests {RES_B}=1. The delegate runs without a deviceID (SR-IOV plugins then fail with "
        f'"VF pci addr is required"): request one {RES_A} per network that uses it.')


def test_the_message_for_an_exhausted_resource_says_earlier_networks_used_them() -> None:
    message = missing_device_message(pod_with(), RES_A, 2, {RES_A: "2"})
    assert f"but all 2 {RES_A} device(s) of pod ns1/pod1 are already used by earlier networks" in message
    assert f"the pod requests {RES_A}=2." in message
    assert "allocated no" not in message


def test_the_failure_hint_names_the_resource_and_the_remedy() -> None:
    hint = delegate_failure_hint(RES_A)
    assert hint.startswith("hint: ")
    assert f"names resource {RES_A}" in hint and f"no {RES_A} device" in hint
    assert "requests the resource (one per network)" in hint
