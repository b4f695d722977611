"""Unit tests of multus.devices.allocator.PodDeviceAllocator, with a fake DeviceSource and event sink.

Checked:
* the pod's resource map is fetched lazily, once, with the pod's namespace, name and UID (an empty UID
  becomes None); IDs are handed out sorted, per resource, in call order, whatever order the source used;
* exhaustion and unknown resources give "" (Go's behaviour), are remembered in ``missing``, logged, and
  reported as one Warning ``NoDeviceForResource`` event each, whose text tells the two cases apart and
  lists the pod's requests; without an event sink only the log and ``missing`` remain;
* a source failure (the podresources error tree) becomes a CniError with Go's prefix, chained, code 11 when
  the kubelet is busy or unavailable and 999 otherwise;
  a CniError from the source passes unchanged;
* concurrent allocations never hand out one device twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from multus.cni.errors import CniError
from multus.devices.allocator import NO_DEVICE_EVENT_REASON, PodDeviceAllocator
from podresources.errors import CheckpointError, KubeletUnavailableError, RateLimitedError

RES_A, RES_B = "intel.com/sriov_a", "intel.com/sriov_b"


def pod(uid: str = "uid-1", requests: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app"}
    if requests:
        container["resources"] = {"limits": dict(requests)}
    return {"metadata": {"namespace": "ns1", "name": "pod1", "uid": uid}, "spec": {"containers": [container]}}


class FakeSource:
    def __init__(self, devices: dict[str, list[str]] | None = None, error: BaseException | None = None,
                 delay: float = 0.0) -> None:
        self.devices = devices or {}
        self.error = error
        self.delay = delay
        self.calls: list[tuple[str, str, str | None]] = []

    def pod_devices(self, namespace: str, name: str, uid: str | None = None) -> dict[str, list[str]]:
        self.calls.append((namespace, name, uid))
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return {res: list(ids) for res, ids in self.devices.items()}


class Events:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, str, str]] = []

    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        self.emitted.append((pod["metadata"]["name"], event_type, reason, message))


def test_the_source_is_not_asked_until_a_device_is_needed() -> None:
    source = FakeSource({RES_A: ["0000:03:02.1"]})
    allocator = PodDeviceAllocator(source, pod())
    assert source.calls == [] and allocator.missing == []


def test_ids_are_handed_out_sorted_per_resource_in_call_order_from_one_fetch() -> None:
    source = FakeSource({RES_A: ["0000:03:02.3", "0000:03:02.1", "0000:03:02.2"], RES_B: ["b-2", "b-1"]})
    allocator = PodDeviceAllocator(source, pod())

    handed = [allocator.allocate(res) for res in (RES_A, RES_B, RES_A, RES_A, RES_B)]

    assert handed == ["0000:03:02.1", "b-1", "0000:03:02.2", "0000:03:02.3", "b-2"]
    assert source.calls == [("ns1", "pod1", "uid-1")]
    assert allocator.missing == []


def test_a_pod_without_a_uid_is_looked_up_with_none() -> None:
    source = FakeSource({RES_A: ["x"]})
    PodDeviceAllocator(source, pod(uid="")).allocate(RES_A)
    assert source.calls == [("ns1", "pod1", None)]


def test_an_exhausted_resource_gives_no_device_and_one_warning_event_per_miss(
        caplog: pytest.LogCaptureFixture) -> None:
    events = Events()
    allocator = PodDeviceAllocator(FakeSource({RES_A: ["d1", "d2"]}), pod(requests={RES_A: "2"}), events)

    with caplog.at_level(logging.WARNING, logger="multus.devices.allocator"):
        handed = [allocator.allocate(RES_A) for _ in range(4)]

    assert handed == ["d1", "d2", "", ""]
    assert allocator.missing == [RES_A, RES_A]
    assert len(events.emitted) == 2
    name, event_type, reason, message = events.emitted[0]
    assert (name, event_type, reason) == ("pod1", "Warning", NO_DEVICE_EVENT_REASON)
    assert f"all 2 {RES_A} device(s) of pod ns1/pod1 are already used by earlier networks" in message
    assert f"the pod requests {RES_A}=2." in message
    assert [r.getMessage() for r in caplog.records] == [message, message]


def test_a_resource_the_pod_holds_none_of_is_reported_as_not_allocated() -> None:
    events = Events()
    allocator = PodDeviceAllocator(FakeSource({RES_A: ["d1"]}), pod(requests={RES_A: "1"}), events)

    assert allocator.allocate(RES_B) == ""

    [(_, _, _, message)] = events.emitted
    assert f"the kubelet allocated no {RES_B} device to pod ns1/pod1" in message
    assert f"the pod requests {RES_A}=1." in message
    assert allocator.allocate(RES_A) == "d1"  # the other resource is unaffected


def test_without_an_event_sink_a_miss_is_still_logged_and_remembered(caplog: pytest.LogCaptureFixture) -> None:
    allocator = PodDeviceAllocator(FakeSource({}), pod())
    with caplog.at_level(logging.WARNING, logger="multus.devices.allocator"):
        assert allocator.allocate(RES_A) == ""
    assert allocator.missing == [RES_A]
    assert "requests no extended resources" in caplog.text


@pytest.mark.parametrize("error, code", [
    (RateLimitedError("kubelet PodResources v1.Get on /k.sock failed with RESOURCE_EXHAUSTED after 6 attempts: "
                      "rejected by rate limit", code="RESOURCE_EXHAUSTED"), 11),
    (KubeletUnavailableError("kubelet PodResources socket /k.sock does not exist", code="UNAVAILABLE"), 11),
    (CheckpointError("error reading file /cp: not valid JSON"), 999),
], ids=["rate-limited", "unavailable", "checkpoint"])
def test_a_kubelet_failure_becomes_a_cni_error_with_gos_prefix(error: Exception, code: int) -> None:
    """A busy or restarting kubelet is code 11 (try again later), so the runtime retries the sandbox."""
    allocator = PodDeviceAllocator(FakeSource(error=error), pod(), Events())

    with pytest.raises(CniError) as info:
        allocator.allocate(RES_A)

    assert info.value.msg == f"getKubernetesDelegate: failed to get resourceMap from ResourceClient: {error}"
    assert info.value.code == code
    assert info.value.__cause__ is error
    assert allocator.missing == []  # a failure is not a missing device


def test_a_cni_error_from_the_source_passes_unchanged() -> None:
    error = CniError("already a CNI error", "details", 11)
    with pytest.raises(CniError) as info:
        PodDeviceAllocator(FakeSource(error=error), pod()).allocate(RES_A)
    assert info.value is error


def test_concurrent_allocations_never_hand_out_a_device_twice() -> None:
    devices = [f"0000:03:{i:02x}.0" for i in range(20)]
    source = FakeSource({RES_A: devices}, delay=0.01)  # a slow fetch widens any race
    allocator = PodDeviceAllocator(source, pod())
    got: list[str] = []
    barrier = threading.Barrier(20)

    def take() -> None:
        barrier.wait(timeout=10)
        got.append(allocator.allocate(RES_A))

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(got) == devices
    assert len(source.calls) == 1
